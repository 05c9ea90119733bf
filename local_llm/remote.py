"""A model served elsewhere in the house over the OpenAI-compatible chat API (llama-server,
llama-cpp-python's server, Ollama, vLLM, LM Studio), answering a turn like LocalModel does.

The same steps as in process, over HTTP: choose a tool (or "reply"), then its arguments, each
constrained by whatever the server supports (`response_format`), then checked here because a
server may ignore the constraint; or one short line of text.
- json_object: llama-cpp-python's server, `{"type": "json_object", "schema": ...}`.
- json_schema: the OpenAI standard, used by vLLM, LM Studio, Ollama and OpenAI itself.
- none: no constraint; the first JSON object in the answer is taken and checked.
In the small profile the choice leans on the words the request shares with each tool (the
server gives no log-probabilities to weigh): a tool sharing the most words wins outright, and
the model only breaks ties.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import openai

from local_llm.api import LocalReply, ToolCall
from local_llm.messages import chat_messages
from local_llm.relevance import most_relevant, narrow_enums, overlap
from local_llm.schema import clamp_numbers

REPLY = "reply"
MAX_TOOLS = 16
ARGS_TOKENS = 96
REPLY_TOKENS = 48


@dataclass
class ServerConfig:
    url: str  # the API base, e.g. http://gpu-box:8080/v1
    model: str = ""  # the name the server serves; empty: the first it lists
    api_key: str = ""
    response_format: str = "json_object"  # json_object | json_schema | none
    timeout: float = 60.0
    small_profile: bool = True


class ServerUnavailable(RuntimeError):
    """The server did not answer usefully; the message names it and what went wrong."""


class ServerModel:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        # Retries are the router's business; a slow server must not stall a turn three times over.
        self.client = openai.OpenAI(base_url=config.url, api_key=config.api_key or "none",
                                    timeout=config.timeout, max_retries=0)
        self._model = config.model

    def model_name(self) -> str:
        if not self._model:
            listed = self._call(lambda: self.client.models.list().data)
            if not listed:
                raise ServerUnavailable(f"The model server at {self.config.url} serves no model; "
                                        "set local.model in claw.toml.")
            self._model = listed[0].id
        return self._model

    def complete(self, system: str, messages: list[dict], tools: list[dict]) -> LocalReply:
        if not messages:
            raise ValueError("complete() needs at least one message")
        chat = chat_messages(system, messages)
        if messages[-1]["role"] == "tool" or not tools:
            return self._reply(chat)
        said = messages[-1]["content"]
        candidates = most_relevant(tools, said, MAX_TOOLS)
        name, usage = self._choose(chat, candidates, said)
        if name == REPLY:
            reply = self._reply(chat)
            return LocalReply(reply.text, [], reply.prompt_tokens, reply.evaluated_tokens,
                              reply.completion_tokens + usage[1])
        tool = next(t for t in candidates if t["name"] == name)
        return self._args(chat, tool, said)

    def _choose(self, chat: list[dict], tools: list[dict], said: str) -> tuple[str, tuple[int, int]]:
        names = [tool["name"] for tool in tools]
        if self.config.small_profile:
            shared = {tool["name"]: overlap(tool, said) for tool in tools}
            best = max(shared.values())
            if best == 0:
                return REPLY, (0, 0)
            names = [name for name in names if shared[name] == best]
            if len(names) == 1:
                return names[0], (0, 0)
        else:
            names.append(REPLY)
        schema = {"type": "object", "properties": {"tool": {"type": "string", "enum": names}},
                  "required": ["tool"]}
        value, usage = self._json(chat + [{"role": "assistant", "content": "Which tool?"},
                                          {"role": "user", "content": "Answer with the tool's name as JSON."}],
                                  schema, 32)
        choice = value.get("tool") if isinstance(value, dict) else None
        return (choice if choice in names else REPLY), usage

    def _args(self, chat: list[dict], tool: dict, said: str) -> LocalReply:
        name, schema = tool["name"], tool.get("input_schema", {"type": "object"})
        if self.config.small_profile:
            schema = narrow_enums(schema, said)
        schema = {"additionalProperties": False, **schema}
        ask = chat + [{"role": "assistant", "content": json.dumps({"tool": name})},
                      {"role": "user", "content": f"The arguments for {name}, as JSON."}]
        value, (prompt_tokens, completion_tokens) = self._json(ask, schema, ARGS_TOKENS)
        problem = _misfit(schema, value)
        if problem:
            return LocalReply(f"The model's arguments for {name} did not fit ({problem}), so I did nothing.",
                              [], prompt_tokens, prompt_tokens, completion_tokens)
        args, notes = clamp_numbers(schema, value, "")
        note = "; ".join(notes)
        return LocalReply(note[:1].upper() + note[1:] + ("." if note else ""), [ToolCall(name, args)],
                          prompt_tokens, prompt_tokens, completion_tokens)

    def _reply(self, chat: list[dict]) -> LocalReply:
        answer = self._call(lambda: self.client.chat.completions.create(
            model=self.model_name(), messages=chat, max_tokens=REPLY_TOKENS, temperature=0.0, stop=["\n"]))
        text = (answer.choices[0].message.content or "").strip()
        usage = answer.usage
        return LocalReply(text, [], usage.prompt_tokens if usage else 0, usage.prompt_tokens if usage else 0,
                          usage.completion_tokens if usage else 0)

    def _json(self, chat: list[dict], schema: dict, max_tokens: int) -> tuple[Any, tuple[int, int]]:
        kind = self.config.response_format
        extra: dict[str, Any] = {}
        if kind == "json_object":
            extra["response_format"] = {"type": "json_object", "schema": schema}
        elif kind == "json_schema":
            extra["response_format"] = {"type": "json_schema",
                                        "json_schema": {"name": "answer", "schema": schema, "strict": True}}
        answer = self._call(lambda: self.client.chat.completions.create(
            model=self.model_name(), messages=chat, max_tokens=max_tokens, temperature=0.0, **extra))
        text = answer.choices[0].message.content or ""
        usage = (answer.usage.prompt_tokens, answer.usage.completion_tokens) if answer.usage else (0, 0)
        found = re.search(r"\{.*\}", text, re.DOTALL)
        try:
            return json.loads(found.group(0) if found else text, strict=False), usage
        except json.JSONDecodeError:
            return None, usage

    def _call(self, request: Any) -> Any:
        try:
            return request()
        except openai.APITimeoutError:
            raise ServerUnavailable(f"the model server at {self.config.url} did not answer within "
                                    f"{self.config.timeout:g} s") from None
        except openai.APIConnectionError as e:
            raise ServerUnavailable(f"I can't reach the model server at {self.config.url} "
                                    f"({e.__cause__ or e})") from None
        except openai.APIStatusError as e:
            raise ServerUnavailable(f"the model server at {self.config.url} answered "
                                    f"{e.status_code}: {str(e.message)[:200]}") from None


def _misfit(schema: dict, value: Any) -> str:
    """What about `value` breaks the schema's keys, types and enums ('' when it fits): a server
    that ignored the constraint must not get an invented device through."""
    if not isinstance(value, dict):
        return "not a JSON object"
    props = schema.get("properties", {})
    extra = set(value) - set(props)
    if extra:
        return f"unknown {', '.join(sorted(extra))}"
    missing = [key for key in schema.get("required", []) if key not in value]
    if missing:
        return f"missing {', '.join(missing)}"
    kinds = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "array": list,
             "object": dict}
    for key, item in value.items():
        spec = props[key]
        if "enum" in spec and item not in spec["enum"]:
            return f"{key} {item!r} is not one of the choices"
        kind = kinds.get(spec.get("type", ""))
        if kind and (not isinstance(item, kind) or (isinstance(item, bool) and spec.get("type") != "boolean")):
            return f"{key} is not of type {spec['type']}"
    return ""
