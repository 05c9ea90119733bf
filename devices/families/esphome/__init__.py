"""ESPHome nodes: the native API through aioesphomeapi, with pushed states."""
from typing import Mapping

from devices.family import Family, HouseContext, MdnsMatch
from devices.model import Device

from devices.families.esphome.driver import EsphomeDriver


def _emulation(house: HouseContext):
    from devices.families.esphome.emulation import EsphomeEmulation  # for tests and the demo only

    return EsphomeEmulation(house)


def _driver(device: Device, props: Mapping[str, str]) -> EsphomeDriver:
    # The mDNS instance is the node's hostname ("desk-node"); its TXT has the name people gave it.
    device.name = props.get("friendly_name") or device.name
    # The TXT's MAC pins an encryption key, once the driver has one, to this node.
    return EsphomeDriver(device, area=props.get("area") or None, mac=props.get("mac") or None)


FAMILY = Family(
    name="esphome", nouns=("ESPHome node", "ESPHome nodes"),
    library="aioesphomeapi (Home Assistant's ESPHome library): the native API, plaintext or Noise",
    mdns=(MdnsMatch("_esphomelib._tcp.local.", uid="mac"),),
    # A light, switch, cover or sensor is another family's unless the home file says `via: esphome`.
    serves=frozenset({"light", "switch", "sensor", "binary_sensor", "cover"}),
    make_driver=_driver,
    emulation=_emulation,
)
