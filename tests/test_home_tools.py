"""Generic tools, target resolution and the policy, against real emulated devices."""
from __future__ import annotations

import pytest

from claw.tools import Caller
from devices.targets import TargetError, resolve
from tests.home_fixtures import small_home

OWNER = Caller("owner", "c", "test")
MEMBER = Caller("member", "m", "test")


@pytest.fixture
async def h(tmp_path):
    async with small_home(tmp_path) as home:
        yield home


def names(entities):
    return sorted(e.name for e in entities)


async def test_resolve_by_name_alias_area_floor(h):
    home = h.home
    assert names(resolve(home, name="kitchen ceiling")) == ["Kitchen Ceiling"]
    assert names(resolve(home, name="The Desk Lamp")) == ["Desk Lamp"]
    assert names(resolve(home, area="Kitchen", domain="light")) == ["Kitchen Ceiling", "Kitchen Pendant"]
    assert names(resolve(home, area="lounge", domain="light")) == ["Floor Lamp"]  # area alias
    assert names(resolve(home, floor="ground floor", domain="light")) == [
        "Floor Lamp", "Kitchen Ceiling", "Kitchen Pendant"]
    await home.customize("light.desk_lamp", aliases=["reading light"])
    assert names(resolve(home, name="reading light")) == ["Desk Lamp"]
    assert names(resolve(home, name="ceiling", area="kitchen")) == ["Kitchen Ceiling"]


async def test_resolution_errors_say_what_is_wrong(h):
    home = h.home
    with pytest.raises(TargetError) as e:
        resolve(home, name="lamp")
    assert e.value.code == "duplicate_entities"
    assert "Desk Lamp (Study)" in str(e.value) and "Floor Lamp (Living Room)" in str(e.value)
    assert str(e.value).endswith("Which one?")
    with pytest.raises(TargetError, match="I don't have a device called 'toaster'") as e:
        resolve(home, name="toaster")
    assert e.value.code == "no_entity"
    with pytest.raises(TargetError, match="I don't have an area called 'attic'") as e:
        resolve(home, area="attic", domain="light")
    assert e.value.code == "no_area"
    with pytest.raises(TargetError, match="I don't have a floor called 'basement'"):
        resolve(home, floor="basement")
    with pytest.raises(TargetError, match="I don't have a light called 'ceiling' in the Study"):
        resolve(home, area="Study", domain="light", name="ceiling")
    with pytest.raises(TargetError, match="can't media pause"):
        resolve(home, name="Desk Lamp", service="media_pause")


async def test_turn_on_an_area_changes_the_real_bridge(h):
    action = await h.executor.run("HassTurnOn", {"area": "Kitchen", "domain": ["light"]}, OWNER)
    assert action.ok, action.result
    assert h.light("Kitchen Ceiling").on and h.light("Kitchen Pendant").on
    assert not h.light("Desk Lamp").on
    await h.home.settle()
    assert h.home.entities["light.kitchen_ceiling"].state == "on"


async def test_light_set_brightness_and_color(h):
    action = await h.executor.run("HassLightSet", {"name": "Desk Lamp", "brightness": 30}, OWNER)
    assert action.ok, action.result
    assert h.light("Desk Lamp").on and h.light("Desk Lamp").bri == round(254 * 0.3)
    assert "30% brightness" in action.result, action.result
    bad = await h.executor.run("HassLightSet", {"name": "Desk Lamp", "brightness": 300}, OWNER)
    assert not bad.ok and "0 to 100" in bad.result


async def test_security_tier_needs_confirmation_and_members_are_refused(h):
    action = await h.executor.run("HassTurnOff", {"name": "Front Door"}, OWNER)  # unlock
    assert not action.ok
    assert "needs the owner's confirmation" in action.result
    assert h.ha.states["lock.front_door"]["state"] == "locked"
    action = await h.executor.run("HassTurnOn", {"name": "Garage Door"}, MEMBER)  # open
    assert not action.ok and "Only the owner" in action.result
    assert h.ha.states["cover.garage_door"]["state"] == "closed"


async def test_confirmed_security_action_runs(h):
    asked = []

    async def confirm(caller, what, entities, service, data):
        asked.append((what, service))
        return True

    h.executor.confirmer = confirm
    action = await h.executor.run("HassTurnOff", {"name": "Front Door"}, OWNER)
    assert action.ok, action.result
    assert asked == [("Unlock the Front Door", "unlock")]
    assert h.ha.states["lock.front_door"]["state"] == "unlocked"


async def test_owner_can_raise_a_tier(h):
    action = await h.executor.run("SetRiskTier", {"entity": "Desk Lamp", "tier": "security"}, OWNER)
    assert action.ok, action.result
    action = await h.executor.run("HassTurnOn", {"name": "Desk Lamp"}, OWNER)
    assert not action.ok and "confirmation" in action.result
    assert not h.light("Desk Lamp").on


async def test_rename_survives_rediscovery_and_restart(h, tmp_path):
    await h.executor.run("RenameDevice", {"entity": "Floor Lamp", "new_name": "Reading Lamp",
                                          "area": "Study"}, OWNER)
    assert h.home.entities["light.floor_lamp"].name == "Reading Lamp"
    await h.home.refresh_all()  # the bridge still says "Floor Lamp"
    assert h.home.entities["light.floor_lamp"].name == "Reading Lamp"
    assert h.home.entities["light.floor_lamp"].area == "Study"
    from devices.home import Home
    from devices.families.hue.driver import HueDriver

    again = Home(h.store)
    driver = h.home.drivers["hue:1"]
    fresh = HueDriver(driver.device, driver.username, timeout=1.0)
    await again.add(fresh)
    assert again.entities["light.floor_lamp"].name == "Reading Lamp"
    await fresh.close()


async def test_offline_device_gives_a_clear_answer_in_bounded_time(h):
    import time

    h.hue.fail = "offline"
    t = time.monotonic()
    action = await h.executor.run("HassTurnOn", {"name": "Desk Lamp"}, OWNER)
    assert time.monotonic() - t < 5
    assert not action.ok
    assert "Hue" in action.result and "127.0.0.1" in action.result
    assert h.home.entities["light.desk_lamp"].state == "unavailable"
    # the other device still works
    ok = await h.executor.run("HassClimateSetTemperature", {"area": "Hallway", "temperature": 21}, OWNER)
    assert ok.ok, ok.result
    assert h.ha.states["climate.hallway"]["attributes"]["temperature"] == 21


async def test_live_context_reports_state(h):
    action = await h.executor.run("GetLiveContext", {"area": "Hallway"}, OWNER)
    assert "Hallway Thermostat (Hallway): heat" in action.result
    assert "currently 19.5" in action.result
