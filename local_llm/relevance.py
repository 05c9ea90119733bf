"""Cheap lexical ranking of tools against the user's words, to give a small model fewer choices."""
from __future__ import annotations

import re

_STOPWORDS = {"the", "a", "an", "in", "to", "of", "and", "my", "me", "please", "is", "it", "for", "at", "can", "you"}


def _words(text: str) -> set[str]:
    # Split camelCase and snake_case, keep a 5-letter stem so "pauses"/"paused" meet "pause".
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return {w[:5] for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOPWORDS}


def _tool_words(tool: dict) -> set[str]:
    parts = [tool["name"], tool.get("description", "")]
    for key, spec in tool.get("input_schema", {}).get("properties", {}).items():
        parts += [key, spec.get("description", "")] + [str(v) for v in spec.get("enum", [])]
    return _words(" ".join(parts))


def most_relevant(tools: list[dict], text: str, limit: int) -> list[dict]:
    """The `limit` tools sharing the most words with `text`, in their original order."""
    if len(tools) <= limit:
        return tools
    words = _words(text)
    ranked = sorted(range(len(tools)), key=lambda i: -len(words & _tool_words(tools[i])))
    keep = set(ranked[:limit])
    return [tool for i, tool in enumerate(tools) if i in keep]
