"""Sonos speakers through soco: one `media_player` entity per speaker (room).

soco is synchronous. Every call runs on the speaker's own one-thread pool under
`asyncio.timeout`: a slow speaker holds up only itself, its commands keep their
order, and a command still waiting when its caller gives up is dropped rather than sent late.
soco's own HTTP timeout (`soco.config.REQUEST_TIMEOUT`, process-wide) is set to the same
bound so a thread never outlives a call by much. (soco fetches a service description with a
fixed 10 s timeout the first time it calls an action without an argument list.)

The room name comes from the speaker (its zone group topology), not from discovery, so the
entity is `media_player.<room>`, named "<Room> Speaker", alias "<Room> Sonos", in area <Room>.

A speaker that answers but refuses a command (a UPnP fault such as 711 "Illegal seek target"
at the end of the queue), or a command this driver won't send, raises DeviceRefused: the speaker
stays available. Only a speaker that can't be reached (or answers with nonsense) is unavailable.

Groups: transport commands go to the speaker's group coordinator, volume and mute to the
speaker itself. The coordinator is the one the last read found: a speaker that led its group
(or stood alone) then is asked directly, and if it refuses because it has since joined another
group, the topology is read again and the command goes to the new coordinator. A group member
reads the topology before each transport command, since its old coordinator would not refuse.
`join` takes `{"group_members": [entity_id, ...]}` and finds those speakers in this speaker's
own household topology by room, so drivers need no registry of each other.
"""
from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

import requests
import soco
from soco.exceptions import SoCoSlaveException, SoCoUPnPException, UnknownSoCoException

from devices.model import Device, DeviceError, DeviceRefused, Entity
from devices.home import MAX_NAME
from devices.names import slug

T = TypeVar("T")

SERVICES = frozenset({
    "media_play", "media_pause", "media_stop", "media_next_track", "media_previous_track",
    "volume_set", "volume_mute", "play_media", "play_favorite", "join", "unjoin",
})
# What each service does, for error sentences: "refused to skip to the next track".
DOING = {
    "refresh": "report its state", "media_play": "play", "media_pause": "pause",
    "media_stop": "stop", "media_next_track": "skip to the next track",
    "media_previous_track": "go back a track", "volume_set": "change its volume",
    "volume_mute": "change its mute", "play_media": "play that", "play_favorite": "play that favorite",
    "join": "group", "unjoin": "leave its group",
}
# Transport services and the AVTransport action that does each, on the group's coordinator.
# Sent as soco's play(), pause(), ... send them, without their check that the speaker leads its
# group (a topology read every 5 s, and an event subscription when that read fails): the
# driver knows the coordinator, and a speaker that no longer is one refuses.
TRANSPORT = {"media_play": "Play", "media_pause": "Pause", "media_stop": "Stop",
             "media_next_track": "Next", "media_previous_track": "Previous"}
TRANSPORT_ARGS = [("InstanceID", 0), ("Speed", 1)]
STATES = {"PLAYING": "playing", "TRANSITIONING": "playing", "PAUSED_PLAYBACK": "paused"}


@dataclass(frozen=True)
class Zone:
    """One speaker as the household topology reports it."""

    uid: str
    room: str
    host: str
    port: int

    @property
    def entity_id(self) -> str:
        return f"media_player.{slug(self.room, fallback='sonos')}"


def topology(speaker: soco.SoCo) -> list[list[Zone]]:
    """The household's groups as `speaker` reports them, each with its coordinator first.

    One request, read straight from the speaker, so a slow or absent member costs nothing.
    """
    # An explicit (empty) argument list spares soco a service-description fetch.
    xml = speaker.zoneGroupTopology.GetZoneGroupState([])["ZoneGroupState"]
    groups = []
    for group in ET.fromstring(xml).iter("ZoneGroup"):
        zones = []
        for member in group.iter("ZoneGroupMember"):
            if member.get("Invisible") == "1":  # bridges and bonded speakers are not rooms
                continue
            location = urlsplit(member.get("Location", ""))
            zones.append(Zone(member.get("UUID", ""), member.get("ZoneName", ""),
                              location.hostname or "", location.port or 1400))
        zones.sort(key=lambda z: z.uid != group.get("Coordinator"))
        if zones:
            groups.append(zones)
    return groups


