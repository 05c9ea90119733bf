"""MQTT family: Claw's driver (aiomqtt) against Debian's real mosquitto on a loopback port, with
an emulated Zigbee2MQTT bridge and Home Assistant discovery nodes as MQTT clients of it."""
from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiomqtt
import pytest

from devices.families.mqtt.driver import MqttDriver
from devices.families.mqtt.emulator import DiscoveryNode, NodeEntity, Zigbee2MqttBridge, ZigbeeDevice
from devices.families.mqtt.mosquitto import Mosquitto
from devices.home import Home
from devices.model import Device, DeviceError, DeviceRefused, Entity
from memory.store import Store

WITHIN = 3.0  # seconds any expected change may take on loopback


def zigbee_devices() -> list[ZigbeeDevice]:
    return [ZigbeeDevice("Kitchen/Ceiling", "light", "0x000b57fffe000001"),
            ZigbeeDevice("Hall Plug", "switch", "0x000b57fffe000002"),
            ZigbeeDevice("Study/Blind", "cover", "0x000b57fffe000003"),
            ZigbeeDevice("Front Door", "lock", "0x000b57fffe000004"),
            ZigbeeDevice("Hall/Radiator", "thermostat", "0x000b57fffe000005"),
            ZigbeeDevice("Bath/Sensor", "climate_sensor", "0x000b57fffe000006"),
            ZigbeeDevice("Hall/Motion", "motion", "0x000b57fffe000007"),
            ZigbeeDevice("Back Door", "contact", "0x000b57fffe000008")]


def node_entities() -> list[NodeEntity]:
    return [NodeEntity("light", "strip", "Strip"), NodeEntity("light_basic", "lamp", "Lamp"),
            NodeEntity("switch", "fan", "Fan"), NodeEntity("cover", "shade", "Shade"),
            NodeEntity("sensor", "temperature", "Temperature", device_class="temperature", unit="°C"),
            NodeEntity("binary_sensor", "window", "Window", device_class="window"),
            NodeEntity("climate", "heater", "Heater"), NodeEntity("lock", "safe", "Safe")]


@pytest.fixture
async def broker() -> AsyncIterator[Mosquitto]:
    b = Mosquitto()
    await b.start()
    yield b
    await b.close()


@pytest.fixture
async def bridge(broker: Mosquitto) -> AsyncIterator[Zigbee2MqttBridge]:
    z = Zigbee2MqttBridge(broker.host, broker.port, zigbee_devices())
    await z.start()
    yield z
    await z.stop()


@pytest.fixture
async def node(broker: Mosquitto) -> AsyncIterator[DiscoveryNode]:
    n = DiscoveryNode(broker.host, broker.port, "desk-node", "Desk Node", node_entities(), area="Study")
    await n.start()
    yield n
    await n.stop()


def broker_device(broker: Mosquitto) -> Device:
    return Device(f"mqtt:{broker.host}:{broker.port}", "mqtt", "MQTT broker", broker.host, broker.port)


class Problems:
    """The owner-facing lines a driver says, and its backoff sleeps (short, and recorded)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.sleeps: list[float] = []

    async def say(self, line: str) -> None:
        self.lines.append(line)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0.05)


@pytest.fixture
async def home() -> AsyncIterator[Home]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Home(Store(Path(tmp) / "claw.db"))


async def adopt(home: Home, driver: MqttDriver) -> asyncio.Task[None]:
    """The driver in the home, followed as claw.house follows drivers that push."""
    await home.add(driver)
    device_id = driver.device.device_id
    return asyncio.ensure_future(driver.follow(lambda e: home.entity_changed(device_id, e)))


async def until(home: Home, entity_id: str, ok: Callable[[Entity], bool], within: float = WITHIN) -> Entity:
    """Wait, by the home's own change notices, until the entity satisfies `ok`."""
    changed = asyncio.Event()
    home.listeners.append(lambda old, new: changed.set())
    try:
        async with asyncio.timeout(within):
            while not (entity_id in home.entities and ok(home.entities[entity_id])):
                changed.clear()
                await changed.wait()
    finally:
        home.listeners.pop()
    return home.entities[entity_id]


