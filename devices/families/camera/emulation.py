"""The camera part of an emulated house: one HTTP snapshot camera per camera entity."""
from __future__ import annotations

import asyncio
import hashlib
from typing import Any, Awaitable

from devices.families.camera.emulator import CameraEmulator
from devices.family import HouseContext
from devices.homefile import EntitySpec


class CameraEmulation:
    def __init__(self, house: HouseContext):
        self.house = house
        self.cameras: dict[str, CameraEmulator] = {}  # entity_id -> its camera
        self._areas: dict[str, str] = {}

    def add(self, entity: EntitySpec) -> None:
        self.cameras[entity.entity_id] = CameraEmulator(self.house.interface, name=entity.name)
        self._areas[entity.entity_id] = entity.area or ""

    def reset(self, entity: EntitySpec) -> None:
        self.cameras[entity.entity_id].set_scene("empty")

    async def start(self) -> list[Awaitable[Any]]:
        adverts = []
        for entity_id, emu in self.cameras.items():
            await emu.start()
            adverts.append(self.house.advertiser.add_mdns(
                "_claw-camera._tcp.local.", emu.name, self.house.interface, emu.port,
                {"id": hashlib.sha1(emu.name.encode()).hexdigest()[:12], "area": self._areas[entity_id],
                 "name": emu.name, **self.house.marks}))
        return adverts

    async def stop(self) -> None:
        await asyncio.gather(*(emu.stop() for emu in self.cameras.values()), return_exceptions=True)

    def emulators(self) -> list[Any]:
        return list(self.cameras.values())
