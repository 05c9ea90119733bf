"""The Telegram channel on python-telegram-bot: long polling into the durable inbox, delivery
from the durable outbox, a typing indicator, and replies split to Telegram's size limit.

The library's Updater moves its offset (which acknowledges updates) as soon as it has fetched
a batch, before any handler has stored it; so this channel runs its own getUpdates loop and asks
from the inbox's cursor, which moves in the same transaction that stores the update.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import warnings
from typing import Any, AsyncIterator, Callable

import sqlite_utils
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction
from telegram.error import (BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter,
                            TelegramError)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from memory.untrusted import valid_unicode
from messaging.inbox import Arrival, Inbox
from messaging.outbox import OutItem, Outbox, RetryLater, Undeliverable

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_MESSAGE = 4096  # UTF-16 code units, Telegram's limit for one message
MAX_CAPTION = 1024
TYPING_EVERY = 4.0  # Telegram shows "typing…" for about 5 s per chat action
COMMANDS = [
    ("start", "Say hello (or pair with a code: /start CODE)"),
    ("help", "What I can do"),
    ("status", "How the house and I are doing"),
    ("devices", "Everything I can see, with its state"),
    ("private", "Answer my next message with the local model only"),
    ("pair", "Make a one-time code to let someone in"),
]

Gate = Callable[[Arrival], bool]  # True: store it for handling; runs inside the inbox transaction


class TelegramChannel:
    def __init__(
        self, token: str, base_url: str, db: sqlite_utils.Database, inbox: Inbox, outbox: Outbox,
        gate: Gate, on_arrival: Callable[[], None], poll_timeout: float = 25.0,
    ):
        root = (base_url or "https://api.telegram.org").rstrip("/")
        self.root = root
        self.bot = Bot(
            token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot",
            request=HTTPXRequest(connection_pool_size=64, read_timeout=15.0, pool_timeout=10.0),
        )
        self.db = db
        self.inbox = inbox
        self.outbox = outbox
        self.gate = gate
        self.on_arrival = on_arrival
        self.poll_timeout = poll_timeout
        self.ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._typing: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Connect in the background: an unreachable Telegram must not stop the house."""
        self._tasks = [asyncio.create_task(self._run())]
        self._tasks[0].add_done_callback(_log_crash)

    async def stop(self) -> None:
        for task in [*self._tasks, *self._typing]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._typing, return_exceptions=True)
        await self.bot.shutdown()

    async def _run(self) -> None:
        delay = 1.0
        while True:
            try:
                await self.bot.initialize()  # getMe
                await self.bot.delete_webhook()  # polling and a webhook exclude each other
                await self.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])
                break
            except InvalidToken:
                log.error("Telegram rejected the bot token; check TELEGRAM_BOT_TOKEN (from @BotFather)")
                return
            except (NetworkError, RetryAfter) as e:
                log.warning("I can't reach Telegram at %s (%s); retrying in %g s", self.root, e, delay)
                await asyncio.sleep(delay)
                delay = min(60.0, delay * 2)
        log.info("Telegram: connected as @%s", self.bot.username)
        self.ready.set()
        delivery = asyncio.create_task(self.outbox.run(CHANNEL, self._send))
        delivery.add_done_callback(_log_crash)
        self._tasks.append(delivery)
        await self._poll()

    # -- receiving -------------------------------------------------------------------------
    async def _poll(self) -> None:
        delay = 1.0
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=self.inbox.cursor(CHANNEL), timeout=self.poll_timeout,
                    allowed_updates=["message", "callback_query"],
                )
            except RetryAfter as e:
                await asyncio.sleep(_retry_after(e))
                continue
            except (NetworkError, Conflict) as e:  # Conflict: a webhook or a second poller
                log.warning("Telegram getUpdates failed (%s); retrying in %g s", e, delay)
                await asyncio.sleep(delay)
                delay = min(30.0, delay * 2)
                continue
            delay = 1.0
            for update in updates:
                arrival = to_arrival(update)
                with self.db.atomic():
                    keep = arrival is not None and self.gate(arrival)
                    self.inbox.record(CHANNEL, update.update_id, arrival if keep else None)
            if updates:
                self.on_arrival()

    # -- sending ---------------------------------------------------------------------------
    async def _send(self, item: OutItem) -> int | None:
        chat_id = int(item.chat_id)
        markup = _keyboard(item.options.get("buttons"))
        silent = bool(item.options.get("silent"))
        try:
            if item.kind == "photo":
                message = await self.bot.send_photo(
                    chat_id, photo=item.photo, caption=item.text[:MAX_CAPTION] or None,
                    reply_markup=markup, disable_notification=silent)
            elif item.kind == "edit":
                target = self.outbox.message_id(item.options["target"])
                if target is None:
                    raise Undeliverable("the message to change was never sent")
                await self.bot.edit_message_text(item.text, chat_id=chat_id, message_id=target,
                                                 reply_markup=markup)
                return target
            else:
                message = await self.bot.send_message(chat_id, item.text, reply_markup=markup,
                                                      disable_notification=silent)
        except RetryAfter as e:
            wait = _retry_after(e)
            raise RetryLater(f"Telegram asks to wait {wait:g} s", wait) from None
        except (Forbidden, BadRequest) as e:
            raise Undeliverable(f"Telegram refused it: {e.message}") from None
        except NetworkError as e:
            raise RetryLater(f"I can't reach Telegram ({e.message})") from None
        return message.message_id

    @contextlib.asynccontextmanager
    async def typing(self, chat_id: str) -> AsyncIterator[None]:
        """Shows "typing…" in the chat while the block runs."""
        done = asyncio.Event()
        task = asyncio.create_task(self._keep_typing(int(chat_id), done))
        self._typing.add(task)
        task.add_done_callback(self._typing.discard)
        try:
            yield
        finally:
            done.set()  # not cancel(): an aborted request would cost a new connection

    async def _keep_typing(self, chat_id: int, done: asyncio.Event) -> None:
        while not done.is_set():
            try:
                await self.bot.send_chat_action(chat_id, ChatAction.TYPING)
            except TelegramError as e:  # only a hint for the person; the reply is what counts
                log.debug("typing indicator for %s failed: %s", chat_id, e)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TYPING_EVERY):
                    await done.wait()

    async def answer_callback(self, callback_id: str, text: str) -> None:
        """Stops the button's spinner and shows `text` briefly; stale presses are ignored."""
        try:
            await self.bot.answer_callback_query(callback_id, text=text[:200])
        except BadRequest as e:  # "query is too old": the press is still handled
            log.info("could not answer a button press: %s", e.message)


