"""TP-Link Kasa: the driver (python-kasa, Home Assistant's library) against the emulated devices.

The emulator speaks the legacy XOR protocol on loopback; that python-kasa discovers, reads and
commands it is the check that it speaks the real protocol. Broadcast discovery runs inside a
network namespace the test creates, so no broadcast reaches a real LAN.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devices.families.kasa.driver import KasaDriver, scan
from devices.families.kasa.emulation import KasaEmulation
from devices.families.kasa.emulator import KasaEmulator
from devices.home import Home
from devices.homefile import EntitySpec
from devices.model import Device, DeviceError, Entity
from memory.store import Store
from tests import netns


def device_for(emu: KasaEmulator) -> Device:
    # Connected by address, as an owner would give it: the name comes from the device.
    return Device(device_id=f"kasa:{emu.mac.replace(':', '').lower()}", family="kasa", name=emu.host,
                  host=emu.host, port=emu.port)


@pytest.fixture
async def plug() -> AsyncIterator[KasaEmulator]:
    async with KasaEmulator("plug", alias="Pool Pump", power_w=750.0) as emu:
        yield emu


@pytest.fixture
async def strip() -> AsyncIterator[KasaEmulator]:
    async with KasaEmulator("strip", alias="Desk Strip", outlets=("Monitor", "Desk Fan"),
                            mac="1C:3B:F3:00:00:02") as emu:
        yield emu


@pytest.fixture
async def bulb() -> AsyncIterator[KasaEmulator]:
    async with KasaEmulator("bulb", alias="Porch Light", mac="1C:3B:F3:00:00:03") as emu:
        yield emu


def one(entities: list[Entity]) -> Entity:
    [entity] = entities
    return entity


async def test_plug_switches_and_reports_power(plug: KasaEmulator) -> None:
    driver = KasaDriver(device_for(plug), area="Garden")
    try:
        entity = one(await driver.refresh())
        assert driver.device.name == "Pool Pump" and driver.device.model == "HS110"
        assert entity.entity_id == "switch.pool_pump" and entity.area == "Garden"
        assert entity.state == "off" and entity.device_class == "outlet"
        assert entity.services == {"turn_on", "turn_off", "toggle"}
        assert entity.attributes["current_power_w"] == 0.0

        await driver.call("switch.pool_pump", "turn_on", {})
        assert plug.relay_state == 1
        entity = one(await driver.refresh())
        assert entity.state == "on" and entity.attributes["current_power_w"] == 750.0
        assert entity.attributes["voltage"] == 230.1 and entity.attributes["energy_kwh"] == 1.25

        await driver.call("switch.pool_pump", "toggle", {})
        assert plug.relay_state == 0 and one(await driver.refresh()).state == "off"
        await driver.call("switch.pool_pump", "toggle", {})
        await driver.call("switch.pool_pump", "turn_off", {})
        assert plug.relay_state == 0
        with pytest.raises(DeviceError, match="can't open cover"):
            await driver.call("switch.pool_pump", "open_cover", {})
        with pytest.raises(DeviceError, match="Pool Pump is a plug: it only turns on and off"):
            await driver.call("switch.pool_pump", "turn_on", {"brightness_pct": 50})
        assert plug.relay_state == 0
    finally:
        await driver.close()


async def test_strip_outlets_are_switches_of_their_own(strip: KasaEmulator) -> None:
    driver = KasaDriver(device_for(strip))
    try:
        entities = {e.entity_id: e for e in await driver.refresh()}
        assert sorted(entities) == ["switch.desk_fan", "switch.monitor"]
        assert entities["switch.monitor"].name == "Monitor" and driver.device.name == "Desk Strip"

        await driver.call("switch.desk_fan", "turn_on", {})
        assert [o["state"] for o in strip.outlets] == [0, 1]
        entities = {e.entity_id: e for e in await driver.refresh()}
        assert (entities["switch.monitor"].state, entities["switch.desk_fan"].state) == ("off", "on")
        await driver.call("switch.monitor", "toggle", {})
        await driver.call("switch.desk_fan", "turn_off", {})
        assert [o["state"] for o in strip.outlets] == [1, 0]
        assert strip.requests[-1]["context"] == {"child_ids": [strip.outlets[1]["id"]]}
    finally:
        await driver.close()


async def test_bulb_brightness_colour_and_white(bulb: KasaEmulator) -> None:
    driver = KasaDriver(device_for(bulb))
    try:
        light = one(await driver.refresh())
        assert light.entity_id == "light.porch_light" and light.state == "off"
        assert light.attributes["supported_color_modes"] == ["color_temp", "hs"]
        assert light.attributes["min_color_temp_kelvin"] == 2500
        assert light.attributes["max_color_temp_kelvin"] == 9000

        await driver.call("light.porch_light", "turn_on", {})
        assert bulb.light["on_off"] == 1
        await driver.call("light.porch_light", "turn_on", {"brightness_pct": 40})
        assert bulb.light["brightness"] == 40
        light = one(await driver.refresh())
        assert light.state == "on" and light.attributes["brightness"] == 102

        await driver.call("light.porch_light", "turn_on", {"rgb_color": [255, 0, 0]})
        assert (bulb.light["hue"], bulb.light["saturation"], bulb.light["color_temp"]) == (0, 100, 0)
        light = one(await driver.refresh())
        assert light.attributes["color_mode"] == "hs" and light.attributes["rgb_color"] == [255, 0, 0]

        await driver.call("light.porch_light", "turn_on", {"color_name": "warm white"})
        assert bulb.light["color_temp"] == 2700
        assert one(await driver.refresh()).attributes["color_temp_kelvin"] == 2700

        await driver.call("light.porch_light", "turn_off", {"transition": 0.5})
        assert bulb.light["on_off"] == 0
        assert bulb.requests[-1]["smartlife.iot.smartbulb.lightingservice"]["transition_light_state"][
            "transition_period"] == 500
        assert one(await driver.refresh()).state == "off"
        await driver.call("light.porch_light", "toggle", {})
        assert bulb.light["on_off"] == 1
        with pytest.raises(DeviceError, match="don't take effect"):
            await driver.call("light.porch_light", "turn_on", {"effect": "rainbow"})
    finally:
        await driver.close()


async def test_offline_device_is_one_clear_line_then_recovers(tmp_path: Path, plug: KasaEmulator) -> None:
    home = Home(Store(tmp_path / "claw.db"), device_timeout=1.0)
    driver = KasaDriver(device_for(plug), timeout=1.0)
    try:
        await home.add(driver)
        for fault in ("offline", "slow"):
            plug.fail = fault
            started = time.monotonic()
            with pytest.raises(DeviceError) as err:
                await home.refresh_device(driver.device.device_id)
            assert time.monotonic() - started < 1.5, fault
            assert f"Pool Pump at 127.0.0.1:{plug.port}" in str(err.value) and "\n" not in str(err.value)
            assert home.entities["switch.pool_pump"].state == "unavailable"
            with pytest.raises(DeviceError, match="Pool Pump"):
                await home.call(home.entities["switch.pool_pump"], "turn_on", {})

            plug.fail = None
            await home.refresh_device(driver.device.device_id)
            await home.call(home.entities["switch.pool_pump"], "turn_on", {})
            await home.settle()
            assert plug.relay_state == 1 and home.entities["switch.pool_pump"].state == "on"
            await home.call(home.entities["switch.pool_pump"], "turn_off", {})
            await home.settle()
    finally:
        await driver.close()


async def test_nothing_listening_is_a_clear_line() -> None:
    free = KasaEmulator("plug", host="127.0.0.1")
    await free.start()
    port = free.port
    await free.stop()  # the port is free again: connection refused
    driver = KasaDriver(Device("kasa:x", "kasa", "Hall Plug", "127.0.0.1", port), timeout=1.0)
    with pytest.raises(DeviceError, match=f"I can't read the Kasa device Hall Plug at 127.0.0.1:{port}"):
        await driver.refresh()


async def discover_by_broadcast() -> list[dict[str, object]]:
    """Inside a fresh namespace: a plug and python-kasa's broadcast discovery on the real port."""
    async with KasaEmulator("plug", alias="Spa Heater", host="0.0.0.0", port=9999):
        found = await scan(target="127.255.255.255", timeout=1)
    return [{"uid": s.uid, "name": s.name, "host": s.host, "port": s.port, **s.properties} for s in found]


