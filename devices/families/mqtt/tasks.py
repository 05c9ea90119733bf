"""Stopping an aiomqtt client's task for sure.

On Python 3.11, `asyncio.wait_for` (which aiomqtt awaits every publish and subscribe with) can
swallow a cancellation that lands just as the awaited call completes; the task then goes on
as if never cancelled. So a task is cancelled again until it has ended (bounded).
"""
from __future__ import annotations

import asyncio
from typing import Any

TRIES = 20
WAIT = 0.25  # seconds per try


async def cancel_and_wait(task: asyncio.Future[Any]) -> None:
    for _ in range(TRIES):
        if task.done():
            break
        task.cancel()
        await asyncio.wait({task}, timeout=WAIT)