def to_arrival(update: Update) -> Arrival | None:
    """The part of an update Claw handles: text messages and button presses."""
    query = update.callback_query
    if query is not None:
        chat = query.message.chat.id if query.message is not None else query.from_user.id
        return Arrival(CHANNEL, update.update_id, str(chat), str(query.from_user.id),
                       valid_unicode(query.from_user.full_name), callback_id=query.id,
                       callback_data=valid_unicode(query.data or ""))
    message = update.message
    if message is None or message.from_user is None:
        return None
    return Arrival(CHANNEL, update.update_id, str(message.chat.id), str(message.from_user.id),
                   valid_unicode(message.from_user.full_name), text=valid_unicode(message.text or ""))


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Pieces of at most `limit` UTF-16 units, cut at a paragraph, line or word where possible."""
    pieces: list[str] = []
    text = text.strip() or "…"
    while _units(text) > limit:
        window = text[:limit]
        while _units(window) > limit:  # astral characters count twice
            window = window[:-1]
        cut = next((i for sep in ("\n\n", "\n", " ") if (i := window.rfind(sep)) >= limit // 3),
                   len(window))
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    pieces.append(text)
    return pieces


def command(text: str) -> tuple[str, str] | None:
    """("/pair@ClawBot ABC" ->) ("pair", "ABC"), or None when it is not a command."""
    if not text.startswith("/"):
        return None
    head, _, rest = text[1:].partition(" ")
    return head.split("@", 1)[0].lower(), rest.strip()


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _keyboard(buttons: list[list[list[str]]] | None) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in buttons])


def _retry_after(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that this int becomes a timedelta; both work
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def _log_crash(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the Telegram channel stopped", exc_info=task.exception())
