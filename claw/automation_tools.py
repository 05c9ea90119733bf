"""Automations and the house's history in chat: without a model for the simple forms, and as
tools for the model for the rest.

`AutomationChat` sees each message before the fast path: an answer to a read-back ("yes" saves
the draft, "no" drops it), a routine's name ("goodnight"), a history question ("when did the
garage last open?"), or a sentence that drafts an automation ("every night at 11 lock the front
door"), which it reads back in plain words and saves only when the person agrees.
"""
from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Annotated, Any, Callable, Literal

from claw.agent import TurnResult
from claw.automations import Automation, AutomationError, Step, Understand, describe, draft
from claw.executor import Action
from claw.fastpath import QUESTIONS, FastPath
from claw.scheduler import Scheduler
from claw.tools import Caller, ToolContext, ToolError, ToolRegistry
from devices.home import Home
from devices.model import Entity
from devices.targets import TargetError, resolve
from memory.history import History

BACKEND = "automations"  # the TurnResult backend of everything answered here: no model
DRAFT_TTL = 600.0  # seconds a read-back waits for its yes
YES = {"yes", "y", "ok", "okay", "sure", "yes please", "do it", "save it", "confirm", "yep", "correct",
       "sounds good", "go ahead"}
NO = {"no", "n", "nope", "cancel", "don't", "dont", "no thanks", "never mind", "forget it"}
# What a state word means for each kind of entity ("open" is "on" for a door sensor).
STATE_WORDS = {
    "open": {"open", "opening", "on"}, "opened": {"open", "opening", "on"},
    "closed": {"closed", "closing", "off"}, "close": {"closed", "closing", "off"},
    "unlocked": {"unlocked", "unlocking", "open"}, "unlock": {"unlocked", "unlocking", "open"},
    "locked": {"locked"}, "lock": {"locked"}, "on": {"on", "playing"}, "off": {"off"},
    "turn on": {"on", "playing"}, "turned on": {"on", "playing"}, "turn off": {"off"}, "turned off": {"off"},
    "playing": {"playing"},
}
PERIODS = ("today", "yesterday", "last night", "this week")
_LAST = re.compile(r"^when (?:did|was) (?:the |my )?(?P<name>[\w' ]+?) last (?P<state>open|opened|close|closed|"
                   r"unlock|unlocked|lock|locked|turn on|turned on|turn off|turned off|on|off)\??$")
_HOW_LONG = re.compile(r"^how long (?:was|were|has|have) (?:the |my )?(?P<name>[\w' ]+?) (?:been )?"
                       r"(?P<state>on|off|open|closed|unlocked|locked|playing)(?: (?P<period>today|yesterday|"
                       r"last night|this week))?\??$")
_WAS = re.compile(r"^(?:was|were|has|have) (?:the |my )?(?P<name>[\w' ]+?) (?:been |left )?(?P<state>on|off|open|"
                  r"closed|unlocked|locked|playing) (?:at any time )?(?P<period>today|yesterday|last night|"
                  r"this week)\??$")


_LIST = re.compile(r"^(?:list|show)(?: me)?(?: my| the| all)*(?: the)? (?:automations|routines)"
                   r"(?: and routines)?\??$")
_CHANGE = re.compile(r"^(?P<verb>pause|resume|delete|remove) (?:the )?(?:automation|routine) #?(?P<id>\d{1,9})$")


def understand_with(fast: FastPath) -> Understand:
    """One spoken command as tool calls, through the fast path's parse (nothing runs)."""
    def understand(text: str) -> list[Step] | None:
        command = fast.understand(text)
        if command is None or command.intent in QUESTIONS:
            return None
        return [Step(command.tool, dict(args)) for args in command.calls]
    return understand


