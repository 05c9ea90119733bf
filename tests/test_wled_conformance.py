"""The WLED emulator as Home Assistant's own library sees it: python-wled (PyPI `wled`), the
client HA's wled integration runs, against the emulator.

python-wled always speaks to port 80 (HTTP and /ws), so each scenario runs in a network
namespace of its own where the emulator can have 127.0.0.1:80 (tests/netns.py). Each step is
what HA does: `update()` (setup and poll), the light's services (on/off, brightness, colour,
effect, colour temperature), a second segment, presets, nightlight, sync, and the WebSocket
push (`connect()` / `listen()`).
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from wled import WLED, Device, NightlightMode
from wled.exceptions import WLEDConnectionError

from devices.families.wled.emulator import WledEmulator
from tests import netns

MODULE = "tests.test_wled_conformance"


class Clock:
    """The emulator's clock, moved by hand (the nightlight counts on it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def control_scenario() -> dict[str, Any]:
    assert netns.only_loopback(), "refusing to bind port 80 outside a test namespace"
    clock = Clock()
    async with WledEmulator("127.0.0.1", 80, name="Deck Strip", leds=60, clock=clock) as emu, \
            aiohttp.ClientSession() as http:
        wled = WLED("127.0.0.1", session=http)
        device = await wled.update()  # HA's setup
        assert device.info.name == "Deck Strip" and device.info.mac_address == emu.mac
        assert str(device.info.version) == "0.14.4" and device.info.websocket == 0
        assert device.info.filesystem.total == 983 and device.info.leds.count == 60
        assert device.effects[9].name == "Rainbow" and device.palettes[6].name == "Party"
        assert {p.name for p in device.presets.values()} >= {"Evening", "Party"}
        assert device.state.on is False and list(device.state.segments) == [0]

        await wled.master(on=True, brightness=77)
        device = await wled.update()  # HA's poll, now from /json/si
        assert device.state.on is True and device.state.brightness == 77

        await wled.segment(0, color_primary=(255, 0, 0), effect="Rainbow", speed=200, cct=6000)
        device = await wled.update()
        main = device.state.segments[0]
        assert main.color is not None and main.color.primary == (255, 0, 0)
        assert main.effect_id == 9 and main.speed == 200
        assert main.cct == round((6000 - 1900) * 255 / (10091 - 1900))

        await wled.segment(1, start=30, stop=60, color_primary=(0, 0, 255), name="Rail")
        device = await wled.update()
        assert sorted(device.state.segments) == [0, 1]
        rail = device.state.segments[1]
        assert (rail.start, rail.stop, rail.name) == (30, 60, "Rail")
        assert rail.color is not None and rail.color.primary == (0, 0, 255)
        assert device.state.segments[0].color.primary == (255, 0, 0)  # the other one kept
        await wled.segment(1, stop=0)  # WLED's way to delete a segment
        device = await wled.update()
        assert list(device.state.segments) == [0]

        await wled.preset("Evening")
        device = await wled.update()
        assert device.state.preset_id == 1 and device.state.brightness == 90
        assert device.state.segments[0].effect_id == 2
        await wled.master(brightness=120)
        device = await wled.update()
        assert device.state.preset_id is None  # a change leaves the preset

        await wled.request("/json/state", method="POST", data={"psave": 3, "n": "Bright"})
        device = await wled.update()  # a newer presets.json (fs.pmt) is read again
        assert device.presets[3].name == "Bright"

        await wled.sync(send=True, receive=False)
        await wled.transition(20)
        device = await wled.update()
        assert device.state.sync.send is True and device.state.sync.receive is False
        assert device.state.transition == 20

        await wled.nightlight(on=True, duration=2, target_brightness=0, mode=NightlightMode.FADE)
        device = await wled.update()
        assert device.state.nightlight.on is True and device.state.nightlight.remaining == 120
        assert device.state.nightlight.mode == NightlightMode.FADE
        clock.now += 121  # the nightlight runs out
        device = await wled.update()
        assert device.state.nightlight.on is False and device.state.on is False

        await wled.master(on=False)
        await wled.master(on=True)
        assert emu.on is True
    return {"ok": True}


async def push_scenario() -> dict[str, Any]:
    assert netns.only_loopback(), "refusing to bind port 80 outside a test namespace"
    async with WledEmulator("127.0.0.1", 80, name="Deck Strip") as emu, aiohttp.ClientSession() as http:
        wled = WLED("127.0.0.1", session=http)
        await wled.update()
        await wled.connect()  # HA connects when info.ws says the build has WebSockets
        assert wled.connected
        seen: list[Device] = []
        listener = asyncio.create_task(wled.listen(seen.append))
        deadline = time.monotonic() + 5
        while emu.info()["ws"] != 1:
            assert time.monotonic() < deadline, "the WebSocket never showed up in info.ws"
            await asyncio.sleep(0.02)

        # Someone else (the WLED app, a button) changes the strip: HA hears it pushed.
        async with http.post(emu.url + "/json/state", json={"on": True, "bri": 42}) as resp:
            assert resp.status == 200
        while not (seen and seen[-1].state.on and seen[-1].state.brightness == 42):
            assert time.monotonic() < deadline, "no push after the change"
            await asyncio.sleep(0.02)

        await wled.segment(0, color_primary=(0, 255, 0))  # HA's own change comes back too
        while seen[-1].state.segments[0].color.primary != (0, 255, 0):
            assert time.monotonic() < deadline, "no push after our change"
            await asyncio.sleep(0.02)
        pushes = len(seen)

        await emu.stop()  # the controller goes away: listen() ends with an error
        try:
            await asyncio.wait_for(listener, 5)
            ended = "returned"
        except WLEDConnectionError as exc:
            ended = type(exc).__name__
        await wled.disconnect()
    return {"pushes": pushes, "ended": ended}


async def offline_scenario() -> dict[str, Any]:
    assert netns.only_loopback(), "refusing to bind port 80 outside a test namespace"
    wled = WLED("127.0.0.1", request_timeout=1.0)
    started = time.monotonic()
    try:
        await wled.update()
        error = None
    except WLEDConnectionError as exc:
        error = type(exc).__name__
    finally:
        await wled.close()
    return {"error": error, "seconds": time.monotonic() - started}


def test_setup_poll_and_every_service() -> None:
    with netns.namespace() as ns:
        assert netns.run_in(ns, MODULE, "control_scenario", timeout=60) == {"ok": True}


def test_websocket_push() -> None:
    with netns.namespace() as ns:
        out = netns.run_in(ns, MODULE, "push_scenario", timeout=60)
    assert out["pushes"] >= 3, out  # on connect, after their change, after ours
    assert out["ended"] == "WLEDConnectionClosedError", out  # HA reconnects on it


def test_nobody_at_port_80_is_a_connection_error() -> None:
    with netns.namespace() as ns:
        out = netns.run_in(ns, MODULE, "offline_scenario", timeout=60)
    assert out["error"] == "WLEDConnectionError", out
    assert out["seconds"] < 10, out
