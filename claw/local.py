"""The local model as a Backend: a GGUF in this process (local_llm.LocalModel) or an
OpenAI-compatible server in the house (local_llm.remote.ServerModel), made safe for the house.

A small model copies, loops and guesses, so each turn is shaped before and checked after:
- a question gets read-only tools only, so asking never changes the house;
- the prompt lists only the devices that matter to the sentence (bounded, so a 1,000-entity
  house fits a 4,096-token context), and names, areas and kinds become enums of those, so
  constrained decoding can only produce targets that exist;
- the history is short and clean: the last few exchanges, without the local-model note, without
  replies that echoed or looped;
- a write is kept only when it is grounded: the sentence names its target (or it is in the
  chat's room) and the words fit the tool; otherwise Claw asks instead of acting;
- a reply that echoes the user, an earlier reply or the prompt, or repeats itself, is not sent.

The model is long-lived and not thread-safe, so calls are serialised. The stable prefix (tool
catalog, persona) goes first, unchanged, so llama.cpp's KV cache reuses it; the relevant devices,
time and facts ride with the newest user message.
"""
from __future__ import annotations

import asyncio
import copy
import itertools
import json
import logging
import re
from typing import Any

from claw.config import LocalModelConfig
from claw.models import LOCAL_NOTE, ModelReply, ModelUnavailable, Prompt, ToolUse
from devices.home import Home
from devices.model import Entity
from devices.targets import TargetError, resolve
from local_llm.guard import claims_a_change, echoes, is_question, mentions, repeats_itself, unquote
from local_llm.relevance import words
from memory.untrusted import as_data

log = logging.getLogger(__name__)

# The tools a small model is offered: generic home control and state, no admin or soul edits.
SMALL_TOOLS = {
    "HassTurnOn", "HassTurnOff", "HassLightSet", "HassMediaPause", "HassMediaUnpause",
    "HassMediaNext", "HassMediaPrevious", "HassSetVolume", "HassSetVolumeRelative",
    "HassMediaPlayerMute", "HassMediaPlayerUnmute", "HassClimateSetTemperature",
    "HassSetPosition", "GetLiveContext", "remember", "recall",
}
# What a question may use: these read the house or memory and change nothing.
READ_TOOLS = {"GetLiveContext", "HassGetState", "GetDateTime", "CameraSnapshot", "recall", "list_alerts",
              "ListDevices", "read_soul", "list_soul_versions", "diff_soul_version"}
# Tools that change neither the house nor anything a person relies on without being told.
UNGUARDED = READ_TOOLS | {"remember"}

# One worked example per tool for a small model, set in a made-up home so that it never names a
# real device: tool -> (what a user might say, the arguments).
EXAMPLES = {
    "HassTurnOn": ("switch on the porch light", {"name": "Porch Light"}),
    "HassTurnOff": ("turn off the lights in the bathroom", {"area": "Bathroom", "domain": "light"}),
    "HassLightSet": ("dim the bedside lamp to 20% brightness", {"name": "Bedside Lamp", "brightness": 20}),
    "HassMediaPause": ("pause the TV", {"name": "TV"}),
    "HassMediaUnpause": ("resume the radio in the nursery", {"area": "Nursery"}),
    "HassMediaNext": ("skip to the next song", {}),
    "HassMediaPrevious": ("play the previous track on the TV", {"name": "TV"}),
    "HassSetVolume": ("set the TV volume to 25", {"name": "TV", "volume_level": 25}),
    "HassSetVolumeRelative": ("turn the sound down a bit", {"volume_step": "down"}),
    "HassMediaPlayerMute": ("mute the TV", {"name": "TV"}),
    "HassMediaPlayerUnmute": ("unmute the TV", {"name": "TV"}),
    "HassClimateSetTemperature": ("heat the nursery to 19 degrees", {"area": "Nursery", "temperature": 19}),
    "HassSetPosition": ("open the bathroom blind halfway", {"area": "Bathroom", "position": 50}),
    "GetLiveContext": ("is the porch light still on?", {"name": "Porch Light"}),
    "remember": ("remember that the plumber comes on Friday", {"fact": "The plumber comes on Friday."}),
    "recall": ("when did I say the plumber comes?", {"query": "plumber"}),
}

