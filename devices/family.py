"""What a device family declares about itself, once, in its own folder.

Each family (`devices/families/<name>/`) holds its driver, its emulator and one `FAMILY`: how it
is seen on the network (mDNS types, SSDP targets, like Home Assistant's integration manifests),
how it is named when Claw tells the owner what it found, which domains it serves in a home file,
and how its driver and its part of an emulated house are made. Discovery, announcements, the
home-file loader, driver creation and the emulated house all derive from the list in
`devices.families`. Name and value patterns are shell-style (`fnmatch`), compared
case-insensitively.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping, Protocol

from devices.model import Device, Driver

if TYPE_CHECKING:
    from devices.advertise import Advertiser
    from devices.homefile import EntitySpec, HomeSpec


@dataclass(frozen=True)
class MdnsMatch:
    type: str  # "_hue._tcp.local."
    name: str | None = None  # pattern on the instance name ("shelly*")
    properties: Mapping[str, str] = field(default_factory=dict)  # TXT key -> value pattern
    uid: str | None = None  # TXT key whose value identifies the device across addresses


@dataclass(frozen=True)
class SsdpMatch:
    st: str  # search target sent in M-SEARCH and expected back in ST
    headers: Mapping[str, str] = field(default_factory=dict)  # header name -> value pattern


@dataclass(frozen=True)
class Sighting:
    """A device that answered a family's own scan (a broadcast query, for families that
    announce themselves neither over mDNS nor SSDP)."""

    uid: str  # identifies the device across addresses (its MAC)
    name: str
    host: str
    port: int
    properties: Mapping[str, str] = field(default_factory=dict)


class HouseError(Exception):
    """An emulated house cannot start here; the message says why and what to do."""


class HouseContext(Protocol):
    """What an emulated house gives each family's emulation."""

    interface: str  # the address the emulators serve and advertise on
    house_id: str
    name: str  # the house's name (from the home file)
    advertiser: "Advertiser"
    marks: dict[str, str]  # TXT records every advert carries (the house id)
    spec: "HomeSpec"  # the whole home file (floors and areas, for families that keep a floor plan)


class Emulation(Protocol):
    """A family's part of an emulated house: its emulators for the home file's entities."""

    def add(self, entity: "EntitySpec") -> None:
        """Serve this entity (called for each entity of the family, before start)."""

    def reset(self, entity: "EntitySpec") -> None:
        """Put this entity back to the home file's state."""

    async def start(self) -> list[Awaitable[Any]]:
        """Start the emulators; return the adverts still registering (they run in parallel)."""

    async def stop(self) -> None: ...

    def emulators(self) -> list[Any]:
        """Each emulator serving this family (for tests to fault or inspect)."""


def _never(domain: str, name: str, area: str | None) -> bool:
    return False


@dataclass(frozen=True)
class Family:
    name: str  # Device.family, Found.family and a home file's `via:`
    nouns: tuple[str, str]  # ("Hue bridge", "Hue bridges"): "I found a Hue bridge."
    library: str  # what drives it, for the README's family table
    mdns: tuple[MdnsMatch, ...] = ()
    ssdp: tuple[SsdpMatch, ...] = ()
    serves: frozenset[str] = frozenset()  # domains an emulated entity of this family may have
    # Makes the driver for a sighting (its TXT records or SSDP headers). None: the House makes
    # it itself, because the family needs the owner first (Hue's link button, HA's token).
    make_driver: Callable[[Device, Mapping[str, str]], Driver] | None = None
    # Whether a home-file entity without `via:` goes to this family (asked in list order).
    claims: Callable[[str, str, str | None], bool] = _never
    emulation: Callable[[HouseContext], Emulation] | None = None
    # Asks the network who is there, given an interface's broadcast address; discovery runs it
    # on every interface at its search interval. For families that announce nothing.
    scan: Callable[[str], Awaitable[list[Sighting]]] | None = None
