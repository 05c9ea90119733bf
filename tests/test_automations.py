"""Automations and routines, end to end over real HTTP (POST /api/chat, /api/automations) against
a small real house (a Hue bridge and a Home Assistant on loopback), with the scheduler's clock
moved by the test instead of sleeping. No model is configured: every reply here is model-free.
"""
from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import AsyncIterator
from zoneinfo import ZoneInfo

import httpx
from astral import Observer
from astral.sun import sunset

from claw.config import LocationConfig
from claw.service import Claw
from claw.tools import Caller
from messaging.feeds import Subscription
from messaging.outbox import OutItem
from tests.anthropic_standin import AnthropicStandIn, text_reply, tool_reply
from tests.conftest import make_config, serve
from tests.home_fixtures import SmallHome, devices_in

ZURICH = ZoneInfo("Europe/Zurich")
# A Monday in winter: 2026-12-07.
MONDAY = datetime(2026, 12, 7, tzinfo=ZURICH)


class ManualClock:
    """The scheduler's clock, moved by the test: `advance` wakes whatever is due."""

    def __init__(self, now: datetime):
        self.t = now.timestamp()
        self._sleepers: list[tuple[float | None, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self.t

    async def wait(self, until: float | None, wake: asyncio.Event) -> None:
        due: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (until, due)
        self._sleepers.append(entry)
        woken = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait([due, woken], return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            self._sleepers.remove(entry)

    def set(self, when: datetime) -> None:
        assert when.timestamp() >= self.t, "time only moves forward"
        self.t = when.timestamp()
        for until, due in self._sleepers:
            if until is not None and until <= self.t and not due.done():
                due.set_result(None)


@contextlib.asynccontextmanager
async def house(claw_home: Path, clock: ManualClock, located: bool = True, confirm_timeout: float = 10.0,
                quiet_hours: str = "", standin: AnthropicStandIn | None = None
                ) -> AsyncIterator[tuple[httpx.AsyncClient, SmallHome, Claw]]:
    config = make_config(claw_home, standin)
    config.agent.confirm_timeout = confirm_timeout
    config.alerts.quiet_hours = quiet_hours
    if located:
        config.location = LocationConfig(47.37, 8.54, "Europe/Zurich")
    service = Claw(config)
    service.scheduler.clock = clock  # before start: the scheduler reads time only from it
    async with serve(service) as api, devices_in(service.home, service.executor) as small:
        small.ha.add_entity("binary_sensor.driveway_motion", "off", {
            "friendly_name": "Driveway Motion", "area": "Driveway", "device_class": "motion"})
        await service.home.refresh_device("ha:1")
        await service.home.customize("binary_sensor.driveway_motion", area="Driveway")  # as its owner would
        yield api, small, service


async def at(service: Claw, clock: ManualClock, when: datetime) -> None:
    clock.set(when)
    await service.scheduler.settle()
    await service.home.settle()


async def say(api: httpx.AsyncClient, text: str) -> dict:
    r = await api.post("/api/chat", json={"text": text, "chat_id": "owner-phone"})
    assert r.status_code == 200, r.text
    return r.json()


async def next_item(feed: Subscription, timeout: float = 5.0) -> OutItem:
    return await asyncio.wait_for(anext(feed), timeout)


async def ha_state(service: Claw, small: SmallHome, entity_id: str, state: str) -> None:
    """A change on the Home Assistant side, read by Claw's driver (the real path)."""
    small.ha.set_state(entity_id, state)
    await service.home.refresh_device("ha:1")
    await service.scheduler.settle()
    await service.home.settle()


async def test_a_weekday_time_automation_runs_at_its_time_and_not_at_the_weekend(claw_home):
    clock = ManualClock(MONDAY.replace(hour=6, minute=58))
    async with house(claw_home, clock) as (api, small, service):
        r = await api.post("/api/automations", json={
            "name": "Kitchen at 7", "trigger": {"at": "07:00", "days": ["mon", "tue", "wed", "thu", "fri"]},
            "actions": [{"tool": "HassTurnOn", "args": {"area": "Kitchen", "domain": ["light"]}}]})
        assert r.status_code == 201, r.text
        made = r.json()
        assert made["description"] == "Every weekday at 07:00: turn on the Kitchen lights."
        assert made["next_run"] == "2026-12-07T07:00:00+01:00"
        await at(service, clock, MONDAY.replace(hour=6, minute=59, second=59))
        assert not small.light("Kitchen Ceiling").on
        await at(service, clock, MONDAY.replace(hour=7, second=1))
        assert small.light("Kitchen Ceiling").on and small.light("Kitchen Pendant").on
        shown = (await api.get(f"/api/automations/{made['id']}")).json()
        assert [(run["why"], run["ok"]) for run in shown["runs"]] == [("time", True)]
        assert shown["runs"][0]["results"][0]["tool"] == "HassTurnOn"
        assert shown["next_run"] == "2026-12-08T07:00:00+01:00"
        # Friday's run is followed by Monday's: nothing at the weekend.
        friday = MONDAY.replace(day=11, hour=7, second=1)
        for day in range(8, 12):
            await at(service, clock, MONDAY.replace(day=day, hour=7, second=1))
        assert (await api.get(f"/api/automations/{made['id']}")).json()["next_run"] == "2026-12-14T07:00:00+01:00"
        await api.post("/api/tools/HassTurnOff", json={"area": "Kitchen", "domain": ["light"]})
        await at(service, clock, friday.replace(day=12))
        await at(service, clock, friday.replace(day=13))
        assert not small.light("Kitchen Ceiling").on
        assert len(service.scheduler.runs(made["id"])) == 5


async def test_sunset_said_in_chat_is_read_back_saved_on_yes_and_runs_at_sunset(claw_home):
    clock = ManualClock(MONDAY.replace(hour=12))
    async with house(claw_home, clock) as (api, small, service):
        asked = await say(api, "at sunset turn on the desk lamp")
        assert asked["reply"] == "Every day at sunset: turn on the Desk Lamp. OK?"
        assert asked["backend"] == "automations"
        assert (await api.get("/api/automations")).json()["automations"] == []  # not before the yes
        saved = await say(api, "yes")
        assert saved["reply"].startswith("Saved (#1): Every day at sunset")
        expected = sunset(Observer(47.37, 8.54), date=MONDAY.date(), tzinfo=ZURICH)
        made = (await api.get("/api/automations/1")).json()
        assert made["next_run"] == expected.replace(microsecond=0).isoformat()
        assert made["trigger"] == {"sun": "sunset"}
        await at(service, clock, expected - timedelta(seconds=30))
        assert not small.light("Desk Lamp").on
        await at(service, clock, expected + timedelta(seconds=1))
        assert small.light("Desk Lamp").on


async def test_a_motion_trigger_after_dark_turns_a_light_on_for_five_minutes(claw_home):
    night = MONDAY.replace(hour=21)
    clock = ManualClock(MONDAY.replace(hour=13))
    async with house(claw_home, clock) as (api, small, service):
        asked = await say(api, "when there is motion in the driveway after dark, turn on the floor lamp for 5 minutes")
        assert asked["reply"] == ("When the Driveway Motion sees motion, if it is dark: turn on the Floor Lamp, "
                                  "wait 5 minutes and turn off the Floor Lamp. OK?")
        assert (await say(api, "ok"))["reply"].startswith("Saved (#1)")
        await ha_state(service, small, "binary_sensor.driveway_motion", "on")  # daylight: nothing
        assert not small.light("Floor Lamp").on
        await ha_state(service, small, "binary_sensor.driveway_motion", "off")
        await at(service, clock, night)
        await ha_state(service, small, "binary_sensor.driveway_motion", "on")
        assert small.light("Floor Lamp").on
        await at(service, clock, night.replace(minute=4))
        assert small.light("Floor Lamp").on
        await at(service, clock, night.replace(minute=5, second=1))
        assert not small.light("Floor Lamp").on
        runs = service.scheduler.runs(1)
        assert [(r["why"], r["ok"], len(r["results"])) for r in runs] == [("state", True, 2)]
        # Run by hand: it has a wait, so the request does not hang for five minutes.
        r = await api.post("/api/automations/1/run", json={})
        assert r.json()["background"] is True
        await service.scheduler.settle()
        await service.home.settle()
        assert small.light("Floor Lamp").on
        await at(service, clock, night.replace(minute=10, second=2))
        assert not small.light("Floor Lamp").on
        assert service.scheduler.runs(1)[0]["why"] == "manual"


async def test_a_state_held_for_minutes_triggers_only_if_it_held(claw_home):
    clock = ManualClock(MONDAY.replace(hour=10))
    async with house(claw_home, clock) as (api, small, service):
        r = await api.post("/api/automations", json={
            "name": "Garage left open", "trigger": {"entity": "Garage Door", "to": "open", "for": 10},
            "actions": [{"tool": "HassTurnOn", "args": {"name": "Kitchen Pendant"}}]})
        assert r.status_code == 201, r.text
        assert r.json()["description"] == ("When the Garage Door has been open for 10 minutes: "
                                           "turn on the Kitchen Pendant.")
        await ha_state(service, small, "cover.garage_door", "open")
        await at(service, clock, MONDAY.replace(hour=10, minute=5))
        await ha_state(service, small, "cover.garage_door", "closed")  # closed in time
        await at(service, clock, MONDAY.replace(hour=10, minute=20))
        assert not small.light("Kitchen Pendant").on
        await ha_state(service, small, "cover.garage_door", "open")
        await at(service, clock, MONDAY.replace(hour=10, minute=29))
        assert not small.light("Kitchen Pendant").on
        await at(service, clock, MONDAY.replace(hour=10, minute=30, second=1))
        assert small.light("Kitchen Pendant").on


async def test_a_restart_runs_a_missed_run_within_the_grace_period_once_and_skips_older_ones(claw_home):
    clock = ManualClock(MONDAY.replace(hour=6, minute=50))
    async with house(claw_home, clock) as (api, small, service):
        for name, hhmm, light in (("Ceiling at 7", "07:00", "Kitchen Ceiling"), ("Lamp at 6", "06:55", "Desk Lamp"),
                                  ("Pendant at 5", "05:00", "Kitchen Pendant")):
            r = await api.post("/api/automations", json={
                "name": name, "trigger": {"at": hhmm}, "actions": [{"tool": "HassTurnOn", "args": {"name": light}}]})
            assert r.status_code == 201, r.text
    # Claw was down from 06:50 to 07:04, then again for two days.
    clock = ManualClock(MONDAY.replace(hour=7, minute=4))
    async with house(claw_home, clock) as (api, small, service):
        await at(service, clock, MONDAY.replace(hour=7, minute=4, second=1))
        assert small.light("Kitchen Ceiling").on and small.light("Desk Lamp").on
        assert not small.light("Kitchen Pendant").on  # next due tomorrow at 05:00
        assert [r["why"] for r in service.scheduler.runs(1)] == ["late"]
        assert [r["why"] for r in service.scheduler.runs(2)] == ["late"]
    clock = ManualClock(MONDAY.replace(day=9, hour=7, minute=30))
    async with house(claw_home, clock) as (api, small, service):
        await at(service, clock, MONDAY.replace(day=9, hour=7, minute=30, second=1))
        assert not small.light("Kitchen Ceiling").on  # 30 minutes late is past the grace: skipped
        runs = (await api.get("/api/automations/1")).json()["runs"]
        assert runs[0]["why"] == "skipped" and runs[0]["note"].startswith("Missed 2 times while Claw was not running")
        assert [r["why"] for r in service.scheduler.runs(3)] == ["skipped"]
        assert (await api.get("/api/automations/1")).json()["next_run"] == "2026-12-10T07:00:00+01:00"


async def test_a_security_action_is_approved_once_at_creation_then_runs_and_tells_the_owner(claw_home):
    clock = ManualClock(MONDAY.replace(hour=20))
    # Quiet for the minute from 23:00 in Zurich, in the machine's own time (which quiet hours read).
    hour = MONDAY.replace(hour=23).astimezone().hour
    quiet = f"{hour:02d}:00-{hour:02d}:01"
    async with house(claw_home, clock, quiet_hours=quiet) as (api, small, service):
        await ha_state(service, small, "lock.front_door", "unlocked")
        web = service.channels.subscribe("web")
        asked = await say(api, "every night at 11 lock the front door")
        assert asked["reply"] == ("Every day at 23:00: lock the Front Door. I'll ask you to approve its "
                                  "security actions once; after that it runs on its own. OK?")
        yes = asyncio.create_task(say(api, "yes"))
        ask = await next_item(web)
        assert ask.options["confirmation"] and "lock the Front Door" in ask.text
        r = await api.post(f"/api/confirmations/{ask.options['confirmation']}", json={"approve": True})
        assert r.status_code == 200
        assert (await yes)["reply"] == "Saved (#1): Every day at 23:00: lock the Front Door."
        await next_item(web)  # "Confirmed: ..."
        made = (await api.get("/api/automations/1")).json()
        assert made["approved"] and made["security"] == ["Front Door"]
        await at(service, clock, MONDAY.replace(hour=23, second=1))
        assert small.ha.states["lock.front_door"]["state"] == "locked"
        told = await next_item(web)
        assert told.text == 'The automation "every night at 11 lock the front door" ran: Locked the Front Door.'
        assert told.options["silent"] is True  # quiet hours: told without a sound, and done all the same
        assert service.confirmations.pending() == []  # nobody was asked at 23:00


async def test_a_declined_approval_saves_nothing_and_a_member_cannot_automate_the_lock(claw_home):
    clock = ManualClock(MONDAY.replace(hour=20))
    async with house(claw_home, clock) as (api, small, service):
        web = service.channels.subscribe("web")
        call = asyncio.create_task(api.post("/api/automations", json={
            "name": "Open up", "trigger": {"at": "08:00"},
            "actions": [{"tool": "HassTurnOff", "args": {"name": "Front Door"}}]}))
        ask = await next_item(web)
        assert "unlock the Front Door" in ask.text
        await api.post(f"/api/confirmations/{ask.options['confirmation']}", json={"approve": False})
        r = await call
        assert r.status_code == 403 and "declined" in r.json()["detail"]
        assert (await api.get("/api/automations")).json()["automations"] == []
        member = Caller(role="member", chat_id="tg:2", channel="telegram")
        said = await service.automation_chat("every night at 11 lock the front door", member)
        assert said.reply == ("Only the owner can make automations that change the Front Door "
                              "(security tier); ask them to.")
        assert (await api.get("/api/automations")).json()["automations"] == []


async def test_a_routine_is_defined_in_words_and_run_by_its_name(claw_home):
    clock = ManualClock(MONDAY.replace(hour=22))
    async with house(claw_home, clock) as (api, small, service):
        await api.post("/api/tools/HassTurnOn", json={"floor": "Ground Floor", "domain": ["light"]})
        await ha_state(service, small, "lock.front_door", "unlocked")
        web = service.channels.subscribe("web")
        asked = await say(api, "When I say goodnight, lock the front door and turn off the lights on the ground floor")
        assert asked["reply"].startswith('When you say "goodnight": lock the Front Door and turn off the '
                                         "lights on the Ground Floor.")
        yes = asyncio.create_task(say(api, "yes"))
        ask = await next_item(web)
        await api.post(f"/api/confirmations/{ask.options['confirmation']}", json={"approve": True})
        assert (await yes)["reply"].startswith("Saved (#1)")
        ran = await say(api, "Goodnight!")
        await service.home.settle()
        assert ran["backend"] == "automations"
        assert ran["reply"] == "Goodnight: Locked the Front Door. Turned off the Floor Lamp, Kitchen Ceiling and Kitchen Pendant."
        assert [a["ok"] for a in ran["actions"]] == [True, True]
        assert small.ha.states["lock.front_door"]["state"] == "locked"
        assert not any(small.light(n).on for n in ("Floor Lamp", "Kitchen Ceiling", "Kitchen Pendant"))
        assert service.confirmations.pending() == []
        r = await api.post("/api/automations/1/run", json={})
        assert r.status_code == 200 and r.json()["ok"] is True, r.text


async def test_bad_automations_get_one_sentence_and_nothing_is_saved(claw_home):
    clock = ManualClock(MONDAY.replace(hour=12))
    async with house(claw_home, clock, located=False) as (api, small, service):
        light = [{"tool": "HassTurnOn", "args": {"name": "Desk Lamp"}}]
        cases = {
            "I don't have a device called 'Pool Pump'.": {
                "name": "x", "trigger": {"at": "07:00"}, "actions": [{"tool": "HassTurnOn", "args": {"name": "Pool Pump"}}]},
            "25:00 is not a time of day: use 00:00 to 23:59.": {"name": "x", "trigger": {"at": "25:00"}, "actions": light},
            "Sunrise and sunset need the house's location: add a [location] section with latitude and "
            "longitude to claw.toml.": {"name": "x", "trigger": {"sun": "sunset"}, "actions": light},
            "That automation would trigger itself: it changes the Garage Door, which is what starts it.": {
                "name": "x", "trigger": {"entity": "Garage Door", "to": "open"},
                "actions": [{"tool": "HassTurnOff", "args": {"name": "Garage Door"}}]},
            "'fri day' is not a day; use mon, tue, wed, thu, fri, sat, sun.": {
                "name": "x", "trigger": {"at": "07:00", "days": ["fri day"]}, "actions": light},
            "Action 1: there is no tool 'Fly' an automation can use (GET /api/tools lists them).": {
                "name": "x", "actions": [{"tool": "Fly", "args": {}}]},
            "Action 1: there is no tool 'delete_automation' an automation can use (GET /api/tools lists them).": {
                "name": "x", "actions": [{"tool": "delete_automation", "args": {"automation_id": 1}}]},
            "conditions must be a list of at most 10.": {
                "name": "x", "trigger": {"at": "07:00"}, "conditions": [{"dark": True}] * 11, "actions": light},
        }
        for sentence, spec in cases.items():
            r = await api.post("/api/automations", json=spec)
            assert (r.status_code, r.json().get("detail")) == (422, sentence), r.text
        assert (await say(api, "at 25:00 turn on the desk lamp"))["reply"] == \
            "That is not a time of day: use 00:00 to 23:59 (or 7am, 11pm)."
        assert (await say(api, "at sunset turn on the desk lamp"))["reply"].startswith("Sunrise and sunset need")
        assert (await say(api, "every day at 7 make the house cozy"))["reply"] == (
            'I didn\'t understand "make the house cozy" as things I can do; say each one like a command, '
            'e.g. "turn off the kitchen lights".')
        # A loop through two automations.
        r = await api.post("/api/automations", json={
            "name": "Lamp follows pendant", "trigger": {"entity": "Kitchen Pendant", "to": "on"},
            "actions": [{"tool": "HassTurnOn", "args": {"name": "Desk Lamp"}}]})
        assert r.status_code == 201
        r = await api.post("/api/automations", json={
            "name": "Pendant follows lamp", "trigger": {"entity": "Desk Lamp", "to": "on"},
            "actions": [{"tool": "HassTurnOn", "args": {"name": "Kitchen Pendant"}}]})
        assert (r.status_code, r.json()["detail"]) == (422, 'Those automations would set each other off in a '
                                                            'circle: "Pendant follows lamp" → "Lamp follows pendant" '
                                                            '→ "Pendant follows lamp".')
        assert len((await api.get("/api/automations")).json()["automations"]) == 1


async def test_pause_resume_delete_and_a_deleted_device_shows_as_broken(claw_home):
    clock = ManualClock(MONDAY.replace(hour=6))
    async with house(claw_home, clock) as (api, small, service):
        r = await api.post("/api/automations", json={
            "name": "Lamp at 7", "trigger": {"at": "07:00"}, "actions": [{"tool": "HassTurnOn", "args": {"name": "Desk Lamp"}}]})
        made = r.json()
        r = await api.patch(f"/api/automations/{made['id']}", json={"enabled": False})
        assert r.json()["enabled"] is False and r.json()["next_run"] is None
        await at(service, clock, MONDAY.replace(hour=7, second=1))
        assert not small.light("Desk Lamp").on
        r = await api.patch(f"/api/automations/{made['id']}", json={"enabled": True})
        assert r.json()["next_run"] == "2026-12-08T07:00:00+01:00"
        r = await api.patch(f"/api/automations/{made['id']}", json={"trigger": {"at": "07:30"}})
        assert r.json()["description"] == "Every day at 07:30: turn on the Desk Lamp."
        await service.home.remove("hue:1")
        shown = (await api.get(f"/api/automations/{made['id']}")).json()
        assert shown["broken"] == ["The Desk Lamp (light.desk_lamp) is not in the house any more."]
        listed = await say(api, "list my automations")
        assert listed["reply"] == ("#1 Lamp at 7: Every day at 07:30: turn on the Desk Lamp. BROKEN: The Desk Lamp "
                                   "(light.desk_lamp) is not in the house any more.")
        assert (await say(api, "pause automation 1"))["reply"] == "Paused #1 Lamp at 7."
        assert (await say(api, "resume automation #1"))["reply"] == "Resumed #1 Lamp at 7."
        assert (await say(api, "pause automation 9"))["reply"] == \
            'There is no automation #9; "list automations" shows them.'
        member = Caller(role="member", chat_id="tg:2", channel="telegram")
        assert (await service.automation_chat("delete automation 1", member)).reply == \
            "Only the owner can delete automations."
        clock_routine = await api.post("/api/automations", json={
            "name": "what time", "actions": [{"tool": "GetDateTime", "args": {}}]})
        routine = service.scheduler.get(clock_routine.json()["id"])
        for _ in range(103):
            await service.scheduler.run_now(routine, "manual")
        assert len(service.scheduler.runs(routine.id, limit=500)) == 100  # the run log is bounded
        r = await api.delete(f"/api/automations/{made['id']}")
        assert r.json() == {"deleted": made["id"], "name": "Lamp at 7"}
        assert (await api.get(f"/api/automations/{made['id']}")).status_code == 404


async def test_the_model_drafts_what_the_fast_path_cannot_and_runs_are_model_free(claw_home, standin):
    clock = ManualClock(MONDAY.replace(hour=12))
    async with house(claw_home, clock, standin=standin) as (api, small, service):
        spec = {"name": "Weekend evenings", "trigger": {"at": "18:00", "days": ["sat", "sun"]},
                "actions": [{"tool": "HassTurnOn", "args": {"name": "Kitchen Pendant"}}]}
        standin.queue += [tool_reply("create_automation", spec),
                          text_reply("Every weekend day at 18:00: turn on the Kitchen Pendant. OK?")]
        asked = await say(api, "brighten the kitchen on weekend evenings")
        assert asked["backend"] == "claude"
        assert asked["actions"][0]["result"] == ("Drafted, not saved. Ask them exactly: Every weekend day at "
                                                 "18:00: turn on the Kitchen Pendant. OK?")
        assert (await api.get("/api/automations")).json()["automations"] == []
        saved = await say(api, "Yes.")
        assert saved["backend"] == "automations" and saved["reply"].startswith("Saved (#1): Every weekend day")
        asked_model = len(standin.requests)
        assert asked_model == 2
        await at(service, clock, MONDAY.replace(day=12, hour=18, second=1))  # Saturday
        assert small.light("Kitchen Pendant").on
        assert len(standin.requests) == 2  # the yes and the run needed no model
        standin.queue += [text_reply("What should cozy mean?")]
        cozy = await say(api, "every day at 7 make the house cozy")  # our form, but not our words
        assert (cozy["backend"], cozy["reply"]) == ("claude", "What should cozy mean?")
        standin.queue += [tool_reply("create_automation", {**spec, "trigger": {"at": "25:00"}}),
                          text_reply("That time does not exist.")]
        await say(api, "and at 25:00 too")
        assert standin.requests[-1]["messages"][-1]["content"][0]["content"][0]["text"] == \
            "Error: 25:00 is not a time of day: use 00:00 to 23:59."
