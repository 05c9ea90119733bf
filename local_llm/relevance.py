"""Cheap lexical evidence from the user's words, to help a small model choose and fill in tools.

Words are compared by a 5-letter stem ("pauses"/"paused" meet "pause", "lights" meets "light"),
after splitting camelCase and snake_case ("HassMediaPause" -> hass media pause).
"""
from __future__ import annotations

import copy
import re

_STOPWORDS = {"the", "a", "an", "in", "to", "of", "and", "my", "me", "please", "is", "it", "for", "at", "can", "you"}


def words(text: str) -> set[str]:
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return {w[:5] for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOPWORDS}


def _tool_words(tool: dict) -> set[str]:
    parts = [tool["name"], tool.get("description", "")]
    for key, spec in tool.get("input_schema", {}).get("properties", {}).items():
        parts += [key, spec.get("description", "")] + [str(v) for v in spec.get("enum", [])]
    return words(" ".join(parts))


def overlap(tool: dict, text: str) -> int:
    """How many of the user's words the tool's name and description share (enums left out)."""
    return len(words(text) & words(f"{tool['name']} {tool.get('description', '')}"))


def most_relevant(tools: list[dict], text: str, limit: int) -> list[dict]:
    """The `limit` tools sharing the most words with `text`, in their original order."""
    if len(tools) <= limit:
        return tools
    said = words(text)
    ranked = sorted(range(len(tools)), key=lambda i: -len(said & _tool_words(tools[i])))
    keep = set(ranked[:limit])
    return [tool for i, tool in enumerate(tools) if i in keep]


def narrow_enums(schema: dict, text: str) -> dict:
    """`schema` with each optional string enum cut to the values the user's words match best.

    An optional enum that `text` does not mention at all is removed, so a small model cannot
    name a device or an area nobody asked for; a required one is kept whole.
    """
    said = words(text)
    out = copy.deepcopy(schema)
    props = out.get("properties", {})
    required = set(out.get("required", []))
    for key, spec in list(props.items()):
        if "enum" not in spec or key in required:
            continue
        hits = {value: len(said & words(str(value))) for value in spec["enum"]}
        best = max(hits.values(), default=0)
        if best == 0:
            del props[key]
        else:
            spec["enum"] = [value for value, hit in hits.items() if hit == best]
    return out
