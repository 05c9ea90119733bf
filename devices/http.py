"""HTTP from drivers to devices: one lazily opened aiohttp session per device with a total
timeout, and every failure to get an answer turned into a sentence a person can act on:
"I can't reach Deck Strip at 10.0.0.7:80 (timed out after 3 s)".

Devices are spoken to at `http://<host>:<port>` unless the owner gave a URL; an `https://` URL
gets aiohttp's certificate checks (the system's CAs, or the owner's CA file).
"""
from __future__ import annotations

import os
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from devices.model import Device, DeviceError


def reason(exc: aiohttp.ClientError) -> str:
    """Why a request got no answer, in words: "connection refused", "it dropped the connection"."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        why = getattr(exc.certificate_error, "verify_message", "") or exc.certificate_error
        return f"its certificate is not one I can trust: {why}"
    if isinstance(exc, aiohttp.ClientSSLError):
        return f"the TLS handshake failed: {exc.os_error}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        # asyncio's strerror is "Connect call failed (...)"; the errno says what happened.
        errno = exc.os_error.errno
        return os.strerror(errno).lower() if errno else str(exc.os_error)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "it dropped the connection"
    return type(exc).__name__


class DeviceHttp:
    """HTTP to one device, at wherever `device` says it is now."""

    def __init__(self, device: Device, timeout: float, headers: dict[str, str] | None = None,
                 url: str = "", ca_file: str = "") -> None:
        self.device = device
        self.timeout = timeout
        self._headers = headers
        self._url = url.rstrip("/")  # the owner's URL; empty: wherever discovery found it
        self._ca_file = ca_file
        self._session: aiohttp.ClientSession | None = None

    @property
    def base_url(self) -> str:
        return self._url or f"http://{self.device.host}:{self.device.port}"

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # True is aiohttp's default verification against the system's CAs.
            checks: ssl.SSLContext | bool = (
                ssl.create_default_context(cafile=self._ca_file) if self._ca_file else True)
            self._session = aiohttp.ClientSession(
                headers=self._headers, timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(ssl=checks))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @asynccontextmanager
    async def reaching(self, where: str, lost: bool = False) -> AsyncIterator[aiohttp.ClientSession]:
        """The session; a timeout or network error inside the block becomes a DeviceError
        naming `where` ("I lost ..." instead of "I can't reach ..." for a stream that was open)."""
        try:
            yield self.session
        except TimeoutError as exc:
            doing = "lost" if lost else "can't reach"
            raise DeviceError(f"I {doing} {where} (timed out after {self.timeout:g} s)") from exc
        except aiohttp.ClientError as exc:
            raise DeviceError(f"I can't reach {where} ({reason(exc)})") from exc

    @asynccontextmanager
    async def request(self, method: str, path: str, where: str,
                      body: Any = None) -> AsyncIterator[aiohttp.ClientResponse]:
        """The response to one request with a JSON `body` (none when None); see `reaching`."""
        async with self.reaching(where) as session, \
                session.request(method, self.base_url + path, json=body) as response:
            yield response

    async def json(self, method: str, path: str, where: str, body: Any = None) -> Any:
        """The JSON answer to one request; any status but 200 is a DeviceError."""
        async with self.request(method, path, where, body) as response:
            if response.status != 200:
                raise DeviceError(f"{where} answered with an error (HTTP {response.status})")
            return await response.json()
