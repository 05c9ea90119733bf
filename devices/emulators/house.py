"""An emulated house built from a home file: each entity served by the emulator of its family,
each emulator advertised over mDNS (and SSDP for Sonos) on one interface, so Claw finds the
house the same way it finds a real one.

Every house has an id of its own, carried by each of its adverts (devices.discovery.HOUSE_TXT,
HOUSE_HEADER): a Claw given that id adopts this house only, so two demos on one host never see
or drive each other's devices. Sonos speakers need port 1400 on an address each, so a house takes
the first loopback addresses from 127.0.0.30 up that nothing else holds.
"""
from __future__ import annotations

import asyncio
import errno
import hashlib
import secrets
import socket
from pathlib import Path
from typing import Any

from devices import homefile
from devices.advertise import Advertiser
from devices.discovery import HOUSE_HEADER, HOUSE_TXT
from devices.emulators.camera import CameraEmulator
from devices.emulators.homeassistant import HomeAssistantEmulator
from devices.emulators.hue import CT_RANGE, EmulatedLight, HueBridgeEmulator
from devices.emulators.shelly import ShellyEmulator
from devices.emulators.sonos import DEFAULT_QUEUE, ZONEPLAYER, SonosEmulator, Track
from devices.emulators.wled import WledEmulator
from devices.homefile import EntitySpec, HomeSpec

DEMO_HOME = Path(__file__).resolve().parent.parent / "homes" / "demo.yaml"
HA_TOKEN = "claw-demo-home-assistant-token-not-a-secret"
WLED_COLOR = [255, 160, 0]  # the colour a WLED strip starts with
SONOS_FIRST_HOST = 30  # speakers on 127.0.0.30, .31, ...: soco talks to one device per address
SONOS_PORT = 1400  # soco always connects there


class HouseError(Exception):
    """The house cannot start here; the message says why and what to do."""


def free_sonos_hosts(count: int) -> list[str]:
    """`count` loopback addresses whose port 1400 nothing holds now (another demo's speakers)."""
    hosts = []
    for last in range(SONOS_FIRST_HOST, 255):
        if len(hosts) == count:
            break
        host = f"127.0.0.{last}"
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds
            try:
                probe.bind((host, SONOS_PORT))
            except OSError as e:
                if e.errno != errno.EADDRINUSE:
                    raise
                continue
        hosts.append(host)
    if len(hosts) < count:
        raise HouseError(f"only {len(hosts)} of the loopback addresses 127.0.0.{SONOS_FIRST_HOST}-254 "
                         f"have port {SONOS_PORT} free, and this house has {count} Sonos speakers: "
                         "stop another `claw demo`, or use a home file with fewer speakers")
    return hosts


