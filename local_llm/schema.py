"""JSON-schema helpers: grammars for constrained decoding and checks the grammar cannot make.

A GBNF grammar built from the schema enforces structure, required keys and enums, but not numeric
ranges, so numbers are clamped into range afterwards and each change is reported.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llama_cpp import LlamaGrammar


def args_grammar(schema: dict) -> LlamaGrammar:
    from llama_cpp import LlamaGrammar  # here: the server backend uses clamp_numbers without llama.cpp

    # Anthropic tool schemas default to allowing extra keys; a small model should not invent any.
    closed = {"additionalProperties": False, **schema} if schema.get("type") == "object" else schema
    return LlamaGrammar.from_json_schema(json.dumps(closed), verbose=False)


def choice_grammar(names: list[str]) -> LlamaGrammar:
    """One of `names` followed by the closing quote of a JSON string."""
    from llama_cpp import LlamaGrammar

    alternatives = " | ".join(json.dumps(json.dumps(name)[1:]) for name in names)
    return LlamaGrammar.from_string(f"root ::= ({alternatives})", verbose=False)


def clamp_numbers(schema: dict, value: Any, path: str) -> tuple[Any, list[str]]:
    """`value` with every number pulled into its schema's [minimum, maximum], plus one note per change."""
    notes: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties", {})
        out = {}
        for key, item in value.items():
            out[key], sub = clamp_numbers(props.get(key, {}), item, f"{path}.{key}" if path else key)
            notes += sub
        return out, notes
    if isinstance(value, list):
        out_list = []
        for i, item in enumerate(value):
            fixed, sub = clamp_numbers(schema.get("items", {}), item, f"{path}[{i}]")
            out_list.append(fixed)
            notes += sub
        return out_list, notes
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and value < low:
            return low, [f"{path} {value} is below the minimum {low}, so I used {low}"]
        if high is not None and value > high:
            return high, [f"{path} {value} is above the maximum {high}, so I used {high}"]
    return value, notes
