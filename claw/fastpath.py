"""The fast path: common home commands understood with no model at all.

hassil matches the text against Home Assistant's own sentence templates (home-assistant-intents)
and the live names of our entities, areas and floors. A match becomes calls to the same generic
tools the models use, run through the one executor (so the same policy applies); questions are
answered from live state. The reply comes from the response templates that ship with the
sentences. Anything not matched with confidence returns None, and the model takes over.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from hassil import Intents, RecognizeResult, TextSlotList, TextSlotValue, filter_intents, recognize_best
from hassil.models import UnmatchedRangeEntity
from hassil.recognize import MISSING_ENTITY
from home_assistant_intents import get_intents

from claw.agent import TurnResult
from claw.executor import Action, Executor
from claw.fastpath_reply import Replies, view
from claw.tools import Caller
from devices.home import Home, normalize
from devices.model import Entity
from devices.targets import TargetError, resolve

# Intents we act on, and the tool each becomes. Questions read state through GetLiveContext.
TOOLS = {
    "HassTurnOn": "HassTurnOn", "HassTurnOff": "HassTurnOff", "HassLightSet": "HassLightSet",
    "HassMediaPause": "HassMediaPause", "HassMediaUnpause": "HassMediaUnpause",
    "HassMediaNext": "HassMediaNext", "HassMediaPrevious": "HassMediaPrevious",
    "HassSetVolume": "HassSetVolume", "HassSetVolumeRelative": "HassSetVolumeRelative",
    "HassMediaPlayerMute": "HassMediaPlayerMute", "HassMediaPlayerUnmute": "HassMediaPlayerUnmute",
    "HassMediaSearchAndPlay": "HassMediaSearchAndPlay",
    "HassClimateSetTemperature": "HassClimateSetTemperature", "HassSetPosition": "HassSetPosition",
    "HassFanSetSpeed": "HassFanSetSpeed", "HassVacuumStart": "HassVacuumStart",
    "HassVacuumReturnToBase": "HassVacuumReturnToBase", "HassVacuumCleanArea": "HassVacuumCleanArea",
    "HassLawnMowerStartMowing": "HassLawnMowerStartMowing", "HassLawnMowerDock": "HassLawnMowerDock",
    "HassGetState": "GetLiveContext", "HassClimateGetTemperature": "GetLiveContext",
}
QUESTIONS = {"HassGetState", "HassClimateGetTemperature"}
MEDIA = {"HassMediaPause", "HassMediaUnpause", "HassMediaNext", "HassMediaPrevious", "HassSetVolume",
         "HassSetVolumeRelative", "HassMediaPlayerMute", "HassMediaPlayerUnmute"}
# Wildcards are free text; only these two are safe to take as they come (what to play, which
# zone a person is in).
WILDCARDS = {"HassMediaSearchAndPlay": "search_query", "HassGetState": "state"}
# Arguments each tool takes besides its value slots (others are dropped).
TARGET_ARGS = {
    "HassTurnOn": ("name", "area", "floor", "domain", "device_class"),
    "HassTurnOff": ("name", "area", "floor", "domain", "device_class"),
    "HassSetPosition": ("name", "area", "floor", "domain", "device_class"),
    "HassMediaSearchAndPlay": ("name", "area"),
    "HassVacuumCleanArea": ("name", "area"),
    "HassLawnMowerStartMowing": ("name", "area"),
    "HassLawnMowerDock": ("name", "area"),
    "GetLiveContext": ("name", "area", "floor", "domain"),
}
# Words that, said where a device name was expected, are not a device's name.
NOT_NAMES = {"it", "that", "this", "them", "everything", "all", "something", "anything", "music",
             "anyone", "anybody", "someone", "somebody", "everyone", "everybody", "who", "what"}
CONNECTIVES = {"for", "to", "in", "on", "at", "with", "by", "of", "from", "and", "or", "if", "when"}


@dataclass
class Command:
    """What a sentence asks for, before anything runs."""

    intent: str
    tool: str
    calls: list[dict[str, Any]]  # tool arguments, one dict per call
    slots: dict[str, Any]  # for the reply template
    response: str  # key of the reply template
    query: dict[str, Any] = field(default_factory=dict)  # questions: device_class/state filters


class FastPath:
    def __init__(self, home: Home, executor: Executor, language: str = "en"):
        intents, responses = _language(language)
        self.home = home
        self.executor = executor
        self.language = language
        registered = {i for i, tool in TOOLS.items() if executor.registry.get(tool) is not None}
        self.intents = filter_intents(intents, intent_names=registered)
        self.replies = Replies(responses, home)
        self._lists_key: tuple[Any, ...] | None = None
        self._lists: dict[str, TextSlotList] = {}
        self._known_words: set[str] = set()
        self.understand("turn on the lamp in the kitchen")  # parse every template now, not on the first message

    async def __call__(self, text: str, caller: Caller, area: str | None = None) -> TurnResult | None:
        """Handle a message if it is a command we understand; None hands it to the model.

        `area` is where the speaker is (a voice satellite's room); chat has none.
        """
        command = self.understand(text, area)
        if command is None:
            return None
        if command.intent in QUESTIONS:
            return await self._answer(command, caller)
        actions = [await self.executor.run(command.tool, args, caller) for args in command.calls]
        failed = [a for a in actions if not a.ok]
        if failed:
            return TurnResult(" ".join(_error_text(a) for a in failed), actions, "fast")
        targets = self._targets(command.calls)
        reply = self.replies.render(command.intent, command.response, command.slots, targets)
        return TurnResult(reply or "Done.", actions, "fast")

    # -- understanding ------------------------------------------------------------------------
    def understand(self, text: str, area: str | None = None) -> Command | None:
        """The command a sentence asks for, or None when it is not one we are sure of."""
        lists = self.slot_lists()
        context: dict[str, Any] = {}
        speaker_area = self.home.area_named(area) if area else None
        if speaker_area is not None:
            context["area"] = {"value": speaker_area.name, "text": speaker_area.name}
        result = recognize_best(text, self.intents, slot_lists=lists, intent_context=context,
                                language=self.language, best_slot_name="name")
        if result is not None:
            return self._command(result)
        # A second, looser pass: a command whose device or area we don't know ("turn on the
        # pendant", "lights on in the attic"), or that needs the speaker's room.
        result = recognize_best(text, self.intents, slot_lists=lists, intent_context=context,
                                language=self.language, best_slot_name="name",
                                allow_unmatched_entities=True)
        if result is None or result.text_chunks_matched == 0:
            return None
        command = self._loose_command(result)
        if command is not None and text.rstrip().endswith("?") and command.intent not in QUESTIONS:
            return None  # "anyone in the driveway?" is a question, not "turn on 'anyone'"
        return command

    def _command(self, result: RecognizeResult) -> Command | None:
        intent = result.intent.name
        for e in result.entities_list:
            if e.is_wildcard and (WILDCARDS.get(intent) != e.name or len(str(e.value).split()) > 6):
                return None
        slots = {e.name: _plain(e.value) for e in result.entities_list}
        if "name" in slots and isinstance(result.context.get("domain"), str):
            slots.setdefault("domain", result.context["domain"])
        return self._plan(intent, slots, result.response or "default")

    def _loose_command(self, result: RecognizeResult) -> Command | None:
        intent = result.intent.name
        if any(e.is_wildcard for e in result.entities_list):
            return None
        unmatched = {k: u for k, u in result.unmatched_entities.items()
                     if not (k == "domain" and getattr(u, "text", "") == MISSING_ENTITY)}
        if len(unmatched) != 1 or any(isinstance(u, UnmatchedRangeEntity) for u in unmatched.values()):
            return None
        (key, missing), = unmatched.items()
        said = missing.text.strip()
        slots = {e.name: _plain(e.value) for e in result.entities_list}
        if key == "area" and said == MISSING_ENTITY:
            return self._without_room(intent, slots, result.response or "default")
        if (key not in ("name", "area") or intent in QUESTIONS
                or not self._could_be_a_name(said, intent, key)):
            return None
        domains = result.intent_data.requires_context.get("domain")
        if "scene" in (domains or ()):
            return None  # "<anything> in the study" reads as a scene; only a known scene is one
        slots[key] = said
        if key == "name" and domains:
            slots.setdefault("domain", domains)
        return self._plan(intent, slots, result.response or "default")

    def _could_be_a_name(self, said: str, intent: str, key: str) -> bool:
        """Whether words said where a name was expected plausibly name a device or an area."""
        words = normalize(said).split()
        if not words or len(words) > 3 or any(w.isdigit() or w in CONNECTIVES for w in words):
            return False
        if key == "area":
            return True
        if " ".join(words) in NOT_NAMES or self.home.area_named(said) is not None:
            return False  # "turn on the kitchen": a room, not a device; the model can ask what
        if normalize(said) in {normalize(f) for f in self.home.floors()}:
            return False
        return intent in ("HassTurnOn", "HassTurnOff") or bool(_stems(said) & self._known_words)

    def _without_room(self, intent: str, slots: dict[str, Any], response: str) -> Command | None:
        """A sentence that needs the speaker's room, said where there is none (chat): act only
        when the house leaves one sensible target (the one thermostat; what is playing)."""
        entities = list(self.home.entities.values())
        if intent in ("HassClimateGetTemperature", "HassClimateSetTemperature"):
            found = [e for e in entities if e.domain == "climate"]
            if len(found) != 1:
                return None
        elif intent in MEDIA:
            players = [e for e in entities if e.domain == "media_player"]
            if intent == "HassMediaPlayerUnmute":
                found = [e for e in players if e.attributes.get("is_volume_muted")]
            else:
                state = "paused" if intent == "HassMediaUnpause" else "playing"
                found = [e for e in players if e.state == state]
            # Pausing or muting everything that plays is what "pause" means; for louder,
            # resume or skip, which player is a real question.
            if not found or (len(found) > 1 and intent not in ("HassMediaPause", "HassMediaPlayerMute")):
                return None
        else:
            return None
        command = self._plan(intent, {**slots, "name": found[0].name}, response)
        if command is not None:
            base = {k: v for k, v in command.calls[0].items() if k not in ("name", "area")}
            command.calls = [{**base, "name": e.name, **({"area": e.area} if e.area else {})}
                             for e in found]
        return command

    def _plan(self, intent: str, slots: dict[str, Any], response: str) -> Command | None:
        tool = TOOLS[intent]
        targets = TARGET_ARGS.get(tool, ("name", "area", "floor"))
        args: dict[str, Any] = {}
        for key in targets:
            value = slots.get(key)
            if value is None:
                continue
            args[key] = [value] if key in ("domain", "device_class") and isinstance(value, str) else value
        query: dict[str, Any] = {}
        if intent == "HassLightSet":
            for key in ("brightness", "color", "temperature"):
                if key in slots:
                    args[key] = slots[key]
        elif intent == "HassSetVolume":
            args["volume_level"] = int(slots["volume_level"])
        elif intent == "HassSetVolumeRelative":
            step = slots["volume_step"]
            args["volume_step"] = step if isinstance(step, str) else str(int(step))
        elif intent == "HassClimateSetTemperature":
            args["temperature"] = slots["temperature"]
        elif intent == "HassSetPosition":
            args["position"] = int(slots["position"])
        elif intent == "HassFanSetSpeed":
            args["percentage"] = int(slots["percentage"])
        elif intent == "HassMediaSearchAndPlay":
            args["search_query"] = slots["search_query"]
            if not self._plays_cleanly(args):
                return None
        elif intent == "HassGetState":
            query = {"device_class": slots.get("device_class"), "state": slots.get("state")}
        elif intent == "HassClimateGetTemperature":
            args.setdefault("domain", ["climate"])
        if intent == "HassVacuumCleanArea" and "area" not in args:
            return None
        if not (set(args) & {"name", "area", "floor", "domain", "device_class"}) and intent not in (
                "HassLawnMowerStartMowing", "HassLawnMowerDock", "HassVacuumStart"):
            return None
        return Command(intent, tool, [args], slots, response, query)

    def _plays_cleanly(self, args: dict[str, Any]) -> bool:
        """Search-and-play stays on the fast path only for a favorite the target already has;
        anything else (a genre, a radio station) is the model's to find."""
        try:
            players = resolve(self.home, name=args.get("name"), area=args.get("area"),
                              domain="media_player", service="play_favorite")
        except TargetError:
            return True  # the tool says what is missing
        wanted = normalize(args["search_query"])
        favorites = players[0].attributes.get("favorites") or []
        return any(wanted in normalize(f) or normalize(f) in wanted for f in favorites)

    # -- slot lists from the live home --------------------------------------------------------
    def slot_lists(self) -> dict[str, TextSlotList]:
        """Names, areas and floors as hassil lists, rebuilt only when a name changes."""
        entities = self.home.entities.values()
        key = (tuple((e.entity_id, e.name, *e.aliases) for e in entities),
               tuple((a.name, a.floor, *a.aliases) for a in self.home.areas.values()))
        if key == self._lists_key:
            return self._lists
        names: dict[tuple[str, str], TextSlotValue] = {}
        for e in entities:
            for text in (e.name, *e.aliases):
                names.setdefault((normalize(text), e.domain), TextSlotValue.from_tuple(
                    (text, text, {"domain": e.domain}), allow_template=False))
        areas = [(text, a.name) for a in self.home.areas.values() for text in (a.name, *a.aliases)]
        floors = [(f, f) for f in self.home.floors()]
        self._lists = {
            "name": TextSlotList(name="name", values=list(names.values())),
            "area": TextSlotList.from_tuples(areas, allow_template=False, name="area"),
            "floor": TextSlotList.from_tuples(floors, allow_template=False, name="floor"),
        }
        self._known_words = set().union(*(_stems(t) for e in entities for t in (e.name, *e.aliases)))
        self._lists_key = key
        return self._lists

    # -- acting and answering -----------------------------------------------------------------
    def _targets(self, calls: list[dict[str, Any]]) -> list[Entity]:
        """The entities the calls acted on, as they are now (for the reply)."""
        found: list[Entity] = []
        for args in calls:
            try:
                found += resolve(self.home, **{k: args.get(k) for k in
                                               ("name", "area", "floor", "domain", "device_class")})
            except TargetError:
                continue  # e.g. a search-and-play target; the reply then needs no state
        return found

    async def _answer(self, command: Command, caller: Caller) -> TurnResult:
        args = command.calls[0]
        action = await self.executor.run(command.tool, args, caller)
        if not action.ok:
            return TurnResult(_error_text(action), [action], "fast")
        found = resolve(self.home, name=args.get("name"), area=args.get("area"),
                        floor=args.get("floor"), domain=args.get("domain"),
                        device_class=command.query.get("device_class"))
        wanted = command.query.get("state")
        matched = [e for e in found if wanted is None or _state_is(e, wanted)]
        unmatched = [e for e in found if e not in matched]
        reply = self.replies.render(command.intent, command.response, command.slots,
                                    found, matched=matched, unmatched=unmatched)
        return TurnResult(reply or "; ".join(view(e).state_with_unit for e in found), [action], "fast")


@functools.cache
def _language(language: str) -> tuple[Intents, dict[str, dict[str, str]]]:
    """A language's templates and replies, parsed once per process (homes share them)."""
    data = get_intents(language)
    if data is None:
        raise ValueError(f"home-assistant-intents has no sentences for language {language!r}")
    return Intents.from_dict(data), data["responses"]["intents"]


def _state_is(e: Entity, wanted: Any) -> bool:
    return normalize(e.state) == normalize(str(wanted))


def _plain(value: Any) -> Any:
    """hassil's numbers come as floats; 50.0 reads better as 50."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _stems(text: str) -> set[str]:
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in normalize(text).split()}


def _error_text(action: Action) -> str:
    return action.result.removeprefix("Error: ")
