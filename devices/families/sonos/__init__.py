"""Sonos speakers, found over SSDP or mDNS and driven through soco (the library Home Assistant uses)."""
from typing import Mapping

from devices.family import Family, HouseContext, MdnsMatch, SsdpMatch
from devices.model import Device

from devices.families.sonos.driver import SonosDriver


def _emulation(house: HouseContext):
    from devices.families.sonos.emulation import SonosEmulation  # for tests and the demo only

    return SonosEmulation(house)


def _driver(device: Device, props: Mapping[str, str]) -> SonosDriver:
    return SonosDriver(device)


FAMILY = Family(
    name="sonos", nouns=("Sonos speaker", "Sonos speakers"), library="soco 0.32",
    mdns=(MdnsMatch("_sonos._tcp.local."),),
    ssdp=(SsdpMatch("urn:schemas-upnp-org:device:ZonePlayer:1"),),
    serves=frozenset({"media_player"}),
    make_driver=_driver,
    # A Sonos speaker is named after its room; other media players live in Home Assistant.
    claims=lambda domain, name, area: domain == "media_player" and bool(area) and name == f"{area} Speaker",
    emulation=_emulation,
)
