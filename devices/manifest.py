"""What each driver family looks like on the network (mDNS and SSDP), as data.

Like Home Assistant's integration manifests: discovery reads these tables to know what to
browse and search for, and maps each sighting to a driver family. Name and value patterns
are shell-style (`fnmatch`) and compared case-insensitively.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Mapping


@dataclass(frozen=True)
class MdnsMatch:
    family: str
    type: str  # "_hue._tcp.local."
    name: str | None = None  # pattern on the instance name ("shelly*")
    properties: Mapping[str, str] = field(default_factory=dict)  # TXT key -> value pattern
    uid: str | None = None  # TXT key whose value identifies the device across addresses


@dataclass(frozen=True)
class SsdpMatch:
    family: str
    st: str  # search target sent in M-SEARCH and expected back in ST
    headers: Mapping[str, str] = field(default_factory=dict)  # header name -> value pattern


MDNS: tuple[MdnsMatch, ...] = (
    MdnsMatch("sonos", "_sonos._tcp.local."),
    MdnsMatch("hue", "_hue._tcp.local.", uid="bridgeid"),
    MdnsMatch("shelly", "_shelly._tcp.local.", uid="id"),
    MdnsMatch("shelly", "_http._tcp.local.", name="shelly*"),
    MdnsMatch("wled", "_wled._tcp.local.", uid="mac"),
    MdnsMatch("home_assistant", "_home-assistant._tcp.local.", uid="uuid"),
    # Our emulated HTTP snapshot camera (devices/emulators).
    MdnsMatch("camera", "_claw-camera._tcp.local.", uid="id"),
)

SSDP: tuple[SsdpMatch, ...] = (
    SsdpMatch("sonos", "urn:schemas-upnp-org:device:ZonePlayer:1"),
)


def mdns_types() -> list[str]:
    """The mDNS service types to browse, each once."""
    return sorted({m.type for m in MDNS})


def ssdp_targets() -> list[str]:
    """The SSDP search targets to send in M-SEARCH, each once."""
    return sorted({m.st for m in SSDP})


def instance_name(type_: str, name: str) -> str:
    """`Kitchen._hue._tcp.local.` -> `Kitchen`."""
    suffix = "." + type_
    return name[: -len(suffix)] if name.lower().endswith(suffix.lower()) else name


def _matches(pattern: str, value: str | None) -> bool:
    return value is not None and fnmatchcase(value.lower(), pattern.lower())


def match_mdns_entry(
    type_: str, name: str, properties: Mapping[str, str | None]
) -> MdnsMatch | None:
    """The first manifest entry an mDNS service matches, or None."""
    instance = instance_name(type_, name)
    props = {k.lower(): v for k, v in properties.items()}
    for m in MDNS:
        if m.type.lower() != type_.lower():
            continue
        if m.name is not None and not _matches(m.name, instance):
            continue
        if all(_matches(p, props.get(k.lower())) for k, p in m.properties.items()):
            return m
    return None


def match_mdns(type_: str, name: str, properties: Mapping[str, str | None]) -> str | None:
    """The driver family for an mDNS service (type, full name, TXT), or None."""
    m = match_mdns_entry(type_, name, properties)
    return m.family if m else None


def match_ssdp(headers: Mapping[str, str]) -> str | None:
    """The driver family for an SSDP response or NOTIFY (header names any case), or None."""
    h = {k.lower(): v for k, v in headers.items()}
    st = h.get("st") or h.get("nt")  # NOTIFY carries the target in NT
    for m in SSDP:
        if st is None or st.lower() != m.st.lower():
            continue
        if all(_matches(p, h.get(k.lower())) for k, p in m.headers.items()):
            return m.family
    return None