# How a write is said back when Claw asks instead of acting.
VERBS = {
    "HassTurnOn": "turn on", "HassTurnOff": "turn off", "HassLightSet": "change the light of",
    "HassMediaPause": "pause", "HassMediaUnpause": "resume", "HassMediaNext": "skip the track on",
    "HassMediaPrevious": "go back a track on", "HassSetVolume": "set the volume of",
    "HassSetVolumeRelative": "change the volume of", "HassMediaPlayerMute": "mute",
    "HassMediaPlayerUnmute": "unmute", "HassClimateSetTemperature": "set the temperature of",
    "HassSetPosition": "move",
}
# On and off are one word apart (and "of" is a typo of either): each needs its own word said.
NEEDED_WORDS = {
    "HassTurnOn": words("on start open enable activate going"),
    "HassTurnOff": words("off stop close disable shut"),
}
EVERYTHING = words("all every everything everywhere whole house")
# The words people use for a kind of device, so "the music" finds the speakers.
DOMAIN_WORDS = {
    "light": "light lamp", "media_player": "speaker music song track volume sound player tv radio",
    "climate": "thermostat temperature heating heat cool", "cover": "blind shade curtain cover",
    "lock": "lock door", "switch": "switch plug", "sensor": "sensor temperature humidity",
    "binary_sensor": "sensor motion door window", "fan": "fan", "vacuum": "vacuum clean",
    "camera": "camera picture", "alarm_control_panel": "alarm", "valve": "valve water",
    "lawn_mower": "mower lawn", "todo": "list shopping todo",
}
MAX_ENTITIES = 40  # devices in one local prompt: about 25 tokens each
HISTORY_EXCHANGES = 2  # earlier user/assistant pairs a local turn sees
MAX_HISTORY_CHARS = 300  # of each earlier message
UNCLEAR = "I'm not sure what you mean. Name the device or room and what to do, e.g. \"turn off the kitchen light\"."

_ids = itertools.count(1)


