"""Shelly Gen2: the driver (plain aiohttp RPC) against the emulator on loopback."""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from devices.families.shelly.emulator import ShellyEmulator
from devices.model import Device, DeviceError, Entity
from devices.families.shelly.driver import ShellyDriver


def device_for(emu: ShellyEmulator, name: str = "Shelly") -> Device:
    return Device(device_id=emu.device_id, family="shelly", name=name, host=emu.host, port=emu.port,
                  model=emu.model)


@pytest.fixture
async def plug() -> AsyncIterator[ShellyEmulator]:
    async with ShellyEmulator(name="Pool Pump", power_w=750.0) as emu:
        yield emu


@pytest.fixture
async def shutter() -> AsyncIterator[ShellyEmulator]:
    async with ShellyEmulator(name="Garage Door", kind="cover", travel_time=1.0) as emu:
        yield emu


async def wait_for(predicate, timeout: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_device_info_matches_gen2_shape(plug: ShellyEmulator) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(plug.url + "/shelly") as resp:
            info = await resp.json()
        async with http.get(plug.url + "/rpc/Switch.Set?id=0&on=true") as resp:
            assert resp.status == 200
            assert await resp.json() == {"was_on": False}
        async with http.get(plug.url + "/rpc/Switch.GetStatus?id=0") as resp:
            status = await resp.json()
        async with http.get(plug.url + "/rpc/Switch.GetStatus?id=3") as resp:
            assert resp.status == 500
            assert (await resp.json())["code"] == -105
        async with http.get(plug.url + "/rpc/Cover.Open") as resp:
            assert resp.status == 404
    assert info["gen"] == 2 and info["auth_en"] is False and info["name"] == "Pool Pump"
    assert info["model"] == "SNPL-00112EU" and info["app"] == "PlugS" and info["mac"] in info["id"].upper()
    assert status["output"] is True and status["apower"] == 750.0 and "total" in status["aenergy"]


async def test_switch_on_off_and_power(plug: ShellyEmulator) -> None:
    driver = ShellyDriver(device_for(plug, name="Shelly Plug"), area="Garden")
    try:
        [entity] = await driver.refresh()
        assert entity.entity_id == "switch.pool_pump"  # the device's own name wins
        assert entity.name == "Pool Pump" and entity.area == "Garden"
        assert entity.state == "off" and entity.attributes["current_power_w"] == 0.0
        assert entity.services == {"turn_on", "turn_off", "toggle"}

        await driver.call("switch.pool_pump", "turn_on", {})
        [entity] = await driver.refresh()
        assert entity.state == "on" and entity.attributes["current_power_w"] == 750.0
        assert plug.output is True

        await asyncio.sleep(0.2)  # 750 W for 0.2 s is about 0.04 Wh
        await driver.call("switch.pool_pump", "toggle", {})
        [entity] = await driver.refresh()
        assert entity.state == "off" and entity.attributes["current_power_w"] == 0.0
        assert 0.0 < entity.attributes["energy_kwh"] * 1000 < 1.0

        await driver.call("switch.pool_pump", "turn_off", {})
        assert plug.output is False
        with pytest.raises(DeviceError, match="can't open cover"):
            await driver.call("switch.pool_pump", "open_cover", {})
        with pytest.raises(DeviceError, match="not on Pool Pump"):
            await driver.call("switch.other", "turn_on", {})
    finally:
        await driver.close()


async def test_cover_moves_over_time(shutter: ShellyEmulator) -> None:
    driver = ShellyDriver(device_for(shutter))
    try:
        [entity] = await driver.refresh()
        assert entity.entity_id == "cover.garage_door"
        assert entity.device_class == "garage" and entity.risk_tier == "security"
        assert entity.state == "closed" and entity.attributes["current_position"] == 0

        await driver.call("cover.garage_door", "open_cover", {})
        [entity] = await driver.refresh()
        assert entity.state == "opening" and entity.attributes["current_power_w"] > 0
        await asyncio.sleep(0.4)
        [entity] = await driver.refresh()
        assert 10 < entity.attributes["current_position"] < 90

        await driver.call("cover.garage_door", "stop_cover", {})
        [entity] = await driver.refresh()
        stopped_at = entity.attributes["current_position"]
        assert entity.state == "open" and shutter.cover_state == "stopped"
        await asyncio.sleep(0.2)
        [entity] = await driver.refresh()
        assert entity.attributes["current_position"] == stopped_at

        await driver.call("cover.garage_door", "set_cover_position", {"position": 80})
        await wait_for(lambda: shutter.cover_state == "stopped" and round(shutter.position) == 80)
        await driver.call("cover.garage_door", "close_cover", {})
        [entity] = await driver.refresh()
        assert entity.state == "closing"
        await wait_for(lambda: shutter.cover_state == "closed")
        [entity] = await driver.refresh()
        assert entity.state == "closed" and entity.attributes["current_position"] == 0

        with pytest.raises(DeviceError, match="from 0 .closed. to 100"):
            await driver.call("cover.garage_door", "set_cover_position", {"position": 140})
    finally:
        await driver.close()


async def test_cover_device_class_from_config_and_owner() -> None:
    async with ShellyEmulator(name="Study", kind="cover", device_class="blind") as emu:
        driver = ShellyDriver(device_for(emu))
        owner_says = ShellyDriver(device_for(emu), device_class="curtain")
        try:
            [entity] = await driver.refresh()
            assert entity.device_class == "blind" and entity.risk_tier == "write"
            [entity] = await owner_says.refresh()
            assert entity.device_class == "curtain"
        finally:
            await driver.close()
            await owner_says.close()


async def test_unnamed_device_uses_discovered_name() -> None:
    async with ShellyEmulator(name=None) as emu:
        driver = ShellyDriver(device_for(emu, name="Shelly Plug S"))
        try:
            [entity] = await driver.refresh()
            assert entity.entity_id == "switch.shelly_plug_s"
        finally:
            await driver.close()


@pytest.mark.parametrize("fault, message", [
    ("offline", "I can't reach Shelly at .* \\(it dropped the connection\\)"),
    ("slow", "I can't reach Shelly at .* \\(timed out after 0.5 s\\)"),
    ("error", "Shelly at .* refused Switch.Set: Device busy.* \\(error -109\\)"),
])
async def test_faults_raise_device_error_quickly(plug: ShellyEmulator, fault: str, message: str) -> None:
    driver = ShellyDriver(device_for(plug), timeout=0.5)
    try:
        await driver.refresh()
        plug.fail = fault
        started = time.monotonic()
        with pytest.raises(DeviceError, match=message.replace("Shelly at", "Pool Pump at")):
            await driver.call("switch.pool_pump", "turn_on", {})
        assert time.monotonic() - started < 2.0
        plug.fail = None
        await driver.call("switch.pool_pump", "turn_on", {})
        assert plug.output is True
    finally:
        await driver.close()


async def test_nobody_listening_is_a_device_error() -> None:
    emu = await ShellyEmulator().start()
    device = device_for(emu)
    await emu.stop()
    driver = ShellyDriver(device, timeout=0.5)
    try:
        with pytest.raises(DeviceError, match="connection refused"):
            await driver.refresh()
    finally:
        await driver.close()


async def test_websocket_client_receives_notify_status(plug: ShellyEmulator) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(plug.url.replace("http", "ws") + "/rpc") as ws:
        await ws.send_json({"id": 7, "src": "tester", "method": "Switch.GetStatus", "params": {"id": 0}})
        reply = await ws.receive_json(timeout=2)
        assert reply["id"] == 7 and reply["dst"] == "tester" and reply["result"]["output"] is False

        async with http.post(plug.url + "/rpc", json={"id": 1, "method": "Switch.Set",
                                                       "params": {"id": 0, "on": True}}) as resp:
            assert (await resp.json())["result"] == {"was_on": False}
        note = await ws.receive_json(timeout=2)
        assert note["method"] == "NotifyStatus" and note["dst"] == "tester" and note["src"] == plug.device_id
        assert note["params"]["switch:0"]["output"] is True
        assert note["params"]["switch:0"]["apower"] == 750.0
        assert "voltage" not in note["params"]["switch:0"]  # only what changed

        await plug.drop_websockets()
        msg = await ws.receive(timeout=2)
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE)


