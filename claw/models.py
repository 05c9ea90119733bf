"""What the agent loop needs from a model backend (Claude, the local model, a stand-in)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Prompt:
    """One model call. `stable` is byte-identical across turns (persona, guide, device
    overview) so it can be cached; `volatile` (time, recalled facts) comes after it."""

    stable: str
    volatile: str
    messages: list[dict[str, Any]]  # Anthropic Messages format
    tools: list[dict[str, Any]]
    # `stable` without the device overview: a local model lists only the devices that matter to
    # the sentence, so a big house fits its small context.
    persona: str = ""
    said: str = ""  # this turn's words as the person meant them ("privately," taken off)
    area: str | None = None  # the room the speaker is in, when the channel knows it


# Ends every reply the local model made, so the person knows which model answered.
LOCAL_NOTE = "(answered by the house's local model)"


@dataclass
class ToolUse:
    id: str
    name: str
    input: dict[str, Any]


@dataclass
class ModelReply:
    text: str
    tool_uses: list[ToolUse] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    backend: str = ""


class ModelUnavailable(Exception):
    """The model could not answer. `kind` lets the router decide to fall back
    (no_key, connection, timeout, rate_limited, overloaded, server_error, bad_response,
    rejected); the message is for the owner."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class Backend(Protocol):
    name: str

    async def complete(self, prompt: Prompt) -> ModelReply: ...
