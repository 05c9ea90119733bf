"""Shelly Gen2 relays and covers: JSON-RPC over HTTP, pushed changes over its WebSocket."""
from typing import Mapping

from devices.family import Family, HouseContext, MdnsMatch
from devices.model import Device

from devices.families.shelly.driver import ShellyDriver


def _emulation(house: HouseContext):
    from devices.families.shelly.emulation import ShellyEmulation  # for tests and the demo only

    return ShellyEmulation(house)


def _driver(device: Device, props: Mapping[str, str]) -> ShellyDriver:
    return ShellyDriver(device, area=props.get("area") or None)


FAMILY = Family(
    name="shelly", nouns=("Shelly device", "Shelly devices"),
    library="Claw's own Gen2 RPC client (aiohttp): aioshelly would bring a Bluetooth stack",
    mdns=(MdnsMatch("_shelly._tcp.local.", uid="id"), MdnsMatch("_http._tcp.local.", name="shelly*")),
    serves=frozenset({"switch", "cover"}),
    make_driver=_driver,
    claims=lambda domain, name, area: domain in ("switch", "cover"),
    emulation=_emulation,
)
