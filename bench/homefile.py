"""How long does a 200-entity home from a file take to come up under Claw? (issue 8: bounded)

Run as root from the repo root: `.venv/bin/python bench/homefile.py [--runs N]`.
It generates a home file of 200 entities over 20 rooms on 2 floors (Hue lights on one bridge,
a Sonos speaker per room, WLED strips, Shelly plugs and covers, cameras, and thermostats,
locks, water heaters and sensors on a Home Assistant bridge: 102 devices in all), then, each run in a fresh
process inside a network namespace it makes (real mDNS/SSDP, never on the host's LAN):

  house   EmulatedHouse.start(): every emulator up and advertised
  claw    from a Claw starting discovery to all 200 entities loaded in its home registry
  api     one GET /api/devices listing them all
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from claw.demo import demo_app, demo_service  # noqa: E402
from devices import homefile  # noqa: E402
from devices.emulators.house import EmulatedHouse  # noqa: E402
from tests import netns  # noqa: E402
from tests.conftest import make_config, serve  # noqa: E402

ROOMS = 20
BOUND_S = 10.0  # what we call bounded: all of it loaded within this


def generate() -> dict[str, Any]:
    """200 entities: per room 3 Hue lights, a Sonos speaker, a WLED strip, 2 Shelly plugs;
    every other room a Shelly cover and a camera; on Home Assistant 10 thermostats, 10 motion
    sensors, 10 temperature sensors, 5 locks and 5 water heaters."""
    rooms = [f"Room {i:02d}" for i in range(1, ROOMS + 1)]
    areas = [{"name": r, "floor": "Ground Floor" if i < ROOMS // 2 else "First Floor"}
             for i, r in enumerate(rooms)]
    entities: list[dict[str, Any]] = []
    for i, room in enumerate(rooms):
        entities += [{"domain": "light", "name": f"{room} Lamp {n}", "area": room,
                      "state": "on" if n == 1 else "off", "attributes": {"brightness": 100 + n}}
                     for n in (1, 2, 3)]
        entities.append({"domain": "media_player", "name": f"{room} Speaker", "area": room,
                         "state": "paused", "attributes": {"volume_level": 0.25}})
        entities.append({"domain": "light", "name": f"{room} Strip", "area": room, "via": "wled",
                         "state": "off"})
        entities += [{"domain": "switch", "name": f"{room} Plug {n}", "area": room, "state": "off"}
                     for n in (1, 2)]
        if i % 2 == 0:
            entities.append({"domain": "cover", "name": f"{room} Blind", "area": room,
                             "state": "open", "attributes": {"device_class": "blind"}})
            entities.append({"domain": "camera", "name": f"{room} Camera", "area": room,
                             "state": "idle"})
    for i, room in enumerate(rooms):
        slug = homefile.slug(room)
        if i % 2 == 0:
            entities.append({"id": f"climate.{slug}", "name": f"{room} Thermostat", "area": room,
                             "state": "heat", "attributes": {"temperature": 20.0,
                                                             "current_temperature": 19.0}})
            entities.append({"id": f"binary_sensor.{slug}_motion", "name": f"{room} Motion",
                             "area": room, "state": "off", "attributes": {"device_class": "motion"}})
            continue
        entities.append({"id": f"sensor.{slug}_temperature", "name": f"{room} Temperature",
                         "area": room, "state": "19.0",
                         "attributes": {"device_class": "temperature", "unit_of_measurement": "°C"}})
        if i % 4 == 1:
            entities.append({"id": f"lock.{slug}_door", "name": f"{room} Door", "area": room,
                             "state": "locked"})
        else:
            entities.append({"id": f"water_heater.{slug}", "name": f"{room} Water Heater",
                             "area": room, "state": "electric", "attributes": {"temperature": 50.0}})
    return {"name": "Big House", "floors": ["Ground Floor", "First Floor"], "areas": areas,
            "entities": entities}


async def measure(path: str) -> dict[str, Any]:
    if not netns.only_loopback():
        sys.exit("refusing to multicast outside a private namespace: run bench/homefile.py "
                 "as a script, it makes its own")
    t0 = time.perf_counter()
    house = EmulatedHouse.from_file(path)
    await house.start()
    started = time.perf_counter() - t0
    expected = len(house.spec.entities)
    with tempfile.TemporaryDirectory() as tmp:
        service = demo_service(make_config(Path(tmp)), house)
        t1 = time.perf_counter()
        async with serve(service, demo_app(service, house)) as api:  # starts discovery
            half = None
            while len(service.home.entities) < expected and time.perf_counter() - t1 < 60:
                if half is None and len(service.home.entities) >= expected // 2:
                    half = time.perf_counter() - t1
                await asyncio.sleep(0.02)
            loaded = time.perf_counter() - t1
            half = loaded if half is None else half
            t2 = time.perf_counter()
            devices = (await api.get("/api/devices")).json()
            listed = time.perf_counter() - t2
    await house.stop()
    return {"house_s": started, "half_s": half, "claw_s": loaded, "api_s": listed,
            "entities": len(devices["entities"]), "devices": len(devices["devices"]),
            "expected": expected}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    home = generate()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big_house.yaml"
        path.write_text(yaml.safe_dump(home, sort_keys=False))
        spec = homefile.load(path)
        results = []
        for _ in range(runs):
            with netns.namespace() as ns:  # a fresh namespace: no mDNS cache from the last run
                results.append(netns.run_in(ns, "bench.homefile", "measure", str(path),
                                            timeout=120))

    families = Counter(e.via for e in spec.entities)
    print(f"\nA home file of {len(spec.entities)} entities ("
          + ", ".join(f"{n} {f}" for f, n in families.most_common())
          + f") in a private network namespace; {runs} runs, each a fresh process\n")
    print(f"{'run':>4} | {'house up':>8} | {'half loaded':>11} | {'all loaded':>10} | "
          f"{'GET /api/devices':>16} | entities / devices")
    for i, r in enumerate(results, 1):
        print(f"{i:>4} | {r['house_s']:>7.2f}s | {r['half_s']:>10.2f}s | {r['claw_s']:>9.2f}s | "
              f"{r['api_s'] * 1e3:>14.1f}ms | {r['entities']} / {r['devices']}")
    worst = max(r["claw_s"] for r in results)
    median = statistics.median(r["claw_s"] for r in results)
    complete = all(r["entities"] == r["expected"] for r in results)
    print(f"\nClaw start -> all {len(spec.entities)} entities loaded: median {median:.2f} s, "
          f"worst {worst:.2f} s")
    verdict = "OK" if complete and worst <= BOUND_S else "MISSED"
    print(f"bound: every entity loaded within {BOUND_S:.0f} s -> {verdict}")


if __name__ == "__main__":
    main()
