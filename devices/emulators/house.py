"""An emulated house built from a home file: each entity served by the emulation of its family
(`devices.families`), each emulator advertised over mDNS or SSDP on one interface, so Claw finds
the house the same way it finds a real one.

Every house has an id of its own, carried by each of its adverts (devices.discovery.HOUSE_TXT,
HOUSE_HEADER): a Claw given that id adopts this house only, so two demos on one host never see
or drive each other's devices.
"""
from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

from devices import homefile
from devices.advertise import Advertiser
from devices.discovery import HOUSE_TXT
from devices.families import FAMILIES
from devices.family import Emulation
from devices.homefile import HomeSpec

DEMO_HOME = Path(__file__).resolve().parent.parent / "homes" / "demo.yaml"


class EmulatedHouse:
    def __init__(self, spec: HomeSpec, interface: str = "127.0.0.1"):
        self.spec = spec
        self.interface = interface
        self.name = spec.name
        self.house_id = secrets.token_hex(6)
        self.marks = {HOUSE_TXT: self.house_id}
        self.advertiser = Advertiser(interface)
        # Every family's emulation, used or not: tests reach one by its family's name.
        self.families: dict[str, Emulation] = {
            f.name: f.emulation(self) for f in FAMILIES if f.emulation is not None}
        for e in spec.entities:
            self.families[e.via].add(e)
        self.reset_states()

    @classmethod
    def from_file(cls, path: Path | str = DEMO_HOME, interface: str = "127.0.0.1") -> "EmulatedHouse":
        return cls(homefile.load(path), interface)

    def reset_states(self) -> None:
        """Put every entity back to the file's initial state."""
        for e in self.spec.entities:
            self.families[e.via].reset(e)

    async def start(self) -> None:
        """Start and advertise every emulator; HouseError if it cannot be served here."""
        await self.advertiser.start()
        adverts = []
        for emulation in self.families.values():
            adverts += await emulation.start()
        # mDNS registration probes for about a second each, so the devices register in parallel.
        await asyncio.gather(*adverts)

    async def stop(self) -> None:
        await self.advertiser.stop()
        await asyncio.gather(*(e.stop() for e in self.families.values()), return_exceptions=True)

    def emulators(self) -> list[Any]:
        return [emu for e in self.families.values() for emu in e.emulators()]
