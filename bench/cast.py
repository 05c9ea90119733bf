"""What does a Cast command through Claw's executor cost over the raw pychromecast call?

Run from the repo root: `.venv/bin/python bench/cast.py [--iterations N]`.
The emulated Cast speaker runs in a process of its own on loopback (it answers each message
after its usual 2 ms, as a device on a LAN); no multicast is sent. In this process a Claw
adopts it (by address, as discovery would hand it over) and four paths set its volume, each
call to a new level so none is a no-op:

  tool    `Executor.run("HassSetVolume", {"name": ..., "volume_level": ...})`: validation,
          targets, policy, Home.call and the driver
  home    `Home.call` alone
  driver  the driver's `call()` alone (its thread hop, a connection check, pychromecast)
  raw     pychromecast's `Chromecast.set_volume()` on a connection of its own, called
          straight on this thread (it blocks until the device answers)

The read-back a command starts (`Home.settle()`) is awaited after each call, outside the timed
region; the path that goes first alternates.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pychromecast  # noqa: E402

from claw.service import Claw  # noqa: E402
from claw.tools import Caller  # noqa: E402
from devices.families.cast.driver import CastDriver  # noqa: E402
from devices.families.cast.emulator import CastEmulator  # noqa: E402
from devices.model import Device  # noqa: E402
from tests import netns  # noqa: E402
from tests.conftest import make_config  # noqa: E402

WARMUP = 10
BUDGET_S = 30.0  # whatever --iterations says
PATHS = ("tool", "home", "driver", "raw")
NAME = "Kitchen Speaker"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def serve_device(port: int, device_uuid: str) -> None:
    """The emulated speaker, until killed (at most 10 min)."""
    async with CastEmulator("127.0.0.1", port, name=NAME, uuid=device_uuid, info_port=None):
        print("ready", flush=True)
        await asyncio.sleep(600)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


async def measure(port: int, device_uuid: str, iterations: int) -> dict[str, Any]:
    emu = CastEmulator("127.0.0.1", port, name=NAME, uuid=device_uuid)  # only for its TXT records
    raw_cast = pychromecast.get_chromecast_from_host(("127.0.0.1", port, emu.uuid, emu.model, NAME), tries=1)
    raw_cast.wait(timeout=5)
    with tempfile.TemporaryDirectory() as tmp:
        service = Claw(make_config(Path(tmp)))
        home, executor = service.home, service.executor
        caller = Caller(role="owner", chat_id="bench", channel="api")
        driver = CastDriver(Device(f"cast:{emu.device_id}", "cast", emu.instance, "127.0.0.1", port), emu.txt())
        [entity] = await home.add(driver)

        async def tool(percent: int) -> None:
            action = await executor.run("HassSetVolume", {"name": NAME, "volume_level": percent}, caller)
            assert action.ok, action.result

        async def home_call(percent: int) -> None:
            await home.call(home.entity(entity.entity_id), "volume_set", {"volume_level": percent / 100})

        async def driver_call(percent: int) -> None:
            await driver.call(entity.entity_id, "volume_set", {"volume_level": percent / 100})

        async def raw(percent: int) -> None:
            raw_cast.set_volume(percent / 100)

        paths: dict[str, Callable[[int], Awaitable[None]]] = {
            "tool": tool, "home": home_call, "driver": driver_call, "raw": raw}
        result = await _run(paths, home, iterations)
        await driver.close()
    raw_cast.disconnect(timeout=5)
    return result


async def _run(paths: dict[str, Callable[[int], Awaitable[None]]], home: Any, iterations: int) -> dict[str, Any]:
    levels = itertools.cycle(range(10, 91))  # every call a new level
    times: dict[str, list[float]] = {p: [] for p in paths}
    for _ in range(WARMUP):
        for fn in paths.values():
            await fn(next(levels))
            await home.settle()
    start = time.monotonic()
    for i in range(iterations):
        if time.monotonic() - start > BUDGET_S:
            break
        for p in (PATHS if i % 2 == 0 else tuple(reversed(PATHS))):
            level = next(levels)
            t = time.perf_counter()
            await paths[p](level)
            times[p].append(time.perf_counter() - t)
            await home.settle()
    return {"n": len(times["raw"]), **{f"{p}_{q}": pct(v, q) * 1e3 for p, v in times.items() for q in (50, 99)},
            **{f"{p}_mean": statistics.fmean(v) * 1e3 for p, v in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300)
    iterations = parser.parse_args().iterations
    port, device_uuid = free_port(), str(uuid.uuid4())
    with netns.background_in(None, "bench.cast", "serve_device", port, device_uuid):
        r = asyncio.run(measure(port, device_uuid, iterations))
    print("\nA Cast speaker's volume set through the executor vs the raw pychromecast call, same device, "
          "same run (ms; the emulated speaker in another process on loopback, answering after 2 ms)")
    head = f"{'':<6}{'n':>5} | {'tool':>7} {'home':>7} {'driver':>7} {'raw':>7} | {'tool/raw':>8} {'tool-raw':>8}"
    print("\n" + head + "\n" + "-" * len(head))
    for q in ("50", "99", "mean"):
        label = q if q == "mean" else "p" + q
        print(f"{label:<6}{r['n']:>5} | " + " ".join(f"{r[f'{p}_{q}']:>7.2f}" for p in PATHS)
              + f" | {r[f'tool_{q}'] / r[f'raw_{q}']:>8.2f} {r[f'tool_{q}'] - r[f'raw_{q}']:>8.2f}")
    print("\ntool = Executor.run; home = Home.call; driver = the driver's call(); raw = pychromecast's "
          "set_volume() straight to the device")


if __name__ == "__main__":
    main()
