"""The fast path: common home commands understood with no model at all.

hassil matches the text against Home Assistant's own sentence templates (home-assistant-intents,
plus the few of ours in claw.fastpath_sentences) and the live names of our entities, areas and
floors. A match becomes calls to the same generic tools the models use, run through the one
executor (so the same policy applies); questions are answered from live state. The reply comes
from the response templates that ship with the sentences.

Around the matcher: the room the speaker is in (the channel's, or what the chat said with "I'm in
the study"); compound sentences (claw.fastpath_compound); names as people say them (parts,
plurals, typos: devices.targets); one device of a kind needs no name, several get a question
whose answer needs no model (claw.fastpath_questions). Anything not understood with confidence
returns None and the model takes over; with no model, the reply says what was not understood.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from hassil import Intents, RecognizeResult, TextSlotList, TextSlotValue, filter_intents, recognize_best
from hassil.models import UnmatchedRangeEntity
from hassil.recognize import MISSING_ENTITY
from home_assistant_intents import get_intents

from claw import fastpath_house as house
from claw import home_tools
from claw.agent import TurnResult
from claw.executor import Action, Executor
from claw.fastpath_compound import understand_parts
from claw.fastpath_questions import Question, Questions, picked, question_text
from claw.fastpath_reply import Replies, view
from claw.fastpath_sentences import ASKED, HOUSE_QUESTIONS, merged
from claw.fastpath_typos import COMMAND_WORDS, fixed
from claw.rooms import chat_room, set_chat_room
from claw.tools import Caller
from devices.home import Home, normalize
from devices.model import Entity
from devices.targets import TargetError, area_like, resolve

TOOLS = home_tools.INTENT_TOOLS  # intent -> the tool it becomes, as the tools declare
QUESTIONS = {"HassGetState", "HassClimateGetTemperature"}
MEDIA = {"HassMediaPause", "HassMediaUnpause", "HassMediaNext", "HassMediaPrevious", "HassSetVolume",
         "HassSetVolumeRelative", "HassMediaPlayerMute", "HassMediaPlayerUnmute"}
# The tool answering a question reads any kind of device; the question itself is about these.
QUESTION_DOMAINS = {"HassClimateGetTemperature": ("climate",)}
# Intents that act on exactly one target: several candidates are a question, not all of them.
ONE_TARGET = {"HassListAddItem", "HassListCompleteItem", "HassListRemoveItem", "TodoGetItems",
              "HassMediaSearchAndPlay", "HassVacuumStart", "HassVacuumReturnToBase", "VacuumStop",
              "AlarmArm", "AlarmDisarm"}
# Intents whose tool finds its kind of device by itself, so a sentence need not name one.
NO_TARGET_NEEDED = ONE_TARGET - {"HassMediaSearchAndPlay"} | {"HassLawnMowerStartMowing", "HassLawnMowerDock"}
# Wildcards are free text; only these are safe to take as they come (what to play, which zone a
# person is in, a list item, the room the speaker says they are in).
WILDCARDS = {"HassMediaSearchAndPlay": "search_query", "HassGetState": "state",
             "HassListAddItem": "item", "HassListCompleteItem": "item", "HassListRemoveItem": "item",
             "ClawInRoom": "room"}
# Arguments each tool takes besides its value slots (others are dropped).
TARGET_ARGS = {
    "HassTurnOn": ("name", "area", "floor", "domain", "device_class"),
    "HassTurnOff": ("name", "area", "floor", "domain", "device_class"),
    "HassSetPosition": ("name", "area", "floor", "domain", "device_class"),
    "HassMediaSearchAndPlay": ("name", "area"),
    "HassVacuumCleanArea": ("name", "area"),
    "HassLawnMowerStartMowing": ("name", "area"),
    "HassLawnMowerDock": ("name", "area"),
    "VacuumStop": ("name", "area"), "AlarmArm": ("name", "area"), "AlarmDisarm": ("name", "area"),
    "HassListAddItem": ("name",), "HassListCompleteItem": ("name",), "HassListRemoveItem": ("name",),
    "TodoGetItems": ("name",),
    "GetLiveContext": ("name", "area", "floor", "domain"),
}
TARGET_KEYS = ("name", "area", "floor", "domain", "device_class")
# Words that, said where a device name was expected, are not a device's name.
NOT_NAMES = {"it", "that", "this", "them", "everything", "all", "something", "anything", "music",
             "anyone", "anybody", "someone", "somebody", "everyone", "everybody", "who", "what"}
VERBS = {*COMMAND_WORDS, "put", "make", "get", "let", "have", "go", "send", "give", "bring"}
TIMES = {"sunset", "sunrise", "dusk", "dawn", "noon", "midnight", "tonight", "tomorrow", "morning",
         "evening", "night", "later", "minutes", "minute", "hours", "hour", "seconds", "oclock", "am", "pm"}
QUANTIFIERS = {"all", "every", "each", "everything", "everywhere", "any", "whole"}
ASKING = {"is", "are", "was", "were", "do", "does", "did", "can", "could", "will", "would", "should"}
# Words too general to stand for one device, though only one device's name holds them.
# (Words Home Assistant's templates read as a kind of device across a room stay out too: "the
# lights" is every light in the room, not the one "Ceiling Light".)
GENERIC_WORDS = {"light", "lights", "lamp", "lamps", "switch", "switches", "speaker", "speakers", "tv",
                 "tvs", "fan", "fans", "thermostat", "thermostats", "plug", "plugs", "socket", "sockets",
                 "room", "door", "doors",
                 "sensor", "sensors", "temperature", "humidity", "motion", "power", "level", "status",
                 "battery", "mode", "main", "left", "right", "big", "small", "all", "one", "two", "on", "off"}
CONNECTIVES = {"for", "to", "in", "on", "at", "with", "by", "of", "from", "and", "or", "if", "when"}
# Number slots, and the words that make "one" a number ("one percent") rather than a pick.
NUMBERS = {"brightness", "volume_level", "position", "percentage"}
UNITS = re.compile(r"\b(percent|per cent|degrees?)\b|%", re.IGNORECASE)
# Words of a request for every device of a kind ("turn on the lights"), not for one by name.
KIND_OF_ALL = {"light", "turn", "switch", "on", "off", "all", "please", "set", "dim", "brighten"}
# Courtesy around a command, which no template spells out ("turn off the pump please").
POLITE = re.compile(r"^\s*(?:(?:hey|ok|okay)\s+claw\W*\s*)?(?:please\s+|(?:could|can|would|will) you(?: please)?\s+)"
                    r"|(?:,?\s*\b(?:please|thanks|thank you|for me|now|right now))+\s*[.!?]*\s*$",
                    re.IGNORECASE)
NEVER_MIND = {"cancel", "never mind", "nevermind", "neither", "none", "none of them", "no", "nothing",
              "forget it", "stop", "no thanks"}
NEGATION = re.compile(r"\b(?:not|don'?t|do not|never|except|unless|without|neither|nor)\b", re.IGNORECASE)
ARTICLE = re.compile(r"^\s*(?:the|a|an|some)\s+", re.IGNORECASE)
ITEM_JOINTS = re.compile(r"\s*(?:,\s*and\b|,|\band\b)\s*", re.IGNORECASE)


@dataclass
class Command:
    """What a sentence asks for, before anything runs."""

    intent: str
    tool: str
    calls: list[dict[str, Any]]  # tool arguments, one dict per call
    slots: dict[str, Any]  # for the reply template
    response: str  # key of the reply template
    query: dict[str, Any] = field(default_factory=dict)  # questions: device_class/state filters
    loose: bool = False  # a name or area the house does not know was taken as said
    ask: list[Entity] = field(default_factory=list)  # several fit and the sentence did not say which
    picked: bool = False  # the answer to a "which one?": the reply names what was done
    guessed: bool = False  # the target was inferred (the one of its kind, what is playing)


class FastPath:
    def __init__(self, home: Home, executor: Executor, language: str = "en",
                 has_model: Callable[[], bool] = lambda: False,
                 questions: Questions | None = None):
        intents, responses = _language(language)
        self.home = home
        self.executor = executor
        self.language = language
        self.has_model = has_model  # whether a model is there to hand what we don't understand to
        self.questions = questions or Questions()
        # Which tool each intent becomes, and the kinds of device it acts on: as the tools declare.
        self.tools = home_tools.intent_tools(executor.registry)
        self.intent_domains = {**home_tools.intent_domains(), **QUESTION_DOMAINS}
        self.all_intents = filter_intents(intents, intent_names={*self.tools, "ClawInRoom", *HOUSE_QUESTIONS})
        self._by_domains: dict[frozenset[str], Intents] = {}
        self.replies = Replies(responses, home)
        self._lists_key: tuple[Any, ...] | None = None
        self._lists: dict[str, TextSlotList] = {}
        self._known_words: set[str] = set()  # word stems of device names
        self._house_words: set[str] = set()  # every word of a device, room or floor name
        self.understand("turn on the lamp in the kitchen")  # parse every template now, not on the first message

    async def __call__(self, text: str, caller: Caller, area: str | None = None) -> TurnResult | None:
        """Handle a message if it is a command we understand; None hands it to the model.

        `area` is where the speaker is (a voice satellite's room); else the channel's, else the
        room the chat last said it is in."""
        room = area or caller.area or chat_room(self.home.store, caller.chat_id)
        question = self.questions.take(caller.chat_id)
        if question is not None and normalize(text) in NEVER_MIND:
            return TurnResult("OK, I've left it as it is.", [], "fast")
        if NEGATION.search(text) and not NEGATION.search(" ".join(self._house_words)):
            return None  # "turn off the lights, not the desk lamp": templates have no "not"
        if question is not None:
            chosen = picked(question, text)
            if chosen is not None:
                return await self._act([_from_answer(question, chosen)], caller)
        command = self.understand(text, room)
        if command is None or (command.loose and not self._resolvable(command)):
            retry = fixed(text, self._house_words)  # "trun on the lights", "the night lite"
            again = self.understand(retry, room) if retry != text else None
            if again is not None and not (again.loose and not self._resolvable(again)):
                command, text = again, retry
        if command is not None:
            return await self._act([command], caller)
        parts = understand_parts(text, lambda piece, like: self._understand_piece(piece, room, like))
        if parts is None or not any(p.command for p in parts):
            return None
        if any(p.command is not None and p.command.intent in ASKED for p in parts):
            for p in parts:  # a question never changes the house, not even half of one
                if p.command is not None and p.command.intent not in ASKED:
                    p.command = None
        unknown = [p.said for p in parts if p.command is None]
        if unknown and self.has_model():
            return None  # the model reads the whole sentence rather than half of it
        return await self._act([p.command for p in parts if p.command is not None], caller, unknown)

    # -- understanding ------------------------------------------------------------------------
    def understand(self, text: str, area: str | None = None, strict: bool = False) -> Command | None:
        """The command a sentence asks for, or None when it is not one we are sure of."""
        text = POLITE.sub("", text) or text
        lists = self.slot_lists()
        intents = self.intents()
        context: dict[str, Any] = {}
        speaker_area = area_like(self.home, area) if area else None
        if speaker_area is not None:
            context["area"] = {"value": speaker_area.name, "text": speaker_area.name}
        result = recognize_best(text, intents, slot_lists=lists, intent_context=context,
                                language=self.language, best_slot_name="name")
        if result is not None:
            return self._command(result, text)
        if strict:
            return None
        # A second, looser pass: a command whose device or area we don't know ("turn on the
        # pendant", "lights on in the attic"), or that needs the speaker's room.
        result = recognize_best(text, intents, slot_lists=lists, intent_context=context,
                                language=self.language, best_slot_name="name",
                                allow_unmatched_entities=True)
        if result is None or result.text_chunks_matched == 0:
            return None
        command = self._loose_command(result, text)
        if command is not None and text.rstrip().endswith("?") and command.intent not in ASKED:
            return None  # "anyone in the driveway?" is a question, not "turn on 'anyone'"
        return command

    def intents(self) -> Intents:
        """The sentences for the kinds of device this house has (no lawn-mower readings of a
        vacuum sentence in a house without a mower)."""
        domains = frozenset(e.domain for e in self.home.entities.values())
        found = self._by_domains.get(domains)
        if found is None:
            found = self._by_domains[domains] = filter_intents(self.all_intents, domains=domains)
        return found

    def _understand_piece(self, piece: str, room: str | None, like: Command | None) -> Command | None:
        """A piece of a compound sentence; one that borrows words from its neighbour (`like`)
        must be a strict match asking the same kind of thing."""
        command = self.understand(piece, room, strict=True)
        if command is None or command.guessed:
            return None  # in a compound only what is said outright: "unlock and open the garage door"
        if like is None:
            return command
        if command.intent != like.intent or not command.calls or not like.calls:
            return None
        before, now = like.calls[0], command.calls[0]
        if "domain" in before and "name" not in before and "name" not in now \
                and now.get("domain") != before["domain"]:
            return None  # "turn off the lights in the kitchen and the study": the study's lights
        return command

    def _command(self, result: RecognizeResult, text: str) -> Command | None:
        intent = result.intent.name
        for e in result.entities_list:
            if e.is_wildcard and (WILDCARDS.get(intent) != e.name or len(str(e.value).split()) > 6):
                return None
            if e.name == "item" and self._names_a_list(str(e.value)):
                return None  # "add milk to groceries and bins to chores": two commands, not one item
            if e.name in NUMBERS and e.text.strip().lower() == "one" and not UNITS.search(text):
                return None  # "the kitchen one" answers a question; it does not set a brightness
        slots = {e.name: _plain(e.value) for e in result.entities_list}
        if "name" in slots and isinstance(result.context.get("domain"), str):
            slots.setdefault("domain", result.context["domain"])
        return self._plan(intent, slots, result.response or "default")

    def _loose_command(self, result: RecognizeResult, text: str) -> Command | None:
        intent = result.intent.name
        if any(e.is_wildcard for e in result.entities_list):
            return None
        unmatched = {k: u for k, u in result.unmatched_entities.items()
                     if not (k == "domain" and getattr(u, "text", "") == MISSING_ENTITY)}
        if any(isinstance(u, UnmatchedRangeEntity) for u in unmatched.values()):
            return None
        said = {k: ARTICLE.sub("", u.text).strip() for k, u in unmatched.items()}
        if "device_class" in said and said["device_class"] != MISSING_ENTITY \
                and self._names_something(said["device_class"], None):
            said["name"] = said.pop("device_class")  # "open the tap": a device, not a kind of cover
        if "name" in said and said.get("area") == MISSING_ENTITY:
            del said["area"]  # a device by name needs no room
        if not 1 <= len(said) <= 2:
            return None
        slots = {e.name: _plain(e.value) for e in result.entities_list}
        if said == {"area": MISSING_ENTITY}:
            return self._without_room(intent, slots, result.response or "default", text)
        if set(said) - {"name", "area"} or intent in QUESTIONS:
            return None
        for key, words in said.items():
            if words == MISSING_ENTITY or not self._could_be_a_name(words, intent, key):
                return None
            slots[key] = words
        domains = result.intent_data.requires_context.get("domain") or slots.get("domain")
        if "scene" in (domains or ()):
            return None  # "<anything> in the study" reads as a scene; only a known scene is one
        kinds = [domains] if isinstance(domains, str) else list(domains or [])
        if "area" in said and area_like(self.home, slots["area"]) is None:
            # "turn on the dsek lamp" reads as lamps in a room "dsek": it is a name, misspelt
            name = f"{slots['area']} {slots['name']}" if "name" in said else slots["area"]
            if self._names_something(name, None if "name" in said else kinds or None):
                del slots["area"]
                slots["name"] = name
        if "name" in slots and kinds:
            # "turn on the tap": the tool turns valves on too, though the template lists other kinds
            if not self._names_something(slots["name"], kinds) and intent in ("HassTurnOn", "HassTurnOff") \
                    and self._names_something(slots["name"], None):
                slots.pop("domain", None)
            elif "name" in said:
                slots.setdefault("domain", domains)
        command = self._plan(intent, slots, result.response or "default")
        if command is not None:
            command.loose = True
        return command

    def _names_a_list(self, item: str) -> bool:
        words = f" {normalize(item)} "
        names = [normalize(n) for e in self.home.entities.values() if e.domain == "todo" for n in (e.name, *e.aliases)]
        return " list " in words or any(f" {n} " in words for n in names)

    def _names_something(self, name: str, domains: list[str] | None) -> bool:
        try:
            resolve(self.home, name=name, domain=domains)
        except TargetError as e:
            return e.code != "no_entity"
        return True

    def _could_be_a_name(self, said: str, intent: str, key: str) -> bool:
        """Whether words said where a name was expected plausibly name a device or an area."""
        words = normalize(said).split()
        if not words or len(words) > 3 or any(
                w.isdigit() or w in CONNECTIVES or (w in TIMES | QUANTIFIERS and w not in self._house_words)
                for w in words):
            return False  # "turn off the porch light at sunset" is for later: not a room "sunset"
        said_as = normalize(said)
        holds_a_room = any(normalize(n) in said_as for a in self.home.areas.values() for n in (a.name, *a.aliases))
        if key == "area":
            # "dim the living room" is a room and a word we did not read, not a room we lack;
            # "put the alarm on" has no room "put"
            return not holds_a_room and not (len(words) == 1 and words[0] in VERBS | ASKING)
        if not self._names_something(said, None) and (holds_a_room or any(
                self._names_something(" ".join(words[i:j]), None)
                for i in range(len(words)) for j in range(i + 1, len(words) + 1) if j - i < len(words))):
            return False  # "start cleaning the living room", "bump the heating": unread words and a name
        if " ".join(words) in NOT_NAMES or self.home.area_named(said) is not None:
            return False  # "turn on the kitchen": a room, not a device; the model can ask what
        if normalize(said) in {normalize(f) for f in self.home.floors()}:
            return False
        return intent in ("HassTurnOn", "HassTurnOff") or bool(_stems(said) & self._known_words)

    def _without_room(self, intent: str, slots: dict[str, Any], response: str,
                      text: str) -> Command | None:
        """A sentence that needs the speaker's room, said where there is none: act when the
        house leaves one sensible target (the one thermostat; what is playing), ask which when
        it leaves several."""
        entities = list(self.home.entities.values())
        many = False
        if intent in MEDIA:
            players = [e for e in entities if e.domain == "media_player"]
            if intent == "HassMediaPlayerUnmute":
                found = [e for e in players if e.attributes.get("is_volume_muted")]
            else:
                state = "paused" if intent == "HassMediaUnpause" else "playing"
                found = [e for e in players if e.state == state]
            # Pausing or muting everything that plays is what "pause" means; for louder,
            # resume or skip, which player is a real question.
            found = found or players
            if intent in ("HassMediaPause", "HassMediaPlayerMute") and found is not players:
                command = self._on_each(intent, slots, response, found)
                if command is not None:
                    command.guessed = True
                return command
        else:
            domains = slots.get("domain") or self.intent_domains.get(intent)
            if not domains:
                return None
            domains = [domains] if isinstance(domains, str) else list(domains)
            classes = slots.get("device_class")
            classes = [classes] if isinstance(classes, str) else list(classes or [])
            found = [e for e in entities if e.domain in domains and (not classes or e.device_class in classes)]
            many = intent in ("HassTurnOn", "HassTurnOff", "HassLightSet") and "domain" in slots
            said = _stems(text) - KIND_OF_ALL
            named = [e for e in found if said & _stems(e.name)]
            if many and named:  # "turn on the lamp": one of the lamps, not every light
                found, many = named, False
        if not found:
            return None
        if len(found) > 1 and intent in QUESTIONS:
            return None  # a question about one of several: the model can ask it back
        command = self._on_each(intent, slots, response, found[:1])
        if command is not None:
            command.guessed = True
        if command is not None and len(found) > 1:
            command.ask = sorted(found, key=lambda e: e.entity_id)
            command.slots = {**command.slots, "_many": many}
        return command

    def _on_each(self, intent: str, slots: dict[str, Any], response: str,
                 found: list[Entity]) -> Command | None:
        """The command, done to each of `found` by name."""
        command = self._plan(intent, {**slots, "name": found[0].name}, response)
        if command is not None:
            base = {k: v for k, v in command.calls[0].items() if k not in ("name", "area")}
            command.calls = [{**base, "name": e.name, **({"area": e.area} if e.area else {})}
                             for e in found]
            command.picked = True  # the sentence named none of them: the reply does
        return command

    def _plan(self, intent: str, slots: dict[str, Any], response: str) -> Command | None:
        if intent == "ClawInRoom" or intent in HOUSE_QUESTIONS:
            return Command(intent, "", [], slots, response)
        tool = self.tools[intent]
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
        elif intent == "AlarmArm" and slots.get("mode"):
            args["mode"] = slots["mode"]
        if intent == "HassVacuumCleanArea" and "area" not in args:
            return None
        if not (set(args) & set(TARGET_KEYS)) and intent not in NO_TARGET_NEEDED \
                and slots.get("scope") != "house":
            return None
        calls = [args]
        if intent in ("HassListAddItem", "HassListCompleteItem", "HassListRemoveItem"):
            items = (ARTICLE.sub("", item).strip() for item in ITEM_JOINTS.split(str(slots["item"])))
            calls = [{**args, "item": item} for item in items if item]
        if slots.get("scope") == "house":  # "pause the music everywhere": every speaker
            players = sorted((e for e in self.home.entities.values() if e.domain == "media_player"),
                             key=lambda e: e.entity_id)
            calls = [{**args, "name": e.name} for e in players]
        return Command(intent, tool, calls, slots, response, query)

    def _plays_cleanly(self, args: dict[str, Any]) -> bool:
        """Search-and-play stays on the fast path only for a favorite the target already has;
        anything else (a genre, a radio station) is the model's to find."""
        try:
            players = resolve(self.home, name=args.get("name"), area=args.get("area"),
                              domain="media_player", service="play_favorite")
        except TargetError as e:
            # a room or speaker we lack: the tool says so; one that can't play favorites: the model's
            return e.code != "feature_not_supported"
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
        taken = {" ".join(w[i:j]) for w in (normalize(t).split() for t, _ in areas)  # "kitchen" of "Kitchen Diner"
                 for i in range(len(w)) for j in range(i + 1, len(w) + 1)} \
            | {normalize(f) for f in self.home.floors()} | {n for n, _ in names}
        for phrase, e in _partial_names(entities, taken).items():
            names.setdefault((phrase, e.domain), TextSlotValue.from_tuple(
                (phrase, e.name, {"domain": e.domain}), allow_template=False))
        floors = [(f, f) for f in self.home.floors()]
        self._lists = {
            "name": TextSlotList(name="name", values=list(names.values())),
            "area": TextSlotList.from_tuples(areas, allow_template=False, name="area"),
            "floor": TextSlotList.from_tuples(floors, allow_template=False, name="floor"),
        }
        self._known_words = set().union(*(_stems(t) for e in entities for t in (e.name, *e.aliases)))
        spoken = [*(t for e in entities for t in (e.name, *e.aliases)), *(t for t, _ in areas), *self.home.floors()]
        self._house_words = {w for t in spoken for w in normalize(t).split()}
        self._lists_key = key
        return self._lists

    # -- acting and answering -----------------------------------------------------------------
    async def _act(self, commands: list[Command], caller: Caller,
                   unknown: list[str] | None = None) -> TurnResult | None:
        """Run the commands (asking where one leaves a choice), and say what happened."""
        if self.has_model() and any(self._unsure(c) for c in commands):
            return None  # a name or room we don't know: the model may know what was meant
        actions: list[Action] = []
        replies: list[str] = []
        compound = len(commands) > 1 or bool(unknown)
        for command in commands:
            if command.intent == "ClawInRoom":
                replies.append(self._in_room(command, caller))
                continue
            if command.intent == "ClawWhereAmI":
                room = caller.area or chat_room(self.home.store, caller.chat_id)
                replies.append(f"As far as I know you're in the {room}." if room else
                               "I don't know which room you're in; tell me (\"I'm in the kitchen\").")
                continue
            if command.intent in HOUSE_QUESTIONS:
                replies.append(self._about_house(command))
                continue
            ask = command.ask or self._choice(command)
            if ask:
                self.questions.ask(caller.chat_id, _question(command, ask, self.questions.clock()))
                replies.append(question_text(ask, bool(command.slots.get("_many"))))
                continue
            if command.intent in QUESTIONS:
                result = await self._answer(command, caller)
                actions += result.actions
                replies.append(result.reply)
                continue
            done = [await self.executor.run(command.tool, args, caller) for args in command.calls]
            actions += done
            failed = [a for a in done if not a.ok]
            if failed:
                replies.append(" ".join(_error_text(a) for a in failed))
            elif compound or command.picked or command.intent not in self.replies.responses:
                replies.append(" ".join(a.result for a in done))
            else:
                targets = self._targets(command.calls)
                reply = self.replies.render(command.intent, command.response, command.slots, targets)
                if "None" in reply.split():  # a template with no word for this kind of device
                    reply = ""
                replies.append(reply or " ".join(a.result for a in done) or "Done.")
        if unknown:
            replies.append("I didn't understand " + " or ".join(f"'{u}'" for u in unknown)
                           + ", so I haven't done anything about it.")
        said = [r if r.endswith((".", "?", "!")) or len(replies) == 1 else r + "." for r in replies if r]
        return TurnResult(" ".join(said) or "Done.", actions, "fast")

    def _in_room(self, command: Command, caller: Caller) -> str:
        said = str(command.slots.get("room", "")).strip()
        room = area_like(self.home, said)
        if room is None:
            known = ", ".join(sorted(self.home.areas)) or "none yet"
            return f"I don't know a room called '{said}' (rooms: {known})."
        set_chat_room(self.home.store, caller.chat_id, room.name)
        return (f"OK, you're in the {room.name}: when you don't say where, I'll use the "
                f"{room.name}.")

    def _about_house(self, command: Command) -> str:
        slots = command.slots
        if command.intent == "ClawHelp":
            return house.help_text(self.home)
        if command.intent == "ClawListRooms":
            return house.rooms_text(self.home)
        if command.intent == "ClawWhereIs":
            return house.where_text(self.home, str(slots["name"]))
        return house.devices_text(self.home, slots.get("area"))

    def _choice(self, command: Command) -> list[Entity]:
        """The candidates to ask about when a call's target is ambiguous (none when it isn't)."""
        if len(command.calls) != 1:
            return []
        args = command.calls[0]
        domains = args.get("domain") or self.intent_domains.get(command.intent)
        try:
            found = resolve(self.home, name=args.get("name"), area=args.get("area"),
                            floor=args.get("floor"), domain=domains,
                            device_class=args.get("device_class"))
        except TargetError as e:
            return e.candidates if e.code == "duplicate_entities" else []
        return found if command.intent in ONE_TARGET and len(found) > 1 else []

    def _unsure(self, command: Command) -> bool:
        """A room we don't know ("I'm in a hurry"), or a name or area taken as said that names
        nothing here."""
        if command.intent == "ClawInRoom":
            return area_like(self.home, str(command.slots.get("room", ""))) is None
        return command.loose and command.intent not in HOUSE_QUESTIONS and not self._resolvable(command)

    def _resolvable(self, command: Command) -> bool:
        for args in command.calls:
            try:
                resolve(self.home, **{k: args.get(k) for k in TARGET_KEYS})
            except TargetError as e:
                if e.code in ("no_entity", "no_area"):
                    return False
        return True

    def _targets(self, calls: list[dict[str, Any]]) -> list[Entity]:
        """The entities the calls acted on, as they are now (for the reply)."""
        found: list[Entity] = []
        for args in calls:
            try:
                found += resolve(self.home, **{k: args.get(k) for k in TARGET_KEYS})
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


def _question(command: Command, candidates: list[Entity], now: float) -> Question:
    base = {k: v for k, v in command.calls[0].items() if k not in TARGET_KEYS}
    return Question(command.intent, command.tool, base, command.slots, command.response,
                    candidates, bool(command.slots.get("_many")), now)


def _from_answer(question: Question, chosen: list[Entity]) -> Command:
    calls = [{**question.base, "name": e.name, **({"area": e.area} if e.area else {})} for e in chosen]
    return Command(question.intent, question.tool, calls, question.slots, question.response, picked=True)


@functools.cache
def _language(language: str) -> tuple[Intents, dict[str, dict[str, str]]]:
    """A language's templates and replies, parsed once per process (homes share them)."""
    data = get_intents(language)
    if data is None:
        raise ValueError(f"home-assistant-intents has no sentences for language {language!r}")
    return Intents.from_dict(merged(data)), data["responses"]["intents"]


def _state_is(e: Entity, wanted: Any) -> bool:
    return normalize(e.state) == normalize(str(wanted))


def _plain(value: Any) -> Any:
    """hassil's numbers come as floats; 50.0 reads better as 50."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _partial_names(entities: Any, taken: set[str]) -> dict[str, Entity]:
    """Parts of names that only one device has ("blinds" for the Study Blinds, "spot" for the
    Kitchen Spots), so every template reads them as that device; not a part that is a room, a
    floor, another device's name or a word for a kind of device."""
    holders: dict[str, dict[str, Entity]] = {}
    for e in entities:
        for text in (e.name, *e.aliases):
            words = normalize(text).split()
            for i in range(len(words)):
                for j in range(i + 1, len(words) + 1):
                    part = words[i:j]
                    for phrase in {" ".join(part), " ".join([*part[:-1], _other_number(part[-1])])}:
                        holders.setdefault(phrase, {})[e.entity_id] = e
    return {phrase: next(iter(found.values())) for phrase, found in holders.items()
            if len(found) == 1 and phrase not in taken and len(phrase) > 2
            and not set(phrase.split()) <= GENERIC_WORDS and not phrase.isdigit()}


def _other_number(word: str) -> str:
    """ "blinds" <-> "blind" (a name's last word as people say it in the other number)."""
    if len(word) > 3 and word.endswith("s"):
        return word[:-1]
    return word + "s"


def _stems(text: str) -> set[str]:
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in normalize(text).split()}


def _error_text(action: Action) -> str:
    return action.result.removeprefix("Error: ")
