"""Announce emulated devices on one interface, over real mDNS and SSDP.

Used by the emulated home (`claw demo`, tests). mDNS services are registered with
python-zeroconf; the SSDP side joins the multicast group on the interface, answers matching
M-SEARCH (and `ssdp:all`) with unicast 200 OK from the device's own address (soco takes the
device address from the answer's source), and sends NOTIFY alive/byebye on add/remove.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit

from zeroconf import ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from devices.discovery import (
    SSDP_GROUP, SSDP_PORT, DatagramHandler, format_ssdp, multicast_listener, multicast_sender,
    parse_ssdp)

SERVER = "Linux/6 UPnP/1.0 Claw/0.1"
MAX_AGE = 1800


@dataclass
class _SsdpService:
    st: str
    usn: str
    location: str
    headers: dict[str, str]  # extra headers; override the defaults by name (any case)

    @property
    def host(self) -> str:
        return urlsplit(self.location).hostname or ""

    def message(self, start_line: str, first: dict[str, str]) -> bytes:
        headers = {**first, "LOCATION": self.location, "SERVER": SERVER,
                   "CACHE-CONTROL": f"max-age={MAX_AGE}", "USN": self.usn}
        extra = {k.lower(): (k, v) for k, v in self.headers.items()}
        merged = {k: v for k, v in headers.items() if k.lower() not in extra}
        merged.update(dict(extra.values()))
        return format_ssdp(start_line, merged)


class Advertiser:
    """Registers services with mDNS and answers SSDP searches on one interface address."""

    def __init__(self, interface: str = "127.0.0.1") -> None:
        self.interface = interface
        self._zc: AsyncZeroconf | None = None
        self._mdns: dict[str, ServiceInfo] = {}
        self._ssdp: dict[str, _SsdpService] = {}
        self._senders: dict[str, asyncio.DatagramTransport] = {}  # by source address
        self._listener: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        self._zc = AsyncZeroconf(interfaces=[self.interface])
        self._listener, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: DatagramHandler(self._on_datagram),
            sock=multicast_listener([self.interface]))

    async def stop(self) -> None:
        for usn in list(self._ssdp):
            await self.remove(usn)
        if self._zc:
            await self._zc.async_unregister_all_services()
            await self._zc.async_close()
        self._mdns.clear()
        for transport in [*self._senders.values(), *([self._listener] if self._listener else [])]:
            transport.close()
        self._senders.clear()
        self._listener = None

    async def add_mdns(
        self, type_: str, name: str, host: str, port: int,
        properties: dict[str, str] | None = None,
    ) -> str:
        """Register `name` (instance name) as a `type_` service; returns the full service name."""
        assert self._zc is not None, "call start() first"
        full = f"{name}.{type_}"
        info = ServiceInfo(
            type_, full, port=port, properties=properties or {},
            server=f"claw-{host.replace('.', '-')}.local.", parsed_addresses=[host])
        # Returns once probing is done (~1.2 s) and the name is ours; from then on it answers
        # queries, while the unsolicited announcements go on in the background. A name another
        # responder holds (a second demo house on this host) becomes "name (2)", as RFC 6762 says.
        await self._zc.async_register_service(info, allow_name_change=True)
        self._mdns[info.name] = info
        return info.name

    async def add_ssdp(
        self, st: str, usn: str, location: str, extra_headers: dict[str, str] | None = None,
    ) -> str:
        """Answer searches for `st` as `usn` at `location`; announces it. Returns the USN."""
        service = _SsdpService(st, usn, location, dict(extra_headers or {}))
        self._ssdp[usn] = service
        await self._sender(service.host)
        self._notify(service, "ssdp:alive")
        return usn

    async def remove(self, handle: str) -> None:
        """Withdraw a service by the handle `add_mdns` or `add_ssdp` returned."""
        if handle in self._mdns:
            assert self._zc is not None
            goodbyes_sent = await self._zc.async_unregister_service(self._mdns.pop(handle))
            await goodbyes_sent
        elif handle in self._ssdp:
            self._notify(self._ssdp.pop(handle), "ssdp:byebye")
        else:
            raise KeyError(f"nothing advertised as {handle!r}")

    async def _sender(self, host: str) -> asyncio.DatagramTransport:
        """A socket sending from the device's own address (created once per address)."""
        if host not in self._senders:
            transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                asyncio.DatagramProtocol, sock=multicast_sender(host, self.interface))
            self._senders[host] = transport
        return self._senders[host]

    def _notify(self, service: _SsdpService, nts: str) -> None:
        msg = service.message("NOTIFY * HTTP/1.1", {
            "HOST": f"{SSDP_GROUP}:{SSDP_PORT}", "NT": service.st, "NTS": nts})
        self._senders[service.host].sendto(msg, (SSDP_GROUP, SSDP_PORT))

    def _on_datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        start, headers = parse_ssdp(data)
        if not start.startswith("M-SEARCH") or headers.get("man", "").strip('"') != "ssdp:discover":
            return
        st = headers.get("st", "")
        for service in self._ssdp.values():
            if st in (service.st, "ssdp:all"):
                msg = service.message("HTTP/1.1 200 OK", {"ST": service.st, "EXT": ""})
                self._senders[service.host].sendto(msg, addr)
