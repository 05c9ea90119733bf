"""What does reading a Hue command's effect back cost: the whole bridge (`refresh`, what every
command paid before) or only the light it changed (`refresh_entity`, what Home does now)?

Run from the repo root: `.venv/bin/python bench/hue_readback.py [--iterations N]`. An emulated
bridge on loopback holds 10, 100 and 1,000 lights; per size, in the same run and alternating,
each path turns one light on or off (`HueDriver.call`) and reads back. Prints p50/p99 in ms
and the ratio whole/one (higher: what the per-light read-back saves).
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.families.hue.driver import HueDriver  # noqa: E402
from devices.families.hue.emulator import HueBridgeEmulator  # noqa: E402
from devices.model import Device  # noqa: E402


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


async def measure(lights: int, iterations: int) -> tuple[list[float], list[float]]:
    bridge = HueBridgeEmulator(name="Bench bridge")
    for i in range(lights):
        bridge.add_light(f"Lamp {i}", f"Room {i // 10}")
    await bridge.start()
    device = Device(device_id="hue-bench", family="hue", name=bridge.name, host=bridge.host,
                    port=bridge.port)
    driver = HueDriver(device, None, timeout=10)
    bridge.press_link_button()
    await driver.pair()
    entities = await driver.refresh()
    target = entities[len(entities) // 2].entity_id
    whole: list[float] = []
    one: list[float] = []
    try:
        for i in range(iterations):
            service = "turn_on" if i % 2 else "turn_off"
            for path in ((whole, one) if i % 2 else (one, whole)):
                started = time.perf_counter()
                await driver.call(target, service, {})
                if path is whole:
                    await driver.refresh()
                else:
                    await driver.refresh_entity(target)
                path.append(time.perf_counter() - started)
            bridge.requests.clear()
    finally:
        await driver.close()
        await bridge.stop()
    return whole, one


async def main(iterations: int) -> None:
    print(f"{'lights':>6} {'whole p50':>10} {'whole p99':>10} {'one p50':>8} {'one p99':>8} {'ratio p50':>9}")
    for lights in (10, 100, 1000):
        whole, one = await measure(lights, iterations)
        print(f"{lights:>6} {_p(whole, .5):>10.2f} {_p(whole, .99):>10.2f} {_p(one, .5):>8.2f} "
              f"{_p(one, .99):>8.2f} {statistics.median(whole) / statistics.median(one):>9.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=100)
    asyncio.run(main(parser.parse_args().iterations))
