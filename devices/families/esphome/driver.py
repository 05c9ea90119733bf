"""ESPHome nodes over the native API, through aioesphomeapi (the library Home Assistant uses).

One long-lived connection per node: on connect the driver reads the device info and the
entities the node reports, then subscribes to states, which the node pushes on every change.
`refresh()` answers from those pushed states (connecting first if the connection is down);
commands are one frame each, and `call()` waits briefly for the node's new state so that what
is read back right after a command is current. `follow()` reports each pushed change and
reconnects with backoff when the node goes away; a fresh subscription re-sends every state,
so changes made while it was away are reported too.

Entities: lights, switches, sensors, binary sensors and covers; other kinds a node reports are
skipped. A node with an API encryption key is spoken to over Noise when the driver has its key
(pinned to the node's MAC); without it the owner is told which key is missing.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aioesphomeapi import (
    APIClient, APIConnectionError, BadMACAddressAPIError, BinarySensorInfo, BinarySensorState, CoverInfo,
    CoverOperation, CoverState, DeviceInfo, EncryptionHelloAPIError, EncryptionPlaintextAPIError,
    EntityInfo, EntityState, InvalidEncryptionKeyAPIError, LightInfo, LightState,
    RequiresEncryptionAPIError, SensorInfo, SensorState, SwitchInfo, SwitchState,
)

from devices.colors import color_name_target
from devices.home import MAX_NAME
from devices.model import Device, DeviceError, Entity
from devices.names import slug

log = logging.getLogger(__name__)

OnChange = Callable[[Entity], Awaitable[None] | None]

DOMAIN_OF: dict[type[EntityInfo], str] = {
    LightInfo: "light", SwitchInfo: "switch", SensorInfo: "sensor",
    BinarySensorInfo: "binary_sensor", CoverInfo: "cover",
}
TURN_ON_KEYS = {"brightness_pct", "rgb_color", "color_name", "color_temp_kelvin", "transition"}
# ESPHome's colour-mode numbers are capability bit sets (esphome/components/light/color_mode.h).
CAP_BRIGHTNESS, CAP_COLOR_TEMPERATURE, CAP_COLD_WARM_WHITE, CAP_RGB = 2, 8, 16, 32
CONFIRM_WAIT = 1.0  # seconds a command waits for the node's new state before returning


class EsphomeDriver:
    def __init__(self, device: Device, area: str | None = None, timeout: float = 3.0,
                 encryption_key: str | None = None, mac: str | None = None) -> None:
        self.device = device
        self.area = area
        self.timeout = timeout
        # The node's `api: encryption: key:` (base64), and the MAC it was given for: a key is
        # only ever used with the node that proves it has the same one, at that MAC.
        self.encryption_key = encryption_key
        self.mac = mac
        self._client: APIClient | None = None  # connected, or None
        self._connecting: asyncio.Lock = asyncio.Lock()
        self._info: DeviceInfo | None = None
        self._entities: dict[int, EntityInfo] = {}  # key -> what the node reported
        self._states: dict[int, EntityState] = {}  # key -> its latest pushed state
        self._keys: dict[str, int] = {}  # entity_id -> key
        self._initial: dict[int, asyncio.Future[None]] = {}  # key -> its first state arrived
        self._waiting: dict[int, asyncio.Future[None]] = {}  # key -> a command's confirmation
        self._closed = False
        self._changes: asyncio.Queue[int | None] | None = None  # keys changed; None: connection lost

    # -- Driver protocol -------------------------------------------------------------------
    async def refresh(self) -> list[Entity]:
        client = await self._connected()
        # States are pushed; one round trip proves the node still answers (a hung node keeps
        # its connection open for aioesphomeapi's 90 s keepalive).
        await self._device_info(client)
        return [self._entity(key) for key in self._entities if key in self._states]

    async def call(self, entity_id: str, service: str, data: dict[str, Any]) -> None:
        client = await self._connected()
        key = self._keys.get(entity_id)
        if key is None:
            raise DeviceError(f"{entity_id} is not on {self._where()}")
        services = _services(self._entities[key])
        if service not in services:
            raise DeviceError(f"{self._name(self._entities[key])} can't {service.replace('_', ' ')}; it can "
                              + (", ".join(sorted(s.replace("_", " ") for s in services)) or "only report"))
        confirmed = self._waiting[key] = asyncio.get_running_loop().create_future()
        try:
            self._send(client, key, service, data)
        except APIConnectionError as exc:
            raise self._lost_error(exc) from None
        # The node answers a command with its new state. A command that changes nothing may
        # get none: then one round trip shows that the node is still there to have taken it.
        try:
            async with asyncio.timeout(CONFIRM_WAIT):
                await confirmed
        except TimeoutError:
            await self._device_info(client)
        finally:
            self._waiting.pop(key, None)

    async def close(self) -> None:
        self._closed = True
        if self._changes is not None:
            self._changes.put_nowait(None)  # ends follow()
        client, self._client = self._client, None
        if client is not None:
            await client.disconnect()

    # -- the connection --------------------------------------------------------------------
    async def _connected(self) -> APIClient:
        async with self._connecting:
            if self._client is not None and not self._client.is_connected:
                self._client = None  # it dropped; its on_stop may not have run yet
            if self._client is None:
                self._client = await self._connect()
            return self._client

    async def _device_info(self, client: APIClient) -> None:
        try:
            self._info = await client.device_info()
        except APIConnectionError as exc:
            raise self._lost_error(exc) from None

    async def _connect(self) -> APIClient:
        if self._closed:
            raise DeviceError(f"{self._where()} is no longer driven by this connection")
        client = APIClient(self.device.host, self.device.port, None, client_info="claw",
                           noise_psk=self.encryption_key,
                           expected_mac=self.mac.replace(":", "").lower() if self.mac else None)

        async def lost(expected: bool) -> None:
            if self._client is client:
                self._lost(expected)

        try:
            async with asyncio.timeout(self.timeout):
                await client.connect(on_stop=lost, login=False, log_errors=False)  # we say it once
                info, entities, _services = await client.device_info_and_list_entities()
        except RequiresEncryptionAPIError:
            raise DeviceError(f"{_cap(self._where())} uses an API encryption key, and I don't have "
                              "it: it is the `api: encryption: key:` in the node's YAML") from None
        except InvalidEncryptionKeyAPIError:
            raise DeviceError(f"{_cap(self._where())} refused the encryption key I have for it; "
                              "the key in its YAML may have changed") from None
        except (EncryptionHelloAPIError, EncryptionPlaintextAPIError):
            # Fail closed: a node that had a key and now answers in the clear may not be that node.
            raise DeviceError(f"{_cap(self._where())} now answers without encryption, though I have "
                              "a key for it; I won't use it until that is sorted out") from None
        except BadMACAddressAPIError:
            raise DeviceError(f"The device at {self.device.host}:{self.device.port} is not the ESPHome "
                              f"node {self.device.name} (its MAC is different), so I didn't send it "
                              "anything") from None
        except TimeoutError:
            await client.disconnect(force=True)
            raise DeviceError(f"{self._where()} did not answer within {self.timeout:g} s") from None
        except asyncio.CancelledError:  # the caller's own timeout: leave no connection behind
            client.force_disconnect()
            raise
        except (APIConnectionError, OSError) as exc:
            log.info("connecting to %s failed: %s", self._where(), exc)
            raise DeviceError(f"I can't reach {self._where()}; check that it has power and is on "
                              "the network") from None
        self._info = info
        # Discovery knows the node by its hostname ("desk-node"); people by its friendly name.
        self.device.name = (info.friendly_name or info.name or self.device.name)[:MAX_NAME]
        self.device.model = info.model
        self.area = self.area or info.suggested_area or None
        self._entities = {e.key: e for e in entities if type(e) in DOMAIN_OF}
        self._states = {}
        self._keys = {self._entity_id(e): e.key for e in self._entities.values()}
        self._initial = {key: asyncio.get_running_loop().create_future() for key in self._entities}
        client.subscribe_states(self._on_state)
        # The node sends every state right after the subscription: wait for them, so the
        # first refresh is complete.
        if self._initial:
            await asyncio.wait(self._initial.values(), timeout=self.timeout)
        return client

    def _lost(self, expected: bool) -> None:
        self._client = None
        for future in self._waiting.values():  # a command waiting for its answer gets none
            if not future.done():
                future.set_exception(self._lost_error(APIConnectionError("connection closed")))
        if not expected:
            log.info("%s closed the connection", self._where())
        if self._changes is not None:
            self._changes.put_nowait(None)

    def _on_state(self, state: EntityState) -> None:
        if state.key not in self._entities:
            return
        self._states[state.key] = state
        for futures in (self._initial, self._waiting):
            future = futures.get(state.key)
            if future is not None and not future.done():
                future.set_result(None)
        if self._changes is not None:
            self._changes.put_nowait(state.key)

    def _lost_error(self, exc: APIConnectionError) -> DeviceError:
        log.info("%s: %s", self._where(), exc)
        return DeviceError(f"{_cap(self._where())} dropped the connection; it may be restarting or off "
                           "the network")

    def _where(self) -> str:
        return f"the ESPHome node {self.device.name} at {self.device.host}:{self.device.port}"

    # -- commands --------------------------------------------------------------------------
    def _send(self, client: APIClient, key: int, service: str, data: dict[str, Any]) -> None:
        info, state = self._entities[key], self._states.get(key)
        if isinstance(info, SwitchInfo):
            if data:
                raise DeviceError(f"{self._name(info)} is a switch: it only turns on and off.")
            on = not getattr(state, "state", False) if service == "toggle" else service == "turn_on"
            client.switch_command(key, on)
        elif isinstance(info, LightInfo):
            if service == "toggle":
                service = "turn_off" if getattr(state, "state", False) else "turn_on"
            if service == "turn_off":
                client.light_command(key, state=False, transition_length=data.get("transition"))
            else:
                client.light_command(key, **self._turn_on(info, data))
        elif isinstance(info, CoverInfo):
            if service == "stop_cover":
                client.cover_command(key, stop=True)
            elif service == "set_cover_position":
                client.cover_command(key, position=_position(data.get("position")) / 100)
            else:
                client.cover_command(key, position=1.0 if service == "open_cover" else 0.0)

    def _turn_on(self, info: LightInfo, data: dict[str, Any]) -> dict[str, Any]:
        unknown = set(data) - TURN_ON_KEYS
        if unknown:
            raise DeviceError(f"ESPHome lights don't take {', '.join(sorted(unknown))} when turning on.")
        caps = _capabilities(info)
        command: dict[str, Any] = {"state": True}
        if data.get("transition") is not None:
            command["transition_length"] = float(data["transition"])
        if "brightness_pct" in data:
            pct = float(data["brightness_pct"])
            if pct <= 0:  # Home Assistant's rule: turning on to 0 % means off
                return {"state": False}
            if not caps & CAP_BRIGHTNESS:
                raise DeviceError(f"{info.name or self.device.name} can't dim; it only turns on and off.")
            command["brightness"] = min(pct, 100.0) / 100
        rgb, kelvin = data.get("rgb_color"), data.get("color_temp_kelvin")
        if "color_name" in data:
            kind, value = color_name_target(str(data["color_name"]))
            rgb, kelvin = (value, None) if kind == "rgb" else (None, value)
        if rgb is not None:
            if not caps & CAP_RGB:
                raise DeviceError(f"{info.name or self.device.name} can't change colour.")
            top = max(rgb) or 1
            # Home Assistant's split: the hue as ratios, its strength as the colour brightness.
            command.update(rgb=tuple(c / top for c in rgb), color_brightness=top / 255)
        elif kelvin is not None:
            if not caps & (CAP_COLOR_TEMPERATURE | CAP_COLD_WARM_WHITE):
                raise DeviceError(f"{info.name or self.device.name} can't change its white tone.")
            mireds = 1_000_000 / float(kelvin)
            command["color_temperature"] = max(info.min_mireds, min(info.max_mireds, mireds))
        return command

    # -- entities --------------------------------------------------------------------------
    def _name(self, info: EntityInfo) -> str:
        """Home Assistant's rule: the node's name, then the entity's (none for its main one)."""
        node = self.device.name
        if not info.name or info.name.lower().startswith(node.lower()):
            return (info.name or node)[:MAX_NAME]
        return f"{node} {info.name}"[:MAX_NAME]

    def _entity_id(self, info: EntityInfo) -> str:
        return f"{DOMAIN_OF[type(info)]}.{slug(self._name(info), fallback=info.object_id or 'esphome')}"

    def _entity(self, key: int) -> Entity:
        info, state = self._entities[key], self._states.get(key)
        domain = DOMAIN_OF[type(info)]
        entity = Entity(entity_id=self._entity_id(info), name=self._name(info),
                        device_id=self.device.device_id, area=self.area, services=_services(info),
                        device_class=getattr(info, "device_class", None) or None)
        if isinstance(info, LightInfo):
            _light(entity, info, state)  # type: ignore[arg-type]
        elif isinstance(info, SwitchInfo):
            entity.state = _on_off(state)
        elif isinstance(info, CoverInfo):
            _cover(entity, info, state)  # type: ignore[arg-type]
        elif isinstance(info, SensorInfo):
            entity.state = _reading(info, state)  # type: ignore[arg-type]
            entity.attributes = {"unit_of_measurement": info.unit_of_measurement or None}
        elif domain == "binary_sensor":
            entity.state = _on_off(state)
        return entity

    # -- push updates ----------------------------------------------------------------------
    async def follow(self, on_change: OnChange, min_backoff: float = 0.5, max_backoff: float = 5.0) -> None:
        """Report every change of this node's entities to `on_change` until cancelled."""
        self._changes = changes = asyncio.Queue()
        reported: dict[str, Entity] = {}
        delay = min_backoff
        try:
            while not self._closed:
                try:
                    await self._connected()
                    delay = min_backoff
                    for key in list(self._states):
                        changes.put_nowait(key)  # what changed while we were away
                    while (key := await changes.get()) is not None:
                        entity = self._entity(key)
                        if reported.get(entity.entity_id) != entity:
                            reported[entity.entity_id] = entity
                            await _deliver(on_change, entity)
                    log.info("%s went away; reconnecting", self._where())
                except DeviceError as exc:
                    log.warning("%s; retrying in %g s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_backoff)
        finally:
            self._changes = None


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _capabilities(info: LightInfo) -> int:
    caps = 0
    for mode in info.supported_color_modes:
        caps |= mode
    return caps


def _on_off(state: SwitchState | BinarySensorState | LightState | None) -> str:
    if state is None or getattr(state, "missing_state", False):
        return "unknown"
    return "on" if state.state else "off"


def _reading(info: SensorInfo, state: SensorState | None) -> str:
    if state is None or state.missing_state:
        return "unknown"
    return f"{state.state:.{max(0, info.accuracy_decimals)}f}"


def _light(entity: Entity, info: LightInfo, state: LightState | None) -> None:
    caps = _capabilities(info)
    modes = [m for m, cap in (("color_temp", CAP_COLOR_TEMPERATURE | CAP_COLD_WARM_WHITE), ("rgb", CAP_RGB))
             if caps & cap] or (["brightness"] if caps & CAP_BRIGHTNESS else ["onoff"])
    entity.state = _on_off(state)
    attributes: dict[str, Any] = {"supported_color_modes": modes, "color_mode": None, "brightness": None,
                                  "rgb_color": None, "color_temp_kelvin": None}
    if "color_temp" in modes:
        attributes["min_color_temp_kelvin"] = round(1_000_000 / info.max_mireds)
        attributes["max_color_temp_kelvin"] = round(1_000_000 / info.min_mireds)
    if state is not None and state.state:
        if caps & CAP_BRIGHTNESS:
            attributes["brightness"] = round(state.brightness * 255)
        if state.color_mode & CAP_RGB:
            top = max(state.red, state.green, state.blue) or 1
            attributes.update(color_mode="rgb", rgb_color=[round(c / top * 255) for c in
                                                             (state.red, state.green, state.blue)])
        elif state.color_mode & (CAP_COLOR_TEMPERATURE | CAP_COLD_WARM_WHITE) and state.color_temperature:
            attributes.update(color_mode="color_temp",
                              color_temp_kelvin=round(1_000_000 / state.color_temperature))
        else:
            attributes["color_mode"] = modes[0]
    entity.attributes = attributes


def _services(info: EntityInfo) -> set[str]:
    if isinstance(info, (LightInfo, SwitchInfo)):
        return {"turn_on", "turn_off", "toggle"}
    if isinstance(info, CoverInfo):
        return ({"open_cover", "close_cover"} | ({"stop_cover"} if info.supports_stop else set())
                | ({"set_cover_position"} if info.supports_position else set()))
    return set()  # sensors report only


def _cover(entity: Entity, info: CoverInfo, state: CoverState | None) -> None:
    if state is None:
        entity.state = "unknown"
        return
    position = round(state.position * 100)
    if state.current_operation == CoverOperation.IS_OPENING:
        entity.state = "opening"
    elif state.current_operation == CoverOperation.IS_CLOSING:
        entity.state = "closing"
    else:
        entity.state = "closed" if position == 0 else "open"
    entity.attributes = {"current_position": position if info.supports_position else None}


def _position(position: Any) -> float:
    if isinstance(position, bool) or not isinstance(position, (int, float)) or not 0 <= position <= 100:
        raise DeviceError(f"A cover position is a number from 0 (closed) to 100 (open), not {position!r}")
    return float(position)


async def _deliver(on_change: OnChange, entity: Entity) -> None:
    result = on_change(entity)
    if inspect.isawaitable(result):
        await result
