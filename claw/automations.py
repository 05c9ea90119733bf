"""Automations and routines: what they are, how they are checked, and how they read back.

An automation is a trigger, optional conditions and actions; a routine is the same without a
trigger, run by its name ("goodnight"). Actions are tool calls with the same arguments as
`POST /api/tools/{name}`, so they run through the one executor and policy. The JSON shape:

    {"name": "Kitchen at 7",
     "trigger": {"at": "07:00", "days": ["mon", "tue", "wed", "thu", "fri"]},
         # or {"sun": "sunset", "offset": -15}  (minutes; needs [location] in claw.toml)
         # or {"entity": "Garage Door", "to": "open", "from": "closed", "for": 10}  (minutes)
         # or absent: a routine, run by name
     "conditions": [{"after": "18:00", "before": "23:00"}, {"dark": true},
                    {"entity": "Front Door", "state": "locked"}],
     "actions": [{"tool": "HassTurnOn", "args": {"area": "Kitchen", "domain": ["light"]}},
                 {"wait": 300}]}

`check` turns that into an Automation or raises AutomationError with one sentence; `describe`
reads it back in plain words; `draft` turns the simple spoken forms into the JSON shape with no
model ("every weekday at 7 turn on the kitchen lights", "at sunset ...", "when I say goodnight,
...").
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from claw.tools import ToolError, ToolRegistry
from devices.home import Home, normalize
from devices.model import Entity
from devices.targets import TargetError, resolve

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = dict(zip(DAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")))
WEEKDAYS = list(DAYS[:5])
WEEKEND = list(DAYS[5:])
TARGET_KEYS = ("name", "area", "floor", "domain", "device_class")
MAX_ACTIONS = 20
MAX_CONDITIONS = 10
MAX_WAIT = 6 * 3600  # seconds one wait step may hold a run
MAX_HOLD = 24 * 60  # minutes a state trigger may wait for the state to hold
MAX_NAME = 100
SUN_EVENTS = ("sunrise", "sunset")


class AutomationError(Exception):
    """One sentence saying what is wrong with an automation; nothing was saved."""


@dataclass
class Trigger:
    kind: str  # time | sun | state | routine
    at: str = ""  # time: "HH:MM" (the house's time zone)
    days: list[str] = field(default_factory=list)  # time/sun: empty means every day
    sun: str = ""  # sunrise | sunset
    offset: int = 0  # sun: minutes, negative is before
    entity: str = ""  # state: an entity id
    to: str = ""
    from_: str = ""
    hold: float = 0.0  # state: minutes it must stay so

    def as_dict(self) -> dict[str, Any] | None:
        if self.kind == "routine":
            return None
        if self.kind == "time":
            return {"at": self.at, **({"days": self.days} if self.days else {})}
        if self.kind == "sun":
            return {"sun": self.sun, **({"offset": self.offset} if self.offset else {}),
                    **({"days": self.days} if self.days else {})}
        out: dict[str, Any] = {"entity": self.entity, "to": self.to}
        if self.from_:
            out["from"] = self.from_
        if self.hold:
            out["for"] = self.hold
        return out


@dataclass
class Condition:
    kind: str  # time | dark | light | state
    after: str = ""
    before: str = ""
    entity: str = ""
    state: str = ""

    def as_dict(self) -> dict[str, Any]:
        if self.kind == "time":
            return {k: v for k, v in (("after", self.after), ("before", self.before)) if v}
        if self.kind in ("dark", "light"):
            return {self.kind: True}
        return {"entity": self.entity, "state": self.state}


@dataclass
class Step:
    """One action: a tool call, or a wait (seconds) between two of them."""

    tool: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    wait: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"wait": self.wait} if not self.tool else {"tool": self.tool, "args": self.args}


@dataclass
class Automation:
    name: str
    trigger: Trigger
    conditions: list[Condition]
    actions: list[Step]
    # entity id -> its name when the automation was made: what it watches and what it changes.
    watches: dict[str, str] = field(default_factory=dict)
    changes: dict[str, str] = field(default_factory=dict)
    secure: list[str] = field(default_factory=list)  # security-tier entity ids among `changes`
    id: int = 0
    enabled: bool = True
    created_by: str = "owner"  # the role of whoever made it; its runs act with that role

    @property
    def routine(self) -> bool:
        return self.trigger.kind == "routine"

    def spec(self) -> dict[str, Any]:
        """The JSON shape it was made from (normalized)."""
        out: dict[str, Any] = {"name": self.name}
        trigger = self.trigger.as_dict()
        if trigger is not None:
            out["trigger"] = trigger
        if self.conditions:
            out["conditions"] = [c.as_dict() for c in self.conditions]
        out["actions"] = [s.as_dict() for s in self.actions]
        return out


def restore(spec: dict[str, Any], watches: dict[str, str], changes: dict[str, str],
            secure: list[str]) -> Automation:
    """An automation from its stored, already-checked shape (no names resolved: a device may
    have gone since, and then the automation shows as broken)."""
    t = spec.get("trigger")
    if t is None:
        trigger = Trigger("routine")
    elif "at" in t:
        trigger = Trigger("time", at=t["at"], days=t.get("days", []))
    elif "sun" in t:
        trigger = Trigger("sun", sun=t["sun"], offset=t.get("offset", 0), days=t.get("days", []))
    else:
        trigger = Trigger("state", entity=t["entity"], to=t["to"], from_=t.get("from", ""),
                          hold=t.get("for", 0.0))
    conditions = []
    for c in spec.get("conditions", []):
        if "entity" in c:
            conditions.append(Condition("state", entity=c["entity"], state=c["state"]))
        elif c.get("dark") or c.get("light"):
            conditions.append(Condition("dark" if c.get("dark") else "light"))
        else:
            conditions.append(Condition("time", after=c.get("after", ""), before=c.get("before", "")))
    steps = [Step(wait=s["wait"]) if "wait" in s else Step(s["tool"], s["args"]) for s in spec["actions"]]
    return Automation(spec["name"], trigger, conditions, steps, watches, changes, secure)


# -- checking ------------------------------------------------------------------------------------
def check(spec: Any, home: Home, registry: ToolRegistry, has_location: bool,
          forbidden_tools: set[str] = frozenset(), role: str = "owner") -> Automation:
    """The automation a JSON shape describes for someone of `role`, every name resolved against
    the house now. Raises AutomationError naming the first problem."""
    if not isinstance(spec, dict):
        raise AutomationError("An automation is a JSON object with a name, a trigger and actions.")
    unknown = set(spec) - {"name", "trigger", "conditions", "actions"}
    if unknown:
        raise AutomationError(f"An automation has no field {', '.join(sorted(unknown))}; it takes "
                              "name, trigger, conditions and actions.")
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise AutomationError(f"Give the automation a name of 1 to {MAX_NAME} characters.")
    automation = Automation(name.strip(), Trigger("routine"), [], [], created_by=role)
    automation.trigger = _trigger(spec.get("trigger"), home, has_location, automation.watches)
    conditions = spec.get("conditions") or []
    if not isinstance(conditions, list) or len(conditions) > MAX_CONDITIONS:
        raise AutomationError(f"conditions must be a list of at most {MAX_CONDITIONS}.")
    automation.conditions = [_condition(c, home, has_location, automation.watches) for c in conditions]
    actions = spec.get("actions")
    if not isinstance(actions, list) or not actions or len(actions) > MAX_ACTIONS:
        raise AutomationError(f"An automation needs 1 to {MAX_ACTIONS} actions.")
    for number, action in enumerate(actions, 1):
        automation.actions.append(_step(number, action, home, registry, forbidden_tools, automation))
    if all(s.wait for s in automation.actions):
        raise AutomationError("An automation needs at least one action besides waiting.")
    trigger = automation.trigger
    if trigger.kind == "state" and trigger.entity in automation.changes:
        raise AutomationError(f"That automation would trigger itself: it changes the "
                              f"{automation.changes[trigger.entity]}, which is what starts it.")
    return automation


def _clock(value: Any, what: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        raise AutomationError(f"{what} must be a time like 07:00, not {value!r}.")
    hour, minute = (int(p) for p in value.strip().split(":"))
    if hour > 23 or minute > 59:
        raise AutomationError(f"{value} is not a time of day: use 00:00 to 23:59.")
    return f"{hour:02d}:{minute:02d}"


def _days(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
        raise AutomationError(f"days must be a list of {', '.join(DAYS)}.")
    full = {name.lower(): code for code, name in DAY_NAMES.items()}
    days = [full.get(d.strip().lower(), d.strip().lower()) for d in value]
    bad = [raw for d, raw in zip(days, value) if d not in DAYS]
    if bad:
        raise AutomationError(f"{bad[0]!r} is not a day; use {', '.join(DAYS)}.")
    ordered = [d for d in DAYS if d in days]
    return [] if ordered == list(DAYS) else ordered


def _trigger(spec: Any, home: Home, has_location: bool, watches: dict[str, str]) -> Trigger:
    if spec is None:
        return Trigger("routine")
    if not isinstance(spec, dict):
        raise AutomationError("trigger must be an object: {\"at\": \"07:00\"}, {\"sun\": \"sunset\"} "
                              "or {\"entity\": ..., \"to\": ...}.")
    if "at" in spec:
        _only(spec, {"at", "days"}, "A time trigger")
        return Trigger("time", at=_clock(spec["at"], "trigger.at"), days=_days(spec.get("days")))
    if "sun" in spec:
        _only(spec, {"sun", "offset", "days"}, "A sun trigger")
        if spec["sun"] not in SUN_EVENTS:
            raise AutomationError(f"trigger.sun must be sunrise or sunset, not {spec['sun']!r}.")
        offset = spec.get("offset", 0)
        if isinstance(offset, bool) or not isinstance(offset, int) or abs(offset) > 720:
            raise AutomationError("trigger.offset is whole minutes from -720 to 720.")
        if not has_location:
            raise AutomationError("Sunrise and sunset need the house's location: add a [location] "
                                  "section with latitude and longitude to claw.toml.")
        return Trigger("sun", sun=spec["sun"], offset=offset, days=_days(spec.get("days")))
    if "entity" in spec:
        _only(spec, {"entity", "to", "from", "for"}, "A state trigger")
        entity = _entity(spec["entity"], home, "trigger.entity")
        to = _state(spec.get("to"), "trigger.to")
        hold = spec.get("for", 0)
        if isinstance(hold, bool) or not isinstance(hold, (int, float)) or not 0 <= hold <= MAX_HOLD:
            raise AutomationError(f"trigger.for is minutes from 0 to {MAX_HOLD}.")
        watches[entity.entity_id] = entity.name
        return Trigger("state", entity=entity.entity_id, to=to,
                       from_=_state(spec["from"], "trigger.from") if spec.get("from") else "",
                       hold=float(hold))
    raise AutomationError("trigger needs \"at\" (a time), \"sun\" (sunrise or sunset) or \"entity\" "
                          "(a state change); leave it out for a routine run by name.")


def _condition(spec: Any, home: Home, has_location: bool, watches: dict[str, str]) -> Condition:
    if not isinstance(spec, dict):
        raise AutomationError("Each condition is an object, e.g. {\"dark\": true}.")
    if "after" in spec or "before" in spec:
        _only(spec, {"after", "before"}, "A time condition")
        return Condition("time", after=_clock(spec["after"], "after") if "after" in spec else "",
                         before=_clock(spec["before"], "before") if "before" in spec else "")
    for kind in ("dark", "light"):
        if kind in spec:
            _only(spec, {kind}, f"A {kind} condition")
            if spec[kind] is not True:
                raise AutomationError(f"Write the condition as {{\"{kind}\": true}}.")
            if not has_location:
                raise AutomationError("\"After dark\" needs the house's location: add a [location] "
                                      "section with latitude and longitude to claw.toml.")
            return Condition(kind)
    if "entity" in spec:
        _only(spec, {"entity", "state"}, "A state condition")
        entity = _entity(spec["entity"], home, "condition entity")
        watches.setdefault(entity.entity_id, entity.name)
        return Condition("state", entity=entity.entity_id, state=_state(spec.get("state"), "condition state"))
    raise AutomationError("A condition is {\"after\"/\"before\": time}, {\"dark\": true} or "
                          "{\"entity\": ..., \"state\": ...}.")


def _step(number: int, spec: Any, home: Home, registry: ToolRegistry, forbidden: set[str],
          automation: Automation) -> Step:
    if not isinstance(spec, dict):
        raise AutomationError(f"Action {number} must be an object with a tool and args.")
    if "wait" in spec:
        _only(spec, {"wait"}, f"Action {number}")
        wait = spec["wait"]
        if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not 0 < wait <= MAX_WAIT:
            raise AutomationError(f"Action {number}: wait is seconds from 1 to {MAX_WAIT}.")
        return Step(wait=float(wait))
    _only(spec, {"tool", "args"}, f"Action {number}")
    tool = registry.get(str(spec.get("tool")))
    if tool is None or tool.name in forbidden:
        raise AutomationError(f"Action {number}: there is no tool {spec.get('tool')!r} an automation "
                              "can use (GET /api/tools lists them).")
    args = spec.get("args") or {}
    try:
        checked = registry.validate(tool, args)
    except ToolError as e:
        raise AutomationError(f"Action {number}: {e}.") from None
    if tool.owner_only and automation.created_by != "owner":
        raise AutomationError(f"Action {number}: only the owner can use {tool.name}.")
    for entity in targets_of(home, checked):
        automation.changes.setdefault(entity.entity_id, entity.name)
        if entity.risk_tier == "security" and entity.entity_id not in automation.secure:
            automation.secure.append(entity.entity_id)
    return Step(tool.name, checked)


def targets_of(home: Home, args: dict[str, Any]) -> list[Entity]:
    """The entities a tool call's target arguments name; AutomationError when none match."""
    target = {k: args[k] for k in TARGET_KEYS if args.get(k)}
    if not target:
        return []
    try:
        return resolve(home, **target)
    except TargetError as e:
        raise AutomationError(str(e)) from None


