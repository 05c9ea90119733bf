"""The one message path: every channel's message is stored in the inbox, answered in its
chat's lane (a command or an agent turn), and its reply queued in the outbox for that channel.

Telegram's gate stores what a paired person sends; `converse` stores what the API, the web
page, terminals and MCP send (their caller proved it is the owner) and waits for the answer.
Each chat is a lane: its messages are answered one at a time, in order; chats run in parallel.
Button presses skip the lane, because the turn they answer may be waiting for them.
A reply is queued in the outbox in the same transaction that marks its message done.
`subscribe` is the live feed of one in-house channel (the page, terminals).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, AsyncContextManager

from claw.agent import Agent, TurnResult
from claw.alerts import Alerts
from claw.confirmations import NEWER_MESSAGE, Confirmations
from claw.heartbeat import Heartbeat
from claw.pairing import CODE_TTL, Pairing, PairingError, Person
from claw.rooms import chat_room
from claw.router import Router
from claw.tools import Caller
from devices.home import Home
from memory.store import Store
from messaging.feeds import Feeds, Subscription
from messaging.inbox import Arrival, Inbox, InboxItem
from messaging.outbox import Outbox
from messaging.telegram import TelegramChannel, command, split_text

log = logging.getLogger(__name__)

HELP = """\
Tell me what you want in plain words: "kitchen lights to 30%", "is the garage open?", "tell me \
if the garage is open more than 10 minutes", "when someone is in the driveway send me a picture".

