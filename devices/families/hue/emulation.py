"""The Hue part of an emulated house: one bridge holding every light of the home file."""
from __future__ import annotations

from typing import Any, Awaitable

from devices.families.hue.emulator import CT_RANGE, EmulatedLight, HueBridgeEmulator
from devices.family import HouseContext
from devices.homefile import EntitySpec


class HueEmulation:
    def __init__(self, house: HouseContext):
        self.house = house
        self.bridge = HueBridgeEmulator(house.interface, name=f"{house.name} Hue Bridge")
        self.light_ids: dict[str, str] = {}  # entity_id -> the bridge's light id

    def light(self, entity_id: str) -> EmulatedLight:
        return self.bridge.lights[self.light_ids[entity_id]]

    def add(self, entity: EntitySpec) -> None:
        self.light_ids[entity.entity_id] = self.bridge.add_light(entity.name, entity.area or "Home")

    def reset(self, entity: EntitySpec) -> None:
        light = self.light(entity.entity_id)
        light.on = entity.state == "on"
        # The file speaks Home Assistant's 0-255, the bridge 1-254.
        light.bri = max(1, min(254, round(float(entity.attributes.get("brightness", 255)) * 254 / 255)))
        fresh = EmulatedLight(light.light_id, light.name, light.color)  # undo colour changes
        light.hue, light.sat, light.xy, light.ct, light.colormode = (
            fresh.hue, fresh.sat, fresh.xy, fresh.ct, fresh.colormode)
        if entity.attributes.get("color_temp_kelvin"):
            mired = round(1_000_000 / float(entity.attributes["color_temp_kelvin"]))
            light.ct = max(CT_RANGE[0], min(CT_RANGE[1], mired))
        light.reachable = entity.state != "unavailable"

    async def start(self) -> list[Awaitable[Any]]:
        if not self.light_ids:
            return []
        await self.bridge.start()
        self.bridge.press_link_button()  # as the owner would when Claw asks
        return [self.house.advertiser.add_mdns(
            "_hue._tcp.local.", self.bridge.name, self.house.interface, self.bridge.port,
            {"bridgeid": self.bridge.bridge_id.lower(), "modelid": "BSB002", **self.house.marks})]

    async def stop(self) -> None:
        await self.bridge.stop()

    def emulators(self) -> list[Any]:
        return [self.bridge] if self.light_ids else []