class AutomationChat:
    def __init__(self, scheduler: Scheduler, home: Home, history: History, understand: Understand,
                 model_available: Callable[[], bool] = lambda: False):
        self.scheduler = scheduler
        self.model_available = model_available  # a draft we half understood goes to the model then
        self.home = home
        self.history = history
        self.understand = understand
        self._drafts: dict[str, tuple[dict[str, Any], float]] = {}  # chat id -> spec, expiry

    async def __call__(self, text: str, caller: Caller) -> TurnResult | None:
        """Answer the message if it is ours; None passes it on (fast path, then the model)."""
        said = re.sub(r"\s+", " ", text.strip().lower()).rstrip(".!")
        pending = self._drafts.pop(caller.chat_id, None)
        if pending is not None and pending[1] > time.time():
            if said in YES:
                return await self._save(pending[0], caller)
            if said in NO:
                return TurnResult("OK, I haven't saved it.", [], BACKEND)
        if _LIST.match(said):
            return TurnResult(self.listing(), [], BACKEND)
        if m := _CHANGE.match(said):
            return TurnResult(await self.change(m["verb"], int(m["id"]), caller), [], BACKEND)
        routine = self.scheduler.routine_named(text)
        if routine is not None:
            return await self.run_routine_for(routine, caller)
        answer = self.answer_history(said)
        if answer is not None:
            return TurnResult(answer, [], BACKEND)
        drafted = draft(text, self.home, self.understand)
        if drafted is None:
            return None
        if drafted.spec is None:
            if drafted.unsure and self.model_available():
                return None
            return TurnResult(drafted.problem, [], BACKEND)
        try:
            return TurnResult(self.propose(drafted.spec, caller), [], BACKEND)
        except AutomationError as e:
            return TurnResult(str(e), [], BACKEND)

    def propose(self, spec: dict[str, Any], caller: Caller) -> str:
        """Check a draft and hold it for this chat's yes; returns the read-back question."""
        a = self.scheduler.check(spec, caller)
        self._drafts[caller.chat_id] = (a.spec(), time.time() + DRAFT_TTL)
        extra = " I'll ask you to approve its security actions once; after that it runs on its own." \
            if a.secure else ""
        return f"{describe(a, self.home)}{extra} OK?"

    def listing(self) -> str:
        lines = []
        for a in self.scheduler.all():
            shown = self.scheduler.public(a)
            state = "" if a.enabled else " [paused]"
            broken = f" BROKEN: {' '.join(shown['broken'])}" if shown["broken"] else ""
            lines.append(f"#{a.id} {a.name}{state}: {shown['description']}{broken}")
        return "\n".join(lines) or "There are no automations or routines yet."

    async def change(self, verb: str, automation_id: int, caller: Caller) -> str:
        """Pause, resume or delete one (the owner's to do)."""
        if caller.role != "owner":
            return f"Only the owner can {verb} automations."
        a = self.scheduler.get(automation_id)
        if a is None:
            return f"There is no automation #{automation_id}; \"list automations\" shows them."
        if verb in ("delete", "remove"):
            self.scheduler.delete(automation_id)
            return f"Deleted #{a.id} {a.name}."
        a = await self.scheduler.update(automation_id, {"enabled": verb == "resume"}, caller)
        return f"{'Resumed' if a.enabled else 'Paused'} #{a.id} {a.name}."

    async def _save(self, spec: dict[str, Any], caller: Caller) -> TurnResult:
        try:
            a = await self.scheduler.create(spec, caller)
        except (AutomationError, ToolError) as e:
            return TurnResult(f"Not saved: {e}", [], BACKEND)
        return TurnResult(f"Saved (#{a.id}): {describe(a, self.home)}", [], BACKEND)

    async def run_routine_for(self, routine: Automation, caller: Caller) -> TurnResult:
        if caller.role != "owner" and routine.secure:
            names = ", ".join(routine.changes[e] for e in routine.secure)
            return TurnResult(f"Only the owner can run \"{routine.name}\": it changes the {names}.", [], BACKEND)
        result = await self.scheduler.run_now(routine, "chat")
        if result.get("background"):
            return TurnResult(f"{routine.name.capitalize()}: started. It has waits, so it finishes on its "
                              "own; I'll tell you if something fails.", [], BACKEND)
        actions = [Action(r["tool"], r["args"], r["result"], r["ok"]) for r in result["results"]]
        return TurnResult(f"{routine.name.capitalize()}: " + " ".join(a.result for a in actions), actions, BACKEND)

    # -- history -------------------------------------------------------------------------------
    def answer_history(self, said: str) -> str | None:
        """The simple history questions, answered from the record; None for anything else."""
        for pattern, kind in ((_LAST, "last"), (_HOW_LONG, "how long"), (_WAS, "was")):
            m = pattern.match(said)
            if m is None:
                continue
            try:
                entity = self.entity(m["name"])
            except ToolError as e:
                return str(e)
            period = m.groupdict().get("period") or "today"
            return self.history_text(entity, m["state"], kind, period)
        return None

    def entity(self, name: str) -> Entity:
        try:
            found = resolve(self.home, name=name)
        except TargetError as e:
            raise ToolError(str(e)) from None
        if len(found) > 1:
            raise ToolError(f"'{name}' matches {', '.join(e.name for e in found)}; which one?")
        return found[0]

    def history_text(self, entity: Entity, word: str, kind: str, period: str) -> str:
        states = STATE_WORDS[word]
        now = self.scheduler.clock.now()
        state = _STATE.get(word, word)
        if kind == "last":
            when = self.history.last_became(entity.entity_id, states, before=now)
            if when is None:
                days = self.history.retention / 86400
                return (f"I have no record of the {entity.name} being {state} in the last "
                        f"{days:g} day{'s' if days != 1 else ''}.")
            return f"The {entity.name} was last {_BECAME.get(state, state)} {self._when(when, now)}."
        start, end = self._period(period, now)
        spans = self.history.spans(entity.entity_id, states, start, end)
        total = sum(s.end - s.start for s in spans)
        if kind == "how long":
            return f"The {entity.name} was {state} for {_duration(total)} {period}."
        if not spans:
            first = self.history.first_at(entity.entity_id)
            since = "" if first is not None and first <= start else (
                f" (as far as I know: my record of it starts {self._when(first, now).split(' (')[0]})"
                if first is not None else " (I have no record of it yet)")
            return f"No: the {entity.name} was not {state} {period}{since}."
        times = ", ".join(f"{self._clock(s.start)}–{self._clock(s.end)}" for s in spans[:5])
        return f"Yes: the {entity.name} was {state} {period} ({times}; {_duration(total)} in all)."

    def _period(self, period: str, now: float) -> tuple[float, float]:
        """'last night' is 20:00 yesterday to 08:00 today (up to now); days are the house's."""
        local = self.scheduler.local(now)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if period == "yesterday":
            return (midnight - timedelta(days=1)).timestamp(), midnight.timestamp()
        if period == "last night":  # the night that ended this morning (up to now)
            evening = midnight - timedelta(hours=4)
            return evening.timestamp(), min(now, (midnight + timedelta(hours=8)).timestamp())
        if period == "this week":
            return (midnight - timedelta(days=local.weekday())).timestamp(), now
        return midnight.timestamp(), now

    def _when(self, ts: float, now: float) -> str:
        local, today = self.scheduler.local(ts), self.scheduler.local(now).date()
        if local.date() == today:
            day = "today"
        elif local.date() == today - timedelta(days=1):
            day = "yesterday"
        else:
            day = f"on {local.strftime('%A %d %B')}"
        return f"{day} at {local.strftime('%H:%M')} ({_duration(now - ts)} ago)"

    def _clock(self, ts: float) -> str:
        return self.scheduler.local(ts).strftime("%H:%M")


