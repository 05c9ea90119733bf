"""MQTT: the broker the owner already runs, and every device announced on it.

Zigbee2MQTT's device list and Home Assistant MQTT discovery (Tasmota, ESPHome in MQTT mode,
zwave-js-ui, DIY devices) through aiomqtt; one broker is one device with many entities. Brokers
are not discovered on the LAN: `[mqtt] url` in claw.toml names the broker.
"""
from devices.family import Family

from .driver import make_driver

FAMILY = Family(
    name="mqtt",
    nouns=("MQTT broker", "MQTT brokers"),
    library="aiomqtt 2.5 (paho-mqtt): Zigbee2MQTT and Home Assistant MQTT discovery",
    serves=frozenset({"light", "switch", "cover", "sensor", "binary_sensor", "climate", "lock"}),
    make_driver=make_driver,
)