class EmulatedHouse:
    def __init__(self, spec: HomeSpec, interface: str = "127.0.0.1"):
        self.spec = spec
        self.interface = interface
        self.house_id = secrets.token_hex(6)
        self.advertiser = Advertiser(interface)
        self.hue = HueBridgeEmulator(interface, name=f"{spec.name} Hue Bridge")
        self.ha = HomeAssistantEmulator(interface, token=HA_TOKEN)
        self.sonos: dict[str, SonosEmulator] = {}
        self.shelly: dict[str, ShellyEmulator] = {}
        self.wled: dict[str, WledEmulator] = {}
        self.cameras: dict[str, CameraEmulator] = {}
        self._hue_lights: dict[str, str] = {}  # entity_id -> bridge light id
        self._build()

    @classmethod
    def from_file(cls, path: Path | str = DEMO_HOME, interface: str = "127.0.0.1") -> "EmulatedHouse":
        return cls(homefile.load(path), interface)

    @property
    def ha_token(self) -> str:
        return HA_TOKEN

    def _build(self) -> None:
        speakers = [e for e in self.spec.entities if e.via == "sonos"]
        if len(speakers) > 255 - SONOS_FIRST_HOST:
            raise homefile.HomeFileError(f"too many Sonos speakers (at most {255 - SONOS_FIRST_HOST})")
        sonos_hosts = iter(free_sonos_hosts(len(speakers)))
        for e in self.spec.entities:
            if e.via == "hue":
                self._hue_lights[e.entity_id] = self.hue.add_light(e.name, e.area or "Home")
            elif e.via == "sonos":
                self.sonos[e.entity_id] = SonosEmulator(
                    next(sonos_hosts), e.area or e.name,
                    household=f"Sonos_{homefile.slug(self.spec.name)}_{self.house_id}")
            elif e.via == "shelly":
                self.shelly[e.entity_id] = ShellyEmulator(
                    self.interface, name=e.name, kind="cover" if e.domain == "cover" else "switch",
                    device_class=e.attributes.get("device_class"), travel_time=1.0)
            elif e.via == "wled":
                self.wled[e.entity_id] = WledEmulator(self.interface, name=e.name)
            elif e.via == "camera":
                self.cameras[e.entity_id] = CameraEmulator(self.interface, name=e.name)
        self.reset_states()

    def reset_states(self) -> None:
        """Put every entity back to the file's initial state."""
        for e in self.spec.entities:
            _RESET[e.via](self, e)

    async def start(self) -> None:
        """Start and advertise every emulator; HouseError if a Sonos address was taken meanwhile."""
        await self.advertiser.start()
        ours = {HOUSE_TXT: self.house_id}
        # mDNS registration probes for about a second each, so the devices register in parallel.
        adverts = []
        if self._hue_lights:
            await self.hue.start()
            self.hue.press_link_button()  # as the owner would when Claw asks
            adverts.append(self.advertiser.add_mdns(
                "_hue._tcp.local.", self.hue.name, self.interface, self.hue.port,
                {"bridgeid": self.hue.bridge_id.lower(), "modelid": "BSB002", **ours}))
        if any(e.via == "homeassistant" for e in self.spec.entities):
            await self.ha.start()
            uuid = hashlib.sha1(self.spec.name.encode()).hexdigest()
            adverts.append(self.advertiser.add_mdns(
                "_home-assistant._tcp.local.", self.spec.name, self.interface, self.ha.port,
                {"uuid": uuid, "version": "2026.11.0", "base_url": self.ha.url, **ours}))
        for emu in self.sonos.values():
            # SSDP only: a real speaker's mDNS and SSDP ports differ, which would list it twice.
            try:
                await emu.start()
            except OSError as e:  # taken since free_sonos_hosts looked (two demos starting at once)
                raise HouseError(f"can't serve the {emu.room} speaker on {emu.host}:{emu.port} "
                                 f"({e.strerror}); start the demo again") from None
            await self.advertiser.add_ssdp(ZONEPLAYER, emu.ssdp_usn, emu.description_url,
                                           {**emu.ssdp_headers, HOUSE_HEADER: self.house_id})
        for entity_id, emu in self.shelly.items():
            await emu.start()
            adverts.append(self.advertiser.add_mdns(
                "_shelly._tcp.local.", emu.device_id, self.interface, emu.port,
                {"id": emu.device_id, "gen": "2", "app": emu.app, "area": self._area(entity_id), **ours}))
        for entity_id, emu in self.wled.items():
            await emu.start()
            adverts.append(self.advertiser.add_mdns(
                "_wled._tcp.local.", emu.name, self.interface, emu.port,
                {"mac": emu.mac, "area": self._area(entity_id), **ours}))
        for entity_id, emu in self.cameras.items():
            await emu.start()
            adverts.append(self.advertiser.add_mdns(
                "_claw-camera._tcp.local.", emu.name, self.interface, emu.port,
                {"id": hashlib.sha1(emu.name.encode()).hexdigest()[:12], "area": self._area(entity_id),
                 "name": emu.name, **ours}))
        await asyncio.gather(*adverts)

    def _area(self, entity_id: str) -> str:
        return next(e.area or "" for e in self.spec.entities if e.entity_id == entity_id)

    async def stop(self) -> None:
        await self.advertiser.stop()
        emulators: list[Any] = [self.hue, self.ha, *self.sonos.values(), *self.shelly.values(),
                                *self.wled.values(), *self.cameras.values()]
        await asyncio.gather(*(emu.stop() for emu in emulators), return_exceptions=True)


