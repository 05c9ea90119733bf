"""The Kasa part of an emulated house: a plug per switch, a colour bulb per light.

Kasa devices announce nothing over mDNS or SSDP: they answer a UDP broadcast to port 9999
(`devices.families.kasa.driver.scan`), and python-kasa then talks to each on TCP 9999 at the
address the answer came from. So each device here has an address of its own with port 9999
(loopback addresses from 127.0.0.60 up that nothing else holds), and hears the broadcasts of
the house's interface. Off loopback a house can hold one Kasa device, on the interface itself.
"""
from __future__ import annotations

import asyncio
import colorsys
import hashlib
from typing import Any, Awaitable

from devices.discovery import broadcast_address
from devices.emulators.base import free_loopback_host
from devices.families.kasa.emulator import KasaEmulator
from devices.family import HouseContext, HouseError
from devices.homefile import EntitySpec

PORT = 9999  # python-kasa reaches a discovered device there
FIRST_HOST = 60


def _is_loopback(address: str) -> bool:
    return address.startswith("127.")


class KasaEmulation:
    def __init__(self, house: HouseContext):
        self.house = house
        self.devices: dict[str, KasaEmulator] = {}  # entity_id -> its device

    def add(self, entity: EntitySpec) -> None:
        if entity.domain not in ("switch", "light"):
            raise ValueError(f"a Kasa device here is a plug (switch) or a bulb (light), not {entity.entity_id}")
        digest = hashlib.sha1(f"{self.house.house_id}/{entity.entity_id}".encode()).hexdigest()[:12]
        mac = ":".join(digest[i:i + 2] for i in range(0, 12, 2)).upper()
        self.devices[entity.entity_id] = KasaEmulator(
            "plug" if entity.domain == "switch" else "bulb", alias=entity.name, host=self._host(),
            port=PORT, mac=mac, power_w=float(entity.attributes.get("current_power_w", 120.0)),
            broadcast=broadcast_address(self.house.interface),
            marks={**self.house.marks, "area": entity.area or ""})

    def _host(self) -> str:
        taken = {emu.host for emu in self.devices.values()}
        if not _is_loopback(self.house.interface):
            if taken:
                raise HouseError(f"a house on {self.house.interface} can hold one Kasa device (each "
                                 "needs an address of its own): serve the house on loopback")
            return self.house.interface
        host = free_loopback_host(PORT, FIRST_HOST, taken)
        if host is None:
            raise HouseError(f"none of the loopback addresses 127.0.0.{FIRST_HOST}-254 has port {PORT} "
                             "free for another Kasa device: stop another `claw demo`")
        return host

    def reset(self, entity: EntitySpec) -> None:
        emu = self.devices[entity.entity_id]
        on = 1 if entity.state == "on" else 0
        if emu.kind == "plug":
            emu.relay_state = on
            return
        brightness = float(entity.attributes.get("brightness", 255))
        emu.light.update(on_off=on, brightness=max(1, round(brightness * 100 / 255)), hue=0, saturation=0,
                         color_temp=int(entity.attributes.get("color_temp_kelvin", 2700)))
        if entity.attributes.get("rgb_color"):
            hue, saturation, _ = colorsys.rgb_to_hsv(*(c / 255 for c in entity.attributes["rgb_color"]))
            emu.light.update(hue=round(hue * 360), saturation=round(saturation * 100), color_temp=0)

    async def start(self) -> list[Awaitable[Any]]:
        for emu in self.devices.values():
            await emu.start()
        return []

    async def stop(self) -> None:
        await asyncio.gather(*(emu.stop() for emu in self.devices.values()), return_exceptions=True)

    def emulators(self) -> list[Any]:
        return list(self.devices.values())