class LocalBackend:
    name = "local"

    def __init__(self, config: LocalModelConfig, home: Home, small_profile: bool = True):
        self.home = home
        self.small_profile = small_profile
        self.config = config
        # A server outside the house (in_house = false) is no place for a private request.
        self.in_house = config.in_house or not config.url
        self._engine: Any = None
        self._lock = asyncio.Lock()

    def _load(self) -> Any:
        if self._engine is None:
            self._engine = self._make_engine()
        return self._engine

    def _make_engine(self) -> Any:
        c = self.config
        if c.url:
            from local_llm.remote import ServerConfig, ServerModel

            return ServerModel(ServerConfig(url=c.url, model=c.model, api_key=c.api_key,
                                            response_format=c.response_format, timeout=c.timeout,
                                            small_profile=self.small_profile))
        from local_llm import LocalConfig, LocalModel

        return LocalModel(LocalConfig(
            model_path=c.model_path, n_gpu_layers=c.n_gpu_layers, n_ctx=c.n_ctx,
            n_threads=c.threads or None, chat_format=c.chat_format or None,
            small_profile=self.small_profile,
        ))

    async def warm(self) -> None:
        """Load the model in the background so the first private turn is not slow."""
        async with self._lock:
            await asyncio.to_thread(self._load)

    async def complete(self, prompt: Prompt) -> ModelReply:
        said = prompt.said or _last_user_text(prompt.messages)
        entities = self.relevant_entities(said, prompt.area)
        tools = self.tools(prompt.tools, entities, said, prompt.area)
        # The catalog in the system text lists every tool either way, so the prefix the KV cache
        # holds is the same for questions and commands; a question can only choose a reading one.
        system = self.system(prompt, tools)
        if is_question(said):
            tools = [spec for spec in tools if spec["name"] in READ_TOOLS]
        # A chat turn (the agent's, with its persona) hears about the devices; a heartbeat or an
        # alert gate brings its own context.
        chat = bool(prompt.persona)
        messages = to_local_messages(prompt, self.devices_text(entities) if chat else "")
        async with self._lock:
            try:
                model = await asyncio.to_thread(self._load)
                reply = await asyncio.to_thread(model.complete, system, messages, tools)
            except (OSError, ValueError, RuntimeError) as e:
                log.error("local model failed: %s", e)
                raise ModelUnavailable("local_failed", f"the local model failed ({e}).") from None
        usage = {"input_tokens": reply.prompt_tokens, "evaluated_tokens": reply.evaluated_tokens,
                 "output_tokens": reply.completion_tokens}
        uses = []
        for call in reply.tool_calls:
            args = dict(call.args)
            if call.name not in UNGUARDED:
                args = self._in_callers_room(call.name, args, tools, prompt.area)
                doubt = self.ungrounded(call.name, args, tools, said, prompt.area)
                if doubt:
                    log.info("local model proposed %s %s for %r; asking instead: %s", call.name, args, said, doubt)
                    return ModelReply(doubt, [], usage, "local")
            uses.append(ToolUse(f"local_{next(_ids)}", call.name, args))
        text = reply.text.strip()
        if not uses and chat:
            text = self._checked_text(text, said, messages, system)
        return ModelReply(text, uses, usage, "local")

    # -- what the model sees --------------------------------------------------------------
    def relevant_entities(self, said: str, area: str | None) -> list[Entity]:
        """At most MAX_ENTITIES entities the sentence is about, best first.

        A word of the entity's name counts 3, of its area or floor 2, of its kind ("music" for a
        speaker) 1, being in the speaker's room 1; entities scoring under half the best are left
        out, so "the desk lamp" lists the lamps, not every light. One set intersection per
        entity: a 1,000-entity house ranks in milliseconds."""
        said_words = words(said)
        scored = []
        for order, e in enumerate(self.home.entities.values()):
            a = self.home.areas.get(e.area or "")
            place = [e.area or ""] + ([*a.aliases, a.floor or ""] if a else [e.floor or ""])
            kind = DOMAIN_WORDS.get(e.domain, e.domain) + " " + (e.device_class or "")
            score = (3 * len(said_words & words(" ".join([e.name, *e.aliases])))
                     + 2 * len(said_words & words(" ".join(place)))
                     + len(said_words & words(kind)) + (1 if area and e.area == area else 0))
            if score:
                scored.append((-score, order, e))
        if not scored:
            return []
        best = max(-s for s, _, _ in scored)
        kept = sorted(item for item in scored if -item[0] * 2 >= best)
        return [e for _, _, e in kept[:MAX_ENTITIES]]

    def devices_text(self, entities: list[Entity]) -> str:
        """The relevant devices by area, like the agent's overview (names encoded as data)."""
        total = len(self.home.entities)
        if not entities:
            return f"No device of the {total} in the house matches these words."
        by_area: dict[str, list[Entity]] = {}
        for e in entities:
            by_area.setdefault(e.area or "No area", []).append(e)
        lines = [f"Devices that may matter here ({len(entities)} of {total}):"]
        for area, members in by_area.items():
            lines.append(f"- {as_data(area)}:")
            lines += [f"  - {as_data(e.name)} ({as_data(e.domain)})" for e in members]
        return "\n".join(lines)

    def system(self, prompt: Prompt, tools: list[dict[str, Any]]) -> str:
        """The stable prefix: in the small profile the tool catalog with worked examples, then
        the persona without any device, so it stays the same as devices come and go."""
        persona = prompt.persona or prompt.stable
        if not self.small_profile:
            return persona
        from local_llm.prompt import tool_catalog

        return tool_catalog(tools) + "\n\n" + persona

    def tools(self, specs: list[dict[str, Any]], entities: list[Entity] | None = None, said: str = "",
              area: str | None = None) -> list[dict[str, Any]]:
        """In the small profile: the generic tools, every target an enum of the relevant devices
        (`entities`; None: every device in the house)."""
        if not self.small_profile:
            return specs
        if entities is None:
            entities = list(self.home.entities.values())
        named_areas = [a.name for a in self.home.areas.values() if words(a.name) and words(a.name) <= words(said)]
        enums = {
            "name": sorted({n for e in entities for n in [e.name, *e.aliases]}),
            "area": sorted({*(e.area for e in entities if e.area), *named_areas, *([area] if area else [])}),
            "floor": self.home.floors(),
            # One kind at a time: the tools accept a single string where they take a list.
            "domain": sorted({e.domain for e in entities}),
            "device_class": sorted({e.device_class for e in entities if e.device_class}),
        }
        out = []
        for spec in specs:
            if spec["name"] not in SMALL_TOOLS:
                continue
            spec = copy.deepcopy(spec)
            props = spec["input_schema"]["properties"]
            for key, values in enums.items():
                if key not in props:
                    continue
                if values:
                    props[key] = {"type": "string", "enum": values, "description": props[key].get("description", "")}
                elif key not in spec["input_schema"].get("required", []):
                    del props[key]  # nothing could match: don't let the model invent a value
            if spec["name"] in EXAMPLES:
                example, args = EXAMPLES[spec["name"]]
                spec["examples"] = [{"said": example, "args": args}]
            out.append(spec)
        return out

    # -- what the model proposes -----------------------------------------------------------
    def _in_callers_room(self, name: str, args: dict[str, Any], tools: list[dict[str, Any]],
                         area: str | None) -> dict[str, Any]:
        """A write with no name, area or floor acts in the room the speaker is in, as a voice
        satellite does; without this it would reach every such device in the house."""
        spec = next((t for t in tools if t["name"] == name), None)
        if area and spec and "area" in spec["input_schema"]["properties"] \
                and not any(args.get(k) for k in ("name", "area", "floor")):
            return {**args, "area": area}
        return args

    def ungrounded(self, name: str, args: dict[str, Any], tools: list[dict[str, Any]], said: str,
                   area: str | None) -> str:
        """Why this write is not what the sentence asked for, as the question to ask ('' if it is).

        Grounded means: the words fit the tool (on and off each need their own word), and every
        device it would reach is named in the sentence, is in an area or floor it names, is in
        the speaker's room, or the sentence asks for all of a kind it names."""
        said_words = words(said)
        spec = next((t for t in tools if t["name"] == name), {"name": name})
        verb = VERBS.get(name, name)
        needed = NEEDED_WORDS.get(name)
        if (needed is not None and not said_words & needed) or (needed is None and not _fits(spec, said_words)):
            return self._ask(verb, args, "the words don't clearly say to do that")
        said_numbers = set(re.findall(r"\d+(?:\.\d+)?", said))
        invented = [f"{k} {v}" for k, v in args.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool) and f"{v:g}" not in said_numbers]
        if invented:
            return self._ask(verb, args, "you didn't say " + " or ".join(invented))
        target = {k: args[k] for k in ("name", "area", "floor", "domain", "device_class") if args.get(k)}
        try:
            reached = resolve(self.home, **target)
        except TargetError:
            return ""  # the tool reports what is wrong, and nothing changes
        if said_words & EVERYTHING and any(said_words & words(DOMAIN_WORDS.get(e.domain, e.domain)) for e in reached):
            return ""
        stray = [e for e in reached if not self._named(e, said_words, area)]
        if stray:
            return self._ask(verb, args, "you didn't name " + _listing([e.name for e in stray]))
        return ""

    def _named(self, e: Entity, said_words: set[str], area: str | None) -> bool:
        a = self.home.areas.get(e.area or "")
        names = [e.name, *e.aliases] + ([e.area, *a.aliases] if a and e.area else [])
        floor = e.floor or (a.floor if a else None)
        names += [floor] if floor else []
        return (area is not None and e.area == area) or any(
            words(n) and words(n) <= said_words for n in names)

    def _ask(self, verb: str, args: dict[str, Any], why: str) -> str:
        kind = args.get("domain") or args.get("device_class")
        kind = kind[0] if isinstance(kind, list) and kind else kind
        target = ((f"the {args['name']}" if args.get("name") else "")
                  or (f"everything in the {args['area']}" if args.get("area") else "")
                  or (f"everything on the {args['floor']}" if args.get("floor") else "")
                  or (f"every {str(kind).replace('_', ' ')}" if kind else "that"))
        return (f"Should I {verb} {target}? I haven't, because {why}. Say it with the device or room, "
                f"e.g. \"{verb} {target}\".")

    def _checked_text(self, text: str, said: str, messages: list[dict[str, Any]], system: str) -> str:
        """The reply unless it is empty, loops, copies the user, an earlier reply or the prompt,
        claims a change no tool made, or ignores the tool's result; then that result, which is
        what the person needs to hear, or a plain 'unclear'."""
        text = unquote(text)
        earlier = [m["content"] for m in messages[:-1] if m["role"] == "assistant"]
        sources = [said, *earlier, *system.splitlines()]
        results = [m["content"] for m in messages if m["role"] == "tool"]
        made_up = not results and claims_a_change(text)  # "turned on" when no tool ran
        # After a tool, a reply that says nothing of its result is noise: the result is the answer.
        off_topic = bool(results) and not mentions(text, results[-1])
        if text and not made_up and not off_topic and not repeats_itself(text) and not echoes(text, sources):
            return text
        log.info("local reply not sent (empty, echoed, looping or claiming a change): %r", text[:200])
        return results[-1][:MAX_HISTORY_CHARS] if results else UNCLEAR


