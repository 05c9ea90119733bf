"""The house's history: every state change is kept (for a bounded number of days) and the simple
questions are answered from it with no model, over POST /api/chat against a small real house."""
from __future__ import annotations

import time
from datetime import timedelta

from claw import mcp_server
from claw.tools import Caller
from memory.history import PRUNE_BATCH, History
from memory.store import Store
from tests.test_automations import MONDAY, ManualClock, ha_state, house, say


def test_spans_durations_last_change_and_retention(tmp_path):
    history = History(Store(tmp_path / "claw.db").db, retention_days=2)
    t0 = MONDAY.replace(hour=8).timestamp()
    for minutes, state in ((0, "off"), (60, "on"), (90, "off"), (120, "on"), (180, "off")):
        history.add("switch.pool_pump", state, t0 + minutes * 60)
    on = {"on"}
    assert history.seconds_in("switch.pool_pump", on, t0, t0 + 4 * 3600) == 90 * 60
    # A window that starts while it was on counts from the window's start.
    assert history.seconds_in("switch.pool_pump", on, t0 + 75 * 60, t0 + 4 * 3600) == 75 * 60
    assert history.last_became("switch.pool_pump", on, before=t0 + 4 * 3600) == t0 + 120 * 60
    assert history.last_became("switch.pool_pump", on, before=t0 + 100 * 60) == t0 + 60 * 60
    assert history.last_became("lock.front_door", {"unlocked"}, before=t0) is None
    # Older than two days, but the last change before the cutoff says what state it was in since.
    assert history.prune(t0 + 2 * 86400 + 100 * 60) == 2
    assert [r["state"] for r in history.recent("switch.pool_pump")] == ["off", "on", "off"]
    assert history.state_at("switch.pool_pump", t0 + 2 * 86400) == "off"
    # A backlog (the retention was shortened) goes a batch at a time, never all at once.
    history.add_many(("light.lamp", "on" if n % 2 else "off", t0 - 86400 + n) for n in range(PRUNE_BATCH * 2))
    first = history.prune(t0 + 2 * 86400 + 100 * 60)
    assert first == PRUNE_BATCH - 1
    while history.prune(t0 + 2 * 86400 + 100 * 60):
        pass
    assert [r["state"] for r in history.recent("light.lamp")] == ["on"]


async def test_every_change_is_recorded_and_questions_are_answered_without_a_model(claw_home):
    clock = ManualClock(MONDAY.replace(hour=9))
    async with house(claw_home, clock) as (api, small, service):
        history = service.history
        before = history.count()
        await ha_state(service, small, "cover.garage_door", "open")
        await ha_state(service, small, "cover.garage_door", "closed")
        assert history.count() == before + 2
        assert [r["state"] for r in history.recent("cover.garage_door", 2)] == ["closed", "open"]

        # What happened, at times the test chooses (the recorder stamps real time).
        day = MONDAY.replace(hour=0)
        for when, entity, state in (
                (day - timedelta(hours=1), "lock.front_door", "unlocked"),   # Sunday 23:00
                (day + timedelta(minutes=30), "lock.front_door", "locked"),  # Monday 00:30
                (day + timedelta(hours=6, minutes=5), "cover.garage_door", "open"),
                (day + timedelta(hours=6, minutes=20), "cover.garage_door", "closed"),
                (day + timedelta(hours=7), "light.kitchen_ceiling", "on"),
                (day + timedelta(hours=8, minutes=15), "light.kitchen_ceiling", "off")):
            history.add(entity, state, when.timestamp())
        clock.set(MONDAY.replace(hour=9, second=0) + timedelta(minutes=30))
        garage = await say(api, "When did the garage door last open?")
        assert garage["reply"] == "The Garage Door was last opened today at 06:05 (3 h 25 min ago)."
        assert garage["backend"] == "automations" and garage["actions"] == []
        kitchen = await say(api, "how long was the kitchen ceiling on today?")
        assert kitchen["reply"] == "The Kitchen Ceiling was on for 1 h 15 min today."
        night = await say(api, "was the front door unlocked last night?")
        assert night["reply"] == "Yes: the Front Door was unlocked last night (23:00–00:30; 1 h 30 min in all)."
        garage_night = await say(api, "was the garage door open last night?")
        assert garage_night["reply"] == "Yes: the Garage Door was open last night (06:05–06:20; 15 min in all)."
        lamp = await say(api, "was the desk lamp on last night?")
        assert lamp["reply"] == "No: the Desk Lamp was not on last night."
        unknown = await say(api, "when did the pool pump last turn on?")
        assert unknown["reply"] == "I don't have a device called 'pool pump'."
        # The same answers as a tool for the model (and MCP).
        tool = await api.post("/api/tools/house_history", json={"name": "garage door", "state": "open"})
        assert tool.json()["result"].startswith("The Garage Door was last opened today at 06:05")
        offered = [t.name for t in mcp_server.offered(list(service.registry.tools.values()))]
        assert "house_history" in offered  # Home Assistant's MCP server has no history tool


async def test_retention_comes_from_the_config(claw_home):
    clock = ManualClock(MONDAY.replace(hour=9))
    (claw_home / "claw.toml").write_text("[history]\nretention_days = 1\n")
    async with house(claw_home, clock) as (api, small, service):
        assert service.history.retention == 86400
        now = time.time()
        service.history.add("cover.garage_door", "open", now - 3 * 86400)
        service.history.add("cover.garage_door", "closed", now - 2 * 86400)
        assert service.history.prune(now) == 1  # the last change before the cutoff stays
        member = Caller(role="member", chat_id="tg:2", channel="telegram")
        said = await service.automation_chat("when did the garage door last open?", member)
        assert said.reply == "I have no record of the Garage Door being open in the last 1 day."
