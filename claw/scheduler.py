"""Runs automations with no model: at a time, at sunrise or sunset, or on a state change.

State lives in the store's SQLite file (tables `automations` and `automation_runs`), so the
schedule survives restarts. Each timed automation keeps its next due time; a run that came due
while Claw was down runs once if Claw is back within GRACE (10 minutes) of it, and every other
missed run is skipped and written to the run log as skipped (so 07:00 lights do not come on at
noon after a long outage). Time is read from an injectable clock, so tests move time instead of
sleeping. A run calls the tools through the one executor as the automation's creator; the
security-tier actions the owner approved when it was made go ahead without asking again (see
`approved_at_creation`), and the owner is told what such a run did, and about any action that
failed (quietly in quiet hours: the alert path decides that).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any, Callable, Protocol
from zoneinfo import ZoneInfo

from astral import Observer
from astral.sun import elevation, sunrise, sunset

from claw.automations import (DAYS, Automation, AutomationError, check, describe, find_loop,
                              is_routine_call, problems, restore)
from claw.executor import Confirmer, Executor
from claw.tools import Caller, ToolContext, ToolRegistry
from devices.background import Background
from devices.home import Home
from devices.model import Entity
from memory.store import Store

log = logging.getLogger(__name__)

GRACE = 600.0  # seconds: a run missed by less than this (Claw was down) still runs, once
RUN_CHANNEL = "automation"  # the Caller channel of a run; its chat id is "automation:<id>"
MAX_CATCH_UP = 1000  # missed occurrences counted after an outage, at most
MAX_AUTOMATIONS = 1000  # every state change of the house looks through them all
RUNS_KEPT = 100  # run log entries kept per automation
# A run caught up at start waits (at most this many seconds) for its devices to be found again.
DISCOVERY_WAIT = 30.0
# Tools that are not actions: an automation must not make, change or run automations.
NOT_ACTIONS = {"create_automation", "list_automations", "pause_automation", "resume_automation",
               "delete_automation", "run_routine", "house_history"}

# Alerts.tell: (channel, chat id, idempotency key, text, when=...); channel "" is the owner.
Tell = Callable[..., Any]


class Clock(Protocol):
    def now(self) -> float: ...

    async def wait(self, until: float | None, wake: asyncio.Event) -> None:
        """Return at `until` (epoch seconds; None: no deadline) or when `wake` is set."""


class SystemClock:
    MAX_NAP = 60.0  # re-read the wall clock at least this often (it can jump: NTP, suspend)

    def now(self) -> float:
        return time.time()

    async def wait(self, until: float | None, wake: asyncio.Event) -> None:
        delay = self.MAX_NAP if until is None else min(max(0.0, until - time.time()), self.MAX_NAP)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await wake.wait()


@dataclass
class Location:
    latitude: float
    longitude: float
    timezone: str = ""  # an IANA name; empty: the machine's own

    def tz(self) -> tzinfo | None:
        return ZoneInfo(self.timezone) if self.timezone else None


def ensure_tables(db: Any) -> None:
    if "automations" not in db.table_names():
        db["automations"].create({
            "id": int, "name": str, "spec": str, "watches": str, "changes": str, "secure": str,
            "approved_at": float, "approved_by": str, "enabled": int, "created_by": str,
            "created": float, "next_due": float}, pk="id")
    if "automation_runs" not in db.table_names():
        db["automation_runs"].create({
            "id": int, "automation_id": int, "name": str, "why": str, "scheduled": float,
            "started": float, "finished": float, "ok": int, "results": str, "note": str}, pk="id")
        db["automation_runs"].create_index(["automation_id", "id"])


def approved_at_creation(db: Any, ask: Confirmer) -> Confirmer:
    """The executor's confirmer: a run of an automation may do the security actions the owner
    approved when it was made (those entities, nothing else); everything else asks the owner.
    An automation's run never waits for the owner: what was not approved fails closed."""
    ensure_tables(db)

    async def confirm(caller: Caller, what: str, entities: list[Entity], service: str,
                      data: dict[str, Any]) -> bool:
        if caller.channel != RUN_CHANNEL:
            return await ask(caller, what, entities, service, data)
        row = db.execute("select secure, approved_at from automations where id = ?",
                         [int(caller.chat_id.removeprefix("automation:"))]).fetchone()
        approved = set(json.loads(row[0])) if row and row[1] else set()
        ok = all(e.entity_id in approved for e in entities)
        if not ok:
            log.warning("automation run %s: %s was not approved at creation; not done", caller.chat_id, what)
        return ok

    return confirm


