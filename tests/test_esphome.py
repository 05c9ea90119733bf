"""ESPHome: the driver (aioesphomeapi, Home Assistant's library) against the emulated node.

The emulator speaks the plaintext native API on loopback; that aioesphomeapi connects, lists
and commands it is the check that it speaks the real protocol.
"""
from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aioesphomeapi import api_pb2 as pb

from devices.families.esphome.driver import EsphomeDriver
from devices.families.esphome.emulator import EsphomeNode
from devices.home import Home
from devices.model import Device, DeviceError, Entity
from memory.store import Store


@pytest.fixture
async def node() -> AsyncIterator[EsphomeNode]:
    emu = EsphomeNode(name="garden-node", friendly_name="Garden Node")
    emu.add_light("deck_light", "Deck Light", on=True, brightness=0.5)
    emu.add_light("path_light", "Path Light", color=False)
    emu.add_switch("pool_pump", "Pool Pump")
    emu.add_sensor("pool_temperature", "Pool Temperature", 24.25)
    emu.add_binary_sensor("gate_motion", "Gate Motion")
    emu.add_cover("shed_door", "Shed Door", position=0.0, device_class="door")
    async with emu:
        yield emu


def device_for(node: EsphomeNode) -> Device:
    # As discovery reports it: the instance is the node's hostname.
    return Device(device_id=f"esphome:{node.mac}", family="esphome", name=node.name,
                  host=node.host, port=node.port)


@pytest.fixture
async def driver(node: EsphomeNode) -> AsyncIterator[EsphomeDriver]:
    drv = EsphomeDriver(device_for(node), area="Garden", timeout=2.0)
    yield drv
    await drv.close()


def by_id(entities: list[Entity]) -> dict[str, Entity]:
    return {e.entity_id: e for e in entities}