def _fits(spec: dict[str, Any], said_words: set[str]) -> bool:
    """Whether the sentence shares a word with the tool's name, description or examples, not
    counting the made-up devices and numbers in those examples ("lamp" in "dim the bedside lamp
    to 20%" says nothing about dimming)."""
    example_targets: set[str] = set()
    for example in spec.get("examples", []):
        example_targets |= words(" ".join(str(v) for v in example["args"].values()))
    own = words(" ".join([spec["name"], spec.get("description", ""),
                          *(example["said"] for example in spec.get("examples", []))]))
    return bool(said_words & (own - example_targets))


def _listing(names: list[str]) -> str:
    names = names[:3] + (["others"] if len(names) > 3 else [])
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m["role"] == "user" and isinstance(m["content"], str):
            return m["content"]
    return ""


def to_local_messages(prompt: Prompt, devices: str = "") -> list[dict[str, Any]]:
    """Anthropic-format messages as plain role/content text for the local model: a short clean
    history (the last HISTORY_EXCHANGES exchanges, each cut to MAX_HISTORY_CHARS, without the
    local-model note or replies that looped), then this turn with its tool calls and results."""
    start = max((i for i, m in enumerate(prompt.messages)
                 if m["role"] == "user" and isinstance(m["content"], str)), default=0)
    earlier: list[dict[str, Any]] = []
    for m in prompt.messages[:start]:
        if not isinstance(m["content"], str):
            continue  # an earlier turn's tool blocks: their outcome is in the reply that followed
        text = m["content"].replace(LOCAL_NOTE, "").strip()
        if m["role"] == "assistant" and repeats_itself(text):
            earlier = earlier[:-1]  # drop the exchange whose reply looped
            continue
        earlier.append({"role": m["role"], "content": text[:MAX_HISTORY_CHARS]})
    earlier = earlier[-2 * HISTORY_EXCHANGES:]
    while earlier and earlier[0]["role"] != "user":
        earlier = earlier[1:]
    out: list[dict[str, Any]] = list(earlier)
    names: dict[str, str] = {}
    for m in prompt.messages[start:]:
        if isinstance(m["content"], str):
            out.append({"role": m["role"], "content": m["content"]})
            continue
        for block in m["content"]:
            if block["type"] == "text":
                out.append({"role": m["role"], "content": block["text"]})
            elif block["type"] == "tool_use":
                names[block["id"]] = block["name"]
                call = json.dumps({"tool": block["name"], "args": block["input"]})
                out.append({"role": "assistant", "content": call})
            elif block["type"] == "tool_result":
                text = " ".join(c["text"] for c in block["content"] if c["type"] == "text")
                out.append({"role": "tool", "name": names.get(block["tool_use_id"], "tool"),
                            "content": text})
    # The volatile part goes in its own message just before this turn's user message: rendered,
    # it leads that turn, while the model still sees the user's own words as the last message.
    volatile = "\n\n".join(part for part in (prompt.volatile, devices) if part)
    last_user = len(earlier)
    return out[:last_user] + [{"role": "user", "content": volatile}] + out[last_user:]
