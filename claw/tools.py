"""The tool registry: JSON schemas derived from typed Python signatures.

A tool is an async function whose first parameter is the ToolContext and whose other
parameters are keyword arguments with type hints (optionally `Annotated[T, "description"]`).
Errors a tool raises as ToolError come back to the model as text, so it can correct itself.
"""
from __future__ import annotations

import inspect
import json
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, Awaitable, Callable, Literal, Union

ToolFn = Callable[..., Awaitable[Any]]

MAX_TEXT_ARG = 20_000  # characters in one text argument (a whole soul.md fits)
MAX_NUMBER_ARG = 2**53  # what JSON clients and SQLite keep exactly


class ToolError(Exception):
    """A tool could not do what was asked; the message is for the model and the person."""


@dataclass
class Caller:
    """Who asked: decides what the policy allows."""

    role: str = "owner"  # owner | member | api
    chat_id: str = ""
    channel: str = "api"
    area: str | None = None  # the room the speaker is in, when the channel knows it


@dataclass
class ToolContext:
    caller: Caller
    images: list[bytes] = field(default_factory=list)  # JPEGs a tool wants the model to see


@dataclass
class Tool:
    name: str
    description: str
    fn: ToolFn
    schema: dict[str, Any]
    owner_only: bool = False  # e.g. changing soul.md
    # The kinds of device it acts on; a house with none of them is not offered it. Empty: any.
    domains: tuple[str, ...] = ()

    def spec(self) -> dict[str, Any]:
        """The Anthropic tool definition."""
        return {"name": self.name, "description": self.description, "input_schema": self.schema}


def _type_schema(hint: Any) -> tuple[dict[str, Any], bool]:
    """JSON schema for a type hint, and whether None is allowed."""
    description = None
    if typing.get_origin(hint) is Annotated:
        hint, *meta = typing.get_args(hint)
        description = next((m for m in meta if isinstance(m, str)), None)
    optional = False
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        if len(args) != 1:
            raise TypeError(f"unsupported union {hint}")
        inner, _ = _type_schema(args[0])
        schema = inner
    elif origin is Literal:
        values = list(typing.get_args(hint))
        schema = {"type": "string", "enum": values}
    elif origin is list:
        (item,) = typing.get_args(hint) or (str,)
        schema = {"type": "array", "items": _type_schema(item)[0]}
    elif hint is str:
        schema = {"type": "string"}
    elif hint is bool:
        schema = {"type": "boolean"}
    elif hint is int:
        schema = {"type": "integer"}
    elif hint is float:
        schema = {"type": "number"}
    elif hint is dict:
        schema = {"type": "object"}
    else:
        raise TypeError(f"unsupported parameter type {hint!r}")
    if description:
        schema = {**schema, "description": description}
    return schema, optional


def schema_for(fn: ToolFn) -> dict[str, Any]:
    hints = typing.get_type_hints(fn, include_extras=True)
    params = list(inspect.signature(fn).parameters.values())[1:]  # skip the context
    properties, required = {}, []
    for p in params:
        properties[p.name], _ = _type_schema(hints[p.name])
        if p.default is inspect.Parameter.empty:
            required.append(p.name)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _check_value(name: str, schema: dict[str, Any], value: Any) -> Any:
    kind = schema.get("type")
    if value is None:
        return None
    if "enum" in schema and value not in schema["enum"]:
        raise ToolError(f"{name} must be one of {', '.join(map(str, schema['enum']))}")
    if kind == "string":
        if not isinstance(value, str):
            raise ToolError(f"{name} must be text")
        if len(value) > MAX_TEXT_ARG:
            raise ToolError(f"{name} is too long ({len(value)} characters; at most {MAX_TEXT_ARG})")
        if _has_surrogate(value):
            raise ToolError(f"{name} contains an invalid character (a lone UTF-16 surrogate)")
    if kind == "boolean" and not isinstance(value, bool):
        raise ToolError(f"{name} must be true or false")
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or abs(value) > MAX_NUMBER_ARG:
            raise ToolError(f"{name} must be a {'whole ' if kind == 'integer' else ''}number "
                            f"between -{MAX_NUMBER_ARG} and {MAX_NUMBER_ARG}")
    if kind == "integer":
        if value != int(value):
            raise ToolError(f"{name} must be a whole number")
        return int(value)
    if kind == "array":
        if isinstance(value, str):  # models often send "light" where a list is asked for
            value = [value]
        if not isinstance(value, list):
            raise ToolError(f"{name} must be a list")
        return [_check_value(name, schema["items"], v) for v in value]
    return value


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


class ToolRegistry:
    def __init__(self) -> None:
        self.tools: dict[str, Tool] = {}

    def add(self, fn: ToolFn, name: str | None = None, owner_only: bool = False,
            domains: tuple[str, ...] = ()) -> Tool:
        name = name or fn.__name__
        description = inspect.cleandoc(fn.__doc__ or "").strip()
        if not description:
            raise ValueError(f"tool {name} needs a docstring: it is the model's description")
        tool = Tool(name, description, fn, schema_for(fn), owner_only, domains)
        self.tools[name] = tool
        return tool

    def get(self, name: str) -> Tool | None:
        return self.tools.get(name)

    def for_domains(self, present: set[str]) -> list[Tool]:
        """The tools worth offering for a house with these kinds of device (no lawn-mower tools
        in a house without a mower: each is schema bytes on every turn, and a wrong choice for
        a small model)."""
        return [t for t in self.tools.values() if not t.domains or present & set(t.domains)]

    def specs(self, names: list[str] | None = None) -> list[dict[str, Any]]:
        return [t.spec() for t in self.tools.values() if names is None or t.name in names]

    def validate(self, tool: Tool, args: dict[str, Any]) -> dict[str, Any]:
        """Arguments checked against the schema; raises ToolError naming the problem."""
        if not isinstance(args, dict):
            raise ToolError(f"{tool.name} takes an object of named arguments")
        props = tool.schema["properties"]
        unknown = set(args) - set(props)
        if unknown:
            raise ToolError(
                f"{tool.name} has no argument {', '.join(sorted(unknown))}; "
                f"it takes {', '.join(props) or 'no arguments'}"
            )
        missing = [k for k in tool.schema.get("required", []) if args.get(k) is None]
        if missing:
            raise ToolError(f"{tool.name} needs {', '.join(missing)}")
        return {k: _check_value(k, props[k], v) for k, v in args.items()}


def result_text(result: Any) -> str:
    """A tool's return value as the text the model reads."""
    if result is None:
        return "done"
    if isinstance(result, str):
        return result
    return json.dumps(result, ensure_ascii=False, default=str)
