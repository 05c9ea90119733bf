"""The local model as a Backend: adapts prompts to local_llm and runs it off the event loop.

The model is long-lived and not thread-safe, so calls are serialised. The stable prefix goes
first, unchanged, so llama.cpp's KV cache reuses it; the volatile part rides with the newest
user message. In the small-model profile the tools are narrowed, and names/areas become enums
so constrained decoding can only produce entities that exist.
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
        async with self._lock:
            try:
                model = await asyncio.to_thread(self._load)
                reply = await asyncio.to_thread(model.complete, prompt.stable, messages, tools)
            except (OSError, ValueError, RuntimeError) as e:
                log.error("local model failed: %s", e)
                raise ModelUnavailable("local_failed", f"the local model failed ({e}).") from None
        uses = [ToolUse(f"local_{next(_ids)}", c.name, dict(c.args)) for c in reply.tool_calls]
        usage = {"input_tokens": reply.prompt_tokens, "evaluated_tokens": reply.evaluated_tokens,
                 "output_tokens": reply.completion_tokens}
        return ModelReply(reply.text.strip(), uses, usage, "local")

    def tools(self, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not self.small_profile:
            return specs
        names = sorted({n for e in self.home.entities.values() for n in [e.name, *e.aliases]})
        areas = sorted({n for a in self.home.areas.values() for n in [a.name, *a.aliases]})
        out = []
        for spec in specs:
            if spec["name"] not in SMALL_TOOLS:
                continue
            spec = copy.deepcopy(spec)
            props = spec["input_schema"]["properties"]
            for key, values in (("name", names), ("area", areas)):
                if key in props and values:
                    props[key] = {**props[key], "type": "string", "enum": values}
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
    last_user = max(i for i, m in enumerate(out) if m["role"] == "user")
    out[last_user] = {**out[last_user],
                      "content": prompt.volatile + "\n\n" + out[last_user]["content"]}
    return out
