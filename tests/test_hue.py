"""The Hue driver against the emulated bridge, over real HTTP on loopback."""
from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import pytest

from devices.colors import color_name_target
from devices.families.hue.emulator import HueBridgeEmulator
from devices.families.hue.driver import HueDriver, LinkButtonNotPressed, NotPaired, make_driver, rgb_to_xy, xy_to_rgb
from devices.home import Home
from devices.model import Device, DeviceError
from memory.store import Store

TIMEOUT = 0.5


def _device(emu: HueBridgeEmulator) -> Device:
    return Device(device_id=f"hue-{emu.bridge_id}", family="hue", name=emu.name,
                  host=emu.host, port=emu.port, model="BSB002")


@pytest.fixture
async def bridge():
    emu = HueBridgeEmulator(name="Hall bridge")
    emu.add_light("Ceiling", "Kitchen")
    emu.add_light("Counter strip", "Kitchen")
    emu.add_light("Desk lamp", "Study", color=False)
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
async def driver(bridge: HueBridgeEmulator):
    bridge.press_link_button()
    hue = HueDriver(_device(bridge), None, timeout=TIMEOUT)
    await hue.pair()
    yield hue
    await hue.close()


async def _entities(hue: HueDriver) -> dict:
    return {e.entity_id: e for e in await hue.refresh()}


async def test_pairing_needs_the_link_button(bridge: HueBridgeEmulator) -> None:
    hue = make_driver(_device(bridge), None)
    try:
        with pytest.raises(NotPaired):
            await hue.refresh()
        with pytest.raises(LinkButtonNotPressed, match="round button.*\"done\""):
            await hue.pair()
        assert bridge.users == {}

        bridge.press_link_button()
        username = await hue.pair("claw")
        assert hue.username == username
        assert bridge.users[username].startswith("claw#")
        assert len(await hue.refresh()) == 3
    finally:
        await hue.close()


async def test_unknown_username_is_reported_as_not_paired(bridge: HueBridgeEmulator) -> None:
    hue = HueDriver(_device(bridge), "someone-else", timeout=TIMEOUT)
    try:
        with pytest.raises(NotPaired, match="pair again"):
            await hue.refresh()
    finally:
        await hue.close()


async def test_refresh_gives_lights_in_their_rooms(driver: HueDriver) -> None:
    entities = await _entities(driver)
    assert set(entities) == {"light.ceiling", "light.counter_strip", "light.desk_lamp"}
    ceiling, desk = entities["light.ceiling"], entities["light.desk_lamp"]
    assert (ceiling.name, ceiling.area, ceiling.state) == ("Ceiling", "Kitchen", "off")
    assert entities["light.counter_strip"].area == "Kitchen"
    assert desk.area == "Study"
    assert ceiling.services == {"turn_on", "turn_off", "toggle"}
    assert ceiling.attributes["supported_color_modes"] == ["color_temp", "xy"]
    assert ceiling.attributes["min_color_temp_kelvin"] == 2000
    assert ceiling.attributes["brightness"] is None  # off, as Home Assistant reports it
    assert desk.attributes["supported_color_modes"] == ["brightness"]
    assert ceiling.device_id == driver.device.device_id


async def test_lights_with_one_name_get_distinct_ids() -> None:
    emu = HueBridgeEmulator()
    emu.add_light("Lamp", "Den")
    emu.add_light("Lamp", "Hall")
    await emu.start()
    emu.press_link_button()
    hue = HueDriver(_device(emu), None, timeout=TIMEOUT)
    try:
        await hue.pair()
        entities = await _entities(hue)
        assert {eid: e.area for eid, e in entities.items()} == {"light.lamp": "Den",
                                                                "light.lamp_2": "Hall"}
        await hue.call("light.lamp_2", "turn_on", {})
        assert (emu.lights["1"].on, emu.lights["2"].on) == (False, True)
    finally:
        await hue.close()
        await emu.stop()


async def test_turn_on_with_brightness(driver: HueDriver, bridge: HueBridgeEmulator) -> None:
    # The light starts off: the bridge refuses brightness alone (error 201), so "on" must go too.
    await driver.call("light.ceiling", "turn_on", {"brightness_pct": 50})
    assert bridge.lights["1"].on is True
    assert bridge.lights["1"].bri == 127
    ceiling = (await _entities(driver))["light.ceiling"]
    assert ceiling.state == "on"
    assert ceiling.attributes["brightness"] == 128

    await driver.call("light.ceiling", "turn_on", {"brightness_pct": 100})
    assert bridge.lights["1"].bri == 254
    await driver.call("light.ceiling", "turn_on", {"brightness_pct": 0})
    assert bridge.lights["1"].on is False


