"""Cheap lexical evidence from the user's words, to help a small model choose and fill in tools.

Words are compared by a crude stem (a plural "s" or an "ing" dropped, then a final "e", then the
first 5 letters: "pauses" and "pausing" meet "pause", "lights" meets "light"), after splitting
camelCase and snake_case ("HassMediaPause" -> hass media pause). A tool's words come from its
name, its description and its `examples` (what a user might say to call it).
"""
from __future__ import annotations

import copy
import re

_STOPWORDS = {
    "the", "a", "an", "in", "to", "of", "and", "or", "my", "me", "i", "please", "is", "it", "its",
    "for", "at", "can", "you", "your", "are", "be", "do", "did", "this", "that", "what", "who",
    "with", "e", "g", "eg",
}


def _stem(word: str) -> str:
    for suffix in ("ing", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix) and not word.endswith("ss"):
            word = word[: -len(suffix)]
            break
    return (word[:-1] if len(word) > 3 and word.endswith("e") else word)[:5]


def words(text: str) -> set[str]:
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return {_stem(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOPWORDS}


def _tool_words(tool: dict) -> set[str]:
    parts = [tool["name"], tool.get("description", "")]
    for key, spec in tool.get("input_schema", {}).get("properties", {}).items():
        parts += [key, spec.get("description", "")] + [str(v) for v in spec.get("enum", [])]
    return words(" ".join(parts))


def overlap(tool: dict, text: str) -> int:
    """How many of the user's words the tool's name, description and examples share."""
    said = [example["said"] for example in tool.get("examples", [])]
    return len(words(text) & words(" ".join([tool["name"], tool.get("description", ""), *said])))


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

    An optional enum that `text` does not mention is removed, so a small model cannot name a
    device or an area nobody asked for; so is one whose best match is part of a longer match
    in another property ("floor lamp" names a device, not a floor). One that `text` does
    mention becomes required, so the model cannot leave out what was said. Required enums stay
    whole.
    """
    said = words(text)
    out = copy.deepcopy(schema)
    props = out.get("properties", {})
    required = set(out.get("required", []))
    matched: dict[str, tuple[set[str], list]] = {}  # property -> (words its best values match, values)
    for key, spec in props.items():
        if "enum" not in spec or key in required:
            continue
        hits = {value: said & words(str(value)) for value in spec["enum"]}
        best = max((len(hit) for hit in hits.values()), default=0)
        matched[key] = (set().union(*(hit for hit in hits.values() if len(hit) == best)),
                        [value for value, hit in hits.items() if best and len(hit) == best])
    for key, (hit, values) in matched.items():
        if not values or any(hit < other for k, (other, _) in matched.items() if k != key):
            del props[key]
        else:
            props[key]["enum"] = values
            out["required"] = [*out.get("required", []), key]
    return out

