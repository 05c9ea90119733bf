"""The MQTT part of an emulated house: a mosquitto broker with a Zigbee2MQTT bridge on it.

Each home-file entity with `via: mqtt` becomes one Zigbee device of the bridge, named
`<area>/<name>` as Zigbee2MQTT users structure names. The broker is advertised as
`_mqtt._tcp` (as avahi announces a mosquitto), so Claw finds it the normal way. The demo then
needs Debian's mosquitto (`apt-get install mosquitto`); without it the house says so.
"""
from __future__ import annotations

from typing import Any, Awaitable

from devices.family import HouseContext, HouseError
from devices.homefile import EntitySpec

from . import mosquitto
from .emulator import Zigbee2MqttBridge, ZigbeeDevice

KIND_OF_DOMAIN = {"light": "light", "switch": "switch", "cover": "cover", "lock": "lock",
                  "climate": "thermostat", "sensor": "climate_sensor"}


def _kind(entity: EntitySpec) -> str:
    if entity.domain == "binary_sensor":
        return "contact" if entity.attributes.get("device_class") in ("door", "window") else "motion"
    return KIND_OF_DOMAIN[entity.domain]


class MqttEmulation:
    def __init__(self, house: HouseContext):
        self.house = house
        self.devices: dict[str, ZigbeeDevice] = {}  # entity_id -> its Zigbee device
        self.broker: mosquitto.Mosquitto | None = None
        self.bridge: Zigbee2MqttBridge | None = None

    def add(self, entity: EntitySpec) -> None:
        name = f"{entity.area}/{entity.name}" if entity.area else entity.name
        ieee = f"0x00158d00{len(self.devices) + 1:08x}"
        self.devices[entity.entity_id] = ZigbeeDevice(name, _kind(entity), ieee)

    def reset(self, entity: EntitySpec) -> None:
        device, a = self.devices[entity.entity_id], entity.attributes
        device.state = ZigbeeDevice(device.friendly_name, device.kind, device.ieee).state
        s = device.state
        if device.kind in ("light", "switch"):
            s["state"] = "ON" if entity.state == "on" else "OFF"
        if device.kind == "light" and "brightness" in a:
            s["brightness"] = round(a["brightness"] * 254 / 255)
        if device.kind == "cover":
            s["position"] = int(a.get("current_position", 100 if entity.state == "open" else 0))
            s["state"] = "OPEN" if s["position"] else "CLOSE"
        if device.kind == "lock":
            locked = entity.state != "unlocked"
            s["state"], s["lock_state"] = ("LOCK", "locked") if locked else ("UNLOCK", "unlocked")
        if device.kind == "thermostat":
            s["system_mode"] = entity.state if entity.state in ("off", "heat", "auto") else "heat"
            s["occupied_heating_setpoint"] = a.get("temperature", s["occupied_heating_setpoint"])
            s["local_temperature"] = a.get("current_temperature", s["local_temperature"])
        if device.kind == "climate_sensor" and entity.state not in ("unknown", ""):
            s["temperature"] = float(entity.state)
        if device.kind == "motion":
            s["occupancy"] = entity.state == "on"
        if device.kind == "contact":
            s["contact"] = entity.state != "on"  # Zigbee's contact=true is closed

    async def start(self) -> list[Awaitable[Any]]:
        if not self.devices:
            return []
        if not mosquitto.installed():
            raise HouseError("the house's Zigbee2MQTT devices need Debian's MQTT broker: "
                             "apt-get install mosquitto")
        self.broker = mosquitto.Mosquitto(self.house.interface)
        await self.broker.start()
        self.bridge = Zigbee2MqttBridge(self.broker.host, self.broker.port, list(self.devices.values()))
        await self.bridge.start()
        return [self.house.advertiser.add_mdns(
            "_mqtt._tcp.local.", f"{self.house.name} MQTT", self.house.interface, self.broker.port,
            dict(self.house.marks))]

    async def stop(self) -> None:
        if self.bridge is not None:
            await self.bridge.stop()
        if self.broker is not None:
            await self.broker.close()

    def emulators(self) -> list[Any]:
        return [self.broker] if self.broker is not None else []
