"""A loopback stand-in for the Anthropic Messages API that the real SDK talks to.

Tests queue what it should answer; it records every request it receives.
"""
from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from aiohttp import web

_ids = itertools.count(1)


def text_reply(text: str) -> dict[str, Any]:
    return _message([{"type": "text", "text": text}], "end_turn")


def tool_reply(name: str, args: dict[str, Any], text: str = "") -> dict[str, Any]:
    content = [{"type": "text", "text": text}] if text else []
    content.append({"type": "tool_use", "id": f"toolu_{next(_ids):04d}", "name": name, "input": args})
    return _message(content, "tool_use")


def malformed_reply(*drop: str, **fields: Any) -> dict[str, Any]:
    """A text reply without the keys in `drop` and with `fields` in place of its own: an answer
    the real API should never send, e.g. malformed_reply("content") or content=[{"type": "x"}]."""
    message = {**text_reply("OK."), **fields}
    for key in drop:
        del message[key]
    return message


def _message(content: list[dict[str, Any]], stop: str) -> dict[str, Any]:
    return {
        "id": f"msg_{next(_ids):04d}", "type": "message", "role": "assistant",
        "model": "claude-standin", "content": content, "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 100, "output_tokens": 20,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }


class AnthropicStandIn:
    """Answers POST /v1/messages from a queue. Items: a message dict (200), ("status", code)
    for an API error, ("sleep", seconds) to hang, ("raw", text) for a malformed body.
    When the queue is empty, `default` answers (a plain text reply)."""

    def __init__(self) -> None:
        self.queue: list[Any] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.default: Any = text_reply("OK.")
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(await request.json())
        self.headers.append({k.lower(): v for k, v in request.headers.items()})
        item = self.queue.pop(0) if self.queue else self.default
        if isinstance(item, tuple) and item[0] == "status":
            code = item[1]
            kind = {529: "overloaded_error", 429: "rate_limit_error", 401: "authentication_error",
                    400: "invalid_request_error"}.get(code, "api_error")
            body = {"type": "error", "error": {"type": kind, "message": f"stand-in {code}"}}
            return web.json_response(body, status=code)
        if isinstance(item, tuple) and item[0] == "sleep":
            await asyncio.sleep(item[1])
            return web.json_response(text_reply("too late"))
        if isinstance(item, tuple) and item[0] == "raw":
            return web.Response(text=item[1], content_type="application/json")
        return web.Response(text=json.dumps(item), content_type="application/json")
