"""Continuous LAN discovery: mDNS browsing, SSDP search and the families' own broadcast
scans, mapped to driver families.

What to look for comes from the families' declarations (`devices.families`, matched in
`devices.manifest`). Each device is reported once through `on_found`, however many ways it is
seen (mDNS, SSDP, a scan; aliases are family+uid and family+host:port), again under the same key
only if it moves to a new address, and once through `on_lost` when the last way of seeing it is
gone: an mDNS goodbye/expiry, an SSDP byebye, or no SSDP or scan answer for three search
intervals. SSDP arrivals are heard from NOTIFY ssdp:alive as well as from the periodic M-SEARCH
(the first goes out at start, as does the first scan).
"""
from __future__ import annotations

import asyncio
import inspect
import ipaddress
import logging
import socket
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Literal
from urllib.parse import urlsplit

import ifaddr
from zeroconf import DNSQuestionType, InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from devices import manifest
from devices.background import Background
from devices.families import FAMILIES
from devices.family import Family

log = logging.getLogger(__name__)

SSDP_GROUP = "239.255.255.250"
SSDP_PORT = 1900
MDNS_RESOLVE_MS = 3000
RESOLVE_RETRY_MAX = 30.0  # seconds between tries to resolve a service that did not answer
# Questions ask for multicast answers (QM). zeroconf asks its first question of a browse or a
# resolve as QU (answer by unicast), and a unicast answer to port 5353 reaches only one of the
# sockets on this host bound to that port (SO_REUSEPORT picks one by a hash of the addresses):
# with a second mDNS program here (the emulated house in `claw demo`, avahi) it was often the
# other program's, so the answer was lost, and a resolve that ran out of time was never retried.
QUESTION = DNSQuestionType.QM
LOST_AFTER_INTERVALS = 3
# An emulated house (`claw demo`) marks its devices with its id, in TXT and in an SSDP header,
# so that a Claw told that id adopts only its own house, not another demo's on the same host.
HOUSE_TXT = "claw_house"
HOUSE_HEADER = "X-Claw-House"


@dataclass
class Found:
    """One device on the network: as first seen, or as seen after it moved."""

    key: str  # stable id: "sonos:RINCON_000E58A0B1C201400", "hue:001788fffe23bf47"
    family: str
    host: str
    port: int
    name: str
    properties: dict[str, str] = field(default_factory=dict)  # TXT records or SSDP headers
    source: Literal["mdns", "ssdp", "scan"] = "mdns"


OnFound = Callable[[Found], Awaitable[None] | None]
OnLost = Callable[[str], Awaitable[None] | None]


# --- SSDP wire helpers (also used by devices.advertise) ---------------------------------

def parse_ssdp(data: bytes) -> tuple[str, dict[str, str]]:
    """Split an SSDP datagram into its start line and headers (names lower-cased).

    Accepts `\\r\\n` and bare `\\n` line endings (soco sends the latter).
    """
    lines = data.decode("utf-8", "replace").splitlines()
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return (lines[0].strip() if lines else ""), headers


