"""What does a command through Claw's executor cost over the raw library call, for ESPHome and
Kasa? (the same question as bench/executor.py, for the two families that use HA's libraries)

Run from the repo root: `.venv/bin/python bench/esphome_kasa.py [--iterations N]`.
The emulated devices (an ESPHome node with a switch, a Kasa plug) run in a process of their
own on loopback; no multicast or broadcast is sent. In this process a Claw adopts both (by
address, as discovery would hand them over) and, per family and in the same run, four paths
flip the same switch:

  tool    `Executor.run("HassTurnOn"/"HassTurnOff", {"name": ...})`: validation, targets,
          policy, Home.call and the driver
  home    `Home.call` alone
  driver  the family's driver `call()` alone
  raw     the library straight to the device: aioesphomeapi's `switch_command` on a
          connection of its own, waiting for the node's new state (what the driver waits for);
          python-kasa's `turn_on()`/`turn_off()` on a device object of its own

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
from pathlib import Path
from typing import Any, Awaitable, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aioesphomeapi import APIClient  # noqa: E402
from kasa import Device as KasaDevice  # noqa: E402
from kasa import DeviceConfig  # noqa: E402

from claw.service import Claw  # noqa: E402
from claw.tools import Caller  # noqa: E402
from devices.families.esphome.driver import EsphomeDriver  # noqa: E402
from devices.families.esphome.emulator import EsphomeNode  # noqa: E402
from devices.families.kasa.driver import LEGACY, KasaDriver  # noqa: E402
from devices.families.kasa.emulator import KasaEmulator  # noqa: E402
from devices.model import Device  # noqa: E402
from tests import netns  # noqa: E402
from tests.conftest import make_config  # noqa: E402

WARMUP = 10
BUDGET_S = 30.0  # per family, whatever --iterations says
PATHS = ("tool", "home", "driver", "raw")
Call = Callable[[bool], Awaitable[Any]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def serve_devices(esphome_port: int, kasa_port: int) -> None:
    """Both emulated devices, until killed (at most 10 min)."""
    node = EsphomeNode(port=esphome_port, name="spa-node", friendly_name="Spa Node")
    node.add_switch("spa_jets", "Spa Jets")
    async with node, KasaEmulator("plug", alias="Spa Heater", port=kasa_port):
        print("ready", flush=True)
        await asyncio.sleep(600)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


async def esphome_raw(port: int) -> tuple[Call, Callable[[], Awaitable[None]]]:
    client = APIClient("127.0.0.1", port, None, client_info="bench")
    await client.connect(login=False)
    _, [switch], _ = await client.device_info_and_list_entities()
    states: asyncio.Queue[bool] = asyncio.Queue()
    client.subscribe_states(lambda s: states.put_nowait(s.state))
    await states.get()  # the state the node sends on subscribing

    async def flip(on: bool) -> None:
        client.switch_command(switch.key, on)
        while await states.get() != on:
            pass
    return flip, client.disconnect


async def kasa_raw(port: int) -> tuple[Call, Callable[[], Awaitable[None]]]:
    plug = await KasaDevice.connect(config=DeviceConfig("127.0.0.1", port_override=port, connection_type=LEGACY))

    async def flip(on: bool) -> None:
        await (plug.turn_on() if on else plug.turn_off())
    return flip, plug.disconnect


async def measure(esphome_port: int, kasa_port: int, iterations: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        service = Claw(make_config(Path(tmp)))
        home, executor = service.home, service.executor
        caller = Caller(role="owner", chat_id="bench", channel="api")
        esphome = EsphomeDriver(Device("esphome:bench", "esphome", "spa-node", "127.0.0.1", esphome_port))
        kasa = KasaDriver(Device("kasa:bench", "kasa", "127.0.0.1", "127.0.0.1", kasa_port))
        await home.add(esphome)
        await home.add(kasa)
        results = {}
        for family, driver, entity_id, name, raw_for in (
                ("ESPHome", esphome, "switch.spa_node_spa_jets", "Spa Node Spa Jets", esphome_raw),
                ("Kasa", kasa, "switch.spa_heater", "Spa Heater", kasa_raw)):
            raw, close_raw = await raw_for(driver.device.port)
            paths = _paths(home, executor, caller, driver, entity_id, name, raw)
            results[family] = await _run(paths, home, iterations)
            await close_raw()
        await esphome.close()
        await kasa.close()
    return results


def _paths(home: Any, executor: Any, caller: Caller, driver: Any, entity_id: str, name: str,
           raw: Call) -> dict[str, Call]:
    async def tool(on: bool) -> None:
        action = await executor.run("HassTurnOn" if on else "HassTurnOff", {"name": name}, caller)
        assert action.ok, action.result

    async def home_call(on: bool) -> None:
        await home.call(home.entity(entity_id), "turn_on" if on else "turn_off", {})

    async def driver_call(on: bool) -> None:
        await driver.call(entity_id, "turn_on" if on else "turn_off", {})
    return {"tool": tool, "home": home_call, "driver": driver_call, "raw": raw}


async def _run(paths: dict[str, Call], home: Any, iterations: int) -> dict[str, Any]:
    flips = itertools.count()  # every call flips the switch, so none is a no-op
    times: dict[str, list[float]] = {p: [] for p in paths}
    for _ in range(WARMUP):
        for fn in paths.values():
            await fn(next(flips) % 2 == 0)
            await home.settle()
    start = time.monotonic()
    for i in range(iterations):
        if time.monotonic() - start > BUDGET_S:
            break
        for p in (PATHS if i % 2 == 0 else tuple(reversed(PATHS))):
            on = next(flips) % 2 == 0
            t = time.perf_counter()
            await paths[p](on)
            times[p].append(time.perf_counter() - t)
            await home.settle()
    return {"n": len(times["raw"]), **{f"{p}_{q}": pct(v, q) * 1e3 for p, v in times.items() for q in (50, 99)},
            **{f"{p}_mean": statistics.fmean(v) * 1e3 for p, v in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300)
    iterations = parser.parse_args().iterations
    ports = free_port(), free_port()
    with netns.background_in(None, "bench.esphome_kasa", "serve_devices", *ports):
        results = asyncio.run(measure(*ports, iterations))
    print("\nA switch flipped through the executor vs the raw library call, same device, same run "
          "(ms; emulated devices in another process on loopback)")
    for q in (50, 99):
        head = f"{'p' + str(q):<9}{'n':>5} | {'tool':>7} {'home':>7} {'driver':>7} {'raw':>7} | {'tool/raw':>8}"
        print("\n" + head + "\n" + "-" * len(head))
        for family, r in results.items():
            print(f"{family:<9}{r['n']:>5} | " + " ".join(f"{r[f'{p}_{q}']:>7.2f}" for p in PATHS)
                  + f" | {r[f'tool_{q}'] / r[f'raw_{q}']:>8.2f}")
    print("\ntool = Executor.run; home = Home.call; driver = the driver's call(); raw = aioesphomeapi "
          "/ python-kasa straight to the device")


if __name__ == "__main__":
    main()
