"""Home Assistant as a bridge: every entity it knows, mirrored over its REST and WebSocket APIs,
placed by its registries (areas, floors, aliases). The House makes the driver itself: it needs
the owner's token, pinned to the instance."""
from devices.family import Family, HouseContext, MdnsMatch

from devices.families.homeassistant.driver import DOMAIN_SERVICES


def _emulation(house: HouseContext):
    from devices.families.homeassistant.emulation import HomeAssistantEmulation  # tests, demo

    return HomeAssistantEmulation(house)


FAMILY = Family(
    name="home_assistant", nouns=("Home Assistant", "Home Assistants"),
    library="Claw's own client of HA's REST and WebSocket APIs (aiohttp); emulator refereed by hass-client",
    mdns=(MdnsMatch("_home-assistant._tcp.local.", uid="uuid"),),
    serves=frozenset(DOMAIN_SERVICES),
    claims=lambda domain, name, area: True,  # asked last: whatever no other family serves
    emulation=_emulation,
)
