"""A loopback stand-in for the Telegram Bot API that python-telegram-bot talks to unchanged.

It speaks the wire protocol: `POST /bot<token>/<method>` with form-encoded or multipart
parameters (nested values as JSON strings), answers `{"ok": true, "result": ...}`, long-polls
getUpdates honouring `offset` (which confirms, and forgets, earlier updates) and `timeout`, and
ends an older getUpdates with 409 when a newer one arrives, as Telegram does.

Tests inject messages and button presses as a person would, and read what the bot sent.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

from tests.anthropic_standin import AnthropicStandIn, text_reply

BOT_ID = 777000


@dataclass
class Sent:
    method: str  # sendMessage | sendPhoto | editMessageText
    chat_id: int
    text: str
    message_id: int
    photo: bytes | None = None
    params: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)

    @property
    def buttons(self) -> list[tuple[str, str]]:
        markup = self.params.get("reply_markup") or {}
        return [(b["text"], b["callback_data"]) for row in markup.get("inline_keyboard", []) for b in row]

    @property
    def silent(self) -> bool:
        return self.params.get("disable_notification") is True


class TelegramStandIn:
    def __init__(self, token: str = "123456:TEST-token", username: str = "claw_test_bot"):
        self.token = token
        self.username = username
        self.port = 0
        self.updates: list[dict[str, Any]] = []  # not yet confirmed by an offset
        self.sent: list[Sent] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []  # every method call, in order
        self.offsets: list[int | None] = []  # the offset of each getUpdates
        self.names: dict[int, str] = {}  # user id -> first name, when a call does not say
        self.fail: dict[str, list[tuple[int, str, int | None]]] = {}  # method -> (status, text, retry_after)
        self.delay: dict[str, float] = {}  # method -> seconds to sit on the request first
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(100)
        self._new = asyncio.Event()
        self._poll_generation = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> TelegramStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- what a person does ----------------------------------------------------------------
    def message(self, user_id: int, text: str, name: str = "", chat_id: int | None = None) -> int:
        """A person sends a text message (in their private chat unless `chat_id` says otherwise)."""
        name = name or self.names.get(user_id, "Ann")
        msg: dict[str, Any] = {
            "message_id": next(self._message_ids), "date": int(time.time()),
            "chat": _chat(chat_id or user_id, name), "from": _user(user_id, name), "text": text,
        }
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self._push({"message": msg})

    def sticker(self, user_id: int, name: str = "") -> int:
        """A message without text."""
        name = name or self.names.get(user_id, "Ann")
        return self._push({"message": {
            "message_id": next(self._message_ids), "date": int(time.time()),
            "chat": _chat(user_id, name), "from": _user(user_id, name),
            "sticker": {"file_id": "stk", "file_unique_id": "stk1", "width": 512, "height": 512,
                        "is_animated": False, "is_video": False, "type": "regular"}}})

    def press(self, user_id: int, sent: Sent, data: str, name: str = "") -> int:
        """A person presses an inline button on a message the bot sent."""
        name = name or self.names.get(user_id, "Ann")
        message = {"message_id": sent.message_id, "date": int(time.time()),
                   "chat": _chat(sent.chat_id, name), "from": _user(BOT_ID, "Claw", bot=True),
                   "text": sent.text}
        return self._push({"callback_query": {
            "id": str(next(self._ids) + 900000), "from": _user(user_id, name),
            "chat_instance": f"ci{sent.chat_id}", "data": data, "message": message}})

    def _push(self, body: dict[str, Any]) -> int:
        update_id = next(self._ids)
        self.updates.append({"update_id": update_id, **body})
        self._new.set()
        return update_id

    # -- what the bot did ------------------------------------------------------------------
    def to(self, chat_id: int, method: str | None = None) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id and (method is None or s.method == method)]

    def texts(self, chat_id: int) -> list[str]:
        return [s.text for s in self.to(chat_id) if s.method != "editMessageText"]

    async def wait_for(self, test: Callable[[Sent], bool], timeout: float = 10.0, what: str = "") -> Sent:
        """The first sent message that passes `test`, waiting up to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for s in self.sent:
                if test(s):
                    return s
            await asyncio.sleep(0.01)
        recent = [(s.method, s.chat_id, s.text[:60]) for s in self.sent[-8:]]
        raise AssertionError(f"the bot never sent {what or 'that'} within {timeout} s; last sent: {recent}")

    async def wait_text(self, chat_id: int, part: str, timeout: float = 10.0) -> Sent:
        return await self.wait_for(lambda s: s.chat_id == chat_id and part in s.text, timeout,
                                   f"a message to {chat_id} containing {part!r}")

    async def wait_call(self, method: str, nth: int, timeout: float = 10.0) -> dict[str, Any]:
        """The parameters of the `nth` call (1-based) of `method`, waiting for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = [p for m, p in self.calls if m == method]
            if len(calls) >= nth:
                return calls[nth - 1]
            await asyncio.sleep(0.01)
        raise AssertionError(f"the bot called {method} fewer than {nth} times within {timeout} s")

    def count(self, method: str) -> int:
        return sum(1 for m, _ in self.calls if m == method)

    # -- the Bot API -----------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params, files = await _params(request)
        self.calls.append((method, params))
        if self.delay.get(method):
            await asyncio.sleep(self.delay[method])
        if self.fail.get(method):
            status, text, retry_after = self.fail[method].pop(0)
            return _error(status, text, retry_after)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        result = await handler(params, files)
        if isinstance(result, web.Response):
            return result
        return web.json_response({"ok": True, "result": result})

    async def _m_getMe(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        return {**_user(BOT_ID, "Claw", bot=True), "username": self.username, "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": False}

    async def _m_deleteWebhook(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        return True

    async def _m_setMyCommands(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        self.commands = params.get("commands")
        return True

    async def _m_getUpdates(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        offset = params.get("offset")
        self.offsets.append(offset)
        if offset is not None:  # confirms every update before it: Telegram forgets them
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        self._poll_generation += 1
        generation = self._poll_generation
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        while not self.updates and time.monotonic() < deadline:
            self._new.clear()
            try:
                async with asyncio.timeout(deadline - time.monotonic()):
                    await self._new.wait()
            except TimeoutError:
                break
            if generation != self._poll_generation:
                return _error(409, "Conflict: terminated by other getUpdates request; make sure "
                                   "that only one bot instance is running")
        return self.updates[:limit]

    async def _m_sendMessage(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        return self._record("sendMessage", params, str(params["text"]))

    async def _m_sendPhoto(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        photo = files.get("photo")
        if photo is None:
            return _error(400, "Bad Request: there is no photo in the request")
        return self._record("sendPhoto", params, str(params.get("caption") or ""), photo)

    async def _m_editMessageText(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        original = next((s for s in self.sent if s.chat_id == chat_id and s.message_id == message_id), None)
        if original is None:
            return _error(400, "Bad Request: message to edit not found")
        self.sent.append(Sent("editMessageText", chat_id, str(params["text"]), message_id, None, params))
        return _bot_message(chat_id, message_id, str(params["text"]))

    async def _m_sendChatAction(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        return True

    async def _m_answerCallbackQuery(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        return True

    async def _m_getFile(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        return {"file_id": params["file_id"], "file_unique_id": params["file_id"] + "u",
                "file_size": 3, "file_path": f"photos/{params['file_id']}.jpg"}

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        return web.Response(body=b"\xff\xd8\xff", content_type="image/jpeg")

    def _record(self, method: str, params: dict[str, Any], text: str, photo: bytes | None = None) -> Any:
        chat_id = int(params["chat_id"])
        message_id = next(self._message_ids)
        self.sent.append(Sent(method, chat_id, text, message_id, photo, params))
        result = _bot_message(chat_id, message_id, text)
        if photo is not None:
            result.pop("text")
            result["caption"] = text
            result["photo"] = [{"file_id": f"ph{message_id}", "file_unique_id": f"phu{message_id}",
                                "width": 640, "height": 360, "file_size": len(photo)}]
        return result


async def _params(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Form fields (JSON-decoding nested values as the Bot API does) and uploaded files."""
    if request.content_type == "application/json":
        return await request.json(), {}
    params: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    form = await request.post()
    for key, value in form.items():
        if isinstance(value, web.FileField):
            files[key] = value.file.read()
            continue
        if key in ("text", "caption"):  # "42" or "true" is text here, not JSON
            params[key] = value
            continue
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    for key, value in list(params.items()):  # a file sent by reference: attach://<name>
        if isinstance(value, str) and value.startswith("attach://"):
            files[key] = files.pop(value.removeprefix("attach://"))
            params.pop(key)
    return params, files


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


def _user(user_id: int, name: str, bot: bool = False) -> dict[str, Any]:
    return {"id": user_id, "is_bot": bot, "first_name": name}


def _chat(chat_id: int, name: str) -> dict[str, Any]:
    return {"id": chat_id, "type": "private" if chat_id > 0 else "group", "first_name": name}


def _bot_message(chat_id: int, message_id: int, text: str) -> dict[str, Any]:
    return {"message_id": message_id, "date": int(time.time()), "chat": {"id": chat_id, "type": "private"},
            "from": _user(BOT_ID, "Claw", bot=True), "text": text}


class EchoStandIn(AnthropicStandIn):
    """Answers from the queue when it has items, else echoes the last line the person wrote
    (after `echo_delay` seconds), so each reply can be matched to its message."""

    def __init__(self) -> None:
        super().__init__()
        self.echo_delay = 0.0

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        if self.queue:
            return await super()._messages(request)
        body = await request.json()
        self.requests.append(body)
        content = body["messages"][-1]["content"]
        last = content if isinstance(content, str) else json.dumps(content)
        await asyncio.sleep(self.echo_delay)
        return web.json_response(text_reply(f"echo: {last.splitlines()[-1]}"))
