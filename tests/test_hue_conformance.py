"""The Hue emulator as Home Assistant's own library sees it: aiohue, the client HA's hue
integration runs, against the emulated bridge on loopback.

Each step is what HA does: `discover_bridge` (is it a bridge, does it speak CLIP v2: this one
honestly does not, so HA uses v1), `create_app_key` after the link button, `HueBridgeV1`
setup (`initialize`: config, lights, groups, sensors), the light services (on/off,
brightness and its steps, colour, colour temperature, transitions), group 0 and room actions,
and the polls of each resource.
"""
from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohue import HueBridgeV1, create_app_key
from aiohue.discovery import discover_bridge
from aiohue.errors import AiohueException, LinkButtonNotPressed, Unauthorized

from devices.families.hue.emulator import HueBridgeEmulator


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
