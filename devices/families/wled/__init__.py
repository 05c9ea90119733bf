"""WLED light strips: its JSON API over HTTP, changes pushed over its WebSocket."""
from typing import Mapping

from devices.family import Family, HouseContext, MdnsMatch
from devices.model import Device

from devices.families.wled.driver import WledDriver


def _emulation(house: HouseContext):
    from devices.families.wled.emulation import WledEmulation  # for tests and the demo only

    return WledEmulation(house)


def _driver(device: Device, props: Mapping[str, str]) -> WledDriver:
    return WledDriver(device, area=props.get("area") or None)


FAMILY = Family(
    name="wled", nouns=("WLED light strip", "WLED light strips"),
    library="Claw's own client of WLED's JSON API and its /ws push (aiohttp): python-wled speaks only to port 80",
    mdns=(MdnsMatch("_wled._tcp.local.", uid="mac"),),
    serves=frozenset({"light"}),  # a light is Hue's unless the home file says `via: wled`
    make_driver=_driver,
    emulation=_emulation,
)