Without a model I still understand the everyday commands: "turn on the kitchen lights", \
"dim the living room to 30%", "pause the music in the study", "set the hallway to 21 degrees", \
"is the garage door open?", "lock the front door", "add milk to the shopping list", several at \
once ("turn off the lamp and close the blinds"), and "I'm in the study" (then "turn off the \
light" means the study's). Anything else needs Claude or the local model.

/status how the house and I are doing
/devices everything I can see
/private answer your next message with the house's local model only"""
OWNER_HELP = "\n/pair a one-time code to let someone else in"
# Channels whose caller proved it is the owner before `converse` (the API token or the page's
# session); their messages carry the role. Telegram has its own gate and pairing.
LOCAL_CHANNELS = ("api", "web", "terminal", "mcp")
FEED_CHANNELS = ("web", "terminal")  # delivered to live subscribers, not to a network service


class Channels:
    def __init__(self, store: Store, home: Home, router: Router, agent: Agent, inbox: Inbox,
                 outbox: Outbox, feeds: Feeds, pairing: Pairing, confirmations: Confirmations,
                 alerts: Alerts, heartbeat: Heartbeat, telegram: TelegramChannel | None,
                 arrived: asyncio.Event):
        self.store = store
        self.home = home
        self.router = router
        self.agent = agent
        self.inbox = inbox
        self.outbox = outbox
        self.feeds = feeds
        self.pairing = pairing
        self.confirmations = confirmations
        self.alerts = alerts
        self.heartbeat = heartbeat
        self.telegram = telegram
        self._wake = arrived  # set by whoever stored something in the inbox
        self._lanes: dict[str, asyncio.Task[None]] = {}
        self._presses: dict[int, asyncio.Task[None]] = {}
        self._turns: dict[int, asyncio.Future[TurnResult]] = {}  # inbox id -> who waits for it
        self._current: dict[str, int] = {}  # lane -> the inbox id it is answering now
        self._cancelled: dict[int, list[str]] = {}  # inbox id -> confirmations it cancelled
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.alerts.start()
        self._tasks.append(asyncio.create_task(self._work()))
        if self.heartbeat.interval > 0:
            self._tasks.append(asyncio.create_task(self.heartbeat.run()))
        if self.telegram is not None:
            await self.telegram.start()

    async def stop(self) -> None:
        tasks = [*self._tasks, *self._lanes.values(), *self._presses.values()]
        for task in tasks:
            task.cancel()  # an unfinished turn stays `new` in the inbox and runs again next start
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.telegram is not None:
            await self.telegram.stop()
        await self.feeds.stop()
        await self.alerts.stop()

    # -- in-house channels -------------------------------------------------------------------
    async def converse(self, channel: str, chat_id: str, text: str, *, role: str = "owner",
                       user_id: str = "", area: str | None = None, private: bool = False) -> TurnResult:
        """Store a message from an in-house channel, answer it in its chat's lane, queue the
        reply in the outbox for `channel`/`chat_id`, and return it. The caller must already
        have proved `role` (the API token or the page's session)."""
        if channel not in LOCAL_CHANNELS:
            raise ValueError(f"{channel} messages come in through their own gate, not converse")
        arrival = Arrival(channel, 0, chat_id, user_id or role, text=text, role=role,
                          area=area or "", private=private)
        item_id = self.inbox.put(arrival)
        answered = asyncio.get_running_loop().create_future()
        self._turns[item_id] = answered
        self._wake.set()
        try:
            result = await answered  # a caller that goes away leaves the turn running
        finally:
            self._turns.pop(item_id, None)
        if channel not in self.feeds.live():  # the caller has it, and nobody else is watching
            self.outbox.delivered_elsewhere(f"reply:{item_id}:")
        return result

    def subscribe(self, channel: str) -> Subscription:
        """Every outbox item for an in-house channel as it is queued (replies, owner notices,
        alerts, confirmation requests and their outcomes), marked sent as it is handed over.
        Use with `async for`; live from this call until `close()` or a cancelled iteration."""
        if channel not in FEED_CHANNELS:
            raise ValueError(f"there is no live feed for {channel}; feeds: {', '.join(FEED_CHANNELS)}")
        return self.feeds.subscribe(channel)

    # -- the inbox worker ------------------------------------------------------------------
    async def _work(self) -> None:
        while True:
            self._wake.clear()
            for item in self.inbox.pending():
                a = item.arrival
                if a.is_callback:
                    if item.id not in self._presses:
                        self._presses[item.id] = self._spawn(self._press(item))
                    continue
                lane = f"{a.channel}:{a.chat_id}"
                if lane not in self._lanes or self._lanes[lane].done():
                    self._lanes[lane] = self._spawn(self._lane(a.channel, a.chat_id))
                elif item.id > self._current.get(lane, item.id):
                    self._supersede(item)
            await self._wake.wait()

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("a chat task failed", exc_info=task.exception())

    async def _lane(self, channel: str, chat_id: str) -> None:
        while True:
            item = next((i for i in self.inbox.pending() if not i.arrival.is_callback
                         and (i.arrival.channel, i.arrival.chat_id) == (channel, chat_id)), None)
            if item is None:
                return
            self._current[f"{channel}:{chat_id}"] = item.id
            try:
                await self._message(item)
            except Exception:  # a bug must not wedge the chat: say so, log it, move on
                log.exception("handling message %s failed", item.id)
                self._answer(item, TurnResult("Something went wrong on my side with that message; "
                                              "it's in the log. Please try again.", backend="none"))

    def _supersede(self, item: InboxItem) -> None:
        """A new message in a chat whose turn waits for the owner's confirmation: that request
        is cancelled (failing closed), so the new message is answered now, not after it expires."""
        a = item.arrival
        asked_here = f"{a.channel}:{a.channel}:{a.chat_id} ("  # Confirmations' asked_by for this chat
        for request in self.confirmations.pending():
            if request["asked_by"].startswith(asked_here):
                self.confirmations.answer(request["id"], False, by=NEWER_MESSAGE)
                self._cancelled.setdefault(item.id, []).append(request["what"])

    def _who(self, a: Arrival) -> tuple[str, str] | None:
        """(role, name) of the sender, or None when they may not talk to the house."""
        if a.channel in LOCAL_CHANNELS:
            return a.role, a.user_id
        person = self.pairing.person(a.channel, a.user_id)
        if person is None or not person.paired:  # unpaired since it arrived
            return None
        return person.role, person.name

    async def _message(self, item: InboxItem) -> None:
        a = item.arrival
        who = self._who(a)
        if who is None:
            self.inbox.finish(item.id)
            return
        role, name = who
        cmd = command(a.text)
        if not a.text.strip():
            self._answer(item, TurnResult("I can only read text messages for now.", backend="none"))
        elif cmd is not None:
            with self.store.db.atomic():  # a replayed /pair must not make a second code
                reply, private_next = self._command(cmd[0], role, name)
                self._answer(item, TurnResult(reply, backend="none"), private_next=private_next)
        else:
            chat_id = f"{a.channel}:{a.chat_id}"
            caller = Caller(role=role, chat_id=chat_id, channel=a.channel,
                            area=a.area or chat_room(self.store, chat_id))
            private = a.private or self.store.get_setting(_private_key(a)) == "1"
            async with self._typing(a):
                result = await self.agent.handle(a.text, caller, private=private,
                                                 message_key=f"inbox:{item.id}")
            cancelled = self._cancelled.pop(item.id, [])
            if cancelled:
                result.reply = (f"I cancelled what was waiting for confirmation ({'; '.join(cancelled)}), "
                                f"since you asked for something else.\n\n{result.reply}")
            self._answer(item, result, private_used=private)

    def _answer(self, item: InboxItem, result: TurnResult, private_next: bool = False,
                private_used: bool = False) -> None:
        a = item.arrival
        photos = [image for action in result.actions for image in action.images]
        with self.store.db.atomic():
            for n, piece in enumerate(split_text(result.reply)):
                self.outbox.put(a.channel, a.chat_id, f"reply:{item.id}:{n}", piece)
            for n, photo in enumerate(photos):
                self.outbox.put(a.channel, a.chat_id, f"reply:{item.id}:photo{n}", photo=photo)
            if private_next or private_used:
                self.store.set_setting(_private_key(a), "1" if private_next else "0")
            self.inbox.finish(item.id)
        waiting = self._turns.get(item.id)
        if waiting is not None and not waiting.done():
            waiting.set_result(result)

    def _typing(self, a: Arrival) -> AsyncContextManager[None]:
        if a.channel == "telegram" and self.telegram is not None:
            return self.telegram.typing(a.chat_id)
        return contextlib.nullcontext()

    # -- commands --------------------------------------------------------------------------
    def _command(self, name: str, role: str, person_name: str) -> tuple[str, bool]:
        """The reply to a command, and whether the next message is to stay private."""
        owner = role == "owner"
        if name == "start":
            return f"Hi {person_name or 'there'}, I run this house. Ask me anything about it.\n\n" \
                   + HELP + (OWNER_HELP if owner else ""), False
        if name == "help":
            return HELP + (OWNER_HELP if owner else ""), False
        if name == "status":
            return self.status(), False
        if name == "devices":
            return self.devices(), False
        if name == "private":
            if self.router.local is None:
                return ("There's no local model set up (local.model_path in claw.toml), so I'd "
                        "have to refuse your next message rather than send it out. Noted anyway: "
                        "your next message stays in the house."), True
            return "Your next message stays in the house: only the local model will see it.", True
        if name == "pair":
            if not owner:
                return "Only the owner can let people in.", False
            try:
                code, _ = self.pairing.new_code()
            except PairingError as e:
                return f"I can't make a code: {e}.", False
            return (f"Pairing code: {code}\nIt works once, for {CODE_TTL / 60:g} minutes. Whoever "
                    "sends it to me asks to join; you approve them here."), False
        return f"I don't know /{name}. /help lists what I understand.", False

    def status(self) -> str:
        entities = list(self.home.entities.values())
        down = [e.name for e in entities if e.state == "unavailable"]
        router = self.router
        if router.cloud is not None:
            model = "Claude" + (" (skipped after failures; using the local model)" if router.cloud_skipped() else "")
        else:
            model = "the local model" if router.local is not None else "none (simple commands only)"
        lines = [
            f"I'm up. {len(entities)} devices on {len(self.home.drivers)} connections"
            + (f"; not answering: {', '.join(down)}." if down else "; all answering."),
            f"Model: {model}.",
            f"Waiting for your confirmation: {len(self.confirmations.pending())}.",
            f"Alerts: {len(self.alerts.rules())}"
            + (" (quiet hours on now)." if self.alerts.quiet.active(time.time()) else "."),
            f"Heartbeat tokens today: {self.heartbeat.used_today()} of {self.heartbeat.daily_tokens}.",
        ]
        return "\n".join(lines)

    def devices(self) -> str:
        if not self.home.entities:
            return "I haven't found any devices yet."
        by_area: dict[str, list[str]] = {}
        for e in sorted(self.home.entities.values(), key=lambda e: (e.area or "~", e.name)):
            by_area.setdefault(e.area or "No area", []).append(f"{e.name}: {e.state}")
        return "\n\n".join(f"{area}\n" + "\n".join(items) for area, items in by_area.items())

    # -- button presses --------------------------------------------------------------------
    async def _press(self, item: InboxItem) -> None:
        a = item.arrival
        person = self.pairing.person(a.channel, a.user_id)
        kind, _, rest = a.callback_data.partition(":")
        target, _, answer = rest.rpartition(":")
        if person is None or not person.paired:
            text = "You're not paired with this house."
        elif kind not in ("cf", "pp") or answer not in ("y", "n"):
            text = "That button doesn't do anything any more."
        elif person.role != "owner":
            text = "Only the owner can answer that."
        elif kind == "cf":
            text = self.confirmations.answer(target, answer == "y", by=person.id)
        else:
            text = self._decide(target, answer == "y", person)
        if a.channel == "telegram" and self.telegram is not None:
            await self.telegram.answer_callback(a.callback_id, text)
        self.inbox.finish(item.id)
        self._presses.pop(item.id, None)

    def _decide(self, person_id: str, approve: bool, owner: Person) -> str:
        try:
            person = self.pairing.decide(person_id, approve, by=owner.id)
        except PairingError as e:
            return str(e)[0].upper() + str(e)[1:] + "."
        text = f"{person.name} is now a member." if approve else f"{person.name} was not let in."
        self.outbox.put(owner.channel, owner.chat_id, f"pair-done:{person_id}", text, kind="edit",
                        options={"target": f"pair-ask:{person_id}"})
        return text


def _private_key(a: Arrival) -> str:
    return f"private-next:{a.channel}:{a.chat_id}"