# -- per family: put an emulator into the file's initial state -------------------------------

def _reset_hue(house: EmulatedHouse, e: EntitySpec) -> None:
    light = house.hue.lights[house._hue_lights[e.entity_id]]
    light.on = e.state == "on"
    # The file speaks Home Assistant's 0-255, the bridge 1-254.
    light.bri = max(1, min(254, round(float(e.attributes.get("brightness", 255)) * 254 / 255)))
    fresh = EmulatedLight(light.light_id, light.name, light.color)  # undo colour changes
    light.hue, light.sat, light.xy, light.ct, light.colormode = (
        fresh.hue, fresh.sat, fresh.xy, fresh.ct, fresh.colormode)
    if e.attributes.get("color_temp_kelvin"):
        mired = round(1_000_000 / float(e.attributes["color_temp_kelvin"]))
        light.ct = max(CT_RANGE[0], min(CT_RANGE[1], mired))
    light.reachable = e.state != "unavailable"


def _reset_wled(house: EmulatedHouse, e: EntitySpec) -> None:
    emu = house.wled[e.entity_id]
    emu.on = e.state == "on"
    emu.bri = max(1, min(255, int(e.attributes.get("brightness", 128))))
    emu.seg["col"][0] = list(e.attributes.get("rgb_color") or WLED_COLOR)
    emu.seg["fx"] = 0


def _reset_sonos(house: EmulatedHouse, e: EntitySpec) -> None:
    emu = house.sonos[e.entity_id]
    if emu.uid in emu.household.speakers:  # started: every speaker plays on its own again
        emu.household.leave(emu.uid)
    queue = list(DEFAULT_QUEUE)
    if e.attributes.get("media_title"):
        queue[0] = Track(e.attributes["media_title"], e.attributes.get("media_artist", ""),
                         f"x-file-cifs://nas/music/{homefile.slug(e.attributes['media_title'])}.flac",
                         duration="0:04:00")
    state = emu.state
    state.queue, state.queue_index, state.stream = queue, 0, None
    state.uri = emu.queue_uri
    state.transport = {"playing": "PLAYING", "paused": "PAUSED_PLAYBACK"}.get(e.state, "STOPPED")
    state.volume = round(float(e.attributes.get("volume_level", 0.2)) * 100)
    state.mute = bool(e.attributes.get("is_volume_muted", False))


def _reset_shelly(house: EmulatedHouse, e: EntitySpec) -> None:
    emu = house.shelly[e.entity_id]
    if emu.kind == "switch":
        emu.output = e.state == "on"
    else:
        default = 100 if e.state == "open" else 0
        position = float(e.attributes.get("current_position", default))
        # _halt also stops a cover still moving, which would otherwise arrive after the reset.
        emu._halt(position, "open" if position > 0 else "closed")


def _reset_camera(house: EmulatedHouse, e: EntitySpec) -> None:
    house.cameras[e.entity_id].set_scene("empty")


def _reset_ha(house: EmulatedHouse, e: EntitySpec) -> None:
    attributes = {**e.attributes, "friendly_name": e.name}
    if e.area:
        attributes["area"] = e.area
    if e.entity_id in house.ha.states:
        house.ha.states[e.entity_id]["attributes"] = {}
        house.ha.set_state(e.entity_id, e.state, attributes)
    else:
        house.ha.add_entity(e.entity_id, e.state, attributes)


_RESET = {"hue": _reset_hue, "wled": _reset_wled, "sonos": _reset_sonos, "shelly": _reset_shelly,
          "camera": _reset_camera, "homeassistant": _reset_ha}