async def eventually(ok: Callable[[], bool], within: float = WITHIN) -> None:
    """Wait until an emulator shows `ok` (it has no change notices: looked at every 10 ms)."""
    async with asyncio.timeout(within):
        while not ok():
            await asyncio.sleep(0.01)


@pytest.fixture
async def driver(broker: Mosquitto) -> AsyncIterator[MqttDriver]:
    d = MqttDriver(broker_device(broker), min_backoff=0.05, max_backoff=0.4)
    yield d
    await d.close()


# -- discovery ---------------------------------------------------------------------------------
async def test_zigbee2mqtt_devices_become_entities(bridge: Zigbee2MqttBridge, driver: MqttDriver,
                                                   home: Home) -> None:
    follow = await adopt(home, driver)
    e = home.entities
    assert {i for i in e} == {
        "light.kitchen_ceiling", "switch.hall_plug", "cover.study_blind", "sensor.study_blind_battery",
        "lock.front_door", "sensor.front_door_battery", "climate.hall_radiator",
        "sensor.hall_radiator_battery", "sensor.bath_sensor_temperature", "sensor.bath_sensor_humidity",
        "sensor.bath_sensor_battery", "binary_sensor.hall_motion_occupancy", "sensor.hall_motion_battery",
        "binary_sensor.back_door_contact", "sensor.back_door_battery"}  # no linkquality
    assert e["light.kitchen_ceiling"].name == "Ceiling" and e["light.kitchen_ceiling"].area == "Kitchen"
    assert e["switch.hall_plug"].area is None and e["sensor.bath_sensor_temperature"].name == "Sensor Temperature"
    assert e["light.kitchen_ceiling"].attributes["supported_color_modes"] == ["xy", "color_temp"]
    assert e["sensor.bath_sensor_temperature"].device_class == "temperature"
    assert e["binary_sensor.back_door_contact"].device_class == "door"
    assert e["lock.front_door"].risk_tier == "security" and e["sensor.bath_sensor_humidity"].risk_tier == "read"
    assert e["cover.study_blind"].services == {"open_cover", "close_cover", "stop_cover", "set_cover_position"}
    assert e["climate.hall_radiator"].services == {"set_temperature", "set_hvac_mode"}
    assert {x.device_id for x in e.values()} == {driver.device.device_id}  # one broker, one device
    # Zigbee2MQTT does not retain states: Claw asks with /get, and the answers are pushed.
    radiator = await until(home, "climate.hall_radiator", lambda x: x.state == "heat")
    assert radiator.attributes["temperature"] == 20 and radiator.attributes["current_temperature"] == 19.5
    ceiling = await until(home, "light.kitchen_ceiling", lambda x: x.state == "off")
    assert ceiling.attributes["brightness"] is None
    contact = await until(home, "binary_sensor.back_door_contact", lambda x: x.state != "unknown")
    assert contact.state == "off"  # Zigbee's contact=true is a closed door
    assert (await until(home, "sensor.bath_sensor_humidity", lambda x: x.state != "unknown")).state == "45.0"
    follow.cancel()