async def test_follow_reports_changes_and_survives_a_dropped_socket(shutter: ShellyEmulator) -> None:
    driver = ShellyDriver(device_for(shutter))
    seen: list[Entity] = []
    task = asyncio.create_task(driver.follow(seen.append, min_backoff=0.05, max_backoff=0.2))
    try:
        await wait_for(lambda: shutter.websocket_count == 1 and len(seen) == 1)
        assert seen[0].state == "closed"

        await shutter.dispatch("Cover.Open", {"id": 0})  # a button press on the device
        await wait_for(lambda: seen[-1].state == "open")
        assert "opening" in [e.state for e in seen]

        await shutter.drop_websockets()
        await shutter.dispatch("Cover.GoToPosition", {"id": 0, "pos": 90})  # while we are away
        await wait_for(lambda: shutter.cover_state == "stopped")
        await wait_for(lambda: seen[-1].attributes["current_position"] == 90)
        assert shutter.websocket_count == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await driver.close()


async def test_a_channel_named_in_the_shelly_app_keeps_its_name(plug: ShellyEmulator) -> None:
    plug.component_name = "Filter Pump"
    driver = ShellyDriver(device_for(plug))
    try:
        [entity] = await driver.refresh()
        assert entity.name == "Filter Pump" and entity.entity_id == "switch.filter_pump"
    finally:
        await driver.close()


async def test_follow_rereads_a_changed_config(plug: ShellyEmulator) -> None:
    driver = ShellyDriver(device_for(plug))
    seen: list[Entity] = []
    task = asyncio.create_task(driver.follow(seen.append, min_backoff=0.05, max_backoff=0.2))
    try:
        await wait_for(lambda: plug.websocket_count == 1 and len(seen) == 1)
        assert seen[0].name == "Pool Pump"
        await plug.dispatch("Switch.SetConfig", {"id": 0, "config": {"name": "Filter Pump"}})  # the app
        await wait_for(lambda: seen[-1].name == "Filter Pump")
        assert seen[-1].entity_id == "switch.filter_pump"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await driver.close()
