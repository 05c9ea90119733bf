"""Fast-path commands in a big house while the house is polled: p50/p99 and event-loop stalls.

Half the entities are lights on one emulated Hue bridge, half are switches on an emulated Home
Assistant (which pushes its changes over the WebSocket). Claw's real Home, executor and fast path
run them; the poll loop the running service uses (`Home.poll`) runs meanwhile at its real
interval. Each command's time is measured from the sentence to the executor's answer; a
watchdog task measures how long the event loop was kept from running (a stall). The baseline is
the raw driver call (one HTTP round trip to the emulator) measured in the same run.

    .venv/bin/python bench/scale.py [--sizes 10,100,1000] [--seconds 12]
"""
from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from claw import home_tools  # noqa: E402
from claw.executor import Executor  # noqa: E402
from claw.fastpath import FastPath  # noqa: E402
from claw.tools import Caller, ToolRegistry  # noqa: E402
from devices.families.homeassistant.driver import HomeAssistantDriver  # noqa: E402
from devices.families.homeassistant.emulator import HomeAssistantEmulator  # noqa: E402
from devices.families.hue.driver import HueDriver  # noqa: E402
from devices.families.hue.emulator import HueBridgeEmulator  # noqa: E402
from devices.home import Home  # noqa: E402
from devices.model import Device  # noqa: E402
from memory.store import Store  # noqa: E402

OWNER = Caller(role="owner", chat_id="bench", channel="api")
POLL_INTERVAL = 5.0  # the service's default


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def watchdog(stalls: list[float], stop: asyncio.Event, tick: float = 0.005) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(tick)
        stalls.append(loop.time() - before - tick)


async def run(size: int, seconds: float, tmp: Path) -> dict[str, float]:
    hue = HueBridgeEmulator(name="Bench Bridge")
    ha = HomeAssistantEmulator(token="bench")
    lights = size // 2
    for i in range(lights):
        hue.add_light(f"Lamp {i:04d}", f"Room {i % 40:02d}")
    for i in range(size - lights):
        ha.add_entity(f"switch.plug_{i:04d}", "off", {"friendly_name": f"Plug {i:04d}",
                                                      "area": f"Room {i % 40:02d}"})
    await hue.start()
    await ha.start()
    hue.press_link_button()
    hue_driver = HueDriver(Device("hue", "hue", "Bench Bridge", hue.host, hue.port), None)
    await hue_driver.pair()
    ha_driver = HomeAssistantDriver(Device("ha", "home_assistant", "Bench HA", ha.host, ha.port), "bench")
    home = Home(Store(tmp / f"bench-{size}.db"))
    await home.add(hue_driver)
    await home.add(ha_driver)
    follow = asyncio.ensure_future(ha_driver.follow(lambda e: home.entity_changed("ha", e)))
    registry = ToolRegistry()
    executor = Executor(registry, home)
    home_tools.register(registry, executor, home)
    fast = FastPath(home, executor)

    # The raw driver call, as the baseline.
    raw = []
    first_light = next(e for e in home.entities.values() if e.domain == "light")
    for i in range(30):
        start = time.perf_counter()
        await hue_driver.call(first_light.entity_id, "turn_on" if i % 2 else "turn_off", {})
        raw.append(time.perf_counter() - start)

    stop = asyncio.Event()
    stalls: list[float] = []
    dog = asyncio.ensure_future(watchdog(stalls, stop))
    poll = asyncio.ensure_future(home.poll(POLL_INTERVAL))
    names = [f"Lamp {i:04d}" for i in range(lights)] + [f"Plug {i:04d}" for i in range(size - lights)]
    rng = random.Random(7)
    times: list[float] = []
    missed = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(times) < 5000:
        sentence = f"turn {rng.choice(['on', 'off'])} {rng.choice(names)}"
        start = time.perf_counter()
        result = await fast(sentence, OWNER)
        times.append(time.perf_counter() - start)
        if result is None or not result.actions or not all(a.ok for a in result.actions):
            missed += 1
        await asyncio.sleep(0.02)
    stop.set()
    poll.cancel()
    follow.cancel()
    await asyncio.gather(dog, poll, follow, return_exceptions=True)
    await home.settle()
    for driver in (hue_driver, ha_driver):
        await driver.close()
    await hue.stop()
    await ha.stop()
    return {"commands": len(times), "missed": missed, "p50": statistics.median(times) * 1000,
            "p99": pct(times, 0.99) * 1000, "raw_p50": statistics.median(raw) * 1000,
            "stall_max": max(stalls) * 1000, "stall_p99": pct(stalls, 0.99) * 1000}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--seconds", type=float, default=12.0)
    args = parser.parse_args()
    print(f"{'entities':>8} {'commands':>8} {'p50 ms':>7} {'p99 ms':>7} {'raw p50':>7} "
          f"{'p50/raw':>7} {'stall max':>9} {'stall p99':>9} {'missed':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            r = await run(size, args.seconds, Path(tmp))
            print(f"{size:>8} {r['commands']:>8} {r['p50']:>7.1f} {r['p99']:>7.1f} {r['raw_p50']:>7.1f} "
                  f"{r['p50'] / r['raw_p50']:>7.2f} {r['stall_max']:>9.1f} {r['stall_p99']:>9.1f} "
                  f"{r['missed']:>6}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