async def test_home_assistant_discovery_entities(node: DiscoveryNode, driver: MqttDriver) -> None:
    by_id = {e.entity_id: e for e in await driver.refresh()}  # retained: all there at once
    assert set(by_id) == {"light.desk_node_strip", "light.desk_node_lamp", "switch.desk_node_fan",
                          "cover.desk_node_shade", "sensor.desk_node_temperature",
                          "binary_sensor.desk_node_window", "climate.desk_node_heater", "lock.desk_node_safe"}
    assert {e.area for e in by_id.values()} == {"Study"}  # the device's suggested_area
    assert by_id["light.desk_node_strip"].name == "Desk Node Strip"
    assert by_id["sensor.desk_node_temperature"].state == "21.0"
    assert by_id["sensor.desk_node_temperature"].attributes["unit_of_measurement"] == "°C"
    assert by_id["cover.desk_node_shade"].state == "closed"
    assert by_id["cover.desk_node_shade"].attributes["current_position"] == 0
    assert by_id["climate.desk_node_heater"].state == "heat"
    assert by_id["climate.desk_node_heater"].attributes["temperature"] == 20.0
    assert by_id["lock.desk_node_safe"].state == "locked"
    assert by_id["light.desk_node_lamp"].attributes["supported_color_modes"] == ["rgb"]


# -- every service changes the device and reads back --------------------------------------------
Z2M_CASES = [
    ("light.kitchen_ceiling", "turn_on", {"brightness_pct": 50},
     lambda e: e.state == "on" and e.attributes["brightness"] == 128,
     lambda z: z.devices["Kitchen/Ceiling"].state["brightness"] == 127),
    ("light.kitchen_ceiling", "turn_on", {"color_name": "red"},
     lambda e: e.attributes.get("color_mode") == "xy" and e.attributes["rgb_color"][0] == 255
     and e.attributes["rgb_color"][1] < 60,
     lambda z: z.devices["Kitchen/Ceiling"].state["color_mode"] == "xy"),
    ("light.kitchen_ceiling", "turn_on", {"color_temp_kelvin": 3000},
     lambda e: e.attributes.get("color_mode") == "color_temp" and abs(e.attributes["color_temp_kelvin"] - 3000) < 20,
     lambda z: z.devices["Kitchen/Ceiling"].state["color_temp"] == 333),
    ("light.kitchen_ceiling", "turn_off", {}, lambda e: e.state == "off",
     lambda z: z.devices["Kitchen/Ceiling"].state["state"] == "OFF"),
    ("light.kitchen_ceiling", "toggle", {}, lambda e: e.state == "on",
     lambda z: z.devices["Kitchen/Ceiling"].state["state"] == "ON"),
    ("switch.hall_plug", "turn_on", {}, lambda e: e.state == "on",
     lambda z: z.devices["Hall Plug"].state["state"] == "ON"),
    ("switch.hall_plug", "turn_off", {}, lambda e: e.state == "off",
     lambda z: z.devices["Hall Plug"].state["state"] == "OFF"),
    ("switch.hall_plug", "toggle", {}, lambda e: e.state == "on",
     lambda z: z.devices["Hall Plug"].state["state"] == "ON"),
    ("cover.study_blind", "open_cover", {}, lambda e: e.state == "open" and e.attributes["current_position"] == 100,
     lambda z: z.devices["Study/Blind"].state["position"] == 100),
    ("cover.study_blind", "set_cover_position", {"position": 40},
     lambda e: e.attributes["current_position"] == 40, lambda z: z.devices["Study/Blind"].state["position"] == 40),
    ("cover.study_blind", "stop_cover", {}, lambda e: e.attributes["current_position"] == 40,
     lambda z: z.commands[-1] == ("Study/Blind", {"state": "STOP"})),
    ("cover.study_blind", "close_cover", {}, lambda e: e.state == "closed",
     lambda z: z.devices["Study/Blind"].state["position"] == 0),
    ("lock.front_door", "unlock", {}, lambda e: e.state == "unlocked",
     lambda z: z.devices["Front Door"].state["lock_state"] == "unlocked"),
    ("lock.front_door", "lock", {}, lambda e: e.state == "locked",
     lambda z: z.devices["Front Door"].state["state"] == "LOCK"),
    ("climate.hall_radiator", "set_temperature", {"temperature": 22.5},
     lambda e: e.attributes["temperature"] == 22.5,
     lambda z: z.devices["Hall/Radiator"].state["occupied_heating_setpoint"] == 22.5),
    ("climate.hall_radiator", "set_hvac_mode", {"hvac_mode": "off"}, lambda e: e.state == "off",
     lambda z: z.devices["Hall/Radiator"].state["system_mode"] == "off"),
]


