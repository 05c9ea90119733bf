"""Philips Hue: a bridge found over mDNS, paired with its link button (the House asks the owner)."""
from devices.family import Family, HouseContext, MdnsMatch


def _emulation(house: HouseContext):
    from devices.families.hue.emulation import HueEmulation  # emulators: for tests and the demo only

    return HueEmulation(house)


FAMILY = Family(
    name="hue", nouns=("Hue bridge", "Hue bridges"),
    library="Claw's own client of the bridge's v1 REST API (aiohttp)",
    mdns=(MdnsMatch("_hue._tcp.local.", uid="bridgeid"),),
    serves=frozenset({"light"}),
    claims=lambda domain, name, area: domain == "light",
    emulation=_emulation,
)
