"""The ESPHome part of an emulated house: one node per entity, its main (unnamed) entity.

A node's friendly name is the entity's name, so Claw names the entity as the home file does
(Home Assistant's rule: an unnamed entity takes its node's name).
"""
from __future__ import annotations

import asyncio
import hashlib
from typing import Any, Awaitable

from aioesphomeapi import api_pb2 as pb

from devices.families.esphome.emulator import EsphomeNode
from devices.family import HouseContext
from devices.homefile import EntitySpec
from devices.names import slug


class EsphomeEmulation:
    def __init__(self, house: HouseContext):
        self.house = house
        self.nodes: dict[str, EsphomeNode] = {}  # entity_id -> its node
        self._areas: dict[str, str] = {}

    def add(self, entity: EntitySpec) -> None:
        digest = hashlib.sha1(f"{self.house.house_id}/{entity.entity_id}".encode()).hexdigest()[:12]
        mac = ":".join(digest[i:i + 2] for i in range(0, 12, 2)).upper()
        node = EsphomeNode(self.house.interface, name=slug(entity.name, fallback="node").replace("_", "-"),
                           friendly_name=entity.name, mac=mac)
        device_class = entity.attributes.get("device_class")
        if entity.domain == "light":
            node.add_light("light", "")
        elif entity.domain == "switch":
            node.add_switch("switch", "")
        elif entity.domain == "sensor":
            node.add_sensor("sensor", "", 0.0, unit=entity.attributes.get("unit_of_measurement", ""),
                            device_class=device_class or "")
        elif entity.domain == "binary_sensor":
            node.add_binary_sensor("binary_sensor", "", device_class=device_class or "")
        elif entity.domain == "cover":
            node.add_cover("cover", "", device_class=device_class or "shade")
        else:
            raise ValueError(f"an ESPHome node here serves a light, switch, sensor, binary sensor or "
                             f"cover, not {entity.entity_id}")
        self.nodes[entity.entity_id] = node
        self._areas[entity.entity_id] = entity.area or ""

    def reset(self, entity: EntitySpec) -> None:
        node = self.nodes[entity.entity_id]
        state: Any = next(iter(node.entities.values())).state
        attributes = entity.attributes
        if entity.domain == "sensor":
            state.state = float(entity.state)
        elif entity.domain == "cover":
            default = 100 if entity.state == "open" else 0
            state.position = float(attributes.get("current_position", default)) / 100
            state.current_operation = pb.COVER_OPERATION_IDLE
        else:
            state.state = entity.state == "on"
        if entity.domain == "light":
            state.brightness = float(attributes.get("brightness", 255)) / 255
            red, green, blue = attributes.get("rgb_color") or (255, 255, 255)
            state.red, state.green, state.blue = red / 255, green / 255, blue / 255
        node.publish(next(iter(node.entities.values())).info.object_id)  # to anyone subscribed

    async def start(self) -> list[Awaitable[Any]]:
        adverts = []
        for entity_id, node in self.nodes.items():
            await node.start()
            adverts.append(self.house.advertiser.add_mdns(
                "_esphomelib._tcp.local.", node.name, self.house.interface, node.port,
                {"friendly_name": node.friendly_name, "mac": node.mac.replace(":", "").lower(),
                 "version": "2025.10.0", "platform": "ESP32", "board": "esp32dev", "network": "wifi",
                 "area": self._areas[entity_id], **self.house.marks}))
        return adverts

    async def stop(self) -> None:
        await asyncio.gather(*(node.stop() for node in self.nodes.values()), return_exceptions=True)

    def emulators(self) -> list[Any]:
        return list(self.nodes.values())