async def test_every_zigbee2mqtt_service_changes_the_device(bridge: Zigbee2MqttBridge, driver: MqttDriver,
                                                            home: Home) -> None:
    follow = await adopt(home, driver)
    await until(home, "climate.hall_radiator", lambda e: e.state == "heat")
    await until(home, "light.kitchen_ceiling", lambda e: e.state == "off")
    covered = set()
    for entity_id, service, data, reads_back, device_shows in Z2M_CASES:
        await home.call(home.entities[entity_id], service, data)
        await eventually(lambda: device_shows(bridge))
        await until(home, entity_id, reads_back)
        covered.add((entity_id, service))
    for entity_id in {c[0] for c in Z2M_CASES}:  # every service of every drivable entity
        assert {s for e, s in covered if e == entity_id} == home.entities[entity_id].services
    follow.cancel()


NODE_CASES = [
    ("light.desk_node_strip", "turn_on", {"brightness_pct": 40, "rgb_color": [0, 0, 255]},
     lambda e: e.state == "on" and e.attributes["brightness"] == 102 and e.attributes["rgb_color"] == [0, 0, 255],
     lambda n: n.entities["strip"].values["color"] == {"r": 0, "g": 0, "b": 255}),
    ("light.desk_node_strip", "turn_on", {"color_temp_kelvin": 2700},
     lambda e: e.attributes["color_mode"] == "color_temp", lambda n: n.entities["strip"].values["color_temp"] == 370),
    ("light.desk_node_strip", "toggle", {}, lambda e: e.state == "off",
     lambda n: n.entities["strip"].values["state"] == "OFF"),
    ("light.desk_node_strip", "turn_off", {}, lambda e: e.state == "off",
     lambda n: n.commands[-1][1] == '{"state": "OFF"}'),
    ("light.desk_node_lamp", "turn_on", {"brightness_pct": 30},
     lambda e: e.state == "on" and e.attributes["brightness"] == 76,
     lambda n: n.entities["lamp"].values["brightness"] == 30),  # its brightness_scale is 100
    ("light.desk_node_lamp", "turn_on", {"color_name": "green"},
     lambda e: e.attributes["rgb_color"] == [0, 128, 0], lambda n: n.entities["lamp"].values["rgb"] == "0,128,0"),
    ("light.desk_node_lamp", "turn_off", {}, lambda e: e.state == "off",
     lambda n: n.entities["lamp"].values["state"] == "OFF"),
    ("light.desk_node_lamp", "toggle", {}, lambda e: e.state == "on",
     lambda n: n.entities["lamp"].values["state"] == "ON"),
    ("switch.desk_node_fan", "turn_on", {}, lambda e: e.state == "on",
     lambda n: n.entities["fan"].values["state"] == "ON"),
    ("switch.desk_node_fan", "toggle", {}, lambda e: e.state == "off",
     lambda n: n.entities["fan"].values["state"] == "OFF"),
    ("switch.desk_node_fan", "turn_off", {}, lambda e: e.state == "off",
     lambda n: n.commands[-1] == ("desk-node/switch/fan/set", "OFF")),
    ("cover.desk_node_shade", "open_cover", {}, lambda e: e.state == "open",
     lambda n: n.entities["shade"].values["position"] == 100),
    ("cover.desk_node_shade", "set_cover_position", {"position": 25},
     lambda e: e.attributes["current_position"] == 25, lambda n: n.entities["shade"].values["position"] == 25),
    ("cover.desk_node_shade", "stop_cover", {}, lambda e: e.attributes["current_position"] == 25,
     lambda n: n.commands[-1] == ("desk-node/cover/shade/set", "STOP")),
    ("cover.desk_node_shade", "close_cover", {}, lambda e: e.state == "closed",
     lambda n: n.entities["shade"].values["position"] == 0),
    ("climate.desk_node_heater", "set_temperature", {"temperature": 18},
     lambda e: e.attributes["temperature"] == 18.0, lambda n: n.entities["heater"].values["target"] == 18.0),
    ("climate.desk_node_heater", "set_hvac_mode", {"hvac_mode": "auto"}, lambda e: e.state == "auto",
     lambda n: n.entities["heater"].values["mode"] == "auto"),
    ("lock.desk_node_safe", "unlock", {}, lambda e: e.state == "unlocked",
     lambda n: n.entities["safe"].values["state"] == "UNLOCKED"),
    ("lock.desk_node_safe", "lock", {}, lambda e: e.state == "locked",
     lambda n: n.entities["safe"].values["state"] == "LOCKED"),
]


