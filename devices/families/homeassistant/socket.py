"""One authenticated WebSocket to Home Assistant, for Claw's driver: commands answered by id
while the events of subscriptions arrive, in order, on a queue (HA's command phase:
https://developers.home-assistant.io/docs/api/websocket)."""
from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from devices.model import DeviceError


class CommandFailed(DeviceError):
    """HA answered a command with an error; `code` is HA's ("unknown_command", "not_found", ...)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class HaSocket:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, where: str, timeout: float) -> None:
        self._ws = ws
        self._where = where
        self._timeout = timeout
        self._next_id = 1
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._subscriptions: set[int] = set()
        # (subscription id, event) in arrival order; None once the connection is gone
        self._events: asyncio.Queue[tuple[int, dict[str, Any]] | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def command(self, kind: str, **fields: Any) -> Any:
        """The result of one command; DeviceError if HA refuses it or does not answer in time."""
        msg_id = self._next_id
        self._next_id += 1
        future = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        try:
            await self._ws.send_json({"id": msg_id, "type": kind, **fields})
            async with asyncio.timeout(self._timeout):
                reply = await future
        except TimeoutError:
            raise DeviceError(f"{self._where} did not answer {kind} within {self._timeout:g} s") from None
        finally:
            self._pending.pop(msg_id, None)
        if not reply.get("success"):
            error = reply.get("error") or {}
            raise CommandFailed(f"{self._where} refused {kind}: {error.get('message') or error.get('code')}",
                                str(error.get("code")))
        return reply.get("result")

    async def subscribe(self, kind: str, **fields: Any) -> int:
        """Subscribe (subscribe_events, todo/item/subscribe, ...); its events come from `next_event`
        under the returned id. The id is taken before sending: HA may send events right after
        the result, before this returns."""
        msg_id = self._next_id  # command() takes it before its first await
        self._subscriptions.add(msg_id)
        await self.command(kind, **fields)
        return msg_id

    async def next_event(self) -> tuple[int, dict[str, Any]] | None:
        """The next event of any subscription, or None once the connection has closed."""
        return await self._events.get()

    async def close(self) -> None:
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)

    async def _read(self) -> None:
        try:
            async for msg in self._ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                data = msg.json()
                if data.get("type") == "result" and data.get("id") in self._pending:
                    future = self._pending[data["id"]]
                    if not future.done():
                        future.set_result(data)
                elif data.get("type") == "event" and data.get("id") in self._subscriptions:
                    self._events.put_nowait((data["id"], data["event"]))
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(DeviceError(f"{self._where} closed the connection"))
            self._events.put_nowait(None)
