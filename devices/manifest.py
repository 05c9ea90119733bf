"""Matching network sightings (mDNS and SSDP) to the device families that declared them.

Like Home Assistant's integration manifests: each family says in its folder what it looks like
on the network (`devices.family.Family.mdns`, `.ssdp`); discovery asks here what to browse and
search for, and which family a sighting belongs to. Name and value patterns are shell-style
(`fnmatch`) and compared case-insensitively.
"""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Mapping

from devices.families import FAMILIES
from devices.family import MdnsMatch


def mdns_types() -> list[str]:
    """The mDNS service types to browse, each once."""
    return sorted({m.type for f in FAMILIES for m in f.mdns})


def ssdp_targets() -> list[str]:
    """The SSDP search targets to send in M-SEARCH, each once."""
    return sorted({m.st for f in FAMILIES for m in f.ssdp})


def instance_name(type_: str, name: str) -> str:
    """`Kitchen._hue._tcp.local.` -> `Kitchen`."""
    suffix = "." + type_
    return name[: -len(suffix)] if name.lower().endswith(suffix.lower()) else name


def _matches(pattern: str, value: str | None) -> bool:
    return value is not None and fnmatchcase(value.lower(), pattern.lower())


def match_mdns_entry(
    type_: str, name: str, properties: Mapping[str, str | None]
) -> tuple[str, MdnsMatch] | None:
    """The family and the first of its entries an mDNS service matches, or None."""
    instance = instance_name(type_, name)
    props = {k.lower(): v for k, v in properties.items()}
    for family in FAMILIES:
        for m in family.mdns:
            if m.type.lower() != type_.lower():
                continue
            if m.name is not None and not _matches(m.name, instance):
                continue
            if all(_matches(p, props.get(k.lower())) for k, p in m.properties.items()):
                return family.name, m
    return None


def match_mdns(type_: str, name: str, properties: Mapping[str, str | None]) -> str | None:
    """The driver family for an mDNS service (type, full name, TXT), or None."""
    match = match_mdns_entry(type_, name, properties)
    return match[0] if match else None


def match_ssdp(headers: Mapping[str, str]) -> str | None:
    """The driver family for an SSDP response or NOTIFY (header names any case), or None."""
    h = {k.lower(): v for k, v in headers.items()}
    st = h.get("st") or h.get("nt")  # NOTIFY carries the target in NT
    for family in FAMILIES:
        for m in family.ssdp:
            if st is None or st.lower() != m.st.lower():
                continue
            if all(_matches(p, h.get(k.lower())) for k, p in m.headers.items()):
                return family.name
    return None
