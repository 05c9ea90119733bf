"""HTTP snapshot cameras (`_claw-camera._tcp`: our emulated camera's own announcement)."""
from typing import Mapping

from devices.family import Family, HouseContext, MdnsMatch
from devices.model import Device

from devices.families.camera.driver import CameraDriver


def _emulation(house: HouseContext):
    from devices.families.camera.emulation import CameraEmulation  # for tests and the demo only

    return CameraEmulation(house)


def _driver(device: Device, props: Mapping[str, str]) -> CameraDriver:
    # Named in its TXT: the mDNS instance name may carry a " (2)" after a name clash.
    device.name = props.get("name") or device.name
    return CameraDriver(device, area=props.get("area") or None)


FAMILY = Family(
    name="camera", nouns=("camera", "cameras"), library="HTTP snapshots (aiohttp), Pillow",
    mdns=(MdnsMatch("_claw-camera._tcp.local.", uid="id"),),
    serves=frozenset({"camera"}),
    make_driver=_driver,
    claims=lambda domain, name, area: domain == "camera",
    emulation=_emulation,
)
