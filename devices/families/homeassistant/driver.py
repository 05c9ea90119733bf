"""Home Assistant bridge: mirror chosen HA entities as Claw entities.

State and service calls go over HA's REST API; changes arrive on its WebSocket API
(`subscribe_events` for `state_changed`). After every (re)connect the driver re-reads all states
and reports what changed while it was away, so a dropped connection loses nothing.

The token goes only to the address the driver was made for (or the owner's URL, which may be
`https://`, checked against the system's CAs or the owner's CA file); which Home Assistant may
have it is decided before a driver is made (claw.house).
"""
from __future__ import annotations

import asyncio
import fnmatch
import inspect
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp

from devices.http import DeviceHttp
from devices.model import Device, DeviceError, DeviceRefused, Entity

log = logging.getLogger(__name__)

# Services Claw may call per mirrored domain (HA's names). Domains absent here are not mirrored.
DOMAIN_SERVICES: dict[str, frozenset[str]] = {
    "light": frozenset({"turn_on", "turn_off", "toggle"}),
    "switch": frozenset({"turn_on", "turn_off", "toggle"}),
    "fan": frozenset({"turn_on", "turn_off", "toggle", "set_percentage"}),
    "media_player": frozenset({
        "turn_on", "turn_off", "media_play", "media_pause", "media_stop", "media_next_track",
        "media_previous_track", "volume_set", "volume_mute", "play_media",
    }),
    "vacuum": frozenset({"start", "return_to_base"}),
    "lawn_mower": frozenset({"start_mowing", "dock"}),
    "scene": frozenset({"turn_on"}),
    "script": frozenset({"turn_on"}),
    "cover": frozenset({"open_cover", "close_cover", "stop_cover", "set_cover_position"}),
    "valve": frozenset({"open_valve", "close_valve", "set_valve_position"}),
    "lock": frozenset({"lock", "unlock"}),
    "climate": frozenset({"set_temperature", "set_hvac_mode"}),
    "water_heater": frozenset({"set_temperature"}),
    "alarm_control_panel": frozenset({"alarm_arm_away", "alarm_arm_home", "alarm_disarm"}),
    "sensor": frozenset(),
    "binary_sensor": frozenset(),
    "person": frozenset(),
    "weather": frozenset(),
}

# HA's <Domain>EntityFeature bits: where an entity reports `supported_features`, it lists only
# the services it says it supports (services without a bit here are always listed).
_FEATURES: dict[str, dict[str, int]] = {
    "cover": {"open_cover": 1, "close_cover": 2, "set_cover_position": 4, "stop_cover": 8},
    "fan": {"set_percentage": 1},
    "media_player": {
        "media_pause": 1, "volume_set": 4, "volume_mute": 8, "media_previous_track": 16,
        "media_next_track": 32, "turn_on": 128, "turn_off": 256, "play_media": 512,
        "media_stop": 4096, "media_play": 16384,
    },
    "vacuum": {"return_to_base": 16, "start": 8192},
    "lawn_mower": {"start_mowing": 1, "dock": 4},
}


class TokenRejected(DeviceError):
    def __init__(self) -> None:
        super().__init__("Home Assistant rejected the token; make a new long-lived token in your HA "
                         "profile and send it to me")

OnChange = Callable[[Entity], Awaitable[None] | None]


def to_entity(state: dict[str, Any], device_id: str) -> Entity:
    """A Claw entity from one HA state object (attributes kept in HA's units)."""
    entity_id = state["entity_id"]
    domain, object_id = entity_id.split(".", 1)
    attributes = dict(state.get("attributes") or {})
    return Entity(
        entity_id=entity_id,
        name=attributes.get("friendly_name") or object_id.replace("_", " "),
        device_id=device_id,
        area=attributes.get("area"),
        device_class=attributes.get("device_class"),
        state=state["state"],
        attributes=attributes,
        services=_services(domain, attributes),
    )


def _services(domain: str, attributes: dict[str, Any]) -> set[str]:
    """The services of DOMAIN_SERVICES[domain] that the entity says it supports."""
    services = DOMAIN_SERVICES.get(domain, frozenset())
    features, bits = attributes.get("supported_features"), _FEATURES.get(domain, {})
    if isinstance(features, int):
        return {s for s in services if s not in bits or features & bits[s]}
    return set(services)