async def test_every_discovery_service_changes_the_device(node: DiscoveryNode, driver: MqttDriver,
                                                          home: Home) -> None:
    follow = await adopt(home, driver)
    covered = set()
    for entity_id, service, data, reads_back, device_shows in NODE_CASES:
        await home.call(home.entities[entity_id], service, data)
        await eventually(lambda: device_shows(node))
        await until(home, entity_id, reads_back)
        covered.add((entity_id, service))
    for entity_id in {c[0] for c in NODE_CASES}:
        assert {s for e, s in covered if e == entity_id} == home.entities[entity_id].services
    follow.cancel()


async def test_values_a_device_cannot_take_are_refused_and_it_stays_available(
        node: DiscoveryNode, driver: MqttDriver, home: Home) -> None:
    follow = await adopt(home, driver)
    sent = len(node.commands)
    for entity_id, service, data, words in [
            ("climate.desk_node_heater", "set_temperature", {"temperature": 45}, "from 7 to 30"),
            ("climate.desk_node_heater", "set_hvac_mode", {"hvac_mode": "cool"}, "off, heat, auto"),
            ("light.desk_node_strip", "turn_on", {"effect": "rainbow"}, "can't set effect"),
            ("cover.desk_node_shade", "set_cover_position", {"position": 140}, "0 to 100")]:
        with pytest.raises(DeviceRefused, match=words):
            await home.call(home.entities[entity_id], service, data)
    assert len(node.commands) == sent and driver.device.available
    follow.cancel()


# -- push --------------------------------------------------------------------------------------
async def test_changes_made_at_the_device_are_pushed(bridge: Zigbee2MqttBridge, node: DiscoveryNode,
                                                     driver: MqttDriver, home: Home) -> None:
    follow = await adopt(home, driver)
    await until(home, "sensor.bath_sensor_temperature", lambda e: e.state == "21.5")
    latencies = []
    for i in range(5):  # no poll in between: only pushes can bring these
        started = time.perf_counter()
        await bridge.report("Bath/Sensor", temperature=22.0 + i)
        await until(home, "sensor.bath_sensor_temperature", lambda e: e.state == f"{22.0 + i}")
        await node.report("window", state="ON" if i % 2 == 0 else "OFF")
        await until(home, "binary_sensor.desk_node_window", lambda e: e.state == ("on" if i % 2 == 0 else "off"))
        latencies.append(time.perf_counter() - started)
    await bridge.report("Hall/Motion", occupancy=True)
    assert (await until(home, "binary_sensor.hall_motion_occupancy", lambda e: e.state != "off")).state == "on"
    assert max(latencies) < WITHIN  # numbers: bench/mqtt.py
    follow.cancel()


