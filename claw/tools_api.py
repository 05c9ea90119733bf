"""Every tool as its own typed endpoint, `POST /api/tools/<name>`, so the OpenAPI schema (and
/docs) shows each tool's arguments. The request model is derived from the tool's JSON schema
(claw.tools), the one place it is declared; the executor still validates and runs the call.

No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations, which
are models made at run time.
"""
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from claw.executor import Executor
from claw.tools import Caller, Tool, ToolRegistry

SCALARS = {"string": str, "boolean": bool, "integer": int, "number": float, "object": dict[str, Any]}


class ActionResult(BaseModel):
    tool: str
    args: dict[str, Any]
    result: str = Field(description="What happened, in words (an error starts with 'Error:')")
    ok: bool


class Arguments(BaseModel):
    # strict: "5" is not a number here, as it is not for the executor
    model_config = ConfigDict(extra="forbid", strict=True)


def python_type(schema: dict[str, Any]) -> Any:
    if "enum" in schema:
        return Literal[tuple(schema["enum"])]
    if schema["type"] == "array":  # one value where a list is asked for is a list of one, as in claw.tools
        return Annotated[list[python_type(schema["items"])], BeforeValidator(_listed)]
    return SCALARS[schema["type"]]


def _listed(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def request_model(tool: Tool) -> type[BaseModel]:
    required = set(tool.schema.get("required", []))
    fields: dict[str, Any] = {}
    for name, prop in tool.schema["properties"].items():
        kind, about = python_type(prop), prop.get("description")
        fields[name] = (kind, Field(description=about)) if name in required else \
            (kind | None, Field(None, description=about))
    return create_model(f"{tool.name}Arguments", __base__=Arguments, **fields)


def router(registry: ToolRegistry, executor: Executor, caller: Caller) -> APIRouter:
    api = APIRouter(prefix="/api/tools", tags=["tools"])
    for tool in registry.tools.values():
        api.add_api_route(f"/{tool.name}", _endpoint(tool, executor, caller), methods=["POST"],
                          name=tool.name, summary=tool.name, description=tool.description,
                          response_model=ActionResult)
    return api


def _endpoint(tool: Tool, executor: Executor, caller: Caller):
    model = request_model(tool)

    async def run(args: model = Body(None)) -> dict[str, Any]:  # type: ignore[valid-type]
        given = args.model_dump(exclude_unset=True) if args is not None else {}
        action = await executor.run(tool.name, given, caller)
        return action.as_dict()

    return run
