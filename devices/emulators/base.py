"""What every loopback device emulator shares: serving an aiohttp app, and faults for tests.

Set `fail` to "offline" (each connection is dropped unanswered, as by a device that lost power),
"slow" (each answer waits `slow_delay` seconds, or until `stop()`), or "error" (each request is
answered by `failure()`, HTTP 500 unless the emulator says otherwise). An emulator may accept
more values of `fail` in its own `failure()`.
"""
from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any, Self

from aiohttp import web


def free_loopback_host(port: int, first: int, taken: set[str]) -> str | None:
    """A loopback address 127.0.0.<first>..254, not in `taken`, whose TCP `port` nothing holds
    now: for devices that clients always reach on one fixed port (Sonos 1400, Kasa 9999)."""
    for last in range(first, 255):
        host = f"127.0.0.{last}"
        if host in taken:
            continue
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
            try:
                probe.bind((host, port))
            except OSError as e:
                if e.errno != errno.EADDRINUSE:
                    raise
                continue
        return host
    return None


class Emulator:
    def __init__(self, host: str, port: int, slow_delay: float = 10.0) -> None:
        self.host = host
        self.port = port  # 0 until start() picks a free one
        self.slow_delay = slow_delay
        self.fail: str | None = None
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def routes(self, app: web.Application) -> None:
        """Add the emulator's routes (and any middleware of its own, after the faults)."""
        raise NotImplementedError

    def failure(self) -> web.StreamResponse | None:
        """The answer to every request while `fail` is set; None lets requests through."""
        if self.fail == "error":
            return web.Response(status=500, text="Internal Server Error")
        return None

    async def start(self) -> Self:
        app = web.Application(middlewares=[self._faults])
        self.routes(app)
        self._stopping.clear()
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        self._stopping.set()  # wakes "slow" requests, so that shutdown does not wait for them
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @web.middleware
    async def _faults(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.fail == "offline":
            if request.transport is not None:
                request.transport.abort()
            return web.Response()  # never reaches the client: the connection is gone
        if self.fail == "slow":
            await request.read()  # take the body now: the client may be gone when we answer
            try:
                await asyncio.wait_for(self._stopping.wait(), self.slow_delay)
            except TimeoutError:
                pass
        answer = self.failure()
        if answer is not None:
            return answer
        return await handler(request)
