"""The shapes the service exchanges with the local model backend."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LocalConfig:
    model_path: str  # GGUF path
    n_gpu_layers: int = -1  # -1: all layers when the build has a GPU backend, else 0
    n_ctx: int = 4096
    n_threads: int | None = None  # None: llama.cpp's default
    chat_format: str | None = None  # None: from the GGUF's template
    small_profile: bool = True  # fewer tools, shorter context, bounded outputs


@dataclass
class ToolCall:
    name: str
    args: dict


@dataclass
class LocalReply:
    text: str
    tool_calls: list[ToolCall]
    prompt_tokens: int  # tokens in the prompt
    evaluated_tokens: int  # prompt tokens actually evaluated this call (not reused from the KV cache)
    completion_tokens: int


@dataclass
class TurnTiming:
    """Where the last `complete()` spent its time, for benchmarks and logs."""

    evaluated_tokens: int = 0
    prompt_seconds: float = 0.0
    completion_tokens: int = 0
    generation_seconds: float = 0.0
