"""The Shelly part of an emulated house: one Gen2 device per switch or cover."""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable

from devices.families.shelly.emulator import ShellyEmulator
from devices.family import HouseContext
from devices.homefile import EntitySpec


class ShellyEmulation:
    def __init__(self, house: HouseContext):
        self.house = house
        self.devices: dict[str, ShellyEmulator] = {}  # entity_id -> its device
        self._areas: dict[str, str] = {}

    def add(self, entity: EntitySpec) -> None:
        self.devices[entity.entity_id] = ShellyEmulator(
            self.house.interface, name=entity.name, kind="cover" if entity.domain == "cover" else "switch",
            device_class=entity.attributes.get("device_class"), travel_time=1.0)
        self._areas[entity.entity_id] = entity.area or ""

    def reset(self, entity: EntitySpec) -> None:
        emu = self.devices[entity.entity_id]
        if emu.kind == "switch":
            emu.output = entity.state == "on"
            return
        default = 100 if entity.state == "open" else 0
        position = float(entity.attributes.get("current_position", default))
        # _halt also stops a cover still moving, which would otherwise arrive after the reset.
        emu._halt(position, "open" if position > 0 else "closed")

    async def start(self) -> list[Awaitable[Any]]:
        adverts = []
        for entity_id, emu in self.devices.items():
            await emu.start()
            adverts.append(self.house.advertiser.add_mdns(
                "_shelly._tcp.local.", emu.device_id, self.house.interface, emu.port,
                {"id": emu.device_id, "gen": "2", "app": emu.app, "area": self._areas[entity_id],
                 **self.house.marks}))
        return adverts

    async def stop(self) -> None:
        await asyncio.gather(*(emu.stop() for emu in self.devices.values()), return_exceptions=True)

    def emulators(self) -> list[Any]:
        return list(self.devices.values())