# -- devices that go away ------------------------------------------------------------------------
async def test_a_device_that_disappears_is_unavailable_not_deleted(
        bridge: Zigbee2MqttBridge, node: DiscoveryNode, driver: MqttDriver, home: Home) -> None:
    follow = await adopt(home, driver)
    await until(home, "switch.hall_plug", lambda e: e.state == "off")
    await bridge.set_online("Hall Plug", False)  # Zigbee2MQTT's availability check failed
    await until(home, "switch.hall_plug", lambda e: e.state == "unavailable")
    await bridge.set_online("Hall Plug", True)
    await until(home, "switch.hall_plug", lambda e: e.state == "off")
    await bridge.remove("Front Door")  # removed from the Zigbee network
    await until(home, "lock.front_door", lambda e: e.state == "unavailable")
    with pytest.raises(DeviceRefused, match="no longer announced"):
        await home.call(home.entities["lock.front_door"], "unlock", {})
    await node.withdraw("fan")  # an empty retained config
    await until(home, "switch.desk_node_fan", lambda e: e.state == "unavailable")
    await node.stop()  # the node goes offline (its status topic)
    await until(home, "sensor.desk_node_temperature", lambda e: e.state == "unavailable")
    assert {"lock.front_door", "switch.desk_node_fan", "sensor.desk_node_temperature"} <= set(home.entities)
    assert home.entities["switch.hall_plug"].state == "off"  # the rest of the broker is fine
    follow.cancel()


# -- the broker itself -------------------------------------------------------------------------
async def test_broker_down_says_so_once_backs_off_and_recovers(
        broker: Mosquitto, bridge: Zigbee2MqttBridge, home: Home) -> None:
    problems = Problems()
    driver = MqttDriver(broker_device(broker), min_backoff=0.1, max_backoff=0.4,
                        on_problem=problems.say, sleep=problems.sleep)
    other = Mosquitto()  # a second broker in the same home: not affected
    await other.start()
    other_node = DiscoveryNode(other.host, other.port, "shed", "Shed", [NodeEntity("sensor", "t", "Temperature")])
    await other_node.start()
    other_driver = MqttDriver(broker_device(other))
    follows = [await adopt(home, driver), await adopt(home, other_driver)]
    try:
        await until(home, "switch.hall_plug", lambda e: e.state == "off")
        where = f"the MQTT broker at 127.0.0.1:{broker.port}"
        await broker.stop()
        await until(home, "switch.hall_plug", lambda e: e.state == "unavailable")
        async with asyncio.timeout(WITHIN):
            while len(problems.sleeps) < 5:  # several retries...
                await asyncio.sleep(0.05)
        # ... but one line for the drop and one for the refusals after it, not one per retry
        assert problems.lines == [
            f"I lost the connection to {where} (Disconnected during message iteration); I'm reconnecting.",
            f"I can't reach {where}: nothing accepts connections there. Is the broker running? I'll keep trying."]
        assert problems.sleeps[:4] == [0.1, 0.2, 0.4, 0.4]  # doubling, capped
        with pytest.raises(DeviceError, match="Is the broker running"):
            await home.refresh_device(driver.device.device_id)
        with pytest.raises(DeviceError, match="Is the broker running"):
            await home.call(home.entities["switch.hall_plug"], "turn_on", {})
        await other_node.report("t", state="30.5")  # the other broker still pushes
        await until(home, "sensor.shed_temperature", lambda e: e.state == "30.5")

        await broker.start()  # back: the bridge and Claw reconnect, and it is all there again
        await until(home, "switch.hall_plug", lambda e: e.state == "off", within=2 * WITHIN)
        assert problems.lines[-1] == f"I'm connected to {where} again." and len(problems.lines) == 3
        await home.call(home.entities["switch.hall_plug"], "turn_on", {})
        await until(home, "switch.hall_plug", lambda e: e.state == "on")
    finally:
        for f in follows:
            f.cancel()
        await driver.close()
        await other_driver.close()
        await other_node.stop()
        await other.close()


async def test_broker_not_running_at_start(home: Home) -> None:
    stopped = Mosquitto()  # a port nothing listens on
    problems = Problems()
    driver = MqttDriver(broker_device(stopped), on_problem=problems.say, sleep=problems.sleep)
    try:
        with pytest.raises(DeviceError, match="nothing accepts connections there"):
            await home.add(driver)
        assert len(problems.lines) == 1
    finally:
        await driver.close()
        await stopped.close()