def test_broadcast_discovery_finds_the_plug() -> None:
    with netns.namespace() as ns:
        found = netns.run_in(ns, "tests.test_kasa", "discover_by_broadcast", timeout=30)
    assert found == [{"uid": "50c7bf000001", "name": "Spa Heater", "host": "127.0.0.1",
                      "port": 9999, "model": "HS110"}]


async def test_unicast_discovery_on_another_port(plug: KasaEmulator) -> None:
    [seen] = await scan(target="127.0.0.1", port=plug.port, timeout=1)
    assert (seen.name, seen.host, seen.port) == ("Pool Pump", "127.0.0.1", plug.port)
    driver = KasaDriver(Device(f"kasa:{seen.uid}", "kasa", seen.name, seen.host, seen.port))
    try:
        assert one(await driver.refresh()).entity_id == "switch.pool_pump"
    finally:
        await driver.close()


class _House:
    """What an emulated house gives a family's emulation (devices.family.HouseContext)."""

    interface = "127.0.0.1"
    house_id = "kasa-test"
    name = "Test House"
    advertiser = None  # Kasa devices advertise nothing
    marks: dict[str, str] = {}


async def test_emulation_serves_the_home_file_entities() -> None:
    emulation = KasaEmulation(_House())
    specs = [EntitySpec("switch.spa_heater", "Spa Heater", "Garden", "on", {}, [], "kasa", 1),
             EntitySpec("light.porch_light", "Porch Light", "Entrance", "on",
                        {"brightness": 128, "rgb_color": [0, 0, 255]}, [], "kasa", 2)]
    for spec in specs:
        emulation.add(spec)
        emulation.reset(spec)
    assert await emulation.start() == []
    drivers = [KasaDriver(device_for(emu)) for emu in emulation.emulators()]
    try:
        heater, porch = [one(await d.refresh()) for d in drivers]
        assert (heater.entity_id, heater.state) == ("switch.spa_heater", "on")
        assert (porch.entity_id, porch.state) == ("light.porch_light", "on")
        assert porch.attributes["brightness"] == 128 and porch.attributes["rgb_color"] == [0, 0, 255]
    finally:
        for driver in drivers:
            await driver.close()
        await emulation.stop()
