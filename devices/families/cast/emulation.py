"""The Google Cast part of an emulated house: one Cast device per media player `via: cast`.

Each device takes a free port on the house's interface (a real one listens on 8009: the
driver reads the kind of device from its model, so the port doesn't make it a group) and
is advertised as `_googlecast._tcp` with the TXT records a real device sends.
"""
from __future__ import annotations

import asyncio
import uuid
from typing import Any, Awaitable

from devices.families.cast.emulator import CastEmulator
from devices.family import HouseContext
from devices.homefile import EntitySpec


class CastEmulation:
    def __init__(self, house: HouseContext):
        self.house = house
        self.devices: dict[str, CastEmulator] = {}  # entity_id -> its device
        self._areas: dict[str, str] = {}

    def add(self, entity: EntitySpec) -> None:
        attributes = entity.attributes
        # A stable id per house and entity, as a device keeps its own across restarts.
        device_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"claw-house:{self.house.house_id}:{entity.entity_id}")
        self.devices[entity.entity_id] = CastEmulator(
            self.house.interface, 0, info_port=0, name=entity.name, uuid=str(device_uuid),
            model=str(attributes.get("model", "Google Nest Mini")),
            display=bool(attributes.get("display", False)))
        self._areas[entity.entity_id] = entity.area or ""
        self.reset(entity)

    def reset(self, entity: EntitySpec) -> None:
        emu = self.devices[entity.entity_id]
        attributes = entity.attributes
        emu.reset(float(attributes.get("volume_level", 0.3)), bool(attributes.get("is_volume_muted", False)))
        url = attributes.get("media_content_id")
        if entity.state in ("playing", "paused") and isinstance(url, str):
            emu.cast(url, title=str(attributes.get("media_title", "")), artist=str(attributes.get("media_artist", "")),
                     paused=entity.state == "paused")

    async def start(self) -> list[Awaitable[Any]]:
        adverts = []
        for entity_id, emu in self.devices.items():
            await emu.start()
            adverts.append(self.house.advertiser.add_mdns(
                "_googlecast._tcp.local.", emu.instance, self.house.interface, emu.port,
                {**emu.txt(), "area": self._areas[entity_id], **self.house.marks}))
        return adverts

    async def stop(self) -> None:
        await asyncio.gather(*(emu.stop() for emu in self.devices.values()), return_exceptions=True)

    def emulators(self) -> list[Any]:
        return list(self.devices.values())
