"""What does a tool call through Claw's executor cost over the raw library call to the same
emulated device? (target: ratio <= 1.2 at p50 and at p99, for every device family)

Run as root from the repo root: `.venv/bin/python bench/executor.py [--iterations N]`.
It makes its own network namespace (real mDNS/SSDP, never on the host's LAN). The built-in
demo house runs in one process; in another, a Claw discovers it the normal way and then, per
family and in the same run, four paths do the same command on the same device:

  tool    `Executor.run(tool, args, caller)`: validation, target resolution, policy, Home.call
          and the driver (for the camera, which has no snapshot tool yet: `Executor.act`)
  home    `Home.call` alone (timeout, availability, starting the read-back)   } where the
  driver  the family's driver `call()` alone                                  } time goes
  raw     the library a user would call directly: soco for Sonos, aiohttp for the HTTP APIs

Every call flips the device's state (on/off, play/pause, 20/21 degrees), so none is a no-op.
The background read-back a command starts (`Home.settle()`) is awaited after each call,
outside the timed region, so every path sees the same device load. The path that goes first
alternates. Claw's 5 s state poll is paused while measuring, so it adds no noise to either.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

import aiohttp
import soco

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from claw.demo import demo_service  # noqa: E402
from claw.tools import Caller, ToolContext  # noqa: E402
from devices.emulators.house import DEMO_HOME, EmulatedHouse  # noqa: E402
from devices.families.homeassistant.emulation import TOKEN as HA_TOKEN  # noqa: E402
from tests import netns  # noqa: E402
from tests.conftest import make_config  # noqa: E402

TARGET = 1.2
FAMILY_BUDGET_S = 30.0  # per family, whatever --iterations says
WARMUP = 10
PATHS = ("tool", "home", "driver", "raw")


def refuse_root_namespace() -> None:
    if not netns.only_loopback():
        sys.exit("refusing to multicast where a network interface other than lo exists: run "
                 "bench/executor.py as a script, it makes its own namespace")


HA_PORT = 8123  # Home Assistant's own default; the bench's namespace has it free


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


async def serve_house() -> None:
    """The demo house, advertised in the namespace, until killed (at most 10 min)."""
    refuse_root_namespace()
    house = EmulatedHouse.from_file(DEMO_HOME)
    house.families["home_assistant"].server.port = HA_PORT  # the URL Claw is given (measure)
    await house.start()
    print("ready", flush=True)
    await asyncio.sleep(600)


@dataclass
class Case:
    family: str
    what: str
    tool: Callable[[int], Awaitable[Any]]
    driver: Callable[[int], Awaitable[Any]]
    home: Callable[[int], Awaitable[Any]]
    raw: Callable[[int], Awaitable[Any]]


async def measure(iterations: int) -> dict[str, Any]:
    refuse_root_namespace()
    # Not started: Claw needs only its floor plan and HA token; the emulators run elsewhere.
    spec_house = EmulatedHouse.from_file(DEMO_HOME)
    spec_house.families["home_assistant"].server.port = HA_PORT  # where serve_house serves it
    with tempfile.TemporaryDirectory() as tmp:
        service = demo_service(make_config(Path(tmp)), spec_house)
        service.house.poll_interval = 3600  # no polls while measuring
        await service.start()
        home = service.home
        deadline = time.monotonic() + 20
        while len(home.entities) < len(spec_house.spec.entities) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if len(home.entities) < len(spec_house.spec.entities):
            raise RuntimeError(f"only {len(home.entities)} entities discovered: {sorted(home.entities)}")
        async with aiohttp.ClientSession() as http:
            cases = _cases(service, http)
            results = {}
            for case in cases:
                results[case.family] = await _run_case(case, home, iterations)
        await service.stop()
    return results


def _cases(service: Any, http: aiohttp.ClientSession) -> list[Case]:
    home, executor = service.home, service.executor
    caller = Caller(role="owner", chat_id="bench", channel="api")
    flips = itertools.count()  # every call, whatever its path, flips the device's state

    def flip() -> bool:
        return next(flips) % 2 == 0

    def tool(name_on: str, name_off: str, args: dict[str, Any]) -> Callable[[int], Awaitable[Any]]:
        async def run(i: int) -> None:
            action = await executor.run(name_on if flip() else name_off, args, caller)
            assert action.ok, action.result
        return run

    def layers(entity_id: str, on: str, off: str, data: Callable[[bool], dict[str, Any]]):
        """The same command one layer down (Home.call) and two (the driver's call)."""
        driver = home.driver_for(entity_id)

        async def driver_call(i: int) -> None:
            state = flip()
            await driver.call(entity_id, on if state else off, data(state))

        async def home_call(i: int) -> None:
            state = flip()
            await home.call(home.entity(entity_id), on if state else off, data(state))
        return driver_call, home_call

    def no_data(_: bool) -> dict[str, Any]:
        return {}

    cases = []

    # Sonos: soco, synchronous; the emulators are in another process, so blocking is fine.
    study = home.driver_for("media_player.study")
    speaker = soco.SoCo(study.device.host, study.device.port)

    async def sonos_raw(i: int) -> None:
        speaker.play() if flip() else speaker.pause()
    cases.append(Case("Sonos", "play / pause the Study speaker",
                      tool("HassMediaUnpause", "HassMediaPause", {"name": "Study Speaker"}),
                      *layers("media_player.study", "media_play", "media_pause", no_data),
                      sonos_raw))

    async def sonos_volume_raw(i: int) -> None:
        speaker.volume = 30 if flip() else 31

    async def sonos_volume_tool(i: int) -> None:
        args = {"name": "Study Speaker", "volume_level": 30 if flip() else 31}
        action = await executor.run("HassSetVolume", args, caller)
        assert action.ok, action.result
    cases.append(Case("Sonos volume", "set the Study speaker's volume",
                      sonos_volume_tool,
                      *layers("media_player.study", "volume_set", "volume_set",
                                  lambda s: {"volume_level": 0.30 if s else 0.31}),
                      sonos_volume_raw))

    # Hue: the bridge's v1 REST API, as the driver's own session would send it.
    hue = home.driver_for("light.kitchen_ceiling")
    light_id = hue._light_ids["light.kitchen_ceiling"]
    hue_url = f"http://{hue.device.host}:{hue.device.port}/api/{hue.username}/lights/{light_id}/state"

    async def hue_raw(i: int) -> None:
        async with http.put(hue_url, json={"on": flip()}) as r:
            assert "success" in (await r.json())[0]
    cases.append(Case("Hue", "turn the Kitchen Ceiling on / off",
                      tool("HassTurnOn", "HassTurnOff", {"name": "Kitchen Ceiling"}),
                      *layers("light.kitchen_ceiling", "turn_on", "turn_off", no_data),
                      hue_raw))

    wled = home.driver_for("light.deck_strip")

    async def wled_raw(i: int) -> None:
        async with http.post(f"{wled.base_url}/json/state", json={"on": flip()}) as r:
            assert r.status == 200
            await r.json()
    cases.append(Case("WLED", "turn the Deck Strip on / off",
                      tool("HassTurnOn", "HassTurnOff", {"name": "Deck Strip"}),
                      *layers("light.deck_strip", "turn_on", "turn_off", no_data),
                      wled_raw))

    shelly = home.driver_for("switch.pool_pump")

    async def shelly_raw(i: int) -> None:
        frame = {"id": i, "src": "bench", "method": "Switch.Set", "params": {"id": 0, "on": flip()}}
        async with http.post(f"{shelly.base_url}/rpc", json=frame) as r:
            assert "result" in await r.json()
    cases.append(Case("Shelly", "turn the Pool Pump on / off",
                      tool("HassTurnOn", "HassTurnOff", {"name": "Pool Pump"}),
                      *layers("switch.pool_pump", "turn_on", "turn_off", no_data),
                      shelly_raw))

    ha = home.driver_for("climate.hallway")
    ha_url = f"{ha.base_url}/api/services/climate/set_temperature"
    auth = {"Authorization": f"Bearer {HA_TOKEN}"}

    async def ha_tool(i: int) -> None:
        args = {"name": "Hallway Thermostat", "temperature": 20.0 if flip() else 21.0}
        action = await executor.run("HassClimateSetTemperature", args, caller)
        assert action.ok, action.result

    async def ha_raw(i: int) -> None:
        body = {"entity_id": "climate.hallway", "temperature": 20.0 if flip() else 21.0}
        async with http.post(ha_url, json=body, headers=auth) as r:
            assert r.status == 200
            await r.json()
    cases.append(Case("Home Assistant", "set the Hallway thermostat",
                      ha_tool,
                      *layers("climate.hallway", "set_temperature", "set_temperature",
                                  lambda s: {"temperature": 20.0 if s else 21.0}),
                      ha_raw))

    camera = home.driver_for("camera.driveway_camera")
    snapshot_url = f"http://{camera.device.host}:{camera.device.port}/snapshot.jpg"

    async def camera_tool(i: int) -> None:
        entity = home.entity("camera.driveway_camera")
        await executor.act(ToolContext(caller), [entity], "snapshot", {})

    async def camera_raw(i: int) -> None:
        async with http.get(snapshot_url) as r:
            assert (await r.read()).startswith(b"\xff\xd8")
    cases.append(Case("Camera", "take a Driveway Camera snapshot",
                      camera_tool,
                      *layers("camera.driveway_camera", "snapshot", "snapshot", no_data),
                      camera_raw))
    return cases


async def _run_case(case: Case, home: Any, iterations: int) -> dict[str, Any]:
    paths = {p: getattr(case, p) for p in PATHS}
    times: dict[str, list[float]] = {p: [] for p in paths}
    for i in range(WARMUP):
        for fn in paths.values():
            await fn(i)
            await home.settle()
    start = time.monotonic()
    for i in range(iterations):
        if time.monotonic() - start > FAMILY_BUDGET_S:
            break
        order = list(paths) if i % 2 == 0 else list(reversed(paths))
        for p in order:
            t = time.perf_counter()
            await paths[p](i)
            times[p].append(time.perf_counter() - t)
            await home.settle()  # the read-back a command starts, outside the timed region
            await asyncio.sleep(0.002)  # and the events it pushes (HA's WebSocket, Shelly's)
    return {"what": case.what, "n": len(times["raw"]),
            **{f"{p}_{q}": pct(v, q) * 1e3 for p, v in times.items() for q in (50, 99)},
            **{f"{p}_mean": statistics.fmean(v) * 1e3 for p, v in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300)
    iterations = parser.parse_args().iterations
    with netns.namespace() as ns, netns.background_in(ns, "bench.executor", "serve_house"):
        results = netns.run_in(ns, "bench.executor", "measure", iterations, timeout=600)

    print("\nTool call through the executor vs the raw library call, same device, same run "
          "(ms; emulated demo house in a private network namespace)")
    misses = set()
    for q in (50, 99):
        head = (f"{'p' + str(q):<15}{'n':>5} | {'tool':>7} {'home':>7} {'driver':>7} {'raw':>7} | "
                f"{'tool/raw':>8} | what")
        print("\n" + head + "\n" + "-" * len(head))
        for family, r in results.items():
            ratio = r[f"tool_{q}"] / r[f"raw_{q}"]
            if ratio > TARGET:
                misses.add(family)
            print(f"{family:<15}{r['n']:>5} | " + " ".join(f"{r[f'{p}_{q}']:>7.2f}" for p in PATHS)
                  + f" | {ratio:>8.2f} | {r['what']}")
    print("\ntool = Executor.run (for the camera, which has no snapshot tool yet: Executor.act); "
          "home = Home.call; driver = the driver's call(); raw = soco / aiohttp straight to the "
          "device")
    verdict = "OK" if not misses else "MISSED for " + ", ".join(f for f in results if f in misses)
    print(f"target: tool / raw <= {TARGET} at p50 and p99 for every family -> {verdict}")

if __name__ == "__main__":
    main()
