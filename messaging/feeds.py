"""Live feeds: outbox channels delivered to whoever is watching inside the house (the web page,
terminals) rather than to a network service.

While a channel has at least one subscriber, the outbox's own delivery loop runs for it and
hands each row to every subscriber's queue, then marks it sent. With nobody watching, rows wait
(up to their max age) for the next subscriber, so a page opened after a reply still gets it.
"""
from __future__ import annotations

import asyncio

from messaging.outbox import OutItem, Outbox, Send

_END = object()  # queued to a subscriber when the service stops: its iteration ends


class Subscription:
    """One subscriber's view of a channel, live from creation until `close` (or until a
    pending `async for` step is cancelled): every row queued for the channel, in order per chat.
    The iteration ends when the service stops."""

    def __init__(self, feeds: Feeds, channel: str):
        self.feeds = feeds
        self.channel = channel
        self.queue: asyncio.Queue[OutItem | object] = asyncio.Queue()
        feeds._join(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> OutItem:
        try:
            item = await self.queue.get()
        except asyncio.CancelledError:
            self.close()
            raise
        if item is _END:
            raise StopAsyncIteration
        return item  # type: ignore[return-value]

    def close(self) -> None:
        self.feeds._leave(self)

    async def aclose(self) -> None:
        self.close()


class Feeds:
    def __init__(self, outbox: Outbox):
        self.outbox = outbox
        self._subscribers: dict[str, set[Subscription]] = {}
        self._delivery: dict[str, asyncio.Task[None]] = {}
        self._ended: list[asyncio.Task[None]] = []  # cancelled deliveries, awaited by stop()

    def live(self) -> list[str]:
        """Channels someone is watching right now."""
        return [channel for channel, subs in self._subscribers.items() if subs]

    def subscribe(self, channel: str) -> Subscription:
        return Subscription(self, channel)

    def _join(self, sub: Subscription) -> None:
        self._subscribers.setdefault(sub.channel, set()).add(sub)
        if sub.channel not in self._delivery:
            self._delivery[sub.channel] = asyncio.create_task(
                self.outbox.run(sub.channel, self._fan_out(sub.channel)))

    def _leave(self, sub: Subscription) -> None:
        subs = self._subscribers.get(sub.channel, set())
        subs.discard(sub)
        delivery = self._delivery.pop(sub.channel, None) if not subs else None
        if delivery is not None:  # (None too when the service stopped first)
            delivery.cancel()  # rows wait for the next subscriber

    def _fan_out(self, channel: str) -> Send:
        async def send(item: OutItem) -> None:
            for sub in self._subscribers.get(channel, ()):
                sub.queue.put_nowait(item)

        return send

    def end(self) -> None:
        """End every subscriber's iteration (their event streams close) and stop delivering;
        what is still queued waits in the outbox for the next start."""
        for subs in self._subscribers.values():
            for sub in subs:
                sub.queue.put_nowait(_END)
            subs.clear()
        for task in self._delivery.values():
            task.cancel()
        self._ended += self._delivery.values()
        self._delivery.clear()

    async def stop(self) -> None:
        self.end()
        await asyncio.gather(*self._ended, return_exceptions=True)
        self._ended.clear()
