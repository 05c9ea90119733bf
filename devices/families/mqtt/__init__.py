"""MQTT: a broker and every device announced on it.

Zigbee2MQTT's device list and Home Assistant MQTT discovery (Tasmota, ESPHome in MQTT mode,
zwave-js-ui, DIY devices) through aiomqtt; one broker is one device with many entities. The
owner's broker is the one at `[mqtt] url` in claw.toml (with its credentials); without one, a
broker announced on the LAN as `_mqtt._tcp` (avahi's name for it) is joined anonymously.
"""
from typing import Mapping

from devices.family import Family, HouseContext, MdnsMatch
from devices.model import Device

from devices.families.mqtt.driver import MqttDriver


def _emulation(house: HouseContext):
    from devices.families.mqtt.emulation import MqttEmulation  # for tests and the demo only

    return MqttEmulation(house)


def _driver(device: Device, props: Mapping[str, str]) -> MqttDriver:
    return MqttDriver(device)  # an announced broker: anonymous, default topics


FAMILY = Family(
    name="mqtt", nouns=("MQTT broker", "MQTT brokers"),
    library="aiomqtt 2.5 (on paho-mqtt): Zigbee2MQTT and Home Assistant MQTT discovery",
    mdns=(MdnsMatch("_mqtt._tcp.local."),),
    serves=frozenset({"light", "switch", "cover", "sensor", "binary_sensor", "climate", "lock"}),
    make_driver=_driver,
    emulation=_emulation,  # home-file entities come here only with `via: mqtt`
)