async def test_turn_on_with_rgb_colour(driver: HueDriver, bridge: HueBridgeEmulator) -> None:
    await driver.call("light.counter_strip", "turn_on", {"rgb_color": [255, 0, 0]})
    strip = bridge.lights["2"]
    assert strip.on and strip.colormode == "xy"
    assert strip.xy == pytest.approx([0.7006, 0.2993], abs=1e-3)
    rgb = (await _entities(driver))["light.counter_strip"].attributes["rgb_color"]
    assert rgb[0] == 255 and rgb[1] < 10 and rgb[2] < 10


async def test_turn_on_with_colour_names(driver: HueDriver, bridge: HueBridgeEmulator) -> None:
    await driver.call("light.ceiling", "turn_on", {"color_name": "Blue"})
    assert bridge.lights["1"].xy == pytest.approx([0.1355, 0.0399], abs=1e-3)

    await driver.call("light.ceiling", "turn_on", {"color_name": "warm white"})
    assert (bridge.lights["1"].colormode, bridge.lights["1"].ct) == ("ct", 370)
    attributes = (await _entities(driver))["light.ceiling"].attributes
    assert attributes["color_mode"] == "color_temp"
    assert attributes["color_temp_kelvin"] == 2703
    assert attributes["rgb_color"] is None

    with pytest.raises(DeviceError, match="don't know the colour 'plaid'"):
        await driver.call("light.ceiling", "turn_on", {"color_name": "plaid"})


async def test_turn_on_with_kelvin_is_clamped_to_the_bulb(driver: HueDriver,
                                                          bridge: HueBridgeEmulator) -> None:
    await driver.call("light.ceiling", "turn_on", {"color_temp_kelvin": 4000})
    assert bridge.lights["1"].ct == 250
    await driver.call("light.ceiling", "turn_on", {"color_temp_kelvin": 10000})
    assert bridge.lights["1"].ct == 153
    await driver.call("light.ceiling", "turn_on", {"color_temp_kelvin": 1500})
    assert bridge.lights["1"].ct == 500


async def test_turn_off_and_toggle(driver: HueDriver, bridge: HueBridgeEmulator) -> None:
    await driver.call("light.desk_lamp", "turn_on", {})
    assert bridge.lights["3"].on is True
    await driver.call("light.desk_lamp", "turn_off", {"transition": 2})
    assert bridge.lights["3"].on is False
    assert ("PUT", f"/api/{driver.username}/lights/3/state",
            {"on": False, "transitiontime": 20}) in bridge.requests
    await driver.call("light.desk_lamp", "toggle", {})
    assert bridge.lights["3"].on is True
    await driver.call("light.desk_lamp", "toggle", {})
    assert bridge.lights["3"].on is False


async def test_white_light_refuses_colour(driver: HueDriver, bridge: HueBridgeEmulator) -> None:
    with pytest.raises(DeviceError, match="Desk lamp can't change colour"):
        await driver.call("light.desk_lamp", "turn_on", {"rgb_color": [0, 0, 255]})
    with pytest.raises(DeviceError, match="Desk lamp can't change its white tone"):
        await driver.call("light.desk_lamp", "turn_on", {"color_temp_kelvin": 3000})
    with pytest.raises(DeviceError, match="it can't media pause"):
        await driver.call("light.desk_lamp", "media_pause", {})
    assert bridge.lights["3"].on is False


async def test_unreachable_light_is_unavailable(driver: HueDriver,
                                                bridge: HueBridgeEmulator) -> None:
    bridge.lights["2"].reachable = False
    entities = await _entities(driver)
    assert entities["light.counter_strip"].state == "unavailable"
    assert entities["light.ceiling"].state == "off"
    with pytest.raises(DeviceError, match="Counter strip is not answering"):
        await driver.call("light.counter_strip", "turn_on", {})
    assert bridge.lights["2"].on is False


async def test_a_command_reads_back_only_its_light(driver: HueDriver, bridge: HueBridgeEmulator,
                                                 tmp_path: Path) -> None:
    """At 1,000 entities a whole-bridge read per command is most of a command's time."""
    home = Home(Store(tmp_path / "claw.db"), device_timeout=TIMEOUT * 4)
    await home.add(driver)
    bridge.requests.clear()
    await home.call(home.entities["light.counter_strip"], "turn_on", {"brightness_pct": 50})
    await home.settle()
    user = f"/api/{driver.username}"
    assert [(m, p) for m, p, _ in bridge.requests] == [
        ("PUT", f"{user}/lights/2/state"), ("GET", f"{user}/lights/2")]
    entity = home.entities["light.counter_strip"]
    assert entity.state == "on" and entity.attributes["brightness"] == 128
    assert entity.area == "Kitchen"  # the room is kept from the last full read


