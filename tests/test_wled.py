"""WLED: the driver (aiohttp, JSON API) against the emulator on loopback."""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from devices.colors import kelvin_to_rgb
from devices.families.wled.emulator import EFFECTS, WledEmulator
from devices.model import Device, DeviceError, Entity
from devices.families.wled.driver import WledDriver


def device_for(emu: WledEmulator) -> Device:
    return Device(device_id=emu.mac, family="wled", name="WLED", host=emu.host, port=emu.port)


@pytest.fixture
async def strip() -> AsyncIterator[WledEmulator]:
    async with WledEmulator(name="Deck Strip") as emu:
        yield emu


@pytest.fixture
async def driver(strip: WledEmulator) -> AsyncIterator[WledDriver]:
    d = WledDriver(device_for(strip), area="Deck")
    yield d
    await d.close()


async def test_json_api_shape(strip: WledEmulator) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(strip.url + "/json/info") as resp:
            info = await resp.json()
        async with http.get(strip.url + "/json/effects") as resp:
            effects = await resp.json()
        async with http.post(strip.url + "/json/state", json={"on": True, "bri": 40}) as resp:
            assert await resp.json() == {"success": True}
        async with http.post(strip.url + "/json/state",
                             json={"seg": [{"col": [[0, 0, 255]], "fx": 2}], "v": True}) as resp:
            state = await resp.json()
        async with http.post(strip.url + "/json/state", data="{not json") as resp:
            assert resp.status == 400 and await resp.json() == {"error": 9}
        async with http.get(strip.url + "/json") as resp:
            everything = await resp.json()
    assert info["name"] == "Deck Strip" and info["leds"]["count"] == 60 and len(info["mac"]) == 12
    assert effects[:3] == ["Solid", "Blink", "Breathe"]
    assert state["on"] is True and state["bri"] == 40
    assert state["seg"][0]["col"][0] == [0, 0, 255] and state["seg"][0]["fx"] == 2
    assert set(everything) == {"state", "info", "effects", "palettes"}


async def test_light_entity(driver: WledDriver) -> None:
    [entity] = await driver.refresh()
    assert entity.entity_id == "light.deck_strip" and entity.name == "Deck Strip"
    assert entity.area == "Deck" and entity.state == "off"
    assert entity.attributes["brightness"] is None
    assert entity.attributes["effect"] == "Solid" and entity.attributes["effect_list"] == EFFECTS
    assert entity.services == {"turn_on", "turn_off", "toggle"}


async def test_brightness_color_effect(strip: WledEmulator, driver: WledDriver) -> None:
    await driver.call("light.deck_strip", "turn_on", {"brightness_pct": 50})
    [entity] = await driver.refresh()
    assert entity.state == "on" and entity.attributes["brightness"] == 128

    await driver.call("light.deck_strip", "turn_on", {"rgb_color": [10, 20, 30]})
    [entity] = await driver.refresh()
    assert entity.attributes["rgb_color"] == [10, 20, 30] and entity.attributes["brightness"] == 128

    await driver.call("light.deck_strip", "turn_on", {"color_name": "Purple", "effect": "rainbow"})
    [entity] = await driver.refresh()
    assert entity.attributes["rgb_color"] == [128, 0, 128] and entity.attributes["effect"] == "Rainbow"
    assert strip.seg["fx"] == EFFECTS.index("Rainbow")

    await driver.call("light.deck_strip", "turn_on", {"color_name": "warm white"})
    assert strip.seg["col"][0] == list(kelvin_to_rgb(2700))
    assert strip.seg["col"][0][0] == 255 and strip.seg["col"][0][2] < 200  # reddish white

    await driver.call("light.deck_strip", "turn_off", {})
    [entity] = await driver.refresh()
    assert entity.state == "off" and strip.bri == 128  # WLED keeps the last brightness
    await driver.call("light.deck_strip", "toggle", {})
    assert strip.on is True
    await driver.call("light.deck_strip", "turn_on", {"brightness_pct": 0})
    assert strip.on is False


