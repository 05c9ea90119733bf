"""The local model as a Backend: adapts prompts to local_llm and runs it off the event loop.

The model is long-lived and not thread-safe, so calls are serialised. The stable prefix goes
first, unchanged, so llama.cpp's KV cache reuses it; the volatile part rides with the newest
user message. In the small-model profile the tools are narrowed, names, areas, floors and kinds
of device become enums so constrained decoding can only produce targets that exist, and each
tool carries a worked example (shown in the catalog, and used as lexical evidence by local_llm).
"""
from __future__ import annotations

import asyncio
import copy
import itertools
import json
import logging
from typing import Any

from claw.config import LocalModelConfig
from claw.models import ModelReply, ModelUnavailable, Prompt, ToolUse
from devices.home import Home

log = logging.getLogger(__name__)

# The tools a small model is offered: generic home control and state, no admin or soul edits.
SMALL_TOOLS = {
    "HassTurnOn", "HassTurnOff", "HassLightSet", "HassMediaPause", "HassMediaUnpause",
    "HassMediaNext", "HassMediaPrevious", "HassSetVolume", "HassSetVolumeRelative",
    "HassMediaPlayerMute", "HassMediaPlayerUnmute", "HassClimateSetTemperature",
    "HassSetPosition", "GetLiveContext", "remember", "recall",
}

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

_ids = itertools.count(1)


class LocalBackend:
    name = "local"

    def __init__(self, config: LocalModelConfig, home: Home, small_profile: bool = True):
        from local_llm import LocalConfig

        self.home = home
        self.small_profile = small_profile
        self._config = LocalConfig(
            model_path=config.model_path, n_gpu_layers=config.n_gpu_layers, n_ctx=config.n_ctx,
            n_threads=config.threads or None, chat_format=config.chat_format or None,
            small_profile=small_profile,
        )
        self._model: Any = None
        self._lock = asyncio.Lock()

    def _load(self) -> Any:
        if self._model is None:
            from local_llm import LocalModel

            self._model = LocalModel(self._config)
        return self._model

    async def warm(self) -> None:
        """Load the model in the background so the first private turn is not slow."""
        async with self._lock:
            await asyncio.to_thread(self._load)

    async def complete(self, prompt: Prompt) -> ModelReply:
        messages = to_local_messages(prompt)
        tools = self.tools(prompt.tools)
        system = self.system(prompt, tools)
        async with self._lock:
            try:
                model = await asyncio.to_thread(self._load)
                reply = await asyncio.to_thread(model.complete, system, messages, tools)
            except (OSError, ValueError, RuntimeError) as e:
                log.error("local model failed: %s", e)
                raise ModelUnavailable("local_failed", f"the local model failed ({e}).") from None
        uses = [ToolUse(f"local_{next(_ids)}", c.name, dict(c.args)) for c in reply.tool_calls]
        usage = {"input_tokens": reply.prompt_tokens, "evaluated_tokens": reply.evaluated_tokens,
                 "output_tokens": reply.completion_tokens}
        return ModelReply(reply.text.strip(), uses, usage, "local")

    def system(self, prompt: Prompt, tools: list[dict[str, Any]]) -> str:
        """The agent's stable prefix; a small model gets the tools with worked examples first.

        The catalog leaves out device names and areas, so it stays the same as devices come and
        go: it leads, and a changed device overview (at the end of the agent's prefix) costs
        only its own tokens in the KV cache.
        """
        if not self.small_profile:
            return prompt.stable
        from local_llm import tool_catalog

        return tool_catalog(tools) + "\n\n" + prompt.stable

    def tools(self, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """In the small profile: the generic tools, with every target as an enum of what exists."""
        if not self.small_profile:
            return specs
        entities = self.home.entities.values()
        enums = {
            "name": sorted({n for e in entities for n in [e.name, *e.aliases]}),
            "area": sorted({n for a in self.home.areas.values() for n in [a.name, *a.aliases]}),
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
                said, args = EXAMPLES[spec["name"]]
                spec["examples"] = [{"said": said, "args": args}]
            out.append(spec)
        return out


def to_local_messages(prompt: Prompt) -> list[dict[str, Any]]:
    """Anthropic-format messages as plain role/content text for the local model."""
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for m in prompt.messages:
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
    # The volatile part goes in its own message just before the newest user message: rendered, it
    # leads that turn, while the model still sees the user's own words as the last message.
    last_user = max(i for i, m in enumerate(out) if m["role"] == "user")
    return out[:last_user] + [{"role": "user", "content": prompt.volatile}] + out[last_user:]