def format_ssdp(start_line: str, headers: dict[str, str]) -> bytes:
    lines = [start_line, *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def multicast_sender(bind_host: str, interface: str) -> socket.socket:
    """A UDP socket bound to bind_host that sends multicast out of `interface`'s address."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
    sock.setblocking(False)
    sock.bind((bind_host, 0))
    return sock


def multicast_listener(interfaces: list[str]) -> socket.socket:
    """A socket on the SSDP group and port, joined on each interface address.

    Bound to the group address, so it sees only multicast traffic, and shares the port
    (SO_REUSEADDR) with other SSDP listeners on the host.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setblocking(False)
    sock.bind((SSDP_GROUP, SSDP_PORT))
    for addr in interfaces:
        mreq = socket.inet_aton(SSDP_GROUP) + socket.inet_aton(addr)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    return sock


class DatagramHandler(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Callable[[bytes, tuple[str, int]], None]) -> None:
        self.on_datagram = on_datagram

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.on_datagram(data, addr)


def ipv4_addresses(interfaces: list[str] | Literal["all"]) -> list[str]:
    """IPv4 addresses for a list of addresses or interface names; "all": every non-loopback one."""
    adapters = ifaddr.get_adapters()
    if interfaces == "all":
        return sorted({
            str(ip.ip) for a in adapters for ip in a.ips
            if ip.is_IPv4 and not ipaddress.ip_address(ip.ip).is_loopback
        })
    out: list[str] = []
    for item in interfaces:
        try:
            ipaddress.IPv4Address(item)
            out.append(item)
            continue
        except ValueError:
            pass
        named = [str(ip.ip) for a in adapters if a.nice_name == item for ip in a.ips if ip.is_IPv4]
        if not named:
            raise ValueError(f"{item!r} is neither an IPv4 address nor an interface with one")
        out.extend(named)
    return out


def broadcast_address(address: str) -> str:
    """The IPv4 broadcast address of the network an interface address is on (127.0.0.1:
    127.255.255.255); the address itself if no adapter has it."""
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if ip.is_IPv4 and ip.ip == address:
                return str(ipaddress.IPv4Network(f"{address}/{ip.network_prefix}", strict=False)
                           .broadcast_address)
    return address


def _address_alias(found: Found) -> str:
    return f"{found.family}@{found.host}:{found.port}"


def _usn_uid(usn: str) -> str:
    """`uuid:RINCON_X::urn:...` -> `RINCON_X`."""
    uid = usn.split("::", 1)[0]
    return uid[5:] if uid.lower().startswith("uuid:") else uid


# --- the service --------------------------------------------------------------------------

@dataclass
class _Record:
    found: Found
    aliases: set[str]
    sources: dict[str, float]  # source id -> last seen (loop time); mDNS sources never expire


class Discovery:
    """Finds devices the manifest knows, keeps watching, reports arrivals and departures."""

    def __init__(
        self,
        interfaces: list[str] | Literal["all"],
        on_found: OnFound,
        on_lost: OnLost,
        ssdp_interval: float = 30,
        house: str = "",
    ) -> None:
        self.interfaces = interfaces
        self.house = house  # "": every device; else only those of the emulated house with this id
        self.on_found = on_found
        self.on_lost = on_lost
        self.ssdp_interval = ssdp_interval
        self._records: dict[str, _Record] = {}
        self._by_alias: dict[str, str] = {}
        self._by_source: dict[str, str] = {}
        self._resolving: dict[str, asyncio.Future[Any]] = {}  # latest resolve per service
        self._background = Background("a discovery task")
        self._senders: list[asyncio.DatagramTransport] = []
        self._listener: asyncio.DatagramTransport | None = None
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None

    @property
    def devices(self) -> list[Found]:
        return [r.found for r in self._records.values()]

    async def start(self) -> None:
        addrs = ipv4_addresses(self.interfaces)
        loop = asyncio.get_running_loop()
        for addr in addrs:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: DatagramHandler(self._on_ssdp), sock=multicast_sender(addr, addr))
            self._senders.append(transport)
        try:
            listener = multicast_listener(addrs)
        except OSError as e:  # another program holds port 1900 without sharing it
            log.warning("Not listening for SSDP announcements (%s); searching only", e)
        else:
            self._listener, _ = await loop.create_datagram_endpoint(
                lambda: DatagramHandler(self._on_ssdp), sock=listener)
        self._background.spawn(self._search_loop())
        scanning = [f for f in FAMILIES if f.scan is not None]
        if scanning:
            self._background.spawn(self._scan_loop(scanning, [broadcast_address(a) for a in addrs]))

        self._zc = AsyncZeroconf(
            interfaces=InterfaceChoice.All if self.interfaces == "all" else addrs)
        self._browser = AsyncServiceBrowser(
            self._zc.zeroconf, manifest.mdns_types(), handlers=[self._on_mdns], question_type=QUESTION)

    async def stop(self) -> None:
        await self._background.cancel()
        if self._browser:
            await self._browser.async_cancel()
        if self._zc:
            await self._zc.async_close()
        for transport in [*self._senders, *([self._listener] if self._listener else [])]:
            transport.close()
        self._senders.clear()
        self._listener = None

    # --- bookkeeping shared by both protocols ---

    async def _emit(self, callback: Callable[[Any], Any], arg: Any) -> None:
        result = callback(arg)
        if inspect.isawaitable(result):
            await result

    async def _seen(self, found: Found, source: str, uid: str | None) -> None:
        aliases = {found.key, _address_alias(found)}
        if uid:
            aliases.add(f"{found.family}:{uid}")
        now = asyncio.get_running_loop().time()
        key = self._by_source.get(source) or next(
            (self._by_alias[a] for a in aliases if a in self._by_alias), None)
        if key is None:
            self._records[found.key] = _Record(found, aliases, {source: now})
            self._by_source[source] = found.key
            self._by_alias.update(dict.fromkeys(aliases, found.key))
            await self._emit(self.on_found, found)
            return
        record = self._records[key]
        moved = set(record.sources) == {source} and (found.host, found.port) != (
            record.found.host, record.found.port)
        if moved:  # its only sighting now points elsewhere (new DHCP lease, new port)
            old = _address_alias(record.found)
            record.aliases.discard(old)
            self._by_alias.pop(old, None)
            record.found = Found(key, found.family, found.host, found.port, found.name,
                                 found.properties, found.source)
        record.sources[source] = now
        record.aliases |= aliases
        self._by_source[source] = key
        self._by_alias.update(dict.fromkeys(aliases, key))
        if moved:
            await self._emit(self.on_found, record.found)

    async def _gone(self, source: str) -> None:
        key = self._by_source.pop(source, None)
        if key is None:
            return
        record = self._records[key]
        del record.sources[source]
        if record.sources:
            return
        del self._records[key]
        for alias in record.aliases:
            self._by_alias.pop(alias, None)
        await self._emit(self.on_lost, key)

    # --- mDNS ---

    def _on_mdns(
        self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        source = f"mdns:{name.lower()}"
        pending = self._resolving.pop(source, None)
        if pending:
            pending.cancel()
        if state_change is ServiceStateChange.Removed:
            self._background.spawn(self._gone(source))
            return
        self._resolving[source] = self._background.spawn(self._resolve(service_type, name, source))

    async def _resolve(self, type_: str, name: str, source: str) -> None:
        """Resolve until it answers: a device busy at boot is found once it replies. A goodbye
        (or a newer announcement) cancels this."""
        assert self._zc is not None
        info = AsyncServiceInfo(type_, name)
        wait = 1.0
        while not await info.async_request(self._zc.zeroconf, MDNS_RESOLVE_MS, question_type=QUESTION):
            log.info("mDNS service %s did not answer within %d ms; asking again in %.0f s",
                     name, MDNS_RESOLVE_MS, wait)
            await asyncio.sleep(wait)
            wait = min(wait * 2, RESOLVE_RETRY_MAX)
        props = {k: v or "" for k, v in info.decoded_properties.items()}
        if self.house and props.get(HOUSE_TXT) != self.house:
            return
        match = manifest.match_mdns_entry(type_, name, props)
        hosts = info.parsed_addresses(IPVersion.V4Only) or info.parsed_addresses()
        if match is None or not hosts or info.port is None:
            return
        family, entry = match
        instance = manifest.instance_name(type_, name)
        uid = props.get(entry.uid) if entry.uid else None
        found = Found(
            key=f"{family}:{uid or instance}", family=family, host=hosts[0],
            port=info.port, name=instance, properties=props, source="mdns")
        await self._seen(found, source, uid)

    # --- SSDP ---

    async def _search_loop(self) -> None:
        targets = manifest.ssdp_targets()
        loop = asyncio.get_running_loop()
        while True:
            for transport in self._senders:
                for st in targets:
                    msg = format_ssdp("M-SEARCH * HTTP/1.1", {
                        "HOST": f"{SSDP_GROUP}:{SSDP_PORT}", "MAN": '"ssdp:discover"',
                        "MX": "1", "ST": st})
                    # Twice: UDP on Wi-Fi drops packets, and duplicates cost nothing.
                    transport.sendto(msg, (SSDP_GROUP, SSDP_PORT))
                    transport.sendto(msg, (SSDP_GROUP, SSDP_PORT))
            await asyncio.sleep(self.ssdp_interval)
            stale = loop.time() - LOST_AFTER_INTERVALS * self.ssdp_interval
            await self._forget_older("ssdp:", stale)

    async def _forget_older(self, prefix: str, stale: float) -> None:
        """Sightings by a search (SSDP, a scan) not answered again since `stale` are gone."""
        for record in list(self._records.values()):
            for source, seen in list(record.sources.items()):
                if source.startswith(prefix) and seen < stale:
                    await self._gone(source)

    # --- scans (families that announce nothing: they answer a broadcast) ---

    async def _scan_loop(self, families: list[Family], broadcasts: list[str]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            scans = [(f, b) for f in families for b in broadcasts]
            answers = await asyncio.gather(*(f.scan(b) for f, b in scans), return_exceptions=True)
            for (family, where), sightings in zip(scans, answers):
                if isinstance(sightings, BaseException):
                    log.warning("the %s scan on %s failed: %s", family.name, where, sightings)
                    continue
                for s in sightings:
                    if self.house and s.properties.get(HOUSE_TXT) != self.house:
                        continue
                    found = Found(key=f"{family.name}:{s.uid}", family=family.name, host=s.host,
                                  port=s.port, name=s.name, properties=dict(s.properties),
                                  source="scan")
                    await self._seen(found, f"scan:{family.name}:{s.uid}", s.uid)
            await asyncio.sleep(self.ssdp_interval)
            await self._forget_older("scan:", loop.time() - LOST_AFTER_INTERVALS * self.ssdp_interval)

    def _on_ssdp(self, data: bytes, addr: tuple[str, int]) -> None:
        start, headers = parse_ssdp(data)
        if start.startswith("HTTP/1.1 200") or start.startswith("NOTIFY"):
            usn = headers.get("usn")
            if not usn:
                return
            if headers.get("nts", "").lower() == "ssdp:byebye":
                self._background.spawn(self._gone(f"ssdp:{usn}"))
            elif headers.get("location"):
                self._background.spawn(self._ssdp_seen(headers, usn))

    async def _ssdp_seen(self, headers: dict[str, str], usn: str) -> None:
        family = manifest.match_ssdp(headers)
        if family is None or (self.house and headers.get(HOUSE_HEADER.lower()) != self.house):
            return
        location = urlsplit(headers["location"])
        if not location.hostname:
            return
        uid = _usn_uid(usn)
        found = Found(
            key=f"{family}:{uid}", family=family, host=location.hostname,
            port=location.port or 80, name=uid, properties=dict(headers), source="ssdp")
        await self._seen(found, f"ssdp:{usn}", uid)
