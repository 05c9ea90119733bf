"""Local quantized model backend (llama-cpp-python): constrained tool calls, prompt-prefix cache.

Names load on first use: the pure-text parts (guard, relevance, messages) and the server
backend work without importing llama-cpp-python, which is slow to import and may be absent.
"""
from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "LocalConfig": "local_llm.api", "LocalReply": "local_llm.api", "ToolCall": "local_llm.api",
    "TurnTiming": "local_llm.api", "LocalModel": "local_llm.model",
    "default_model_path": "local_llm.model", "tool_catalog": "local_llm.prompt",
}
__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'local_llm' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
