"""The Shelly emulator as Home Assistant's own library sees it: aioshelly's RpcDevice, the
client HA's shelly integration runs, against the emulator on loopback.

Each step is what HA does: `get_info` (the config flow), `RpcDevice.create` + `initialize()`
(setup), the switch and cover services, `poll()`, and status kept current by the device's
NotifyStatus / NotifyFullStatus frames over the WebSocket.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from aioshelly.common import ConnectionOptions, get_info, is_firmware_supported
from aioshelly.exceptions import DeviceConnectionError, RpcCallError
from aioshelly.rpc_device import RpcDevice, RpcUpdateType

from devices.families.shelly.emulator import ShellyEmulator


async def wait_for(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def connect(emu: ShellyEmulator, http: aiohttp.ClientSession) -> tuple[RpcDevice, list[RpcUpdateType]]:
    """HA's path: /shelly for the MAC, then create, subscribe and initialize."""
    info = await get_info(http, emu.host, port=emu.port)
    device = await RpcDevice.create(http, None, ConnectionOptions(emu.host, port=emu.port,
                                                                 device_mac=info["mac"]))
    updates: list[RpcUpdateType] = []
    device.subscribe_updates(lambda _device, kind: updates.append(kind))
    await device.initialize()
    return device, updates


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_setup_reads_what_home_assistant_needs(http: aiohttp.ClientSession) -> None:
    async with ShellyEmulator(name="Pool Pump") as emu:
        info = await get_info(http, emu.host, port=emu.port)
        assert info["gen"] == 2 and info["model"] == "SNPL-00112EU" and info["auth_en"] is False
        device, updates = await connect(emu, http)
        try:
            assert device.initialized and updates == [RpcUpdateType.INITIALIZED]
            assert device.firmware_supported  # HA refuses setup otherwise
            assert is_firmware_supported(device.gen, device.model, device.firmware_version)
            assert device.name == "Pool Pump" and device.hostname == emu.device_id
            assert device.config["switch:0"]["id"] == 0 and "auto_off" in device.config["switch:0"]
            assert device.config["sys"]["device"]["mac"] == emu.mac
            assert device.status["switch:0"]["output"] is False
            assert device.status["sys"]["available_updates"] == {}
            assert "Switch.Set" in await device.methods_list()
            sys_status = await device.call_rpc("Sys.GetStatus")
            assert sys_status["cfg_rev"] == device.config["sys"]["cfg_rev"]
            assert (await device.call_rpc("Switch.GetConfig", {"id": 0}))["name"] is None
            with pytest.raises(RpcCallError) as refused:
                await device.call_rpc("Cover.Open", {"id": 0})  # a plug has no cover
            assert refused.value.code == 404
        finally:
            await device.shutdown()


async def test_switch_service_and_pushed_status(http: aiohttp.ClientSession) -> None:
    async with ShellyEmulator(name="Pool Pump", power_w=750.0) as emu:
        device, updates = await connect(emu, http)
        try:
            await device.switch_set(0, True)
            assert emu.output is True
            # The device tells aioshelly over the WebSocket; no poll needed.
            await wait_for(lambda: device.status["switch:0"]["output"] is True)
            assert device.status["switch:0"]["apower"] == 750.0
            assert RpcUpdateType.STATUS in updates

            await emu.dispatch("Switch.Set", {"id": 0, "on": False}, "button")  # at the device
            await wait_for(lambda: device.status["switch:0"]["output"] is False)
            assert device.status["switch:0"]["source"] == "button"

            await device.call_rpc("Switch.Toggle", {"id": 0})
            await wait_for(lambda: device.status["switch:0"]["output"] is True)

            await device.call_rpc("Switch.SetConfig", {"id": 0, "config": {"name": "Pump"}})
            await wait_for(lambda: device.status["sys"]["cfg_rev"] == 4)  # HA re-reads config then
            await device.update_config()
            assert device.config["switch:0"]["name"] == "Pump"

            emu.output = False  # changed without a notification (as if one was lost) ...
            await device.poll()  # ... HA's poll reads it back
            assert device.status["switch:0"]["output"] is False
        finally:
            await device.shutdown()


async def test_cover_services(http: aiohttp.ClientSession) -> None:
    async with ShellyEmulator(name="Garage Door", kind="cover", travel_time=0.6) as emu:
        device, _ = await connect(emu, http)
        try:
            assert device.config["sys"]["device"]["profile"] == "cover"
            assert device.config["cover:0"]["slat"]["enable"] is False  # HA: no tilt
            assert set(device.status) >= {"cover:0", "input:0", "input:1"}
            cover = device.status["cover:0"]
            assert cover["state"] == "closed" and cover["current_pos"] == 0 and cover["pos_control"]

            await device.cover_open(0)
            await wait_for(lambda: device.status["cover:0"]["state"] == "opening")
            await wait_for(lambda: emu._position_now() > 20)
            await device.cover_stop(0)
            await wait_for(lambda: device.status["cover:0"]["state"] == "stopped")
            stopped_at = device.status["cover:0"]["current_pos"]
            assert 0 < stopped_at < 100

            await device.cover_set_position(0, pos=70)
            await wait_for(lambda: device.status["cover:0"]["current_pos"] == 70
                           and device.status["cover:0"]["state"] == "stopped")
            await device.cover_close(0)
            await wait_for(lambda: device.status["cover:0"]["state"] == "closed")
            assert device.status["cover:0"]["current_pos"] == 0

            await device.update_cover_status(0)  # HA's read while a cover moves
            assert device.status["cover:0"]["state"] == "closed"
            with pytest.raises(RpcCallError) as refused:
                await device.cover_set_position(0, pos=140)
            assert refused.value.code == -103
        finally:
            await device.shutdown()


async def test_full_status_notification_replaces_status(http: aiohttp.ClientSession) -> None:
    async with ShellyEmulator(name="Pool Pump") as emu:
        device, _ = await connect(emu, http)
        try:
            emu.output = True  # a change the firmware reports only in its next full status
            await emu.push_full_status()
            await wait_for(lambda: device.status["switch:0"]["output"] is True)
            assert "wifi" in device.status and "sys" in device.status
        finally:
            await device.shutdown()


async def test_offline_device_is_a_connection_error(http: aiohttp.ClientSession) -> None:
    emu = await ShellyEmulator().start()
    port = emu.port
    await emu.stop()
    device = await RpcDevice.create(http, None, ConnectionOptions("127.0.0.1", port=port))
    started = time.monotonic()
    with pytest.raises(DeviceConnectionError):
        await device.initialize()
    assert time.monotonic() - started < 5
