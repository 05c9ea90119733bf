"""The durable outbox: every reply, alert and prompt is a row with an idempotency key and an
expiry, delivered in order per chat, marked sent as soon as the channel confirms it.

A row whose expiry passed before it could be sent is dropped and logged, never delivered late.
A crash between the channel accepting a message and the `sent` mark (a few microseconds) is the
only case that repeats a message: the Bot API has no idempotency key of its own.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import sqlite_utils

from memory.channels import ensure_tables

log = logging.getLogger(__name__)

REPLY_MAX_AGE = 6 * 3600.0  # a reply nobody could deliver for 6 hours no longer makes sense
ALERT_MAX_AGE = 300.0
MAX_RETRY_DELAY = 30.0


class Undeliverable(Exception):
    """The channel refused this message for good (blocked bot, bad request): drop it."""


class RetryLater(Exception):
    """The channel is unreachable or rate-limiting; try the same message again later."""

    def __init__(self, message: str, delay: float = 1.0):
        super().__init__(message)
        self.delay = delay


@dataclass
class OutItem:
    id: int
    key: str
    channel: str
    chat_id: str
    kind: str  # text | photo | edit
    text: str
    photo: bytes | None
    options: dict[str, Any] = field(default_factory=dict)  # buttons, silent, target (for edit)
    expires: float = 0.0
    attempts: int = 0


Send = Callable[[OutItem], Awaitable[int | None]]  # returns the channel's message id


class Outbox:
    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        ensure_tables(db)
        self._wake: dict[str, asyncio.Event] = {}

    def put(
        self, channel: str, chat_id: str, key: str, text: str = "", *, photo: bytes | None = None,
        kind: str | None = None, options: dict[str, Any] | None = None,
        max_age: float = REPLY_MAX_AGE,
    ) -> bool:
        """Queue a message; False when one with this key was queued before (it is not repeated)."""
        now = time.time()
        cursor = self.db.execute(
            "insert or ignore into outbox (key, channel, chat_id, kind, text, photo, options, "
            "created, expires, status, attempts) values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0)",
            [key, channel, str(chat_id), kind or ("photo" if photo else "text"), text, photo,
             json.dumps(options or {}), now, now + max_age],
        )
        self._event(channel).set()
        return cursor.rowcount == 1

    def message_id(self, key: str) -> int | None:
        """The channel's id for a sent message (to edit it later)."""
        rows = list(self.db.query("select message_id from outbox where key = ? and status = 'sent'", [key]))
        return rows[0]["message_id"] if rows else None

    def delivered_elsewhere(self, key_prefix: str) -> None:
        """Mark pending rows whose key starts with `key_prefix` sent: the caller handed them over
        itself (an HTTP reply), so no channel delivers them again."""
        self.db.execute(
            "update outbox set status = 'sent', sent_at = ? where status = 'pending' "
            "and substr(key, 1, ?) = ?", [time.time(), len(key_prefix), key_prefix])

    def items(self, status: str | None = None) -> list[dict[str, Any]]:
        where, params = ("where status = ?", [status]) if status else ("", [])
        return list(self.db.query(
            f"select id, key, channel, chat_id, kind, text, status, error, created, sent_at "
            f"from outbox {where} order by id", params))

    # -- delivery --------------------------------------------------------------------------
    async def run(self, channel: str, send: Send) -> None:
        """Deliver this channel's rows until cancelled: chats in parallel, each chat in order."""
        wake = self._event(channel)
        lanes: dict[str, asyncio.Task[None]] = {}
        try:
            while True:
                wake.clear()
                for chat_id in self._chats_waiting(channel):
                    if chat_id not in lanes or lanes[chat_id].done():
                        lanes[chat_id] = asyncio.create_task(self._drain(channel, chat_id, send))
                        lanes[chat_id].add_done_callback(lambda t: (wake.set(), _log_crash(t)))
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):  # the tick retries after a backoff
                        await wake.wait()
        finally:
            for task in lanes.values():
                task.cancel()
            await asyncio.gather(*lanes.values(), return_exceptions=True)

    def _event(self, channel: str) -> asyncio.Event:
        return self._wake.setdefault(channel, asyncio.Event())

    def _chats_waiting(self, channel: str) -> list[str]:
        rows = self.db.query(
            "select distinct chat_id from outbox where channel = ? and status = 'pending'", [channel])
        return [r["chat_id"] for r in rows]

    def _next(self, channel: str, chat_id: str) -> OutItem | None:
        rows = list(self.db.query(
            "select * from outbox where channel = ? and chat_id = ? and status = 'pending' "
            "order by id limit 1", [channel, chat_id]))
        if not rows:
            return None
        r = rows[0]
        return OutItem(r["id"], r["key"], r["channel"], r["chat_id"], r["kind"], r["text"] or "",
                       r["photo"], json.loads(r["options"] or "{}"), r["expires"], r["attempts"])

    async def _drain(self, channel: str, chat_id: str, send: Send) -> None:
        delay = 0.5
        while (item := self._next(channel, chat_id)) is not None:
            if time.time() > item.expires:
                self._drop(item, "too old to be worth sending")
                continue
            try:
                message_id = await send(item)
            except Undeliverable as e:
                self._drop(item, str(e))
                continue
            except RetryLater as e:
                self.db.execute("update outbox set attempts = attempts + 1, error = ? where id = ?",
                                [str(e), item.id])
                log.warning("%s message %s not sent yet (%s); retrying", channel, item.key, e)
                delay = min(MAX_RETRY_DELAY, max(e.delay, delay * 2))
                await asyncio.sleep(delay)  # holds this chat's later messages: order matters
                continue
            delay = 0.5
            self.db.execute(
                "update outbox set status = 'sent', sent_at = ?, message_id = ?, attempts = attempts + 1 "
                "where id = ?", [time.time(), message_id, item.id])

    def _drop(self, item: OutItem, why: str) -> None:
        log.warning("dropped %s message %s for chat %s: %s", item.channel, item.key, item.chat_id, why)
        self.db.execute("update outbox set status = 'dropped', error = ? where id = ?", [why, item.id])


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("outbox delivery failed", exc_info=task.exception())