class SonosDriver:
    def __init__(self, device: Device, timeout: float = 3.0) -> None:
        self.device = device
        self.timeout = timeout
        soco.config.REQUEST_TIMEOUT = timeout
        self.soco = soco.SoCo(device.host, device.port)
        self.room = ""  # learnt from the speaker on the first refresh
        self._group: list[Zone] = []  # as last read (coordinator first); touched on the pool only
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"sonos-{device.host}")

    @property
    def entity_id(self) -> str:
        return f"media_player.{slug(self.room, fallback='sonos')}" if self.room else ""

    async def refresh(self) -> list[Entity]:
        return [await self._run("refresh", self._read)]

    async def call(self, entity_id: str, service: str, data: dict[str, Any]) -> None:
        if not self.room:
            await self.refresh()
        if entity_id != self.entity_id:
            raise DeviceRefused(f"{entity_id} is not on {self._where()}")
        if service not in SERVICES:
            raise DeviceRefused(f"The {self.room} speaker is a media player: it can't {service}")
        await self._run(service, self._command(service, data))

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- reading --------------------------------------------------------------------------

    def _read(self) -> Entity:
        """Runs on the speaker's thread."""
        group = self._my_group(topology(self.soco))
        leader = self._soco(group[0])
        transport = leader.get_current_transport_info()["current_transport_state"]
        track = leader.get_current_track_info()
        favorites = self.soco.music_library.get_sonos_favorites()
        return Entity(
            entity_id=self.entity_id, name=f"{self.room} Speaker", device_id=self.device.device_id,
            area=self.room, aliases=[f"{self.room} Sonos"], state=STATES.get(transport, "idle"),
            services=set(SERVICES),
            attributes={
                "volume_level": self.soco.volume / 100,
                "is_volume_muted": self.soco.mute,
                "media_title": track["title"] or None,
                "media_artist": track["artist"] or None,
                "media_content_id": track["uri"] or None,
                "group_members": [z.entity_id for z in group],
                "favorites": [f.title for f in favorites],
            },
        )

    def _my_group(self, groups: list[list[Zone]]) -> list[Zone]:
        """This speaker's group (coordinator first); learns the room name on the way."""
        for group in groups:
            for zone in group:
                if self._is_me(zone):
                    self.room, self._group = zone.room, group
                    self.device.name = zone.room[:MAX_NAME]  # its zone, as the Sonos app names it; not RINCON_...
                    return group
        raise DeviceError(f"{self._who()} does not list itself among its household's rooms")

    def _is_me(self, zone: Zone) -> bool:
        return (zone.host, zone.port) == (self.device.host, self.device.port)

    def _soco(self, zone: Zone) -> soco.SoCo:
        return soco.SoCo(zone.host, zone.port)

    def _leader(self) -> soco.SoCo:
        """The coordinator of this speaker's group: it owns play, pause, tracks."""
        return self._soco(self._my_group(topology(self.soco))[0])

    # -- commands -------------------------------------------------------------------------

    def _command(self, service: str, data: dict[str, Any]) -> Callable[[], None]:
        """Check the data here (on the event loop) and return the work for the thread."""
        if service in TRANSPORT:
            return lambda: self._transport(TRANSPORT[service])
        if service == "volume_set":
            level = data.get("volume_level")
            if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 <= level <= 1:
                raise DeviceRefused(f"A volume level is a number from 0 to 1, not {level!r}")
            return lambda: setattr(self.soco, "volume", round(level * 100))
        if service == "volume_mute":
            muted = data.get("is_volume_muted")
            if not isinstance(muted, bool):
                raise DeviceRefused(f"is_volume_muted must be true or false, not {muted!r}")
            return lambda: setattr(self.soco, "mute", muted)
        if service == "play_media":
            uri = data.get("media_content_id")
            if not isinstance(uri, str) or not uri.strip():
                raise DeviceRefused("Say what to play: media_content_id needs a URI")
            title = str(data.get("media_title") or "")
            return lambda: self._leader().play_uri(uri.strip(), title=title)
        if service == "play_favorite":
            name = data.get("favorite")
            if not isinstance(name, str) or not name.strip():
                raise DeviceRefused("Say which favorite to play")
            return lambda: self._play_favorite(name.strip())
        if service == "join":
            members = data.get("group_members")
            if not (isinstance(members, list) and members and all(isinstance(m, str) for m in members)):
                raise DeviceRefused("join needs group_members: a list of media_player entity ids")
            return lambda: self._join(members)
        return self._unjoin

    def _unjoin(self) -> None:
        self._group = []  # it changes now; read it again before the next transport command
        self.soco.unjoin()

    def _transport(self, action: str) -> None:
        """Play, pause, ... on the coordinator; the topology is read again only when it may
        have changed (see the module's docstring)."""
        def send(zone: Zone) -> None:
            getattr(self._soco(zone).avTransport, action)(TRANSPORT_ARGS)

        leader = self._group[0] if self._group and self._is_me(self._group[0]) else None
        if leader is None:
            send(self._my_group(topology(self.soco))[0])
            return
        try:
            send(leader)
        except SoCoUPnPException:
            now = self._my_group(topology(self.soco))[0]
            if now == leader:  # it still leads: the refusal is the answer
                raise
            send(now)

    def _play_favorite(self, name: str) -> None:
        favorites = self.soco.music_library.get_sonos_favorites()
        match = next((f for f in favorites if f.title.casefold() == name.casefold()), None)
        if match is None:
            have = ", ".join(f.title for f in favorites) or "none"
            raise DeviceRefused(f"The {self.room} speaker has no favorite called {name!r} (it has: {have})")
        self._leader().play_uri(match.reference.get_uri(), match.resource_meta_data)

    def _join(self, members: list[str]) -> None:
        groups = topology(self.soco)
        mine = self._my_group(groups)
        zones = {z.entity_id: z for group in groups for z in group}
        missing = [m for m in members if m not in zones]
        if missing:
            known = ", ".join(sorted(zones))
            raise DeviceRefused(f"The {self.room} speaker's household has no {', '.join(missing)} "
                              f"(its speakers are {known})")
        self._group = []  # it changes now; read it again before the next transport command
        if mine[0].entity_id != self.entity_id:  # it leads the new group, so it leaves its old one
            self.soco.unjoin()
        for member in dict.fromkeys(members):
            if member != self.entity_id:
                self._soco(zones[member]).join(self.soco)

    # -- running soco ---------------------------------------------------------------------

    async def _run(self, service: str, work: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        doing = DOING[service]
        try:
            # asyncio.timeout, not wait_for: no extra task (and loop turn) per command. On a
            # timeout the future is cancelled all the same, so work not yet started is dropped.
            async with asyncio.timeout(self.timeout):
                return await loop.run_in_executor(self._pool, work)
        except (TimeoutError, requests.Timeout):
            raise DeviceError(f"I can't reach {self._where()} (timed out after {self.timeout:g} s)") from None
        except requests.ConnectionError as e:
            raise DeviceError(f"I can't reach {self._where()} ({_reason(e)})") from None
        except SoCoUPnPException as e:
            why = e.error_description or "an error it did not name"
            raise DeviceRefused(f"{self._who()} refused to {doing}: {why} (UPnP error {e.error_code})") from None
        except SoCoSlaveException:
            raise DeviceRefused(f"{self._who()} couldn't {doing}: its group changed just now; "
                              "try again in a few seconds") from None
        except UnknownSoCoException:
            raise DeviceError(f"{self._who()} failed to {doing} (HTTP 500 with no explanation)") from None
        except requests.HTTPError as e:
            raise DeviceError(f"{self._who()} failed to {doing} (HTTP {e.response.status_code})") from None
        except ET.ParseError:
            raise DeviceError(f"{self._who()} sent a reply I couldn't read when asked to {doing}") from None

    def _who(self) -> str:
        return f"The {self.room} speaker" if self.room else f"The Sonos speaker at {self._address()}"

    def _where(self) -> str:
        if self.room:
            return f"the {self.room} speaker at {self._address()}"
        return f"the Sonos speaker at {self._address()}"

    def _address(self) -> str:
        return f"{self.device.host}:{self.device.port}"


def _reason(error: requests.ConnectionError) -> str:
    text = str(error)
    if "Connection refused" in text:
        return "connection refused"
    if "RemoteDisconnected" in text or "Connection aborted" in text or "reset by peer" in text:
        return "it dropped the connection"
    return "the network said: " + text
