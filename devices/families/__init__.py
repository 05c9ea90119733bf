"""Every device family Claw knows, in the order a home-file entity without `via:` is offered
to them (Home Assistant last: it takes whatever no other family serves). Adding a family is
one folder and one entry here."""
from devices.family import Family
from devices.families import camera, cast, esphome, homeassistant, hue, kasa, mqtt, shelly, sonos, wled

FAMILIES: tuple[Family, ...] = (
    hue.FAMILY, sonos.FAMILY, shelly.FAMILY, wled.FAMILY, camera.FAMILY, esphome.FAMILY,
    kasa.FAMILY, mqtt.FAMILY, cast.FAMILY, homeassistant.FAMILY,
)

BY_NAME: dict[str, Family] = {f.name: f for f in FAMILIES}
