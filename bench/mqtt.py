"""MQTT: how fast does a state published on the broker reach Claw's entity, with 500 discovered
MQTT entities, and what does a command through Claw's executor cost over a raw aiomqtt publish?

Run from the repo root: `.venv/bin/python bench/mqtt.py [--samples N]`. Needs Debian's
mosquitto. The broker runs on a loopback port; the emulated devices (a Zigbee2MQTT bridge with
200 devices = 300 entities, and a Home Assistant discovery node with 200 entities) run in a
process of their own. In this process a Claw adopts the broker as one device and follows it.

Push: a device's state message (Zigbee2MQTT JSON, or a discovery entity's plain state) is
published from a raw aiomqtt client here; timed until Claw's home registry shows the new value
(its change listener), and, as the baseline in the same run, until a second raw aiomqtt client
subscribed to the same topic receives it.

Command: four paths turn the same Zigbee plug on or off, alternating which goes first:
  tool    `Executor.run("HassTurnOn"/"HassTurnOff", {"name": ...})`: validation, targets,
          policy, Home.call and the driver
  home    `Home.call` alone
  driver  the driver's `call()` alone (a QoS 1 publish: returns when the broker has it)
  raw     aiomqtt's `publish()` of the same payload with QoS 1 on a client of its own
Outside the timed region, each command waits for its read-back (`Home.settle()`) and for the
plug's report of its new state to reach Claw.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiomqtt  # noqa: E402

from claw.service import Claw  # noqa: E402
from claw.tools import Caller  # noqa: E402
from devices.families.mqtt.driver import MqttDriver  # noqa: E402
from devices.families.mqtt.emulator import (  # noqa: E402
    DiscoveryNode, NodeEntity, Zigbee2MqttBridge, ZigbeeDevice)
from devices.families.mqtt.mosquitto import Mosquitto  # noqa: E402
from devices.model import Device, Entity  # noqa: E402
from tests import netns  # noqa: E402
from tests.conftest import make_config  # noqa: E402

ENTITIES = 500
WARMUP = 10
BUDGET_S = 30.0  # per measurement, whatever --samples says
PATHS = ("tool", "home", "driver", "raw")


def zigbee() -> list[ZigbeeDevice]:
    devices = [ZigbeeDevice(f"Room {i}/Bench Light {i}", "light", f"0x{i:016x}") for i in range(50)]
    devices += [ZigbeeDevice(f"Room {i}/Bench Sensor {i}", "climate_sensor", f"0x{100 + i:016x}") for i in range(50)]
    devices += [ZigbeeDevice(f"Bench Plug {i}", "switch", f"0x{200 + i:016x}") for i in range(100)]
    return devices  # 50 + 150 + 100 = 300 entities (linkquality is not one)


def discovery_entities() -> list[NodeEntity]:
    return ([NodeEntity("sensor", f"probe_{i}", f"Probe {i}", unit="°C") for i in range(100)]
            + [NodeEntity("switch", f"relay_{i}", f"Relay {i}") for i in range(100)])


async def serve_devices(port: int) -> None:
    """The emulated bridge and node, until killed (at most 10 min)."""
    bridge = Zigbee2MqttBridge("127.0.0.1", port, zigbee())
    node = DiscoveryNode("127.0.0.1", port, "bench-node", "Bench Node", discovery_entities())
    await bridge.start(within=30)
    await node.start(within=30)
    print("ready", flush=True)
    await asyncio.sleep(600)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": pct(values, 50) * 1e3, "p99": pct(values, 99) * 1e3,
            "mean": statistics.fmean(values) * 1e3}


async def measure(port: int, samples: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        service = Claw(make_config(Path(tmp)))
        home, executor = service.home, service.executor
        driver = MqttDriver(Device("mqtt:bench", "mqtt", "MQTT broker", "127.0.0.1", port))
        started = time.perf_counter()
        await home.add(driver)
        follow = asyncio.ensure_future(driver.follow(lambda e: home.entity_changed("mqtt:bench", e)))
        deadline = time.monotonic() + 30
        while (len(home.entities) < ENTITIES
               or any(e.state == "unknown" for e in home.entities.values())) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        found_s = time.perf_counter() - started
        assert len(home.entities) == ENTITIES, f"{len(home.entities)} entities, not {ENTITIES}"
        async with aiomqtt.Client("127.0.0.1", port) as sender, aiomqtt.Client("127.0.0.1", port) as watcher:
            push = await _push(home, sender, watcher, samples)
            commands = await _commands(home, executor, driver, sender, samples)
        follow.cancel()
        await driver.close()
    return {"found_s": found_s, **push, "commands": commands}


async def _push(home: Any, sender: aiomqtt.Client, watcher: aiomqtt.Client, samples: int) -> dict[str, Any]:
    await watcher.subscribe([("zigbee2mqtt/+/+", 0), ("bench-node/sensor/+/state", 0)])
    seen: dict[str, asyncio.Future[float]] = {}  # topic -> when the raw subscriber got it
    shown: dict[str, tuple[str, asyncio.Future[float]]] = {}  # entity -> (value, when Claw had it)

    def listener(old: Entity | None, new: Entity) -> None:
        value, done = shown.get(new.entity_id, ("", None))
        if done is not None and not done.done() and new.state == value:
            done.set_result(time.perf_counter())

    async def watch() -> None:
        async for message in watcher.messages:
            waiting = seen.get(message.topic.value)
            if waiting is not None and not waiting.done():
                waiting.set_result(time.perf_counter())

    home.listeners.append(listener)
    watching = asyncio.ensure_future(watch())
    claw_times: list[float] = []
    raw_times: list[float] = []
    begin = time.monotonic()
    loop = asyncio.get_running_loop()
    for i in range(WARMUP + samples):
        if time.monotonic() - begin > BUDGET_S:
            break
        value = f"{i}.5"  # a new value every time: always a change
        if i % 2 == 0:  # a Zigbee sensor's JSON
            n = i % 50
            topic, entity_id = f"zigbee2mqtt/Room {n}/Bench Sensor {n}", f"sensor.room_{n}_bench_sensor_{n}_temperature"
            payload = json.dumps({"temperature": float(value), "humidity": 45.0, "battery": 90, "linkquality": 100})
        else:  # a discovery entity's plain state
            n = i % 100
            topic, payload, entity_id = f"bench-node/sensor/probe_{n}/state", value, f"sensor.bench_node_probe_{n}"
        claw_done, raw_done = loop.create_future(), loop.create_future()
        shown[entity_id], seen[topic] = (value, claw_done), raw_done
        t = time.perf_counter()
        await sender.publish(topic, payload, qos=0)
        async with asyncio.timeout(5):
            claw_at, raw_at = await claw_done, await raw_done
        if i >= WARMUP:
            claw_times.append(claw_at - t)
            raw_times.append(raw_at - t)
    watching.cancel()
    home.listeners.remove(listener)
    return {"push_claw": summary(claw_times), "push_raw": summary(raw_times)}


async def _commands(home: Any, executor: Any, driver: MqttDriver, sender: aiomqtt.Client,
                    samples: int) -> dict[str, Any]:
    caller = Caller(role="owner", chat_id="bench", channel="api")
    entity_id, name = "switch.bench_plug_7", "Bench Plug 7"

    async def tool(on: bool) -> None:
        action = await executor.run("HassTurnOn" if on else "HassTurnOff", {"name": name}, caller)
        assert action.ok, action.result

    async def home_call(on: bool) -> None:
        await home.call(home.entity(entity_id), "turn_on" if on else "turn_off", {})

    async def driver_call(on: bool) -> None:
        await driver.call(entity_id, "turn_on" if on else "turn_off", {})

    async def raw(on: bool) -> None:
        await sender.publish("zigbee2mqtt/Bench Plug 7/set", json.dumps({"state": "ON" if on else "OFF"}), qos=1)

    paths: dict[str, Callable[[bool], Awaitable[None]]] = {
        "tool": tool, "home": home_call, "driver": driver_call, "raw": raw}
    async def settled(on: bool) -> None:
        """The plug's own report of the new state has reached Claw (so its handling falls in no
        later timed call)."""
        await home.settle()
        async with asyncio.timeout(5):
            while home.entity(entity_id).state != ("on" if on else "off"):
                await asyncio.sleep(0.001)

    flips = itertools.count()
    times: dict[str, list[float]] = {p: [] for p in PATHS}
    round_trips: dict[str, list[float]] = {p: [] for p in PATHS}  # until the report is in Claw
    for _ in range(WARMUP):
        for fn in paths.values():
            on = next(flips) % 2 == 0
            await fn(on)
            await settled(on)
    begin = time.monotonic()
    for i in range(samples):
        if time.monotonic() - begin > BUDGET_S:
            break
        for p in (PATHS if i % 2 == 0 else tuple(reversed(PATHS))):
            on = next(flips) % 2 == 0
            t = time.perf_counter()
            await paths[p](on)
            times[p].append(time.perf_counter() - t)
            await settled(on)
            round_trips[p].append(time.perf_counter() - t)
    return {**{p: summary(v) for p, v in times.items()},
            **{f"{p}+report": summary(v) for p, v in round_trips.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--mosquitto-default", action="store_true",
                        help="leave mosquitto's set_tcp_nodelay at its default (false)")
    args = parser.parse_args()
    samples = args.samples

    async def run() -> dict[str, Any]:
        broker = Mosquitto(tcp_nodelay=not args.mosquitto_default)
        await broker.start()
        try:
            with netns.background_in(None, "bench.mqtt", "serve_devices", broker.port, ready_timeout=60):
                return await measure(broker.port, samples)
        finally:
            await broker.close()

    r = asyncio.run(run())
    print(f"\n{ENTITIES} MQTT entities (300 from a Zigbee2MQTT bridge, 200 by HA discovery) on mosquitto "
          f"(set_tcp_nodelay {'false' if args.mosquitto_default else 'true'}), loopback; devices in another process")
    print(f"adopted and every state known in {r['found_s']:.2f} s")
    claw, raw = r["push_claw"], r["push_raw"]
    print("\nA state published -> seen (ms)")
    print(f"{'':<28}{'n':>5} {'p50':>7} {'p99':>7} {'mean':>7}")
    print(f"{'Claw entity state':<28}{claw['n']:>5} {claw['p50']:>7.2f} {claw['p99']:>7.2f} {claw['mean']:>7.2f}")
    print(f"{'raw aiomqtt subscriber':<28}{raw['n']:>5} {raw['p50']:>7.2f} {raw['p99']:>7.2f} {raw['mean']:>7.2f}")
    print(f"{'Claw / raw':<28}{'':>5} {claw['p50'] / raw['p50']:>7.2f} {claw['p99'] / raw['p99']:>7.2f} "
          f"{claw['mean'] / raw['mean']:>7.2f}")
    c = r["commands"]
    print("\nA plug switched through the executor vs a raw aiomqtt publish (QoS 1), same broker (ms)")
    print(f"{'':<8}{'n':>5} | " + " ".join(f"{p:>7}" for p in PATHS) + f" | {'tool/raw':>8}")
    for q in ("p50", "p99", "mean"):
        print(f"{q:<8}{c['raw']['n']:>5} | " + " ".join(f"{c[p][q]:>7.2f}" for p in PATHS)
              + f" | {c['tool'][q] / c['raw'][q]:>8.2f}")
    print("\n... and until the plug's own report of its new state is in Claw's entity (ms)")
    for q in ("p50", "p99", "mean"):
        print(f"{q:<8}{c['raw']['n']:>5} | " + " ".join(f"{c[p + '+report'][q]:>7.2f}" for p in PATHS)
              + f" | {c['tool+report'][q] / c['raw+report'][q]:>8.2f}")


if __name__ == "__main__":
    main()