# The state a question's word asks about, and how "last ..." says it.
_STATE = {"opened": "open", "close": "closed", "unlock": "unlocked", "lock": "locked", "turn on": "on",
          "turned on": "on", "turn off": "off", "turned off": "off"}
_BECAME = {"open": "opened", "on": "turned on", "off": "turned off"}


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return "less than a minute"
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def register(registry: ToolRegistry, chat: AutomationChat) -> None:
    scheduler = chat.scheduler

    async def create_automation(
        ctx: ToolContext,
        name: Annotated[str, "A short name; a routine is run by saying it, e.g. 'goodnight'"],
        actions: Annotated[list[dict], "Tool calls in order: {\"tool\": \"HassTurnOn\", \"args\": {...}}, "
                                       "or {\"wait\": seconds}"],
        trigger: Annotated[dict | None, "{\"at\": \"07:00\", \"days\": [\"mon\", ...]}, {\"sun\": \"sunset\", "
                                        "\"offset\": -15}, {\"entity\": name, \"to\": state, \"for\": minutes}; "
                                        "leave out for a routine"] = None,
        conditions: Annotated[list[dict] | None, "{\"after\": \"18:00\", \"before\": \"23:00\"}, "
                                                 "{\"dark\": true}, {\"entity\": name, \"state\": state}"] = None,
    ) -> str:
        """Drafts an automation (runs by itself on a time, sunrise/sunset or a device's state)
        or a routine (a named list of actions run when asked). Nothing is saved yet: tell the
        person the returned read-back exactly and ask them to say yes."""
        spec: dict[str, Any] = {"name": name, "actions": actions}
        if trigger is not None:
            spec["trigger"] = trigger
        if conditions:
            spec["conditions"] = conditions
        try:
            question = chat.propose(spec, ctx.caller)
        except AutomationError as e:
            raise ToolError(str(e)) from None
        return f"Drafted, not saved. Ask them exactly: {question}"

    async def list_automations(ctx: ToolContext) -> str:
        """Lists the automations and routines with their numbers, whether paused or broken."""
        return chat.listing()

    async def pause_automation(ctx: ToolContext, automation_id: Annotated[int, "Its number"]) -> str:
        """Pauses an automation until it is resumed."""
        return await chat.change("pause", automation_id, ctx.caller)

    async def resume_automation(ctx: ToolContext, automation_id: Annotated[int, "Its number"]) -> str:
        """Resumes a paused automation."""
        return await chat.change("resume", automation_id, ctx.caller)

    async def delete_automation(ctx: ToolContext, automation_id: Annotated[int, "Its number"]) -> str:
        """Deletes an automation or routine for good."""
        return await chat.change("delete", automation_id, ctx.caller)

    async def run_routine(ctx: ToolContext, name: Annotated[str, "The routine's name, e.g. goodnight"]) -> str:
        """Runs a routine (or any automation) by name now."""
        a = scheduler.routine_named(name) or next(
            (b for b in scheduler.all() if b.name.lower() == name.strip().lower()), None)
        if a is None:
            raise ToolError(f"there is no routine called '{name}'")
        result = await chat.run_routine_for(a, ctx.caller)
        return result.reply

    async def house_history(
        ctx: ToolContext,
        name: Annotated[str, "The device, e.g. 'garage door', 'pool pump'"],
        state: Annotated[Literal["open", "closed", "unlocked", "locked", "on", "off", "playing"],
                         "The state asked about"],
        period: Annotated[Literal["today", "yesterday", "last night", "this week"], "When"] = "today",
    ) -> str:
        """Answers from the house's history: when a device was last in a state, how long it was
        in it, and whether it was at all during a period."""
        entity = chat.entity(name)
        return " ".join([chat.history_text(entity, state, "last", period),
                         chat.history_text(entity, state, "was", period)])

    registry.add(create_automation)
    registry.add(list_automations)
    registry.add(pause_automation, owner_only=True)
    registry.add(resume_automation, owner_only=True)
    registry.add(delete_automation, owner_only=True)
    registry.add(run_routine)
    registry.add(house_history)
