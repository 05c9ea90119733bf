"""TP-Link Kasa plugs, strips and bulbs: the legacy local protocol through python-kasa."""
from typing import Mapping

from devices.family import Family, HouseContext
from devices.model import Device

from devices.families.kasa.driver import KasaDriver, scan


def _emulation(house: HouseContext):
    from devices.families.kasa.emulation import KasaEmulation  # for tests and the demo only

    return KasaEmulation(house)


def _driver(device: Device, props: Mapping[str, str]) -> KasaDriver:
    return KasaDriver(device, area=props.get("area") or None)


FAMILY = Family(
    name="kasa", nouns=("TP-Link Kasa device", "TP-Link Kasa devices"),
    library="python-kasa (Home Assistant's TP-Link library): legacy XOR protocol only, no KLAP/AES/Tapo",
    # No mDNS or SSDP: Kasa devices answer python-kasa's UDP broadcast on 9999 (driver.scan).
    serves=frozenset({"switch", "light"}),  # a switch or light is another family's unless `via: kasa`
    make_driver=_driver,
    scan=scan,
    emulation=_emulation,
)