async def test_bad_credentials(home: Home) -> None:
    secured = Mosquitto(users={"claw": "right horse battery"})
    await secured.start()
    problems = Problems()
    wrong = MqttDriver(broker_device(secured), username="claw", password="wrong",
                       on_problem=problems.say, sleep=problems.sleep)
    right = MqttDriver(broker_device(secured), username="claw", password="right horse battery")
    node = DiscoveryNode(secured.host, secured.port, "n1", "Porch", [NodeEntity("switch", "light", "Light")],
                         username="claw", password="right horse battery")
    try:
        with pytest.raises(DeviceError, match="refused my username and password; check username and "
                                              r"password under \[mqtt\] in claw.toml"):
            await wrong.refresh()
        async with asyncio.timeout(WITHIN):
            while len(problems.sleeps) < 3:
                await asyncio.sleep(0.02)
        assert len(problems.lines) == 1 and "wrong" not in problems.lines[0]  # once; no password
        await node.start()
        assert [e.entity_id for e in await right.refresh()] == ["switch.porch_light"]
    finally:
        await wrong.close()
        await right.close()
        await node.stop()
        await secured.close()


# -- bad input ---------------------------------------------------------------------------------
async def test_malformed_and_enormous_payloads_are_ignored_with_a_log_line(
        broker: Mosquitto, driver: MqttDriver, home: Home, caplog: pytest.LogCaptureFixture) -> None:
    follow = await adopt(home, driver)
    good = {"name": "Good", "cmd_t": "x/good/set", "stat_t": "x/good"}
    bad: dict[str, bytes] = {
        "homeassistant/switch/x/not_json/config": b"{not json",
        "homeassistant/switch/x/a_list/config": b"[1, 2]",
        "homeassistant/switch/x/no_command/config": json.dumps({"name": "No Command"}).encode(),
        "homeassistant/light/x/odd_schema/config": json.dumps({**good, "schema": "template"}).encode(),
        "homeassistant/switch/x/huge/config": json.dumps({**good, "name": "x" * 200_000}).encode(),
        "homeassistant/switch/x/binary/config": bytes(range(256)),
        "zigbee2mqtt/bridge/devices": b'{"not": "a list"}',
    }
    async with aiomqtt.Client(broker.host, broker.port) as raw:
        for topic, payload in bad.items():
            await raw.publish(topic, payload, qos=1)
        await raw.publish("homeassistant/switch/x/good/config", json.dumps(good), qos=1)
        await raw.publish("x/good", "ON", qos=1, retain=True)  # may come before Claw subscribes
        await until(home, "switch.good", lambda e: e.state == "on")
        # A state far over the bound and a template that tries to leave the sandbox change nothing.
        await raw.publish("x/good", "OFF" * 30_000, qos=1)
        sneaky = {**good, "name": "Sneaky", "stat_t": "x/sneaky", "cmd_t": "x/sneaky/set",
                  "val_tpl": "{{ 'ON' if value.__class__.__mro__ else 'OFF' }}"}  # ON, unsandboxed
        await raw.publish("homeassistant/switch/x/sneaky/config", json.dumps(sneaky), qos=1)
        await raw.publish("x/sneaky", "ON", qos=1, retain=True)
        await raw.publish("x/good", "OFF", qos=1)
        await until(home, "switch.good", lambda e: e.state == "off")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for topic in bad:
        assert sum(topic in w for w in warnings) == 1, (topic, warnings)
    assert any("200,0" in w and "bytes" in w for w in warnings)  # says how big
    assert any("over 65,536" in w for w in warnings)  # the enormous state
    assert home.entities["switch.sneaky"].state == "unknown"
    assert {e for e in home.entities} == {"switch.good", "switch.sneaky"}
    assert driver.device.available
    follow.cancel()
