"""The Home Assistant part of an emulated house: one instance holding every entity no other
family serves, with a fixed token that is no secret (`claw demo` hands it to Claw)."""
from __future__ import annotations

import hashlib
from typing import Any, Awaitable

from devices.families.homeassistant.emulator import HomeAssistantEmulator
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
        self.server = HomeAssistantEmulator(house.interface, token=TOKEN)
        self.entity_ids: list[str] = []

    def add(self, entity: EntitySpec) -> None:
        self.entity_ids.append(entity.entity_id)

    def reset(self, entity: EntitySpec) -> None:
        attributes = {**DEFAULT_ATTRIBUTES.get(entity.domain, {}), **entity.attributes,
                      "friendly_name": entity.name}
        if entity.area:
            attributes["area"] = entity.area
        if entity.entity_id in self.server.states:
            self.server.states[entity.entity_id]["attributes"] = {}
            self.server.set_state(entity.entity_id, entity.state, attributes)
        else:
            self.server.add_entity(entity.entity_id, entity.state, attributes)

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
