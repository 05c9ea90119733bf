"""Adopting what discovery finds: Hue link-button pairing, Home Assistant's token, the owner's
one announcement, devices that leave. Discovery's own multicast is tested in test_discovery.py;
here its findings are handed to the House directly, on loopback."""
from __future__ import annotations

import asyncio

import pytest

from claw.house import House, announcement
from claw.house_tools import register as register_house_tools
from claw.tools import ToolRegistry
from devices.discovery import Found
from devices.families.homeassistant.emulator import HomeAssistantEmulator
from devices.families.hue.emulator import HueBridgeEmulator
from devices.home import Home
from devices.model import Device, DeviceError
from memory.store import Store

TOKEN = "x" * 64


@pytest.fixture
async def house(tmp_path):
    notices: list[str] = []

    async def notify(text: str) -> None:
        notices.append(text)

    store = Store(tmp_path / "claw.db")
    h = House(Home(store, device_timeout=1.0), store, notify, ["127.0.0.1"], pair_retry=0.1)
    h.notices = notices  # type: ignore[attr-defined]
    yield h
    await h.stop()
    for d in list(h.home.drivers.values()):
        await d.close()


async def wait_for(predicate, timeout=5.0):
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_hue_asks_for_the_link_button_once_then_pairs(house):
    bridge = HueBridgeEmulator()
    bridge.add_light("Desk Lamp", "Study")
    bridge.add_light("Ceiling", "Kitchen")
    await bridge.start()
    try:
        await house._found(Found("hue:abc", "hue", bridge.host, bridge.port, "Hue Bridge", {}))
        await wait_for(lambda: house.notices)
        assert "press the round link button" in house.notices[0]
        await asyncio.sleep(0.3)  # retries go on quietly
        assert len(house.notices) == 1 and not house.home.entities
        bridge.press_link_button()
        await wait_for(lambda: len(house.home.entities) == 2)
        await wait_for(lambda: len(house.notices) == 2, timeout=4)
        assert house.notices[1] == "I found a Hue bridge with 2 lights."
        # the username is kept: a restart adopts the bridge without asking again
        assert house.store.get_setting("hue:hue:abc:username")
    finally:
        await bridge.stop()


async def test_home_assistant_waits_for_the_owners_token(house):
    ha = HomeAssistantEmulator(token=TOKEN)
    ha.seed_demo()
    await ha.start()
    registry = ToolRegistry()
    register_house_tools(registry, house)
    try:
        await house._found(Found("home_assistant:1", "home_assistant", ha.host, ha.port, "Home", {}))
        await wait_for(lambda: house.notices)
        assert "long-lived access token" in house.notices[0]
        assert not house.home.entities
        tool = registry.get("ConnectHomeAssistant")
        result = await tool.fn(None, token=TOKEN)
        assert result.startswith("Connected to Home Assistant")
        assert "lock.front_door" in house.home.entities
        assert house.store.get_setting("home_assistant:token") == TOKEN
    finally:
        await ha.stop()


async def test_a_device_that_leaves_becomes_unavailable_not_deleted(house):
    bridge = HueBridgeEmulator()
    bridge.add_light("Desk Lamp", "Study")
    await bridge.start()
    bridge.press_link_button()
    try:
        await house._found(Found("hue:b", "hue", bridge.host, bridge.port, "Hue", {}))
        await wait_for(lambda: "light.desk_lamp" in house.home.entities)
        await house._lost("hue:b")
        assert house.home.entities["light.desk_lamp"].state == "unavailable"
        assert house.home.drivers["hue:b"].device.available is False
        await house._found(Found("hue:b", "hue", bridge.host, bridge.port, "Hue", {}))
        assert house.home.drivers["hue:b"].device.available is True
        assert house.home.entities["light.desk_lamp"].state == "off"
    finally:
        await bridge.stop()


def test_announcement_reads_like_a_sentence():
    def d(family: str) -> Device:
        return Device(family + "1", family, family, "127.0.0.1", 1)

    assert announcement([(d("sonos"), 1), (d("sonos"), 1), (d("hue"), 4)]) == \
        "I found two Sonos speakers and a Hue bridge with 4 lights."
    assert announcement([(d("camera"), 1)]) == "I found a camera."
    assert announcement([(d("home_assistant"), 6), (d("wled"), 1), (d("shelly"), 1)]) == \
        "I found a Home Assistant, a WLED light strip and a Shelly device."


async def test_a_native_speaker_wins_over_its_home_assistant_mirror(house):
    from devices.families.sonos.emulator import SonosEmulator

    ha = HomeAssistantEmulator(token=TOKEN)
    ha.add_entity("media_player.study", "playing", {"friendly_name": "Study (via HA)",
                                                    "supported_features": 21437})
    speaker = SonosEmulator("127.0.4.1", "Study", household="Sonos_mirror_test")
    await ha.start()
    await speaker.start()
    try:
        await house._found(Found("home_assistant:1", "home_assistant", ha.host, ha.port, "HA", {}))
        await house.connect_home_assistant(TOKEN)
        await house._found(Found("sonos:1", "sonos", speaker.host, speaker.port, "Study", {}))
        await house.home.refresh_all()  # Home Assistant reports its copy again
        study = house.home.entities["media_player.study"]
        assert study.device_id == "sonos:1"
        assert house.home.drivers[study.device_id].device.family == "sonos"
    finally:
        await speaker.stop()
        await ha.stop()


async def test_a_wrong_home_assistant_token_is_refused_and_a_right_one_still_works(house):
    ha = HomeAssistantEmulator(token=TOKEN)
    ha.seed_demo()
    await ha.start()
    registry = ToolRegistry()
    register_house_tools(registry, house)
    tool = registry.get("ConnectHomeAssistant")
    try:
        await house._found(Found("home_assistant:1", "home_assistant", ha.host, ha.port, "Home", {}))
        with pytest.raises(DeviceError, match="rejected the token"):
            await tool.fn(None, token="y" * 64)
        assert "lock.front_door" not in house.home.entities
        assert (await tool.fn(None, token=TOKEN)).startswith("Connected to Home Assistant")
        assert "lock.front_door" in house.home.entities
    finally:
        await ha.stop()