class HomeAssistantDriver:
    def __init__(
        self, device: Device, token: str, include: list[str] | None = None, timeout: float = 3.0,
        url: str = "", ca_file: str = "",
    ) -> None:
        self.device = device
        self._token = token  # never logged, never put in an error message
        # Entity ids or fnmatch patterns ("lock.*"); None mirrors every supported domain.
        self._include = include
        self._http = DeviceHttp(device, timeout, headers={"Authorization": f"Bearer {token}"},
                                url=url, ca_file=ca_file)
        # entity_id -> last state object seen, to report only real changes after a reconnect.
        self._known: dict[str, dict[str, Any]] = {}

    @property
    def base_url(self) -> str:
        return self._http.base_url

    def mirrors(self, entity_id: str) -> bool:
        if entity_id.split(".", 1)[0] not in DOMAIN_SERVICES:
            return False
        return self._include is None or any(fnmatch.fnmatchcase(entity_id, p) for p in self._include)

    # -- REST ------------------------------------------------------------------------------

    async def refresh(self) -> list[Entity]:
        states = await self._request("GET", "/api/states")
        entities = []
        for state in states:
            if self.mirrors(state["entity_id"]):
                self._known[state["entity_id"]] = state
                entities.append(to_entity(state, self.device.device_id))
        return entities

    async def refresh_entity(self, entity_id: str) -> Entity:
        """One entity read again after a command, not every state HA has."""
        state = await self._request("GET", f"/api/states/{entity_id}")
        self._known[entity_id] = state
        return to_entity(state, self.device.device_id)

    async def call(self, entity_id: str, service: str, data: dict[str, Any]) -> None:
        domain = entity_id.split(".", 1)[0]
        if not self.mirrors(entity_id):
            raise DeviceError(f"{entity_id} is not one of the Home Assistant entities I mirror")
        known = self._known.get(entity_id)
        if service not in _services(domain, known["attributes"] if known else {}):
            raise DeviceError(f"{entity_id} can't do {service}")
        if service == "play_media":  # HA wants a content type and takes no title
            data = {"media_content_id": data.get("media_content_id"),
                    "media_content_type": data.get("media_content_type") or "music"}
        # The answer lists the changed states; follow() reports them from HA's events.
        await self._request("POST", f"/api/services/{domain}/{service}", json={**data, "entity_id": entity_id})

    async def close(self) -> None:
        await self._http.close()

    def _where(self) -> str:
        return f"Home Assistant at {self.device.host}:{self.device.port}"

    async def _request(self, method: str, path: str, json: dict[str, Any] | None = None) -> Any:
        async with self._http.request(method, path, self._where(), json) as resp:
            if resp.status == 401:
                raise TokenRejected()
            if resp.status == 400:
                service = path.removeprefix("/api/services/").replace("/", ".")
                raise DeviceRefused(f"{self._where()} refused {service} with {json}; "
                                  "check the values are valid for that entity")
            if resp.status == 404:
                raise DeviceError(f"{self._where()} has no {path.rsplit('/', 1)[-1]}")
            if resp.status != 200:
                raise DeviceError(f"{self._where()} answered with an error (HTTP {resp.status})")
            return await resp.json()

    # -- WebSocket -------------------------------------------------------------------------

    async def follow(
        self, on_change: OnChange, min_backoff: float = 0.5, max_backoff: float = 5.0
    ) -> None:
        """Report every change of a mirrored entity to `on_change` until cancelled.

        Reconnects after a lost connection (backoff doubling from min_backoff to max_backoff)
        and catches up on what changed meanwhile. A rejected token ends it with DeviceError:
        retrying would only get this host banned by HA's failed-login protection.
        """
        delay = min_backoff
        while True:
            try:
                await self._follow_once(on_change)
                log.info("%s closed the event stream; reconnecting", self._where())
                delay = min_backoff
            except TokenRejected:
                raise
            except DeviceError as exc:
                log.warning("%s; retrying in %g s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_backoff)

    async def _follow_once(self, on_change: OnChange) -> None:
        url = self.base_url + "/api/websocket"
        ws_timeout = aiohttp.ClientWSTimeout(ws_receive=None, ws_close=self._http.timeout)
        async with self._http.reaching(self._where(), lost=True) as session, \
                session.ws_connect(url, heartbeat=30, timeout=ws_timeout) as ws:
            await self._authenticate(ws)
            await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": "state_changed"})
            reply = await self._receive(ws)
            if not reply.get("success"):
                raise DeviceError(f"{self._where()} refused the event subscription: {reply.get('error')}")
            # Subscribed first, then read: nothing can slip between the two.
            for state in await self._request("GET", "/api/states"):
                await self._observe(state["entity_id"], state, on_change)
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                event = msg.json()
                if event.get("type") == "event" and event["event"].get("event_type") == "state_changed":
                    data = event["event"]["data"]
                    await self._observe(data["entity_id"], data.get("new_state"), on_change)

    async def _authenticate(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        hello = await self._receive(ws)
        if hello.get("type") != "auth_required":
            raise DeviceError(f"{self._where()} does not speak the Home Assistant WebSocket API")
        await ws.send_json({"type": "auth", "access_token": self._token})
        answer = await self._receive(ws)
        if answer.get("type") == "auth_invalid":
            raise TokenRejected()
        if answer.get("type") != "auth_ok":
            raise DeviceError(f"{self._where()} answered the login with {answer.get('type')!r}")

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
        msg = await ws.receive(timeout=self._http.timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise DeviceError(f"{self._where()} closed the event stream during setup")
        return msg.json()

    async def _observe(self, entity_id: str, state: dict[str, Any] | None, on_change: OnChange) -> None:
        """Report `state` if it is news: different from, and not older than, what we last saw."""
        if not self.mirrors(entity_id):
            return
        if state is None:  # removed from HA
            self._known.pop(entity_id, None)
            gone = Entity(entity_id=entity_id, name=entity_id, device_id=self.device.device_id,
                          state="unavailable")
            await _deliver(on_change, gone)
            return
        known = self._known.get(entity_id)
        if known is not None:
            if (known["state"], known["attributes"]) == (state["state"], state["attributes"]):
                return
            if _when(state) < _when(known):  # an event already covered by a catch-up read
                return
        self._known[entity_id] = state
        await _deliver(on_change, to_entity(state, self.device.device_id))


async def _deliver(on_change: OnChange, entity: Entity) -> None:
    result = on_change(entity)
    if inspect.isawaitable(result):
        await result


def _when(state: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(state["last_updated"])


def make_driver(device: Device, token: str, include: list[str] | None = None, url: str = "",
                ca_file: str = "") -> HomeAssistantDriver:
    return HomeAssistantDriver(device, token, include=include, url=url, ca_file=ca_file)
