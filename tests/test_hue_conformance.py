"""The Hue emulator as Home Assistant's own library sees it: aiohue, the client HA's hue
integration runs, against the emulated bridge on loopback.

Each step is what HA does: `discover_bridge` (is it a bridge, does it speak CLIP v2: by
default it honestly does not, so HA uses v1), `create_app_key` after the link button,
`HueBridgeV1` setup (`initialize`: config, lights, groups, sensors), the light services
(on/off, brightness and its steps, colour, colour temperature, transitions), group 0 and room
actions, and the polls of each resource. A bridge made with `clip_v2=True` is driven with
`HueBridgeV2` as HA drives a modern bridge: the full resource read, light and grouped-light
writes, and every change (from v1 or v2) arriving over the event stream. Discovery's v2 check
needs the real ports (http 80, https 443), so it runs in a network namespace.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohue import HueBridgeV1, HueBridgeV2, create_app_key
from aiohue.discovery import discover_bridge
from aiohue.errors import AiohueException, LinkButtonNotPressed, Unauthorized

from devices.families.hue.emulator import HueBridgeEmulator
from tests import netns

MODULE = "tests.test_hue_conformance"


@pytest.fixture
async def bridge() -> AsyncIterator[HueBridgeEmulator]:
    emu = HueBridgeEmulator(name="Hall bridge")
    emu.add_light("Ceiling", "Kitchen")
    emu.add_light("Counter strip", "Kitchen")
    emu.add_light("Desk lamp", "Study", color=False)
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
async def hue(bridge: HueBridgeEmulator) -> AsyncIterator[HueBridgeV1]:
    async with aiohttp.ClientSession() as http:
        bridge.press_link_button()
        app_key = await create_app_key(f"{bridge.host}:{bridge.port}", "home-assistant#test", http)
        client = HueBridgeV1(f"{bridge.host}:{bridge.port}", app_key, http)
        await client.initialize()
        yield client


async def test_discovery_says_v1_and_pairing_needs_the_button(bridge: HueBridgeEmulator) -> None:
    host = f"{bridge.host}:{bridge.port}"
    async with aiohttp.ClientSession() as http:
        found = await discover_bridge(host, http)
        assert found.id == (bridge.bridge_id[:6] + bridge.bridge_id[10:]).lower()
        assert found.supports_v2 is False  # no https /clip/v2: HA sets the bridge up with v1
        with pytest.raises(LinkButtonNotPressed):
            await create_app_key(host, "home-assistant#test", http)
        with pytest.raises(Unauthorized):
            await HueBridgeV1(host, "not-a-user", http).initialize()


async def test_setup_reads_config_lights_groups_sensors(hue: HueBridgeV1, bridge: HueBridgeEmulator) -> None:
    assert hue.config is not None and hue.lights is not None and hue.groups is not None
    assert hue.config.bridge_id == bridge.bridge_id and hue.config.name == "Hall bridge"
    assert hue.config.apiversion == "1.45.0" and int(hue.config.software_version) < 1948086000
    assert hue.config.model_id == "BSB002"
    assert [light.name for light in hue.lights.values()] == ["Ceiling", "Counter strip", "Desk lamp"]
    ceiling = hue.lights["1"]
    assert ceiling.type == "Extended color light" and ceiling.colorgamuttype == "C"
    assert ceiling.colorgamut is not None and ceiling.controlcapabilities["ct"] == {"min": 153, "max": 500}
    assert hue.lights["3"].colorgamut is None  # a white bulb has none
    kitchen = hue.groups["1"]
    assert (kitchen.name, kitchen.type, kitchen.lights) == ("Kitchen", "Room", ["1", "2"])
    assert kitchen.state == {"all_on": False, "any_on": False}
    assert hue.sensors is not None
    [daylight] = hue.sensors.values()
    assert daylight.type == "Daylight" and daylight.name == "Daylight"
    everything = await hue.groups.get_all_lights_group()
    assert everything.id == "0" and everything.lights == ["1", "2", "3"]


async def test_light_services(hue: HueBridgeV1, bridge: HueBridgeEmulator) -> None:
    assert hue.lights is not None
    ceiling = hue.lights["1"]
    await ceiling.set_state(on=True, bri=100, transitiontime=4)
    await hue.lights.update()
    assert ceiling.state["on"] is True and ceiling.state["bri"] == 100

    await ceiling.set_state(bri_inc=50)
    await ceiling.set_state(bri_inc=200)  # steps stop at the top
    await hue.lights.update()
    assert ceiling.state["bri"] == 254
    await ceiling.set_state(bri_inc=-300 + 47)
    await hue.lights.update()
    assert ceiling.state["bri"] == 1

    await ceiling.set_state(xy=[0.675, 0.322])
    await hue.lights.update()
    assert ceiling.state["colormode"] == "xy" and ceiling.state["xy"] == [0.675, 0.322]
    await ceiling.set_state(ct=250, ct_inc=40)  # the step beside a value is ignored
    await hue.lights.update()
    assert ceiling.state["colormode"] == "ct" and ceiling.state["ct"] == 250
    await ceiling.set_state(hue=65000, sat=200)
    await ceiling.set_state(hue_inc=1000, sat_inc=100)
    await hue.lights.update()
    assert ceiling.state["colormode"] == "hs"
    assert ceiling.state["hue"] == (65000 + 1000) % 65536 and ceiling.state["sat"] == 254

    await ceiling.set_state(on=False)
    await hue.lights.update()
    assert ceiling.state["on"] is False and bridge.lights["1"].on is False
    with pytest.raises(AiohueException, match="Device is set to off"):  # the bridge's error 201
        await ceiling.set_state(bri_inc=10)
    assert bridge.lights["1"].bri == 1

    desk = hue.lights["3"]
    await desk.set_state(on=True, bri_inc=-20)
    await hue.lights.update()
    assert desk.state["on"] is True and desk.state["bri"] == 234
    assert "colormode" not in desk.state


async def test_group_actions(hue: HueBridgeV1, bridge: HueBridgeEmulator) -> None:
    assert hue.groups is not None
    everything = await hue.groups.get_all_lights_group()
    await everything.set_action(on=True, bri=60)
    assert all(light.on and light.bri == 60 for light in bridge.lights.values())
    kitchen = hue.groups["1"]
    await kitchen.set_action(bri_inc=40, ct=300)
    await hue.groups.update()
    assert kitchen.action["bri"] == 100 and kitchen.action["ct"] == 300
    assert kitchen.state == {"all_on": True, "any_on": True}
    assert bridge.lights["3"].bri == 60  # the study's lamp is not in the kitchen
    await kitchen.set_action(on=False)
    await hue.groups.update()
    assert kitchen.state == {"all_on": False, "any_on": False}
    assert (await hue.groups.get_all_lights_group()).state == {"all_on": False, "any_on": True}


async def test_every_resource_polls(hue: HueBridgeV1, bridge: HueBridgeEmulator) -> None:
    assert hue.config is not None and hue.lights and hue.groups and hue.sensors
    bridge.lights["2"].reachable = False
    await hue.lights.update()
    await hue.groups.update()
    await hue.sensors.update()
    await hue.config.update()
    assert hue.lights["2"].state["reachable"] is False
    assert hue.config.raw["whitelist"]  # our app key is listed


# --- CLIP v2 -----------------------------------------------------------------------------------

async def wait_for(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def v2_bridge() -> AsyncIterator[HueBridgeEmulator]:
    emu = HueBridgeEmulator(name="Hall bridge", clip_v2=True)
    emu.add_light("Ceiling", "Kitchen")
    emu.add_light("Counter strip", "Kitchen")
    emu.add_light("Desk lamp", "Study", color=False)
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
async def hue_v2(v2_bridge: HueBridgeEmulator) -> AsyncIterator[HueBridgeV2]:
    v2_bridge.press_link_button()
    app_key = await create_app_key(f"{v2_bridge.host}:{v2_bridge.port}", "home-assistant#test")
    client = HueBridgeV2(f"{v2_bridge.host}:{v2_bridge.https_port}", app_key)
    await client.initialize()
    yield client
    await client.close()


async def test_v2_setup_reads_every_resource(hue_v2: HueBridgeV2, v2_bridge: HueBridgeEmulator) -> None:
    assert hue_v2.config.bridge_id == v2_bridge.bridge_id.lower()
    assert hue_v2.config.name == "Hall bridge" and hue_v2.config.model_id == "BSB002"
    assert hue_v2.config.check_version("1.50.1950111030")  # HA's minimum for grouped colour
    lights = {light.metadata.name: light for light in hue_v2.lights}
    assert set(lights) == {"Ceiling", "Counter strip", "Desk lamp"}
    ceiling = lights["Ceiling"]
    assert ceiling.id_v1 == "/lights/1" and ceiling.on.on is False
    assert ceiling.dimming is not None and ceiling.dimming.brightness == 100.0
    assert ceiling.color is not None and ceiling.color.gamut_type.value == "C"
    assert ceiling.color_temperature is not None
    assert ceiling.color_temperature.mirek_schema.mirek_minimum == 153
    assert lights["Desk lamp"].color is None  # a white bulb has no colour
    device = hue_v2.lights.get_device(ceiling.id)
    assert device is not None and device.product_data.model_id == "LCT015"
    connectivity = hue_v2.devices.get_zigbee_connectivity(device.id)
    assert connectivity is not None and connectivity.status.value == "connected"
    rooms = {room.metadata.name: room for room in hue_v2.groups.room}
    assert set(rooms) == {"Kitchen", "Study"}
    kitchen = [light.metadata.name for light in hue_v2.groups.room.get_lights(rooms["Kitchen"].id)]
    assert sorted(kitchen) == ["Ceiling", "Counter strip"]


async def test_v2_light_services_come_back_as_events(hue_v2: HueBridgeV2, v2_bridge: HueBridgeEmulator) -> None:
    ceiling = next(light for light in hue_v2.lights if light.id_v1 == "/lights/1")
    seen: list[Any] = []
    hue_v2.lights.subscribe(lambda kind, item: seen.append(item), id_filter=ceiling.id)

    await hue_v2.lights.set_brightness(ceiling.id, 40.0)
    await wait_for(lambda: hue_v2.lights[ceiling.id].on.on
                   and round(hue_v2.lights[ceiling.id].dimming.brightness) == 40)
    assert v2_bridge.lights["1"].on is True and v2_bridge.lights["1"].bri == round(40 * 254 / 100)
    assert seen  # aiohue learned it from the event stream, not from the PUT's answer

    await hue_v2.lights.set_color(ceiling.id, 0.675, 0.322)
    await wait_for(lambda: hue_v2.lights[ceiling.id].color.xy.x == 0.675)
    assert v2_bridge.lights["1"].colormode == "xy"
    await hue_v2.lights.set_color_temperature(ceiling.id, 300)
    await wait_for(lambda: hue_v2.lights[ceiling.id].color_temperature.mirek == 300)
    assert v2_bridge.lights["1"].ct == 300

    async with aiohttp.ClientSession() as http:  # a v1 client changes the light ...
        user = next(iter(v2_bridge.users))
        async with http.put(f"{v2_bridge.url}/api/{user}/lights/1/state", json={"on": False}) as resp:
            assert (await resp.json())[0]["success"] == {"/lights/1/state/on": False}
    await wait_for(lambda: hue_v2.lights[ceiling.id].on.on is False)  # ... and v2 hears it

    with pytest.raises(AiohueException, match="mirek"):  # the bridge's 400, in its words
        await hue_v2.lights.set_color_temperature(ceiling.id, 20)


async def test_v2_grouped_light_switches_the_room(hue_v2: HueBridgeV2, v2_bridge: HueBridgeEmulator) -> None:
    kitchen = next(room for room in hue_v2.groups.room if room.metadata.name == "Kitchen")
    group_id = kitchen.grouped_light
    assert group_id is not None
    await hue_v2.groups.grouped_light.set_state(group_id, on=True, brightness=50.0)
    await wait_for(lambda: hue_v2.groups.grouped_light[group_id].on.on is True)
    assert v2_bridge.lights["1"].on and v2_bridge.lights["2"].on and not v2_bridge.lights["3"].on
    assert v2_bridge.lights["2"].bri == 127


async def test_v2_needs_the_application_key(v2_bridge: HueBridgeEmulator) -> None:
    client = HueBridgeV2(f"{v2_bridge.host}:{v2_bridge.https_port}", "not-a-user")
    with pytest.raises(Unauthorized):
        await client.initialize()
    await client.close()
    async with aiohttp.ClientSession() as http:  # CLIP v2 is not served over plain http
        async with http.get(f"{v2_bridge.url}/clip/v2/resource") as resp:
            assert resp.status == 404


async def discovery_scenario() -> dict[str, Any]:
    """What aiohue's discovery (HA's config flow) says about each kind of bridge on 80/443."""
    assert netns.only_loopback(), "refusing to bind ports 80/443 outside a test namespace"
    found = {}
    for clip_v2 in (False, True):
        emu = HueBridgeEmulator("127.0.0.1", 80, name="Hall bridge", clip_v2=clip_v2, https_port=443)
        await emu.start()
        try:
            async with aiohttp.ClientSession() as http:
                bridge = await discover_bridge("127.0.0.1", http)
            found["v2" if clip_v2 else "v1"] = {"id": bridge.id, "supports_v2": bridge.supports_v2,
                                               "expected_id": emu.mac.replace(":", "")}
        finally:
            await emu.stop()
    return found


def test_discovery_tells_a_v2_bridge_from_a_v1_one() -> None:
    with netns.namespace() as ns:
        found = netns.run_in(ns, MODULE, "discovery_scenario", timeout=60)
    assert found["v1"]["supports_v2"] is False and found["v2"]["supports_v2"] is True, found
    assert all(f["id"] == f["expected_id"] for f in found.values()), found
