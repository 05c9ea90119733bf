"""The Home Assistant emulator, refereed by hass-client (the WebSocket client of HA's own
ecosystem, written by other people): its setup and the calls HA's clients make pass, and what
the library returns is what a real HA would say."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hass_client import HomeAssistantClient
from hass_client.exceptions import AuthenticationFailed, FailedCommand
from hass_client.models import Config
from hass_client.utils import get_websocket_url

from devices.families.homeassistant.emulator import HomeAssistantEmulator

TOKEN = "conformance-token-0123456789"


@pytest.fixture
async def emu() -> AsyncIterator[HomeAssistantEmulator]:
    async with HomeAssistantEmulator(token=TOKEN, location_name="Test House") as emulator:
        reg = emulator.registries
        reg.floor("Ground Floor", aliases=["downstairs"], level=0)
        reg.area("Kitchen", floor="Ground Floor", aliases=["cookhouse"])
        reg.area("Study")
        hub = reg.device("Ceiling Hub", area="Kitchen")
        emulator.add_entity("light.kitchen_ceiling", "off", {"friendly_name": "Kitchen Ceiling"}, device=hub)
        emulator.add_entity("light.kitchen_pendant", "on", {"friendly_name": "Kitchen Pendant", "brightness": 80},
                            area="Kitchen", aliases=["island light"])
        emulator.add_entity("light.desk_lamp", "off", {"friendly_name": "Desk Lamp"}, area="Study")
        emulator.add_entity("switch.kettle", "off", {"friendly_name": "Kettle"}, area="Kitchen")
        emulator.add_entity("vacuum.robot", "docked", {"friendly_name": "Robot"}, area="Study")
        emulator.add_entity("todo.shopping_list", "", {"friendly_name": "Shopping List", "items": [
            {"summary": "milk"}, {"summary": "eggs", "status": "completed"}]})
        yield emulator


@pytest.fixture
async def client(emu: HomeAssistantEmulator) -> AsyncIterator[HomeAssistantClient]:
    async with aiohttp.ClientSession() as session:
        async with HomeAssistantClient(get_websocket_url(emu.url), TOKEN, session) as ha:
            yield ha


async def test_setup_and_config(emu: HomeAssistantEmulator, client: HomeAssistantClient) -> None:
    assert client.connected and client.version == "2026.11.1"
    config = await client.get_config()
    # every field of hass-client's Config model, as HA's core config gives them
    assert set(config) >= set(Config.__annotations__)
    assert config["location_name"] == "Test House" and config["state"] == "RUNNING"
    assert {"light", "todo", "vacuum"} <= set(config["components"])
    async with aiohttp.ClientSession() as session, session.get(
            f"{emu.url}/api/config", headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
        assert await resp.json() == config


async def test_wrong_token_fails_authentication(emu: HomeAssistantEmulator) -> None:
    async with aiohttp.ClientSession() as session:
        ha = HomeAssistantClient(get_websocket_url(emu.url), "wrong-token", session)
        with pytest.raises(AuthenticationFailed, match="Invalid access token"):
            await ha.connect()


async def test_states_and_services(client: HomeAssistantClient) -> None:
    states = {s["entity_id"]: s for s in await client.get_states()}
    assert states["light.kitchen_pendant"]["attributes"] == {"friendly_name": "Kitchen Pendant", "brightness": 80}
    assert states["todo.shopping_list"]["state"] == "1"  # items still to do, as HA counts them
    assert set(states["light.desk_lamp"]) == {"entity_id", "state", "attributes", "last_changed",
                                               "last_updated", "context"}
    services = await client.get_services()
    assert {"turn_on", "turn_off", "toggle"} <= set(services["light"])
    assert services["todo"]["get_items"]["response"] == {"optional": False}
    assert services["vacuum"]["clean_area"]["fields"]["cleaning_area_id"]["required"] is True
    assert "lock" not in services  # only the integrations the house has


async def test_registries(client: HomeAssistantClient) -> None:
    floors = await client.send_command("config/floor_registry/list")
    assert [(f["floor_id"], f["name"], f["aliases"], f["level"]) for f in floors] == [
        ("ground_floor", "Ground Floor", ["downstairs"], 0)]
    areas = {a["area_id"]: a for a in await client.get_area_registry()}
    assert set(areas) == {"kitchen", "study"}
    assert (areas["kitchen"]["name"], areas["kitchen"]["floor_id"], areas["kitchen"]["aliases"]) == (
        "Kitchen", "ground_floor", ["cookhouse"])
    devices = await client.get_device_registry()
    assert [(d["name"], d["area_id"]) for d in devices] == [("Ceiling Hub", "kitchen")]
    entities = {e["entity_id"]: e for e in await client.get_entity_registry()}
    ceiling = entities["light.kitchen_ceiling"]
    assert (ceiling["area_id"], ceiling["device_id"]) == (None, devices[0]["id"])  # in the kitchen by its device
    assert entities["light.desk_lamp"]["area_id"] == "study"
    assert "aliases" not in ceiling  # `list` leaves them out, as HA's does
    pendant = await client.get_entity_registry_entry("light.kitchen_pendant")
    assert pendant["aliases"] == ["island light"]
    with pytest.raises(FailedCommand, match="Entity not found"):
        await client.get_entity_registry_entry("light.nowhere")


async def test_call_service_by_entity_and_by_area(emu: HomeAssistantEmulator, client: HomeAssistantClient) -> None:
    result = await client.call_service("light", "turn_on", {"brightness_pct": 50},
                                       target={"entity_id": "light.desk_lamp"})
    assert set(result) == {"context"} and set(result["context"]) == {"id", "parent_id", "user_id"}
    assert (emu.states["light.desk_lamp"]["state"], emu.states["light.desk_lamp"]["attributes"]["brightness"]) == (
        "on", 128)
    # By area: every light in the kitchen, the one placed there by its device too; not the
    # kettle (a switch) and not the study's lamp.
    await client.call_service("light", "turn_off", target={"area_id": "kitchen"})
    assert {e: s["state"] for e, s in emu.states.items() if e.startswith(("light.", "switch."))} == {
        "light.kitchen_ceiling": "off", "light.kitchen_pendant": "off", "light.desk_lamp": "on",
        "switch.kettle": "off"}
    await client.call_service("homeassistant", "turn_on", target={"floor_id": "ground_floor"})
    assert {emu.states[e]["state"] for e in ("light.kitchen_ceiling", "light.kitchen_pendant", "switch.kettle")} == {"on"}
    with pytest.raises(FailedCommand, match="Service light.dance not found"):
        await client.call_service("light", "dance", target={"entity_id": "light.desk_lamp"})
    with pytest.raises(FailedCommand, match="Service lock.unlock not found"):  # no lock in this house
        await client.call_service("lock", "unlock", target={"area_id": "kitchen"})


async def test_area_target_over_rest(emu: HomeAssistantEmulator) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
        async with session.post(f"{emu.url}/api/services/light/turn_on", json={"area_id": "kitchen"}) as resp:
            assert resp.status == 200
            changed = await resp.json()
    assert sorted(s["entity_id"] for s in changed) == ["light.kitchen_ceiling", "light.kitchen_pendant"]


async def test_vacuum_services(emu: HomeAssistantEmulator, client: HomeAssistantClient) -> None:
    steps = [("start", {}, "cleaning"), ("pause", {}, "paused"), ("stop", {}, "idle"),
             ("locate", {}, "idle"), ("clean_area", {"cleaning_area_id": ["kitchen"]}, "cleaning"),
             ("return_to_base", {}, "returning")]
    for service, data, state in steps:
        await client.call_service("vacuum", service, data, target={"entity_id": "vacuum.robot"})
        assert emu.states["vacuum.robot"]["state"] == state, service
    with pytest.raises(FailedCommand, match="not mapped"):
        await client.call_service("vacuum", "clean_area", {"cleaning_area_id": ["attic"]},
                                  target={"entity_id": "vacuum.robot"})


async def test_todo_items(emu: HomeAssistantEmulator, client: HomeAssistantClient) -> None:
    listed = await client.send_command("todo/item/list", entity_id="todo.shopping_list")
    assert [(i["summary"], i["status"]) for i in listed["items"]] == [("milk", "needs_action"), ("eggs", "completed")]
    assert all(i["uid"] for i in listed["items"])
    pushed: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await client.subscribe(pushed.put_nowait, "todo/item/subscribe", entity_id="todo.shopping_list")
    assert len((await asyncio.wait_for(pushed.get(), 5))["event"]["items"]) == 2

    await client.call_service("todo", "add_item", {"item": "bread"}, target={"entity_id": "todo.shopping_list"})
    assert [i["summary"] for i in (await asyncio.wait_for(pushed.get(), 5))["event"]["items"]] == ["milk", "eggs", "bread"]
    assert emu.states["todo.shopping_list"]["state"] == "2"
    await client.call_service("todo", "update_item", {"item": "milk", "status": "completed"},
                              target={"entity_id": "todo.shopping_list"})
    await client.call_service("todo", "remove_item", {"item": ["eggs"]}, target={"entity_id": "todo.shopping_list"})
    answer = await client.send_command("call_service", domain="todo", service="get_items",
                                       target={"entity_id": "todo.shopping_list"}, return_response=True)
    assert [(i["summary"], i["status"]) for i in answer["response"]["todo.shopping_list"]["items"]] == [
        ("milk", "completed"), ("bread", "needs_action")]
    assert emu.states["todo.shopping_list"]["state"] == "1"
    with pytest.raises(FailedCommand, match="requires responses"):
        await client.call_service("todo", "get_items", target={"entity_id": "todo.shopping_list"})
    with pytest.raises(FailedCommand, match="Unable to find To-do item: cheese"):
        await client.call_service("todo", "remove_item", {"item": "cheese"}, target={"entity_id": "todo.shopping_list"})


async def test_subscribe_events(emu: HomeAssistantEmulator, client: HomeAssistantClient) -> None:
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    unsubscribe = await client.subscribe_events(events.put_nowait, "state_changed")
    await client.call_service("switch", "turn_on", target={"entity_id": "switch.kettle"})
    event = await asyncio.wait_for(events.get(), 5)
    assert event["event_type"] == "state_changed"
    data = event["data"]
    assert (data["entity_id"], data["old_state"]["state"], data["new_state"]["state"]) == ("switch.kettle", "off", "on")
    areas: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await client.subscribe_events(areas.put_nowait, "area_registry_updated")
    emu.update_registry("area", "study", aliases=["office"])
    assert (await asyncio.wait_for(areas.get(), 5))["data"] == {"action": "update", "area_id": "study"}
    unsubscribe()
    await asyncio.sleep(0.05)  # the unsubscribe is sent in the background
    emu.set_state("switch.kettle", "off")
    await client.get_states()  # a round trip: any event sent before its answer has arrived
    assert events.empty()


async def test_subscribe_entities(emu: HomeAssistantEmulator, client: HomeAssistantClient) -> None:
    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await client.subscribe_entities(messages.put_nowait, ["light.desk_lamp", "switch.kettle"])
    first = await asyncio.wait_for(messages.get(), 5)
    assert set(first["a"]) == {"light.desk_lamp", "switch.kettle"}
    lamp = first["a"]["light.desk_lamp"]
    assert (lamp["s"], lamp["a"], isinstance(lamp["c"], str), isinstance(lamp["lc"], float)) == (
        "off", {"friendly_name": "Desk Lamp"}, True, True)
    await client.call_service("light", "turn_on", {"brightness": 200}, target={"entity_id": "light.desk_lamp"})
    change = (await asyncio.wait_for(messages.get(), 5))["c"]["light.desk_lamp"]
    assert change["+"]["s"] == "on" and change["+"]["a"] == {"brightness": 200}
    await client.call_service("light", "turn_on", target={"entity_id": "light.kitchen_pendant"})  # not watched
    await client.call_service("light", "turn_off", target={"entity_id": "light.desk_lamp"})
    change = (await asyncio.wait_for(messages.get(), 5))["c"]["light.desk_lamp"]
    assert change["+"]["s"] == "off" and change["+"]["a"] == {"brightness": None}
