"""The Home Assistant driver against a loopback HA over real HTTP and WebSocket."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest

from devices.families.homeassistant.emulator import HomeAssistantEmulator
from devices.families.homeassistant.driver import HomeAssistantDriver, TokenRejected, make_driver
from devices.model import Device, DeviceError, Entity

TOKEN = "ha-secret-token-0123456789"


@pytest.fixture
async def emu() -> AsyncIterator[HomeAssistantEmulator]:
    async with HomeAssistantEmulator(token=TOKEN) as emulator:
        emulator.seed_demo()
        emulator.add_entity("cover.garage_door", "closed", {
            "friendly_name": "Garage Door", "device_class": "garage", "current_position": 0,
            "supported_features": 3, "area": "Garage",
        })
        emulator.add_entity("automation.lights_at_dusk", "on")  # a domain Claw does not mirror
        yield emulator


def device_for(emu: HomeAssistantEmulator) -> Device:
    return Device(device_id="ha-home", family="homeassistant", name="Home Assistant",
                  host=emu.host, port=emu.port)


@pytest.fixture
async def driver(emu: HomeAssistantEmulator) -> AsyncIterator[HomeAssistantDriver]:
    drv = make_driver(device_for(emu), TOKEN)
    yield drv
    await drv.close()


async def test_refresh_mirrors_entities_and_attributes(driver: HomeAssistantDriver) -> None:
    entities = {e.entity_id: e for e in await driver.refresh()}
    assert set(entities) == {
        "climate.hallway", "lock.front_door", "alarm_control_panel.house", "water_heater.spa",
        "sensor.spa_temperature", "binary_sensor.driveway_motion", "cover.garage_door",
    }
    hallway = entities["climate.hallway"]
    assert hallway.name == "Hallway Thermostat"
    assert hallway.state == "heat"
    assert hallway.attributes["current_temperature"] == 19.5
    assert hallway.attributes["temperature"] == 20.0
    assert hallway.services == {"set_temperature", "set_hvac_mode"}
    assert hallway.area is None
    assert hallway.device_id == "ha-home"

    assert entities["lock.front_door"].risk_tier == "security"
    assert entities["water_heater.spa"].attributes["current_temperature"] == 37.0
    assert entities["sensor.spa_temperature"].attributes["unit_of_measurement"] == "°C"
    assert entities["sensor.spa_temperature"].services == set()
    assert entities["binary_sensor.driveway_motion"].device_class == "motion"

    garage = entities["cover.garage_door"]
    assert garage.area == "Garage"
    assert garage.risk_tier == "security"
    # supported_features 3 = open + close: no position, no stop.
    assert garage.services == {"open_cover", "close_cover"}


async def test_include_limits_what_is_mirrored(emu: HomeAssistantEmulator) -> None:
    drv = HomeAssistantDriver(device_for(emu), TOKEN, include=["climate.hallway", "lock.*"])
    try:
        assert sorted(e.entity_id for e in await drv.refresh()) == ["climate.hallway", "lock.front_door"]
        with pytest.raises(DeviceError, match="not one of the Home Assistant entities I mirror"):
            await drv.call("water_heater.spa", "set_temperature", {"temperature": 39})
    finally:
        await drv.close()


async def test_services_change_home_assistant(emu: HomeAssistantEmulator, driver: HomeAssistantDriver) -> None:
    await driver.call("climate.hallway", "set_temperature", {"temperature": 21.5})
    assert emu.states["climate.hallway"]["attributes"]["temperature"] == 21.5
    await driver.call("climate.hallway", "set_hvac_mode", {"hvac_mode": "off"})
    assert emu.states["climate.hallway"]["state"] == "off"

    await driver.call("lock.front_door", "unlock", {})
    assert emu.states["lock.front_door"]["state"] == "unlocked"

    await driver.call("alarm_control_panel.house", "alarm_arm_away", {})
    assert emu.states["alarm_control_panel.house"]["state"] == "armed_away"
    await driver.call("alarm_control_panel.house", "alarm_disarm", {})
    assert emu.states["alarm_control_panel.house"]["state"] == "disarmed"

    await driver.call("water_heater.spa", "set_temperature", {"temperature": 39})
    assert emu.states["water_heater.spa"]["attributes"]["temperature"] == 39.0

    await driver.call("cover.garage_door", "open_cover", {})
    assert emu.states["cover.garage_door"]["state"] == "open"
    # Sent as HA's flat service data, entity_id alongside the data.
    assert emu.service_calls[0] == ("climate", "set_temperature",
                                    {"temperature": 21.5, "entity_id": "climate.hallway"})

    refreshed = {e.entity_id: e for e in await driver.refresh()}
    assert refreshed["lock.front_door"].state == "unlocked"


async def test_refused_and_unsupported_services(emu: HomeAssistantEmulator, driver: HomeAssistantDriver) -> None:
    with pytest.raises(DeviceError, match="refused climate.set_temperature"):
        await driver.call("climate.hallway", "set_temperature", {"temperature": 90})
    assert emu.states["climate.hallway"]["attributes"]["temperature"] == 20.0
    with pytest.raises(DeviceError, match="lock.front_door can't do turn_on"):
        await driver.call("lock.front_door", "turn_on", {})


async def test_bad_token_is_a_clear_error(emu: HomeAssistantEmulator) -> None:
    drv = HomeAssistantDriver(device_for(emu), "not-the-token")
    try:
        with pytest.raises(DeviceError, match="make a new long-lived token") as info:
            await drv.refresh()
        assert "not-the-token" not in str(info.value)
        # Over the WebSocket too, and follow() gives up instead of retrying into an IP ban.
        with pytest.raises(TokenRejected):
            await asyncio.wait_for(drv.follow(lambda e: None), timeout=5)
    finally:
        await drv.close()


@pytest.mark.parametrize(("fail", "message"), [
    ("error", r"Home Assistant at 127\.0\.0\.1:\d+ answered with an error \(HTTP 500\)"),
    ("offline", r"I can't reach Home Assistant at 127\.0\.0\.1:\d+ \(it dropped the connection\)"),
    ("slow", r"I can't reach Home Assistant at 127\.0\.0\.1:\d+ \(timed out after 0\.3 s\)"),
])
async def test_failures_become_device_errors(emu: HomeAssistantEmulator, fail: str, message: str) -> None:
    drv = HomeAssistantDriver(device_for(emu), TOKEN, timeout=0.3)
    emu.fail = fail
    try:
        with pytest.raises(DeviceError, match=message):
            await drv.refresh()
        with pytest.raises(DeviceError):
            await drv.call("lock.front_door", "lock", {})
    finally:
        await drv.close()


async def test_connection_refused(emu: HomeAssistantEmulator) -> None:
    port = emu.port
    await emu.stop()
    drv = HomeAssistantDriver(Device("ha", "homeassistant", "HA", "127.0.0.1", port), TOKEN)
    try:
        with pytest.raises(DeviceError, match=r"can't reach Home Assistant at 127\.0\.0\.1:\d+ \(connection refused\)"):
            await drv.refresh()
    finally:
        await drv.close()


async def _next(queue: asyncio.Queue[Entity], timeout: float = 5.0) -> Entity:
    return await asyncio.wait_for(queue.get(), timeout)


async def test_follow_reports_changes_and_catches_up_after_reconnect(
    emu: HomeAssistantEmulator, driver: HomeAssistantDriver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    changes: asyncio.Queue[Entity] = asyncio.Queue()
    await driver.refresh()  # what the registry already knows: no replay of it on connect
    connects = emu.websocket_connects  # the refresh read the registries over one
    follower = asyncio.create_task(driver.follow(changes.put, min_backoff=0.1, max_backoff=0.4))
    try:
        await emu.wait_for_subscribers(1)
        emu.set_state("binary_sensor.driveway_motion", "on")
        moved = await _next(changes)
        assert (moved.entity_id, moved.state, moved.name) == ("binary_sensor.driveway_motion", "on", "Driveway Motion")

        emu.set_state("automation.lights_at_dusk", "off")  # not mirrored: not reported
        # A change made through the driver is reported once, from HA's answer (not again by its event).
        await driver.call("lock.front_door", "unlock", {})
        emu.set_state("sensor.spa_temperature", "37.5")
        seen = [await _next(changes), await _next(changes)]
        assert [(e.entity_id, e.state) for e in seen] == [
            ("lock.front_door", "unlocked"), ("sensor.spa_temperature", "37.5")]

        # HA restarts: the socket drops and HA stays unreachable for a while; meanwhile things change.
        emu.fail = "offline"
        await emu.drop_websockets()
        emu.set_state("lock.front_door", "locked")
        emu.set_state("climate.hallway", "heat", {"current_temperature": 20.5})
        await asyncio.sleep(0.5)  # a few failed reconnects
        assert changes.empty()
        emu.fail = None
        caught_up = {(e.entity_id, e.state) for e in [await _next(changes), await _next(changes)]}
        assert caught_up == {("lock.front_door", "locked"), ("climate.hallway", "heat")}
        assert emu.websocket_connects == connects + 2

        # An entity removed while Claw was away is reported unavailable once it is back.
        emu.fail = "offline"
        await emu.drop_websockets()
        del emu.states["binary_sensor.driveway_motion"]
        await asyncio.sleep(0.3)
        emu.fail = None
        gone = await _next(changes)
        assert (gone.entity_id, gone.state) == ("binary_sensor.driveway_motion", "unavailable")
        emu.add_entity("binary_sensor.driveway_motion", "on", {"friendly_name": "Driveway Motion"})
        assert (await _next(changes)).state == "on"

        # Following still works on the new connection.
        emu.set_state("binary_sensor.driveway_motion", "off")
        assert (await _next(changes)).state == "off"
        await asyncio.sleep(0.1)
        assert changes.empty()
    finally:
        follower.cancel()
        with pytest.raises(asyncio.CancelledError):
            await follower
    assert TOKEN not in caplog.text
    assert "retrying" in caplog.text


async def test_follow_without_refresh_reports_everything_first(
    emu: HomeAssistantEmulator, driver: HomeAssistantDriver
) -> None:
    seen: list[Entity] = []
    follower = asyncio.create_task(driver.follow(seen.append))
    try:
        await emu.wait_for_subscribers(1)
        async with asyncio.timeout(5):
            while len(seen) < 7:
                await asyncio.sleep(0.02)
        assert len({e.entity_id for e in seen}) == 7
    finally:
        follower.cancel()
        with pytest.raises(asyncio.CancelledError):
            await follower


async def test_emulator_speaks_the_websocket_protocol(emu: HomeAssistantEmulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{emu.url}/api/websocket") as ws:
            assert (await ws.receive_json())["type"] == "auth_required"
            await ws.send_json({"type": "auth", "access_token": TOKEN})
            assert (await ws.receive_json())["type"] == "auth_ok"
            await ws.send_json({"id": 1, "type": "ping"})
            assert await ws.receive_json() == {"id": 1, "type": "pong"}
            await ws.send_json({"id": 2, "type": "get_states"})
            reply = await ws.receive_json()
            assert reply["success"] and reply["id"] == 2
            lock = next(s for s in reply["result"] if s["entity_id"] == "lock.front_door")
            assert set(lock) == {"entity_id", "state", "attributes", "last_changed", "last_updated", "context"}
            await ws.send_json({"id": 3, "type": "subscribe_events", "event_type": "state_changed"})
            assert (await ws.receive_json())["success"]
            async with session.post(f"{emu.url}/api/services/homeassistant/turn_on",
                                    json={"entity_id": "cover.garage_door"},
                                    headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
                changed = await resp.json()
            assert [s["state"] for s in changed] == ["open"]
            event = await ws.receive_json(timeout=5)
            assert event["id"] == 3 and event["type"] == "event"
            data = event["event"]["data"]
            assert (data["old_state"]["state"], data["new_state"]["state"]) == ("closed", "open")
        async with session.ws_connect(f"{emu.url}/api/websocket") as ws:
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": "wrong"})
            assert (await ws.receive_json())["type"] == "auth_invalid"
        async with session.get(f"{emu.url}/api/", headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
            assert await resp.json() == {"message": "API running."}
        async with session.get(f"{emu.url}/api/states/lock.nope",
                               headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
            assert resp.status == 404


@pytest.fixture
async def house() -> AsyncIterator[HomeAssistantEmulator]:
    """A Home Assistant whose registries place things as an owner would have set them up."""
    async with HomeAssistantEmulator(token=TOKEN) as emulator:
        reg = emulator.registries
        reg.area("Kitchen", floor="Ground Floor", aliases=["cookhouse"])
        reg.area("Study", floor="First Floor")
        hub = reg.device("Kitchen Hub", area="Kitchen")
        emulator.add_entity("light.ceiling", "off", {"friendly_name": "Kitchen Ceiling"}, device=hub)
        # its own area wins over its device's
        emulator.add_entity("light.lamp", "off", {"friendly_name": "Desk Lamp"}, device=hub, area="Study",
                            aliases=["reading light"])
        emulator.add_entity("sensor.outside", "4.5", {"friendly_name": "Outside"})  # in no registry area
        emulator.add_entity("vacuum.robot", "docked", {"friendly_name": "Robot"}, area="Study")
        emulator.add_entity("valve.main", "open", {"friendly_name": "Main Valve", "current_position": 100,
                                                   "supported_features": 15})
        emulator.add_entity("todo.shopping_list", "", {"friendly_name": "Shopping List",
                                                       "items": [{"summary": "milk"}]})
        yield emulator


async def test_areas_floors_and_aliases_come_from_the_registries(house: HomeAssistantEmulator) -> None:
    drv = make_driver(device_for(house), TOKEN)
    try:
        entities = {e.entity_id: e for e in await drv.refresh()}
    finally:
        await drv.close()
    ceiling, lamp, outside = entities["light.ceiling"], entities["light.lamp"], entities["sensor.outside"]
    assert (ceiling.area, ceiling.floor, ceiling.aliases) == ("Kitchen", "Ground Floor", [])  # by its device
    assert (lamp.area, lamp.floor, lamp.aliases) == ("Study", "First Floor", ["reading light"])
    assert (outside.area, outside.floor) == (None, None)
    assert "area" not in ceiling.attributes
    assert "config/entity_registry/get_entries" in house.commands_seen


async def test_a_registry_change_is_followed(house: HomeAssistantEmulator) -> None:
    drv = make_driver(device_for(house), TOKEN)
    changes: asyncio.Queue[Entity] = asyncio.Queue()
    await drv.refresh()
    follower = asyncio.create_task(drv.follow(changes.put))
    try:
        await house.wait_for_subscribers(1)
        house.update_registry("entity", "light.ceiling", area_id="study", aliases=["big light"])
        moved = await _next(changes)
        assert (moved.entity_id, moved.area, moved.floor, moved.aliases) == (
            "light.ceiling", "Study", "First Floor", ["big light"])
        house.update_registry("area", "study", floor_id=None)  # the owner takes the study off its floor
        seen = {(await _next(changes)).entity_id for _ in range(3)}
        assert seen == {"light.ceiling", "light.lamp", "vacuum.robot"}
        assert (await drv.refresh())[0].floor is None
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        await drv.close()


async def test_todo_lists_vacuums_and_valves(house: HomeAssistantEmulator) -> None:
    drv = make_driver(device_for(house), TOKEN)
    try:
        entities = {e.entity_id: e for e in await drv.refresh()}
        shopping = entities["todo.shopping_list"]
        assert (shopping.state, shopping.attributes["items"]) == ("1", [{"summary": "milk", "status": "needs_action"}])
        assert shopping.services == {"add_item", "update_item", "remove_item"}
        assert entities["vacuum.robot"].services == {"start", "pause", "stop", "return_to_base", "locate",
                                                     "clean_area"}

        await drv.call("todo.shopping_list", "add_item", {"item": "bread"})
        await drv.call("todo.shopping_list", "update_item", {"item": "milk", "status": "completed"})
        items = {e.entity_id: e for e in await drv.refresh()}["todo.shopping_list"].attributes["items"]
        assert items == [{"summary": "milk", "status": "completed"}, {"summary": "bread", "status": "needs_action"}]
        await drv.call("todo.shopping_list", "remove_item", {"item": "milk"})
        assert [i["summary"] for i in house.todo_items["todo.shopping_list"]] == ["bread"]
        with pytest.raises(DeviceError, match="refused todo.remove_item"):
            await drv.call("todo.shopping_list", "remove_item", {"item": "cheese"})

        # Claw names the area; HA gets its id (by name or alias, in any case).
        await drv.call("vacuum.robot", "clean_area", {"area": "COOKHOUSE"})
        assert house.service_calls[-1] == ("vacuum", "clean_area",
                                           {"cleaning_area_id": ["kitchen"], "entity_id": "vacuum.robot"})
        assert house.states["vacuum.robot"]["state"] == "cleaning"
        with pytest.raises(DeviceError, match="has no area called 'Attic'"):
            await drv.call("vacuum.robot", "clean_area", {"area": "Attic"})
        for service, state in (("pause", "paused"), ("stop", "idle"), ("locate", "idle"),
                               ("return_to_base", "returning")):
            await drv.call("vacuum.robot", service, {})
            assert house.states["vacuum.robot"]["state"] == state, service

        await drv.call("valve.main", "close_valve", {})
        assert (house.states["valve.main"]["state"], house.states["valve.main"]["attributes"]["current_position"]) == (
            "closed", 0)
        await drv.call("valve.main", "open_valve", {})
        assert house.states["valve.main"]["attributes"]["current_position"] == 100
    finally:
        await drv.close()


async def test_while_following_commands_and_refreshes_read_nothing_back(house: HomeAssistantEmulator) -> None:
    drv = make_driver(device_for(house), TOKEN)
    changes: list[Entity] = []
    await drv.refresh()
    follower = asyncio.create_task(drv.follow(changes.append))
    try:
        await house.wait_for_subscribers(1)
        async with asyncio.timeout(5):  # caught up
            while drv._live is None:
                await asyncio.sleep(0.01)
        before = list(house.requests_seen)
        await drv.call("light.lamp", "turn_on", {"brightness": 200})
        # the change reached Claw before the command returned, from HA's answer
        assert [(e.entity_id, e.state, e.attributes["brightness"]) for e in changes] == [("light.lamp", "on", 200)]
        lamp = {e.entity_id: e for e in await drv.refresh()}["light.lamp"]
        assert lamp.state == "on"
        assert (await drv.refresh_entity("light.lamp")).state == "on"
        assert house.requests_seen[len(before):] == ["POST /api/services/light/turn_on"]
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        await drv.close()


async def test_refresh_entity_reads_one_state(house: HomeAssistantEmulator) -> None:
    drv = make_driver(device_for(house), TOKEN)
    try:
        await drv.refresh()
        house.set_state("light.lamp", "on", {"brightness": 10})
        before = len(house.requests_seen)
        lamp = await drv.refresh_entity("light.lamp")
        assert (lamp.state, lamp.attributes["brightness"], lamp.area) == ("on", 10, "Study")
        assert house.requests_seen[before:] == ["GET /api/states/light.lamp"]
        await drv.call("todo.shopping_list", "add_item", {"item": "tea"})
        house.set_items("todo.shopping_list", [])  # emptied in HA meanwhile
        shopping = await drv.refresh_entity("todo.shopping_list")
        assert (shopping.state, shopping.attributes["items"]) == ("0", [])
    finally:
        await drv.close()


async def test_a_home_assistant_without_floors_still_places_its_areas() -> None:
    # HA before 2024.4 has no floor registry: its areas are on no floor, and the rest works
    async with HomeAssistantEmulator(token=TOKEN, commands={
            "get_states", "subscribe_events", "config/area_registry/list", "config/device_registry/list",
            "config/entity_registry/get_entries"}) as old:
        old.add_entity("light.ceiling", "off", {"friendly_name": "Kitchen Ceiling"}, area="Kitchen")
        drv = make_driver(device_for(old), TOKEN)
        try:
            ceiling = (await drv.refresh())[0]
        finally:
            await drv.close()
        assert (ceiling.area, ceiling.floor) == ("Kitchen", None)
        assert "config/floor_registry/list" in old.commands_seen


async def test_offline_drops_the_followed_socket_and_refresh_reads_again(house: HomeAssistantEmulator) -> None:
    drv = HomeAssistantDriver(device_for(house), TOKEN, timeout=0.5)
    follower = asyncio.create_task(drv.follow(lambda e: None, min_backoff=0.05, max_backoff=0.1))
    try:
        await house.wait_for_subscribers(1)
        house.fail = "offline"
        async with asyncio.timeout(5):
            while house.subscriber_count:
                await asyncio.sleep(0.02)
        # no longer following: the cached copy is not passed off as HA's state
        with pytest.raises(DeviceError, match="can't reach Home Assistant"):
            await drv.refresh()
        house.fail = None
        await house.wait_for_subscribers(1)
        assert {e.entity_id for e in await drv.refresh()} >= {"light.lamp", "todo.shopping_list"}
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        await drv.close()


async def test_claws_home_takes_floors_and_area_aliases_from_home_assistant(house: HomeAssistantEmulator, tmp_path) -> None:
    from devices.home import Home
    from memory.store import Store

    home = Home(Store(tmp_path / "claw.db"))
    home.set_area("Study", floor="Upstairs")  # what the owner said wins over HA's
    drv = make_driver(device_for(house), TOKEN)
    try:
        await home.add(drv)
    finally:
        await drv.close()
    ceiling, lamp = home.entities["light.ceiling"], home.entities["light.lamp"]
    assert (ceiling.area, ceiling.floor, lamp.floor) == ("Kitchen", "Ground Floor", "Upstairs")
    assert home.areas["Kitchen"].floor == "Ground Floor"
    assert home.named("reading light") == [lamp]
    assert home.area_named("cookhouse") is home.areas["Kitchen"]  # HA's alias of the area