async def test_unknown_entity(driver: HueDriver) -> None:
    with pytest.raises(DeviceError, match="no light called light.garage"):
        await driver.call("light.garage", "turn_on", {})


@pytest.mark.parametrize("mode, message", [
    ("offline", "it dropped the connection"),
    ("slow", f"timed out after {TIMEOUT:g} s"),
    ("error", "answered HTTP 500"),
])
async def test_failing_bridge_raises_device_error_quickly(driver: HueDriver,
                                                          bridge: HueBridgeEmulator,
                                                          mode: str, message: str) -> None:
    await driver.refresh()
    bridge.fail = mode
    for attempt in (driver.refresh(), driver.call("light.ceiling", "turn_on", {})):
        started = time.monotonic()
        with pytest.raises(DeviceError, match=message) as caught:
            await attempt
        assert time.monotonic() - started < TIMEOUT + 1.0
        assert "Hue bridge 'Hall bridge' at 127.0.0.1:" in str(caught.value)
    bridge.fail = None
    assert len(await driver.refresh()) == 3


async def test_stopped_bridge_raises_device_error(driver: HueDriver,
                                                  bridge: HueBridgeEmulator) -> None:
    await bridge.stop()
    with pytest.raises(DeviceError, match=r"I can.t reach .* \(connection refused\)"):
        await driver.refresh()


async def test_emulator_speaks_the_v1_wire_format(bridge: HueBridgeEmulator) -> None:
    base = f"http://{bridge.host}:{bridge.port}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        async with http.get(f"{base}/description.xml") as response:
            description = await response.text()
        serial = (bridge.bridge_id[:6] + bridge.bridge_id[10:]).lower()
        assert f"<serialNumber>{serial}</serialNumber>" in description
        async with http.get(f"{base}/api/config") as response:
            config = await response.json()
        assert config["bridgeid"] == bridge.bridge_id and config["modelid"] == "BSB002"

        async with http.post(f"{base}/api", json={"devicetype": "test#box"}) as response:
            assert await response.json() == [{"error": {
                "type": 101, "address": "", "description": "link button not pressed"}}]
        bridge.press_link_button()
        async with http.post(f"{base}/api", json={"devicetype": "test#box"}) as response:
            username = (await response.json())[0]["success"]["username"]

        state_url = f"{base}/api/{username}/lights/1/state"
        async with http.put(state_url, json={"bri": 10}) as response:
            assert await response.json() == [{"error": {
                "type": 201, "address": "/lights/1/state/bri",
                "description": "parameter, bri, is not modifiable. Device is set to off."}}]
        async with http.put(state_url, json={"on": True, "bri": 300}) as response:
            assert await response.json() == [
                {"error": {"type": 7, "address": "/lights/1/state/bri",
                           "description": "invalid value, 300, for parameter, bri"}},
                {"success": {"/lights/1/state/on": True}},
            ]
        async with http.put(f"{base}/api/{username}/groups/1/action",
                            json={"on": True, "bri": 200}) as response:
            assert await response.json() == [{"success": {"/groups/1/action/on": True}},
                                             {"success": {"/groups/1/action/bri": 200}}]
        assert [bridge.lights[i].bri for i in "123"] == [200, 200, 254]
        async with http.get(f"{base}/api/{username}/groups") as response:
            groups = await response.json()
        assert groups["1"]["state"] == {"all_on": True, "any_on": True}
        assert groups["2"] == {**groups["2"], "name": "Study", "lights": ["3"], "type": "Room"}
        async with http.get(f"{base}/api/nobody/lights") as response:
            assert await response.json() == [{"error": {
                "type": 1, "address": "/lights", "description": "unauthorized user"}}]


def test_colour_conversions_round_trip() -> None:
    for rgb in [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 165, 0), (255, 255, 255)]:
        back = xy_to_rgb(*rgb_to_xy(rgb))
        assert all(abs(a - b) <= 3 for a, b in zip(rgb, back)), (rgb, back)
    assert color_name_target("Warm_White") == ("kelvin", 2700)
    assert color_name_target("hot pink") == ("rgb", (255, 105, 180))
    with pytest.raises(DeviceError):
        rgb_to_xy((0, 0, 0))
