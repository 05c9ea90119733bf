"""Following a device's pushed changes for as long as Claw runs: the stream is opened again
when the device closes it, and after an error with a delay doubling from min to max_backoff
(reset by every stream that opened). Each driver's `follow_once` catches up on what changed
while it was away before it streams."""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from devices.model import DeviceError

log = logging.getLogger(__name__)


async def keep_following(follow_once: Callable[[], Awaitable[None]], where: Callable[[], str],
                         min_backoff: float, max_backoff: float,
                         fatal: tuple[type[DeviceError], ...] = (),
                         pause: Callable[[float], float] = lambda delay: delay) -> None:
    """Run `follow_once` again and again until cancelled. A `fatal` error ends it (a retry
    would do harm); `pause` may lengthen the wait between two tries."""
    delay = min_backoff
    while True:
        try:
            await follow_once()
            log.info("%s closed its stream of changes; reconnecting", where())
            delay = min_backoff
        except fatal:
            raise
        except DeviceError as exc:
            log.warning("%s; retrying in %g s", exc, delay)
        await asyncio.sleep(pause(delay))
        delay = min(delay * 2, max_backoff)
