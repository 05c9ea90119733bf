"""What does a Home Assistant command cost through Claw, against the raw library call, and what
does its read-back cost now that a followed WebSocket answers it? At 10, 100 and 1,000 entities.

Run from the repo root: `.venv/bin/python bench/ha.py [--iterations N]`.
The emulated Home Assistant runs in a process of its own on loopback (N lights in 10 areas). In
this process, per size and in the same run, these paths toggle the same light:

  tool       `Executor.run("HassTurnOn"/"HassTurnOff", {"name": ...})`: validation, targets,
             policy, Home.call and the driver, then `Home.settle()`
  home       `Home.call` with the driver following HA's WebSocket (as `claw run` does), then
             `Home.settle()` (the read-back, answered from the followed copy)
  driver     the driver's `call()` alone (one POST; HA's answer is the read-back)
  rest       aiohttp straight to POST /api/services/light/toggle
  hass       hass-client's `call_service` over its own WebSocket (HA's ecosystem's client)

and two reads of the whole house:

  refresh-followed   `driver.refresh()` while following: no request
  refresh-cold       `driver.refresh()` with no WebSocket held: GET /api/states, then the
                     registries over a WebSocket (what every command's read-back cost before:
                     GET /api/states alone, measured as `states`)
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from hass_client import HomeAssistantClient  # noqa: E402

from claw import home_tools  # noqa: E402
from claw.executor import Executor  # noqa: E402
from claw.tools import Caller, ToolRegistry  # noqa: E402
from devices.families.homeassistant.driver import HomeAssistantDriver  # noqa: E402
from devices.families.homeassistant.emulator import HomeAssistantEmulator  # noqa: E402
from devices.home import Home  # noqa: E402
from devices.model import Device  # noqa: E402
from memory.store import Store  # noqa: E402

TOKEN = "bench-token-0123456789"
SIZES = (10, 100, 1000)
BUDGET_S = 20.0  # per path and size, whatever --iterations says


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(port: int, size: int, ready: Any) -> None:
    async def main() -> None:
        emu = HomeAssistantEmulator(port=port, token=TOKEN)
        for i in range(size):
            emu.add_entity(f"light.lamp_{i}", "off", {"friendly_name": f"Lamp {i}"}, area=f"Room {i % 10}")
        await emu.start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


async def timed(call: Callable[[], Awaitable[Any]], iterations: int) -> list[float]:
    for _ in range(5):
        await call()
    out: list[float] = []
    deadline = time.monotonic() + BUDGET_S
    while len(out) < iterations and time.monotonic() < deadline:
        start = time.perf_counter()
        await call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def line(name: str, ms: list[float], base: float) -> str:
    ms = sorted(ms)
    p50, p99 = statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"  {name:<17} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  x{p50 / base:5.2f} of rest  (n={len(ms)})"


async def measure(port: int, size: int, iterations: int) -> None:
    url = f"http://127.0.0.1:{port}"
    device = Device("ha-bench", "home_assistant", "Bench HA", "127.0.0.1", port)
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        home = Home(Store(Path(tmp) / "claw.db"), device_timeout=5.0)
        driver = HomeAssistantDriver(device, TOKEN, timeout=5.0)
        await home.add(driver)
        follower = asyncio.create_task(driver.follow(lambda e: home.entity_changed(device.device_id, e)))
        async with asyncio.timeout(10):
            while driver._live is None:  # caught up
                await asyncio.sleep(0.01)
        lamp = home.entities["light.lamp_0"]
        registry = ToolRegistry()
        executor = Executor(registry, home)
        home_tools.register(registry, executor, home)
        owner = Caller(role="owner", chat_id="bench", channel="api")
        flips = iter(range(10**9))

        async def via_tool() -> None:
            action = await executor.run("HassTurnOn" if next(flips) % 2 else "HassTurnOff", {"name": "Lamp 0"}, owner)
            assert action.ok, action
            await home.settle()

        async def via_home() -> None:
            await home.call(lamp, "toggle", {})
            await home.settle()

        results["tool"] = await timed(via_tool, iterations)
        results["home"] = await timed(via_home, iterations)
        results["driver"] = await timed(lambda: driver.call("light.lamp_0", "toggle", {}), iterations)
        results["refresh-followed"] = await timed(driver.refresh, iterations)
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
            async def rest() -> None:
                async with session.post(f"{url}/api/services/light/toggle",
                                        json={"entity_id": "light.lamp_0"}) as resp:
                    await resp.read()

            async def states() -> None:
                async with session.get(f"{url}/api/states") as resp:
                    await resp.json()

            results["rest"] = await timed(rest, iterations)
            results["states"] = await timed(states, max(20, iterations // 5))
            async with HomeAssistantClient(f"ws://127.0.0.1:{port}/api/websocket", TOKEN, session) as ha:
                results["hass"] = await timed(lambda: ha.call_service(
                    "light", "toggle", target={"entity_id": "light.lamp_0"}), iterations)
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        cold = HomeAssistantDriver(device, TOKEN, timeout=5.0)
        results["refresh-cold"] = await timed(cold.refresh, max(20, iterations // 5))
        await cold.close()
        await home.remove(device.device_id)
    base = statistics.median(results["rest"])
    print(f"{size} entities:")
    for name in ("tool", "home", "driver", "rest", "hass", "refresh-followed", "refresh-cold", "states"):
        print(line(name, results[name], base))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=300)
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    for size in SIZES:
        port, ready = free_port(), ctx.Event()
        server = ctx.Process(target=serve, args=(port, size, ready), daemon=True)
        server.start()
        try:
            if not ready.wait(30):
                raise SystemExit("the emulated Home Assistant did not start within 30 s")
            asyncio.run(measure(port, size, args.iterations))
        finally:
            server.terminate()
            server.join(5)


if __name__ == "__main__":
    main()
