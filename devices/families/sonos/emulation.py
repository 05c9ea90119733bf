"""The Sonos part of an emulated house: one speaker per Sonos media player, all of one
household. soco talks to one device per address, always on port 1400, so the speakers take the
first loopback addresses from 127.0.0.30 up whose port 1400 nothing holds (another demo's)."""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable

from devices.discovery import HOUSE_HEADER
from devices.emulators.base import free_loopback_host
from devices.families.sonos.emulator import DEFAULT_QUEUE, ZONEPLAYER, SonosEmulator, Track
from devices.family import HouseContext, HouseError
from devices.homefile import EntitySpec
from devices.names import slug

FIRST_HOST = 30  # speakers on 127.0.0.30, .31, ...
PORT = 1400  # soco always connects there


def free_host(taken: set[str]) -> str:
    """A loopback address, not in `taken`, whose port 1400 nothing holds now."""
    host = free_loopback_host(PORT, FIRST_HOST, taken)
    if host is None:
        raise HouseError(f"none of the loopback addresses 127.0.0.{FIRST_HOST}-254 has port {PORT} "
                         f"free for another Sonos speaker (this house has {len(taken)} already): stop "
                         "another `claw demo`, or use a home file with fewer speakers")
    return host


class SonosEmulation:
    def __init__(self, house: HouseContext):
        self.house = house
        self.speakers: dict[str, SonosEmulator] = {}  # entity_id -> its speaker
        self.household = f"Sonos_{slug(house.name)}_{house.house_id}"

    def add(self, entity: EntitySpec) -> None:
        host = free_host({emu.host for emu in self.speakers.values()})
        self.speakers[entity.entity_id] = SonosEmulator(host, entity.area or entity.name,
                                                        household=self.household)

    def reset(self, entity: EntitySpec) -> None:
        emu = self.speakers[entity.entity_id]
        if emu.uid in emu.household.speakers:  # started: every speaker plays on its own again
            emu.household.leave(emu.uid)
        queue = list(DEFAULT_QUEUE)
        title = entity.attributes.get("media_title")
        if title:
            queue[0] = Track(title, entity.attributes.get("media_artist", ""),
                             f"x-file-cifs://nas/music/{slug(title)}.flac", duration="0:04:00")
        state = emu.state
        state.queue, state.queue_index, state.stream = queue, 0, None
        state.uri = emu.queue_uri
        state.transport = {"playing": "PLAYING", "paused": "PAUSED_PLAYBACK"}.get(entity.state, "STOPPED")
        state.volume = round(float(entity.attributes.get("volume_level", 0.2)) * 100)
        state.mute = bool(entity.attributes.get("is_volume_muted", False))

    async def start(self) -> list[Awaitable[Any]]:
        for emu in self.speakers.values():
            try:
                await emu.start()
            except OSError as e:  # taken since free_host looked (two demos starting at once)
                raise HouseError(f"can't serve the {emu.room} speaker on {emu.host}:{emu.port} "
                                 f"({e.strerror}); start the demo again") from None
            # SSDP only: a real speaker's mDNS and SSDP ports differ, which would list it twice.
            await self.house.advertiser.add_ssdp(ZONEPLAYER, emu.ssdp_usn, emu.description_url,
                                                 {**emu.ssdp_headers, HOUSE_HEADER: self.house.house_id})
        return []

    async def stop(self) -> None:
        await asyncio.gather(*(emu.stop() for emu in self.speakers.values()), return_exceptions=True)

    def emulators(self) -> list[Any]:
        return list(self.speakers.values())