def _entity(value: Any, home: Home, what: str) -> Entity:
    if not isinstance(value, str) or not value.strip():
        raise AutomationError(f"{what} must name a device.")
    if value in home.entities:
        return home.entities[value]
    try:
        found = resolve(home, name=value)
    except TargetError as e:
        raise AutomationError(str(e)) from None
    if len(found) > 1:
        raise AutomationError(f"'{value}' matches {len(found)} devices; name one of them.")
    return found[0]


def _state(value: Any, what: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[a-z_]{1,30}", value.strip().lower()):
        raise AutomationError(f"{what} must be a state such as on, off, open, closed, locked or unlocked.")
    return value.strip().lower()


def _only(spec: dict[str, Any], allowed: set[str], what: str) -> None:
    extra = set(spec) - allowed
    if extra:
        raise AutomationError(f"{what} has no field {', '.join(sorted(extra))} "
                              f"(it takes {', '.join(sorted(allowed))}).")


def find_loop(new: Automation, others: list[Automation]) -> list[str] | None:
    """Names of automations that would set each other off in a circle with `new`, or None.
    An automation leads to another when it changes an entity the other's state trigger watches."""
    everyone = [a for a in others if a.id != new.id] + [new]

    def next_ones(a: Automation) -> list[Automation]:
        return [b for b in everyone if b.trigger.kind == "state" and b.trigger.entity in a.changes]

    path: list[Automation] = [new]
    seen: set[int] = set()

    def visit(a: Automation) -> bool:
        for b in next_ones(a):
            if b is new:
                return True
            if id(b) in seen:
                continue
            seen.add(id(b))
            path.append(b)
            if visit(b):
                return True
            path.pop()
        return False

    return [a.name for a in path] if visit(new) else None


# -- reading back ------------------------------------------------------------------------------
def describe(a: Automation, home: Home) -> str:
    """'Every day at 23:00: lock the Front Door.'"""
    head = _when(a, home) + "".join(_if(c, a, home) for c in a.conditions)
    steps = [_say(s, home) for s in a.actions]
    return f"{head}: {_join(steps)}."


def _when(a: Automation, home: Home) -> str:
    t = a.trigger
    if t.kind == "routine":
        return f'When you say "{a.name}"'
    if t.kind in ("time", "sun"):
        if not t.days:
            days = "Every day"
        elif t.days == WEEKDAYS:
            days = "Every weekday"
        elif t.days == WEEKEND:
            days = "Every weekend day"
        else:
            days = "Every " + _join([DAY_NAMES[d] for d in t.days])
        if t.kind == "time":
            return f"{days} at {t.at}"
        if not t.offset:
            return f"{days} at {t.sun}"
        return f"{days} {_minutes(abs(t.offset))} {'before' if t.offset < 0 else 'after'} {t.sun}"
    name = _name(t.entity, a.watches, home)
    entity = home.entities.get(t.entity)
    if entity is not None and entity.domain == "binary_sensor" and t.to == "on" and \
            entity.device_class in ("motion", "occupancy", "presence"):
        return f"When the {name} sees motion"
    said = f"When the {name} {'has been' if t.hold else 'becomes'} {t.to.replace('_', ' ')}"
    if t.from_:
        said += f" (from {t.from_.replace('_', ' ')})"
    return said + (f" for {_minutes(t.hold)}" if t.hold else "")


def _if(c: Condition, a: Automation, home: Home) -> str:
    if c.kind == "time":
        if c.after and c.before:
            return f", between {c.after} and {c.before}"
        return f", after {c.after}" if c.after else f", before {c.before}"
    if c.kind == "dark":
        return ", if it is dark"
    if c.kind == "light":
        return ", if it is light out"
    return f", if the {_name(c.entity, a.watches, home)} is {c.state.replace('_', ' ')}"


# Verbs for HassTurnOn / HassTurnOff by the domain they land on (as home_tools' ON_OFF does).
_ON = {"lock": "lock", "cover": "open", "valve": "open", "alarm_control_panel": "arm"}
_OFF = {"lock": "unlock", "cover": "close", "valve": "close", "alarm_control_panel": "disarm"}


def _say(step: Step, home: Home) -> str:
    if not step.tool:
        return f"wait {_minutes(step.wait / 60)}"
    args = step.args
    what = _target_words(args)
    domain = _domain(home, args)
    if step.tool == "HassTurnOn":
        return f"{_ON.get(domain, 'turn on')} {what}"
    if step.tool == "HassTurnOff":
        return f"{_OFF.get(domain, 'turn off')} {what}"
    if step.tool == "HassLightSet" and args.get("brightness") is not None:
        return f"set {what} to {args['brightness']}%"
    if step.tool == "HassClimateSetTemperature":
        return f"set {what} to {args['temperature']:g}°"
    if step.tool == "HassSetPosition":
        return f"set {what} to {args['position']}% open"
    if step.tool == "HassSetVolume":
        return f"set {what} to {args['volume_level']}% volume"
    verb = re.sub(r"(?<!^)(?=[A-Z])", " ", step.tool.removeprefix("Hass")).lower()
    rest = {k: v for k, v in args.items() if k not in TARGET_KEYS}
    extra = f" ({', '.join(f'{k} {v}' for k, v in rest.items())})" if rest else ""
    return f"{verb} {what}{extra}".replace("  ", " ").strip()


def _target_words(args: dict[str, Any]) -> str:
    kinds = args.get("domain") or args.get("device_class") or []
    kind = " and ".join(_plural(k) for k in kinds) if kinds else ""
    if args.get("name"):
        where = f" in the {args['area']}" if args.get("area") else ""
        return f"the {args['name']}{where}"
    if args.get("area"):
        return f"the {args['area']} {kind or 'devices'}"
    if args.get("floor"):
        return f"the {kind or 'devices'} on the {args['floor']}"
    return f"all the {kind}" if kind else ""


def _plural(domain: str) -> str:
    return {"light": "lights", "switch": "switches", "media_player": "speakers", "cover": "covers",
            "fan": "fans", "lock": "locks", "climate": "thermostats"}.get(domain, domain.replace("_", " "))


def _domain(home: Home, args: dict[str, Any]) -> str:
    try:
        found = targets_of(home, args)
    except AutomationError:
        return ""
    domains = {e.domain for e in found}
    return domains.pop() if len(domains) == 1 else ""


def _name(entity_id: str, known: dict[str, str], home: Home) -> str:
    entity = home.entities.get(entity_id)
    return entity.name if entity is not None else known.get(entity_id, entity_id)


def _minutes(minutes: float) -> str:
    if minutes >= 60 and minutes % 60 == 0:
        hours = int(minutes // 60)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes:g} minute{'s' if minutes != 1 else ''}"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def problems(a: Automation, home: Home) -> list[str]:
    """What is broken now: a device it watches or changes that is not in the house any more."""
    gone = {**a.watches, **a.changes}
    return [f"The {name} ({entity_id}) is not in the house any more." for entity_id, name in gone.items()
            if entity_id not in home.entities]


# -- drafting from plain words, without a model ------------------------------------------------
# Turns one command ("turn on the kitchen lights") into tool calls, or None (the fast path's parse).
Understand = Callable[[str], "list[Step] | None"]


@dataclass
class Draft:
    """What a sentence asks to automate: the JSON shape, or why it could not be made."""

    spec: dict[str, Any] | None
    problem: str = ""
    unsure: bool = False  # the form was ours but its actions were not understood: a model may do better


_DAY_WORDS = {"monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu", "friday": "fri",
              "saturday": "sat", "sunday": "sun"}
_TIME = r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>am|pm|a\.m\.|p\.m\.)?|(?P<word>noon|midnight)"
_EVERY = (r"(?:(?:every|each) (?P<every>day|night|morning|evening|weekday|weekend day|"
          r"(?:(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?(?:,? (?:and )?)?)+)"
          r"|on (?P<on>weekdays|weekends|(?:(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?"
          r"(?:,? (?:and )?)?)+)|daily)")
_AT_TIME = re.compile(rf"^(?:{_EVERY} )?at (?:{_TIME})(?: o'?clock)?[,:]? (?P<rest>.+)$")
_AT_SUN = re.compile(rf"^(?:{_EVERY} )?(?:at |(?P<n>\d+) (?P<unit>minutes?|mins?|hours?) (?P<rel>before|after) )"
                     r"(?P<sun>sunset|sunrise|dusk|dawn)[,:]? (?P<rest>.+)$")
_ROUTINE = re.compile(r"^when i say [\"'“]?(?P<name>[\w' ]{1,40}?)[\"'”]?\s*(?:,|:|then\b)\s*(?P<rest>.+)$")
_MOTION = re.compile(r"^when (?:there is |there's )?(?:motion|someone|somebody|anyone) (?:is )?"
                     r"(?:detected )?(?:in|on|at) (?:the )?(?P<area>[\w' ]+?)(?P<dark> after dark| at night)?"
                     r"[,:] (?P<rest>.+)$")
_BECOMES = re.compile(r"^when (?:the )?(?P<name>[\w' ]+?) (?:is |gets |turns |goes |becomes |is left |stays )?"
                      r"(?P<state>opens|opened|open|closes|closed|unlocks|unlocked|locks|locked|on|off)"
                      r"(?: for (?:more than |over )?(?P<n>\d+) (?:minutes?|mins?))?[,:] (?P<rest>.+)$")
_STATE_WORDS = {"opens": "open", "opened": "open", "closes": "closed", "unlocks": "unlocked", "locks": "locked"}
_FOR = re.compile(r"^(?P<cmd>.+?) for (?P<n>\d+) (?P<unit>minutes?|mins?|hours?|seconds?)$")
_SPLIT = re.compile(r",? and then |, then |,? and |, ")


def draft(text: str, home: Home, understand: Understand) -> Draft | None:
    """The automation a simple sentence asks for; None when it is not one of the forms here."""
    words = re.sub(r"\s+", " ", text.strip().rstrip(".!")).replace("’", "'")
    said, name = words.lower(), words[:MAX_NAME]
    if m := _ROUTINE.match(said):
        return _with_actions({"name": m["name"].strip()}, m["rest"], understand)
    if m := _AT_SUN.match(said):
        offset = 0
        if m["n"]:
            offset = int(m["n"]) * (60 if m["unit"].startswith("hour") else 1)
            offset = -offset if m["rel"] == "before" else offset
        sun = {"dusk": "sunset", "dawn": "sunrise"}.get(m["sun"], m["sun"])
        trigger: dict[str, Any] = {"sun": sun, **({"offset": offset} if offset else {})}
        trigger.update(_days_said(m))
        return _with_actions({"name": name, "trigger": trigger}, m["rest"], understand)
    if m := _AT_TIME.match(said):
        at = _time_said(m)
        if at is None:
            return Draft(None, "That is not a time of day: use 00:00 to 23:59 (or 7am, 11pm).")
        trigger = {"at": at, **_days_said(m)}
        return _with_actions({"name": name, "trigger": trigger}, m["rest"], understand)
    if m := _MOTION.match(said):
        area = home.area_named(m["area"])
        if area is None:
            return Draft(None, f"I don't have an area called '{m['area']}'.")
        sensors = [e for e in home.entities.values() if e.area == area.name and e.domain == "binary_sensor"
                   and e.device_class in ("motion", "occupancy", "presence")]
        if not sensors:
            return Draft(None, f"I have no motion sensor in the {area.name}.")
        spec: dict[str, Any] = {"name": name,
                                "trigger": {"entity": sensors[0].entity_id, "to": "on"}}
        if m["dark"]:
            spec["conditions"] = [{"dark": True}]
        return _with_actions(spec, m["rest"], understand)
    if m := _BECOMES.match(said):
        found = home.named(m["name"])
        if not found:
            return None  # "when I get home, ..." and the like are the model's
        state = _STATE_WORDS.get(m["state"], m["state"])
        trigger = {"entity": found[0].entity_id, "to": state, **({"for": int(m["n"])} if m["n"] else {})}
        return _with_actions({"name": name, "trigger": trigger}, m["rest"], understand)
    return None


def _with_actions(spec: dict[str, Any], said: str, understand: Understand) -> Draft:
    steps: list[Step] = []
    for part in _parts(said, understand):
        if part is None:
            return Draft(None, f"I didn't understand \"{said}\" as things I can do; say each one "
                               "like a command, e.g. \"turn off the kitchen lights\".", unsure=True)
        steps += part
    spec["actions"] = [s.as_dict() for s in steps]
    return Draft(spec)


def _parts(said: str, understand: Understand) -> list[list[Step] | None]:
    """The steps of each command in `said`: the whole first, else split at 'and' and commas."""
    whole = _one_command(said, understand)
    if whole is not None:
        return [whole]
    return [_one_command(p.strip(), understand) for p in _SPLIT.split(said) if p.strip()]


def _one_command(said: str, understand: Understand) -> list[Step] | None:
    steps = understand(said)
    if steps is not None:
        return steps
    m = _FOR.match(said)  # "turn on the porch light for 5 minutes": on, wait, off
    if m is None:
        return None
    steps = understand(m["cmd"])
    if not steps or any(s.tool != "HassTurnOn" for s in steps):
        return None
    seconds = int(m["n"]) * {"h": 3600, "m": 60, "s": 1}[m["unit"][0]]
    return [*steps, Step(wait=float(seconds)), *(Step("HassTurnOff", dict(s.args)) for s in steps)]


def _time_said(m: re.Match[str]) -> str | None:
    if m["word"]:
        return "12:00" if m["word"] == "noon" else "00:00"
    hour, minute = int(m["hour"]), int(m["minute"] or 0)
    ampm = (m["ampm"] or "").replace(".", "")
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    elif not ampm and m["every"] in ("night", "evening") and 5 <= hour < 12:
        hour += 12  # "every night at 11" is 23:00
    if hour > 23 or minute > 59:
        return None
    return f"{hour:02d}:{minute:02d}"


def _days_said(m: re.Match[str]) -> dict[str, Any]:
    every = m["every"] or m["on"] or ""
    if every in ("weekday", "weekdays"):
        return {"days": WEEKDAYS}
    if every in ("weekend day", "weekends"):
        return {"days": WEEKEND}
    days = [code for word, code in _DAY_WORDS.items() if word in every]
    return {"days": days} if days else {}


def is_routine_call(text: str, name: str) -> bool:
    """Whether a message asks for the routine called `name` ("goodnight", "run goodnight")."""
    said = normalize(re.sub(r"^\s*(?:run|start|do)\s+(?:the\s+)?(?:routine\s+)?", "", text, flags=re.I))
    return bool(said) and said in (normalize(name), normalize(name + " routine"))