async def wait_for(predicate, timeout: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_lists_the_entities_the_node_reports(driver: EsphomeDriver) -> None:
    entities = by_id(await driver.refresh())
    assert driver.device.name == "Garden Node" and driver.device.model == "esp32dev"
    assert sorted(entities) == [
        "binary_sensor.garden_node_gate_motion", "cover.garden_node_shed_door",
        "light.garden_node_deck_light", "light.garden_node_path_light",
        "sensor.garden_node_pool_temperature", "switch.garden_node_pool_pump",
    ]
    deck = entities["light.garden_node_deck_light"]
    assert deck.name == "Garden Node Deck Light" and deck.area == "Garden" and deck.state == "on"
    assert deck.attributes["supported_color_modes"] == ["color_temp", "rgb"]
    assert deck.attributes["brightness"] == 128 and deck.attributes["color_mode"] == "rgb"
    assert deck.attributes["min_color_temp_kelvin"] == 2000 and deck.attributes["max_color_temp_kelvin"] == 6536
    path = entities["light.garden_node_path_light"]
    assert path.state == "off" and path.attributes["supported_color_modes"] == ["brightness"]
    pump = entities["switch.garden_node_pool_pump"]
    assert pump.state == "off" and pump.services == {"turn_on", "turn_off", "toggle"}
    assert pump.device_class == "outlet"
    temperature = entities["sensor.garden_node_pool_temperature"]
    assert temperature.state == "24.2" or temperature.state == "24.3"  # one decimal, as the node says
    assert temperature.attributes["unit_of_measurement"] == "°C" and temperature.risk_tier == "read"
    motion = entities["binary_sensor.garden_node_gate_motion"]
    assert motion.state == "off" and motion.device_class == "motion" and not motion.services
    shed = entities["cover.garden_node_shed_door"]
    assert shed.state == "closed" and shed.attributes["current_position"] == 0
    assert shed.services == {"open_cover", "close_cover", "stop_cover", "set_cover_position"}
    assert shed.risk_tier == "security"  # a door: the owner confirms


async def test_every_light_service_changes_the_node(driver: EsphomeDriver, node: EsphomeNode) -> None:
    await driver.refresh()
    deck = "light.garden_node_deck_light"
    await driver.call(deck, "turn_on", {"brightness_pct": 30, "rgb_color": [255, 0, 0]})
    state = node.state("deck_light")
    assert state.state and state.brightness == pytest.approx(0.3)
    assert (state.red, state.green, state.blue) == (1.0, 0.0, 0.0) and state.color_mode == pb.COLOR_MODE_RGB
    light = by_id(await driver.refresh())[deck]
    assert light.attributes["brightness"] == 76 and light.attributes["rgb_color"] == [255, 0, 0]

    await driver.call(deck, "turn_on", {"color_temp_kelvin": 2700})
    assert node.state("deck_light").color_temperature == pytest.approx(370.37, abs=0.01)
    light = by_id(await driver.refresh())[deck]
    assert light.attributes["color_mode"] == "color_temp" and light.attributes["color_temp_kelvin"] == 2700

    await driver.call(deck, "turn_on", {"color_name": "blue"})
    assert by_id(await driver.refresh())[deck].attributes["rgb_color"] == [0, 0, 255]

    await driver.call(deck, "turn_off", {})
    assert not node.state("deck_light").state
    assert by_id(await driver.refresh())[deck].state == "off"
    await driver.call(deck, "toggle", {})
    assert by_id(await driver.refresh())[deck].state == "on"

    path = "light.garden_node_path_light"
    await driver.call(path, "turn_on", {"brightness_pct": 60})
    assert node.state("path_light").state and node.state("path_light").brightness == pytest.approx(0.6)
    with pytest.raises(DeviceError, match="can't change colour"):
        await driver.call(path, "turn_on", {"rgb_color": [0, 255, 0]})
    with pytest.raises(DeviceError, match="don't take effect"):
        await driver.call(path, "turn_on", {"effect": "rainbow"})


async def test_switch_and_cover_services_change_the_node(driver: EsphomeDriver, node: EsphomeNode) -> None:
    await driver.refresh()
    pump = "switch.garden_node_pool_pump"
    await driver.call(pump, "turn_on", {})
    assert node.state("pool_pump").state and by_id(await driver.refresh())[pump].state == "on"
    await driver.call(pump, "toggle", {})
    assert not node.state("pool_pump").state and by_id(await driver.refresh())[pump].state == "off"
    await driver.call(pump, "turn_off", {})  # already off: the node sends nothing, still fine
    assert by_id(await driver.refresh())[pump].state == "off"
    with pytest.raises(DeviceError, match="Pool Pump is a switch: it only turns on and off"):
        await driver.call(pump, "turn_on", {"brightness_pct": 50})
    assert not node.state("pool_pump").state

    shed = "cover.garden_node_shed_door"
    await driver.call(shed, "open_cover", {})
    assert node.state("shed_door").position == 1.0
    assert by_id(await driver.refresh())[shed].state == "open"
    await driver.call(shed, "set_cover_position", {"position": 40})
    assert node.state("shed_door").position == pytest.approx(0.4)
    assert by_id(await driver.refresh())[shed].attributes["current_position"] == 40
    await driver.call(shed, "stop_cover", {})
    assert node.commands[-1].stop
    await driver.call(shed, "close_cover", {})
    assert by_id(await driver.refresh())[shed].state == "closed"
    with pytest.raises(DeviceError, match="from 0 .closed. to 100"):
        await driver.call(shed, "set_cover_position", {"position": 140})
    with pytest.raises(DeviceError, match="can't set cover position"):
        await driver.call("binary_sensor.garden_node_gate_motion", "set_cover_position", {"position": 1})


async def test_follow_reports_what_the_node_pushes(driver: EsphomeDriver, node: EsphomeNode) -> None:
    seen: list[Entity] = []
    task = asyncio.create_task(driver.follow(seen.append, min_backoff=0.05, max_backoff=0.2))
    try:
        await wait_for(lambda: len(seen) == 6)  # every entity once, as first pushed
        node.publish("gate_motion", state=True)
        node.publish("pool_temperature", state=25.0)
        await wait_for(lambda: len(seen) == 8)
        assert (seen[6].entity_id, seen[6].state) == ("binary_sensor.garden_node_gate_motion", "on")
        assert (seen[7].entity_id, seen[7].state) == ("sensor.garden_node_pool_temperature", "25.0")

        # The node goes away; what changes while it is away is reported once it is back.
        node.fail = "offline"
        await asyncio.sleep(0.3)
        node.state("pool_pump").state = True
        node.fail = None
        await wait_for(lambda: any(e.entity_id == "switch.garden_node_pool_pump" and e.state == "on"
                                   for e in seen[8:]))
        assert len(seen) == 9  # only the change: nothing else is reported twice
    finally:
        task.cancel()


async def test_pushed_changes_reach_the_home(tmp_path: Path, node: EsphomeNode) -> None:
    home = Home(Store(tmp_path / "claw.db"))
    driver = EsphomeDriver(device_for(node))
    await home.add(driver)
    device_id = driver.device.device_id
    task = asyncio.create_task(driver.follow(lambda e: home.entity_changed(device_id, e)))  # as claw.house does
    try:
        node.publish("gate_motion", state=True)
        await wait_for(lambda: home.entities["binary_sensor.garden_node_gate_motion"].state == "on")
        assert home.entities["binary_sensor.garden_node_gate_motion"].name == "Garden Node Gate Motion"
    finally:
        task.cancel()
        await driver.close()


async def test_offline_node_is_one_clear_line_then_recovers(tmp_path: Path, node: EsphomeNode) -> None:
    home = Home(Store(tmp_path / "claw.db"), device_timeout=1.0)
    driver = EsphomeDriver(device_for(node), timeout=1.0)
    try:
        assert len(await home.add(driver)) == 6
        node.fail = "offline"
        started = time.monotonic()
        with pytest.raises(DeviceError) as err:
            await home.refresh_device(driver.device.device_id)
        assert time.monotonic() - started < 2.0
        assert f"Garden Node at 127.0.0.1:{node.port}" in str(err.value)
        assert "\n" not in str(err.value)
        assert home.entities["switch.garden_node_pool_pump"].state == "unavailable"
        with pytest.raises(DeviceError, match="Garden Node"):
            await home.call(home.entities["switch.garden_node_pool_pump"], "turn_on", {})

        node.fail = None
        await home.refresh_device(driver.device.device_id)
        assert home.entities["switch.garden_node_pool_pump"].state == "off"
        await home.call(home.entities["switch.garden_node_pool_pump"], "turn_on", {})
        assert node.state("pool_pump").state
    finally:
        await driver.close()


async def test_hung_node_answers_within_the_device_timeout(tmp_path: Path, node: EsphomeNode) -> None:
    home = Home(Store(tmp_path / "claw.db"), device_timeout=1.0)
    driver = EsphomeDriver(device_for(node), timeout=1.0)
    try:
        await home.add(driver)
        node.fail = "slow"  # connected, but nothing answers any more
        started = time.monotonic()
        with pytest.raises(DeviceError, match="no answer within 1 s"):
            await home.refresh_device(driver.device.device_id)
        with pytest.raises(DeviceError):
            await home.call(home.entities["switch.garden_node_pool_pump"], "turn_on", {})
        assert time.monotonic() - started < 3.0
        node.fail = None
        await home.refresh_device(driver.device.device_id)
        assert home.entities["switch.garden_node_pool_pump"].state == "off"
    finally:
        await driver.close()


async def test_node_hung_from_the_start_leaves_no_connection_behind(tmp_path: Path, node: EsphomeNode) -> None:
    home = Home(Store(tmp_path / "claw.db"), device_timeout=1.0)
    driver = EsphomeDriver(device_for(node), timeout=5.0)  # the home's timeout comes first
    node.fail = "slow"
    started = time.monotonic()
    with pytest.raises(DeviceError, match="no answer within 1 s"):
        await home.add(driver)
    assert time.monotonic() - started < 2.0
    await wait_for(lambda: node.connections == 0)
    node.fail = None
    assert len(await home.refresh_device(driver.device.device_id)) == 6
    await driver.close()


KEY = base64.b64encode(bytes(range(32))).decode()  # a node's `api: encryption: key:`


async def test_encrypted_node_with_its_key() -> None:
    node = EsphomeNode(name="cellar-node", friendly_name="Cellar Node", encryption_key=KEY)
    node.add_switch("dehumidifier", "Dehumidifier")
    async with node:
        driver = EsphomeDriver(device_for(node), encryption_key=KEY, mac=node.mac)
        seen: list[Entity] = []
        task = asyncio.create_task(driver.follow(seen.append))
        try:
            [entity] = await driver.refresh()
            assert (entity.entity_id, entity.state) == ("switch.cellar_node_dehumidifier", "off")
            await driver.call(entity.entity_id, "turn_on", {})
            assert node.state("dehumidifier").state
            await wait_for(lambda: bool(seen) and seen[-1].state == "on")
        finally:
            task.cancel()
            await driver.close()


@pytest.mark.parametrize("node_key, driver_key, mac, message", [
    (KEY, None, None, "uses an API encryption key, and I don't have it"),
    (KEY, base64.b64encode(b"x" * 32).decode(), None, "refused the encryption key I have for it"),
    (None, KEY, None, "now answers without encryption, though I have a key for it"),
    (KEY, KEY, "AA:BB:CC:00:00:99", "is not the ESPHome node Cellar Node .its MAC is different."),
])
async def test_encryption_mismatch_is_one_clear_line(node_key: str | None, driver_key: str | None,
                                                    mac: str | None, message: str) -> None:
    node = EsphomeNode(name="cellar-node", friendly_name="Cellar Node", encryption_key=node_key)
    node.add_switch("dehumidifier", "Dehumidifier")
    async with node:
        device = Device("esphome:x", "esphome", "Cellar Node", node.host, node.port)
        driver = EsphomeDriver(device, timeout=2.0, encryption_key=driver_key, mac=mac)
        with pytest.raises(DeviceError, match=message):
            await driver.refresh()
        assert not node.commands
        await driver.close()
