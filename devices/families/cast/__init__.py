"""Google Cast devices (Chromecasts, Nest speakers and displays, Cast groups), found over mDNS
(`_googlecast._tcp`) and driven through pychromecast (the library Home Assistant uses)."""
from typing import Mapping

from devices.family import Family, HouseContext, MdnsMatch
from devices.model import Device

from devices.families.cast.driver import CastDriver


def _emulation(house: HouseContext):
    from devices.families.cast.emulation import CastEmulation  # for tests and the demo only

    return CastEmulation(house)


def _driver(device: Device, props: Mapping[str, str]) -> CastDriver:
    return CastDriver(device, props, area=props.get("area") or None)


FAMILY = Family(
    name="cast", nouns=("Google Cast device", "Google Cast devices"),
    library="pychromecast 14 (Home Assistant's cast library)",
    mdns=(MdnsMatch("_googlecast._tcp.local.", uid="id"),),
    serves=frozenset({"media_player"}),
    make_driver=_driver,
    # A home file says `via: cast`: a media player without it is a Sonos or Home Assistant's.
    emulation=_emulation,
)