class Scheduler:
    def __init__(self, store: Store, home: Home, executor: Executor, registry: ToolRegistry,
                 tell: Tell, location: Location | None = None, clock: Clock | None = None,
                 grace: float = GRACE):
        self.db = store.db
        self.home = home
        self.executor = executor
        self.registry = registry
        self.tell = tell
        self.location = location
        self.clock = clock or SystemClock()
        self.grace = grace
        ensure_tables(self.db)
        self._changed = asyncio.Event()  # the schedule changed: recompute the next wake-up
        self._parked = asyncio.Event()  # the loop is waiting for its next wake-up
        self._holds: dict[tuple[int, str], float] = {}  # (automation, entity) -> when it has held
        self._runs = Background("an automation run")
        self._napping: dict[asyncio.Task[Any], float] = {}  # runs in a wait step -> until when
        self._wake_at: float | None = None  # when the parked loop wakes up next
        self._arrived = asyncio.Event()  # an entity changed or was found
        self._loop: asyncio.Task[None] | None = None
        self._book: list[Automation] | None = None  # all(), until the next change

    # -- the book of automations -----------------------------------------------------------
    def all(self) -> list[Automation]:
        """Every automation, oldest first (kept in memory between changes: every state change
        of the house looks through them)."""
        if self._book is None:
            self._book = [self._load(r) for r in self.db.query("select * from automations order by id")]
        return self._book

    def get(self, automation_id: int) -> Automation | None:
        rows = list(self.db.query("select * from automations where id = ?", [automation_id]))
        return self._load(rows[0]) if rows else None

    def _load(self, row: dict[str, Any]) -> Automation:
        a = restore(json.loads(row["spec"]), json.loads(row["watches"]), json.loads(row["changes"]),
                    json.loads(row["secure"]))
        a.id, a.enabled, a.created_by = row["id"], bool(row["enabled"]), row["created_by"]
        return a

    def check(self, spec: Any, caller: Caller) -> Automation:
        """Validate a JSON shape for this caller (members never touch the security tier), and
        refuse loops through the automations already saved."""
        a = check(spec, self.home, self.registry, self.location is not None, NOT_ACTIONS, caller.role)
        if caller.role != "owner" and a.secure:
            names = ", ".join(a.changes[e] for e in a.secure)
            raise AutomationError(f"Only the owner can make automations that change the {names} "
                                  "(security tier); ask them to.")
        others = [b for b in self.all() if b.enabled]
        loop = find_loop(a, others)
        if loop:
            raise AutomationError("Those automations would set each other off in a circle: "
                                  + " → ".join(f'"{n}"' for n in [*loop, loop[0]]) + ".")
        return a

    async def create(self, spec: Any, caller: Caller) -> Automation:
        """Check and save; security-tier actions are approved by the owner now, once (raises
        ToolError when they decline or do not answer). Nothing is saved until all is well."""
        a = self.check(spec, caller)
        if len(self.all()) >= MAX_AUTOMATIONS:
            raise AutomationError(f"There are {MAX_AUTOMATIONS:,} automations already, the most Claw "
                                  "keeps; delete some first.")
        approved = await self._approve(a, caller) if a.secure else None
        a.id = self.db["automations"].insert({
            "name": a.name, "spec": json.dumps(a.spec()), "watches": json.dumps(a.watches),
            "changes": json.dumps(a.changes), "secure": json.dumps(a.secure), "approved_at": approved,
            "approved_by": caller.channel if approved else None, "enabled": 1,
            "created_by": caller.role, "created": self.clock.now(),
            "next_due": self._next(a, self.clock.now())}).last_pk
        log.info("automation #%s saved: %s", a.id, describe(a, self.home))
        self._book = None
        self._changed.set()
        return a

    async def update(self, automation_id: int, changes: dict[str, Any], caller: Caller) -> Automation:
        """Pause or resume (`enabled`), rename, or edit; an edit is checked like a new one and
        its security actions approved again."""
        old = self._must(automation_id)
        row: dict[str, Any] = {}
        if set(changes) - {"enabled"}:
            spec = {**old.spec(), **{k: v for k, v in changes.items() if k != "enabled"}}
            new = self.check(spec, caller)
            new.id = automation_id
            approved = await self._approve(new, caller) if new.secure else None
            row = {"name": new.name, "spec": json.dumps(new.spec()), "watches": json.dumps(new.watches),
                   "changes": json.dumps(new.changes), "secure": json.dumps(new.secure),
                   "approved_at": approved, "approved_by": caller.channel if approved else None,
                   "next_due": self._next(new, self.clock.now())}
        if "enabled" in changes:
            if not isinstance(changes["enabled"], bool):
                raise AutomationError("enabled must be true or false.")
            row["enabled"] = int(changes["enabled"])
            if changes["enabled"] and not old.enabled and "next_due" not in row:
                row["next_due"] = self._next(old, self.clock.now())
        self.db["automations"].update(automation_id, row)
        self._holds = {k: v for k, v in self._holds.items() if k[0] != automation_id}
        self._book = None
        self._changed.set()
        return self._must(automation_id)

    def delete(self, automation_id: int) -> Automation:
        a = self._must(automation_id)
        self.db["automations"].delete(automation_id)
        self.db.execute("delete from automation_runs where automation_id = ?", [automation_id])
        self._holds = {k: v for k, v in self._holds.items() if k[0] != automation_id}
        self._book = None
        self._changed.set()
        return a

    def _must(self, automation_id: int) -> Automation:
        a = self.get(automation_id)
        if a is None:
            raise LookupError(f"There is no automation #{automation_id}.")
        return a

    def routine_named(self, text: str) -> Automation | None:
        return next((a for a in self.all() if a.routine and a.enabled and is_routine_call(text, a.name)), None)

    async def _approve(self, a: Automation, caller: Caller) -> float:
        entities = [self.home.entities[e] for e in a.secure]
        what = (f"Let the automation \"{a.name}\" do this by itself from now on, telling you each "
                f"time: {describe(a, self.home).rstrip('.')}")
        await self.executor.confirm(ToolContext(caller), what, entities, "automation", a.spec())
        return self.clock.now()

    def public(self, a: Automation) -> dict[str, Any]:
        """What the API and the tools show of an automation."""
        row = self.db.execute("select approved_at, next_due from automations where id = ?", [a.id]).fetchone()
        last = list(self.db.query("select * from automation_runs where automation_id = ? order by id desc "
                                  "limit 1", [a.id]))
        return {"id": a.id, **a.spec(), "enabled": a.enabled, "routine": a.routine,
                "description": describe(a, self.home), "broken": problems(a, self.home),
                "security": [a.changes[e] for e in a.secure], "approved": bool(row and row[0]),
                "created_by": a.created_by,
                "next_run": self._iso(row[1]) if row and row[1] and a.enabled else None,
                "last_run": _run(last[0]) if last else None}

    def runs(self, automation_id: int, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.db.query("select * from automation_runs where automation_id = ? order by id desc limit ?",
                             [automation_id, limit])
        return [_run(r) for r in rows]

    # -- time ------------------------------------------------------------------------------
    def _tz(self) -> tzinfo | None:
        return self.location.tz() if self.location else None

    def local(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, self._tz())

    def _iso(self, ts: float) -> str:
        return self.local(ts).isoformat(timespec="seconds")

    def _at(self, day: date, hhmm: str) -> float:
        hour, minute = (int(p) for p in hhmm.split(":"))
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=self._tz()).timestamp()

    def _sun(self, a: Automation, day: date) -> float | None:
        assert self.location is not None  # checked when the automation was made
        observer = Observer(self.location.latitude, self.location.longitude)
        tz = self._tz() or datetime.now().astimezone().tzinfo or timezone.utc
        try:
            when = (sunrise if a.trigger.sun == "sunrise" else sunset)(observer, date=day, tzinfo=tz)
        except ValueError:  # polar day or night: the sun does not rise or set that day
            return None
        return when.timestamp() + a.trigger.offset * 60

    def _next(self, a: Automation, after: float) -> float | None:
        """The first due time of a timed automation after `after` (None: none this week)."""
        t = a.trigger
        if t.kind not in ("time", "sun") or (t.kind == "sun" and self.location is None):
            return None
        today = self.local(after).date()
        for k in range(-1, 9):  # from yesterday: a sun offset can move a run across midnight
            day = today + timedelta(days=k)
            if t.days and DAYS[day.weekday()] not in t.days:
                continue
            when = self._at(day, t.at) if t.kind == "time" else self._sun(a, day)
            if when is not None and when > after:
                return when
        return None

    def dark(self, when: float | None = None) -> bool:
        """Whether the sun is below the horizon at the house (needs the location)."""
        assert self.location is not None
        moment = datetime.fromtimestamp(self.clock.now() if when is None else when, timezone.utc)
        return elevation(Observer(self.location.latitude, self.location.longitude), moment) < -0.833

    def conditions_hold(self, a: Automation) -> bool:
        now = self.clock.now()
        local = self.local(now)
        minute = local.hour * 60 + local.minute
        for c in a.conditions:
            if c.kind == "time":
                start = _minute(c.after) if c.after else 0
                end = _minute(c.before) if c.before else 24 * 60
                inside = start <= minute < end if start <= end else minute >= start or minute < end
                if not inside:
                    return False
            elif c.kind in ("dark", "light"):
                if self.location is None or self.dark(now) != (c.kind == "dark"):
                    return False
            else:
                entity = self.home.entities.get(c.entity)
                if entity is None or entity.state != c.state:
                    return False
        return True

    # -- running ---------------------------------------------------------------------------
    async def start(self) -> None:
        self.home.listeners.append(self.on_change)
        self._loop = asyncio.create_task(self._run_schedule())

    async def stop(self) -> None:
        if self.on_change in self.home.listeners:
            self.home.listeners.remove(self.on_change)
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
        await self._runs.cancel()

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until the schedule loop is idle and every run has finished or is in a wait
        step (tests call this after moving the clock)."""
        async with asyncio.timeout(timeout):
            while not self._idle():
                await asyncio.sleep(0.005)

    def _idle(self) -> bool:
        now = self.clock.now()
        if any(self._napping.get(t, now) <= now for t in self._runs):
            return False
        return (self._parked.is_set() and not self._changed.is_set()
                and (self._wake_at is None or self._wake_at > now))

    async def _run_schedule(self) -> None:
        while True:
            self._changed.clear()
            now = self.clock.now()
            rows = list(self.db.execute("select id, next_due from automations where enabled = 1 "
                                        "and next_due is not null"))
            book = {a.id: a for a in self.all()}
            due = [(book[i], when) for i, when in rows if when <= now]
            for a, when in due:  # on time: start at once; the bookkeeping comes after
                if now - when <= self.grace:
                    self._runs.spawn(self.run(a, a.trigger.kind if now - when < 60 else "late", when))
            if due:
                await asyncio.sleep(0)
            moved = []
            for a, when in due:
                if now - when > self.grace:
                    self._missed(a, when, now)
                moved.append((self._next(a, now), a.id))
            if moved:  # their next times, in one write
                self.db.execute("begin")
                self.db.conn.executemany("update automations set next_due = ? where id = ?", moved)
                self.db.execute("commit")
            wake = [when for _, when in rows if when > now] + [t for t, _ in moved if t]
            for key, deadline in list(self._holds.items()):
                if deadline <= now:
                    del self._holds[key]
                    self._held(*key)
                else:
                    wake.append(deadline)
            self._wake_at = min(wake, default=None)
            self._parked.set()
            await self.clock.wait(self._wake_at, self._changed)
            self._parked.clear()

    def _missed(self, a: Automation, due: float, now: float) -> None:
        """A timed automation came due more than the grace period ago (Claw was down): the
        latest time it was due runs if that is within the grace period; the rest are skipped."""
        missed = [due]
        while len(missed) < MAX_CATCH_UP:
            later = self._next(a, missed[-1])
            if later is None or later > now:
                break
            missed.append(later)
        latest = missed[-1]
        skipped = missed if now - latest > self.grace else missed[:-1]
        note = (f"Missed {len(skipped)} time{'s' if len(skipped) > 1 else ''} while Claw was not "
                f"running (last due {self._iso(skipped[-1])}); more than {self.grace / 60:g} minutes "
                "late, so skipped.")
        log.warning("automation #%s %s: %s", a.id, a.name, note)
        self._log_run(a, "skipped", skipped[-1], now, now, None, [], note)
        if latest not in skipped:
            self._runs.spawn(self.run(a, "late", latest))

    def on_change(self, old: Entity | None, new: Entity) -> None:
        """Home listener: a state change may start a state-triggered automation (never the
        first sight of a device at start or discovery)."""
        self._arrived.set()
        if old is None or old.state == new.state:
            return
        for a in self.all():
            t = a.trigger
            if not a.enabled or t.kind != "state" or t.entity != new.entity_id:
                continue
            key = (a.id, new.entity_id)
            if new.state != t.to or (t.from_ and old.state != t.from_):
                if new.state != t.to:
                    self._holds.pop(key, None)
                continue
            if t.hold:
                self._holds.setdefault(key, self.clock.now() + t.hold * 60)
                self._changed.set()
            else:
                self._runs.spawn(self.run(a, "state", self.clock.now()))

    def _held(self, automation_id: int, entity_id: str) -> None:
        a = self.get(automation_id)
        entity = self.home.entities.get(entity_id)
        if a is not None and a.enabled and entity is not None and entity.state == a.trigger.to:
            self._runs.spawn(self.run(a, "state", self.clock.now()))

    async def run(self, a: Automation, why: str = "manual", scheduled: float | None = None,
                  check_conditions: bool = True) -> dict[str, Any]:
        """Run the actions in order (no model); log each one's result; tell the owner what a
        security action did and what failed."""
        started = self.clock.now()
        scheduled = started if scheduled is None else scheduled
        if check_conditions and not self.conditions_hold(a):
            log.info("automation #%s %s: conditions not met, not run", a.id, a.name)
            return {"ran": False, "why": "its conditions are not met now"}
        if why == "late":
            await self._devices_found(a)
        caller = Caller(role=a.created_by, chat_id=f"automation:{a.id}", channel=RUN_CHANNEL)
        results: list[dict[str, Any]] = []
        for step in a.actions:
            if step.wait:
                await self._nap(step.wait)
                continue
            results.append((await self.executor.run(step.tool, step.args, caller)).as_dict())
        ok = all(r["ok"] for r in results)
        finished = self.clock.now()
        run_id = self._log_run(a, why, scheduled, started, finished, ok, results, "")
        said = " ".join(r["result"] for r in results)
        key = f"automation:{a.id}:{run_id}"
        if not ok:
            self.tell("", "", key, f"The automation \"{a.name}\" ran, and not all went well: {said}",
                      when=finished)
        elif a.secure and why not in ("manual", "chat"):  # asked for now: the answer tells them
            self.tell("", "", key, f"The automation \"{a.name}\" ran: {said}", when=finished)
        return {"ran": True, "id": run_id, "ok": ok, "results": results}

    async def run_now(self, a: Automation, why: str) -> dict[str, Any]:
        """Run on request, whatever the trigger and conditions say; one with wait steps runs
        in the background (a chat or an HTTP request does not hang for its minutes)."""
        if any(step.wait for step in a.actions):
            self._runs.spawn(self.run(a, why, check_conditions=False))
            return {"ran": True, "background": True, "results": [],
                    "note": f"It has waits, so it runs in the background; GET /api/automations/{a.id} "
                            "shows the results."}
        return await self.run(a, why, check_conditions=False)

    async def _devices_found(self, a: Automation) -> None:
        """Right after a start, the devices a caught-up run changes may not be discovered yet."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DISCOVERY_WAIT):
                while any(e not in self.home.entities for e in a.changes):
                    self._arrived.clear()
                    await self._arrived.wait()

    async def _nap(self, seconds: float) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._napping[task] = until = self.clock.now() + seconds
        try:
            while self.clock.now() < until:  # a clock may wake early (the system one re-reads itself)
                await self.clock.wait(until, asyncio.Event())
        finally:
            del self._napping[task]

    def _log_run(self, a: Automation, why: str, scheduled: float, started: float, finished: float,
                 ok: bool | None, results: list[dict[str, Any]], note: str) -> int:
        # Plain SQL: sqlite-utils' insert reads the table's schema each time, and 500 runs may
        # be due in the same minute.
        run_id = self.db.execute(
            "insert into automation_runs (automation_id, name, why, scheduled, started, finished, ok, "
            "results, note) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [a.id, a.name, why, scheduled, started, finished, None if ok is None else int(ok),
             json.dumps(results), note]).lastrowid
        self.db.execute(  # keep its last RUNS_KEPT runs
            "delete from automation_runs where automation_id = ? and id < (select id from automation_runs "
            "where automation_id = ? order by id desc limit 1 offset ?)", [a.id, a.id, RUNS_KEPT - 1])
        return run_id


def _minute(hhmm: str) -> int:
    hour, minute = hhmm.split(":")
    return int(hour) * 60 + int(minute)


def _run(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "why": row["why"], "scheduled": row["scheduled"], "started": row["started"],
            "finished": row["finished"], "ok": None if row["ok"] is None else bool(row["ok"]),
            "results": json.loads(row["results"]), "note": row["note"] or ""}
