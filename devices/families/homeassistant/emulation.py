"""The Home Assistant part of an emulated house: one instance holding every entity no other
family serves, with a fixed token that is no secret (`claw demo` hands it to Claw).

The house's floors, areas (with their floors and aliases) and the entities' aliases go into
HA's registries, as an owner would have set them up in HA: each entity on a device of its own
that stands in the entity's area, so the entity is in the area through its device (how most
HA integrations place entities)."""
from __future__ import annotations

import hashlib
from typing import Any, Awaitable

from devices.families.homeassistant.emulator import HomeAssistantEmulator, todo_items
from devices.family import HouseContext
from devices.homefile import EntitySpec

TOKEN = "claw-demo-home-assistant-token-not-a-secret"
# What Home Assistant itself always reports for an entity of these domains, where the file
# gives nothing: without them HA refuses the domain's services.
DEFAULT_ATTRIBUTES = {"climate": {"hvac_modes": ["off", "heat", "cool", "auto"], "min_temp": 7.0,
                                  "max_temp": 35.0}}


class HomeAssistantEmulation:
    def __init__(self, house: HouseContext):
        self.house = house
        self.token = TOKEN
        self.server = HomeAssistantEmulator(house.interface, token=TOKEN, location_name=house.name)
        self.entity_ids: list[str] = []
        registries = self.server.registries
        for floor in house.spec.floors:
            registries.floor(floor)
        for area in house.spec.areas:
            registries.area(area.name, area.floor, area.aliases)

    def add(self, entity: EntitySpec) -> None:
        self.entity_ids.append(entity.entity_id)

    def reset(self, entity: EntitySpec) -> None:
        attributes = {**DEFAULT_ATTRIBUTES.get(entity.domain, {}), **entity.attributes,
                      "friendly_name": entity.name}
        if entity.domain == "valve":  # HA's valves that report a position
            attributes.setdefault("current_position", 0 if entity.state == "closed" else 100)
        server = self.server
        if entity.entity_id not in server.states:
            device = server.registries.device(entity.name, entity.area)
            server.add_entity(entity.entity_id, entity.state, attributes, device=device,
                              aliases=entity.aliases)
            return
        items = attributes.pop("items", [])
        server.states[entity.entity_id]["attributes"] = {}
        server.set_state(entity.entity_id, entity.state, attributes)
        if entity.domain == "todo":
            server.set_items(entity.entity_id, todo_items(items))

    async def start(self) -> list[Awaitable[Any]]:
        if not self.entity_ids:
            return []
        await self.server.start()
        uuid = hashlib.sha1(self.house.name.encode()).hexdigest()
        return [self.house.advertiser.add_mdns(
            "_home-assistant._tcp.local.", self.house.name, self.house.interface, self.server.port,
            {"uuid": uuid, "version": "2026.11.0", "base_url": self.server.url, **self.house.marks})]

    async def stop(self) -> None:
        await self.server.stop()

    def emulators(self) -> list[Any]:
        return [self.server] if self.entity_ids else []