@pytest.mark.parametrize("data, message", [
    ({"effect": "Disco Inferno"}, "no effect called 'Disco Inferno'; it has Solid, Blink"),
    ({"color_name": "blurple"}, "don't know the colour 'blurple'"),
    ({"rgb_color": [300, 0, 0]}, "three whole numbers from 0 to 255"),
    ({"brightness_pct": 150}, "percentage from 0 to 100, not 150"),
    ({"flash": "long"}, "can't set flash"),
])
async def test_bad_requests_say_why(strip: WledEmulator, driver: WledDriver, data: dict, message: str) -> None:
    with pytest.raises(DeviceError, match=message):
        await driver.call("light.deck_strip", "turn_on", data)
    assert strip.on is False  # nothing was sent


async def test_unsupported_service_and_foreign_entity(driver: WledDriver) -> None:
    with pytest.raises(DeviceError, match="can turn on, turn off or toggle, not open_cover"):
        await driver.call("light.deck_strip", "open_cover", {})
    with pytest.raises(DeviceError, match="light.kitchen is not on Deck Strip"):
        await driver.call("light.kitchen", "turn_on", {})


@pytest.mark.parametrize("fault, message", [
    ("offline", "I can't reach Deck Strip at 127.0.0.1:\\d+ \\(it dropped the connection\\)"),
    ("slow", "I can't reach Deck Strip at 127.0.0.1:\\d+ \\(timed out after 0.5 s\\)"),
    ("error", "Deck Strip at 127.0.0.1:\\d+ answered with an error \\(HTTP 500\\)"),
])
async def test_faults_raise_device_error_quickly(strip: WledEmulator, fault: str, message: str) -> None:
    driver = WledDriver(device_for(strip), timeout=0.5)
    try:
        await driver.refresh()
        strip.fail = fault
        started = time.monotonic()
        with pytest.raises(DeviceError, match=message):
            await driver.call("light.deck_strip", "turn_on", {})
        with pytest.raises(DeviceError, match=message):
            await driver.refresh()
        assert time.monotonic() - started < 3.0
        strip.fail = None
        await driver.call("light.deck_strip", "turn_on", {})
        assert strip.on is True
    finally:
        await driver.close()


async def test_polls_read_state_and_info_without_the_lists(strip: WledEmulator, driver: WledDriver) -> None:
    await driver.refresh()
    await driver.call("light.deck_strip", "turn_on", {"effect": "Rainbow"})
    [entity] = await driver.refresh()
    assert entity.attributes["effect"] == "Rainbow"  # the names are still known
    assert list(strip.requests) == [("GET", "/json"), ("POST", "/json/state"), ("GET", "/json/si")]


async def wait_for(predicate, timeout: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_follow_reports_pushed_changes_and_survives_a_dropped_socket(strip: WledEmulator,
                                                                           driver: WledDriver) -> None:
    seen: list[Entity] = []
    task = asyncio.create_task(driver.follow(seen.append, min_backoff=0.05, max_backoff=0.2))
    try:
        await wait_for(lambda: strip.info()["ws"] == 1 and len(seen) == 1)
        assert seen[0].state == "off"
        async with aiohttp.ClientSession() as http:  # the WLED app changes the strip
            async with http.post(strip.url + "/json/state", json={"on": True, "bri": 51}) as resp:
                assert resp.status == 200
        await wait_for(lambda: seen[-1].state == "on" and seen[-1].attributes["brightness"] == 51)

        await strip.drop_websockets()
        strip.apply({"seg": [{"col": [[0, 0, 255]]}]})  # while we are away
        await wait_for(lambda: seen[-1].attributes["rgb_color"] == [0, 0, 255])
        assert strip.info()["ws"] == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_follow_reads_a_build_without_websockets_itself() -> None:
    async with WledEmulator(name="Deck Strip", websockets=False) as strip:
        driver = WledDriver(device_for(strip))
        seen: list[Entity] = []
        task = asyncio.create_task(driver.follow(seen.append, poll_every=0.05))
        try:
            await wait_for(lambda: len(seen) == 1)
            strip.apply({"on": True})
            await wait_for(lambda: seen[-1].state == "on")
            assert ("GET", "/json/si") in strip.requests and len(seen) == 2  # read, not pushed
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await driver.close()
