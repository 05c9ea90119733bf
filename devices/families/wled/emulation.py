"""The WLED part of an emulated house: one controller per strip."""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable

from devices.families.wled.emulator import WledEmulator
from devices.family import HouseContext
from devices.homefile import EntitySpec

START_COLOR = [255, 160, 0]  # the colour a strip starts with when the file gives none


class WledEmulation:
    def __init__(self, house: HouseContext):
        self.house = house
        self.strips: dict[str, WledEmulator] = {}  # entity_id -> its controller
        self._areas: dict[str, str] = {}

    def add(self, entity: EntitySpec) -> None:
        self.strips[entity.entity_id] = WledEmulator(self.house.interface, name=entity.name)
        self._areas[entity.entity_id] = entity.area or ""

    def reset(self, entity: EntitySpec) -> None:
        emu = self.strips[entity.entity_id]
        emu.factory_state()
        emu.on = entity.state == "on"
        emu.bri = max(1, min(255, int(entity.attributes.get("brightness", 128))))
        emu.seg["col"][0] = list(entity.attributes.get("rgb_color") or START_COLOR)

    async def start(self) -> list[Awaitable[Any]]:
        adverts = []
        for entity_id, emu in self.strips.items():
            await emu.start()
            adverts.append(self.house.advertiser.add_mdns(
                "_wled._tcp.local.", emu.name, self.house.interface, emu.port,
                {"mac": emu.mac, "area": self._areas[entity_id], **self.house.marks}))
        return adverts

    async def stop(self) -> None:
        await asyncio.gather(*(emu.stop() for emu in self.strips.values()), return_exceptions=True)

    def emulators(self) -> list[Any]:
        return list(self.strips.values())
