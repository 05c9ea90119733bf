"""Home Assistant bridge: mirror chosen HA entities as Claw entities, placed as HA places them.

States and service calls go over HA's REST API; areas, floors and aliases come from HA's
registries and to-do items from `todo.get_items`, over its WebSocket API. `follow` keeps one
WebSocket open, subscribed to `state_changed`, to registry changes and to each to-do list's
items; while it is connected and caught up, the driver's copy *is* HA's state, so `refresh`
(the read-back after a command, and the poll) answers from it with no request, and a command
costs one POST. After every (re)connect the driver re-reads states, registries and items, and
reports what changed while it was away, so a dropped connection loses nothing.

The token goes only to the address the driver was made for (or the owner's URL, which may be
`https://`, checked against the system's CAs or the owner's CA file); which Home Assistant may
have it is decided before a driver is made (claw.house).
"""
from __future__ import annotations

import asyncio
import fnmatch
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import aiohttp

from devices.families.homeassistant.places import Placement, read_placement
from devices.families.homeassistant.socket import HaSocket
from devices.http import DeviceHttp
from devices.follow import keep_following
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
    "vacuum": frozenset({"start", "pause", "stop", "return_to_base", "locate", "clean_area"}),
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
    "todo": frozenset({"add_item", "update_item", "remove_item"}),
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
    "vacuum": {"pause": 4, "stop": 8, "return_to_base": 16, "locate": 512, "start": 8192,
               "clean_area": 16384},
    "lawn_mower": {"start_mowing": 1, "dock": 4},
    "todo": {"add_item": 1, "remove_item": 2, "update_item": 4},
}
# HA announces registry changes with these events; the driver re-reads the registries then.
REGISTRY_EVENTS = ("floor_registry_updated", "area_registry_updated", "device_registry_updated",
                   "entity_registry_updated")


class TokenRejected(DeviceError):
    def __init__(self) -> None:
        super().__init__("Home Assistant rejected the token; make a new long-lived token in your HA "
                         "profile and send it to me")

OnChange = Callable[[Entity], Awaitable[None] | None]


def to_entity(state: dict[str, Any], device_id: str, placement: Placement | None = None,
              items: list[dict[str, Any]] | None = None) -> Entity:
    """A Claw entity from one HA state object (attributes kept in HA's units), placed where
    HA's registries put it; a to-do list carries its items as `items`."""
    entity_id = state["entity_id"]
    domain, object_id = entity_id.split(".", 1)
    attributes = dict(state.get("attributes") or {})
    if domain == "todo":
        attributes["items"] = [{"summary": i["summary"], "status": i["status"]} for i in items or ()]
    place = (placement or Placement()).of(entity_id)
    return Entity(
        entity_id=entity_id,
        name=attributes.get("friendly_name") or object_id.replace("_", " "),
        device_id=device_id,
        area=place.area,
        floor=place.floor,
        aliases=list(place.aliases),
        area_aliases=list(place.area_aliases),
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
        self._known: dict[str, dict[str, Any]] = {}  # entity_id -> last HA state object seen
        self._placement = Placement()
        self._items: dict[str, list[dict[str, Any]]] = {}  # to-do list -> its items
        self._reported: dict[str, Entity] = {}  # entity_id -> as last handed to Claw
        # Set while follow() holds a subscribed, caught-up WebSocket: then _known is HA's state,
        # and what a command changed is reported at once to this (follow's on_change).
        self._live: OnChange | None = None

    @property
    def base_url(self) -> str:
        return self._http.base_url

    def mirrors(self, entity_id: str) -> bool:
        if entity_id.split(".", 1)[0] not in DOMAIN_SERVICES:
            return False
        return self._include is None or any(fnmatch.fnmatchcase(entity_id, p) for p in self._include)

    # -- reading the house -----------------------------------------------------------------

    async def refresh(self) -> list[Entity]:
        """Every mirrored entity. While following, from the followed copy (no request);
        otherwise states over REST, then registries and to-do items over the WebSocket."""
        if self._live is None:
            states = await self._request("GET", "/api/states")
            async with self._socket() as sock:
                await self._catch_up(sock, states)
        entities = [self._entity(entity_id) for entity_id in self._known]
        self._reported.update((e.entity_id, e) for e in entities)
        return entities

    async def refresh_entity(self, entity_id: str) -> Entity:
        """One entity, read back after a command: while following, from the followed copy
        (HA's answer to the command is in it already); otherwise its state (and a to-do
        list's items) read again, not every state HA has."""
        if self._live is None:
            self._take(await self._request("GET", f"/api/states/{entity_id}"))
            if entity_id.startswith("todo."):
                self._items.update(await self._todo_items([entity_id]))
        entity = self._entity(entity_id)
        self._reported[entity_id] = entity
        return entity

    async def _todo_items(self, lists: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The items of these to-do lists, in one `todo.get_items` call (HA leaves out a list
        that is unavailable)."""
        if not lists:
            return {}
        answer = await self._request("POST", "/api/services/todo/get_items?return_response",
                                     json={"entity_id": lists})
        return {e: found["items"] for e, found in answer["service_response"].items()}

    def _entity(self, entity_id: str) -> Entity:
        return to_entity(self._known[entity_id], self.device.device_id, self._placement,
                         self._items.get(entity_id))

    # -- commands --------------------------------------------------------------------------

    async def call(self, entity_id: str, service: str, data: dict[str, Any]) -> None:
        domain = entity_id.split(".", 1)[0]
        if not self.mirrors(entity_id):
            raise DeviceError(f"{entity_id} is not one of the Home Assistant entities I mirror")
        known = self._known.get(entity_id)
        if service not in _services(domain, known["attributes"] if known else {}):
            raise DeviceError(f"{entity_id} can't do {service}")
        body = {**self._service_data(service, data), "entity_id": entity_id}
        # HA answers with the states the call changed: they are the read-back.
        changed = [s["entity_id"] for s in await self._request("POST", f"/api/services/{domain}/{service}",
                                                                 json=body) if self._take(s)]
        if domain == "todo":  # a list's items are not in its state: read them back
            self._items.update(await self._todo_items([entity_id]))
            changed.append(entity_id)
        if self._live is not None:
            for changed_id in dict.fromkeys(changed):
                await self._report(changed_id, self._live)

    def _service_data(self, service: str, data: dict[str, Any]) -> dict[str, Any]:
        if service == "play_media":  # HA wants a content type and takes no title
            return {"media_content_id": data.get("media_content_id"),
                    "media_content_type": data.get("media_content_type") or "music"}
        if service == "clean_area" and "area" in data:  # Claw names the area, HA wants its id
            area_id = self._placement.area_id(str(data["area"]))
            if area_id is None:
                raise DeviceRefused(f"{self._where()} has no area called {data['area']!r}")
            return {"cleaning_area_id": [area_id]}
        return dict(data)

    def _take(self, state: dict[str, Any]) -> bool:
        """Keep `state` if it is news: different from, and not older than, what we last saw."""
        entity_id = state["entity_id"]
        if not self.mirrors(entity_id):
            return False
        known = self._known.get(entity_id)
        if known is not None:
            if (known["state"], known["attributes"]) == (state["state"], state["attributes"]):
                return False
            if _when(state) < _when(known):  # an event already covered by a newer read
                return False
        self._known[entity_id] = state
        return True

    async def close(self) -> None:
        await self._http.close()

    def _where(self) -> str:
        return f"Home Assistant at {self.device.host}:{self.device.port}"

    async def _request(self, method: str, path: str, json: dict[str, Any] | None = None) -> Any:
        async with self._http.request(method, path, self._where(), json) as resp:
            if resp.status == 401:
                raise TokenRejected()
            if resp.status == 400:
                service = path.removeprefix("/api/services/").split("?")[0].replace("/", ".")
                raise DeviceRefused(f"{self._where()} refused {service} with {json}; "
                                    "check the values are valid for that entity")
            if resp.status == 404:
                raise DeviceError(f"{self._where()} has no {path.rsplit('/', 1)[-1]}")
            if resp.status != 200:
                raise DeviceError(f"{self._where()} answered with an error (HTTP {resp.status})")
            return await resp.json()

    # -- WebSocket -------------------------------------------------------------------------

    @asynccontextmanager
    async def _socket(self) -> AsyncIterator[HaSocket]:
        """An authenticated WebSocket for commands and subscriptions."""
        url = self.base_url + "/api/websocket"
        ws_timeout = aiohttp.ClientWSTimeout(ws_receive=None, ws_close=self._http.timeout)
        async with self._http.reaching(self._where(), lost=True) as session, \
                session.ws_connect(url, heartbeat=30, timeout=ws_timeout) as ws:
            await self._authenticate(ws)
            sock = HaSocket(ws, self._where(), self._http.timeout)
            try:
                yield sock
            finally:
                await sock.close()

    async def follow(
        self, on_change: OnChange, min_backoff: float = 0.5, max_backoff: float = 5.0
    ) -> None:
        """Report every change of a mirrored entity to `on_change` until cancelled.

        Reconnects after a lost connection (backoff doubling from min_backoff to max_backoff)
        and catches up on what changed meanwhile. A rejected token ends it with DeviceError:
        retrying would only get this host banned by HA's failed-login protection.
        """
        async def once() -> None:
            try:
                await self._follow_once(on_change)
            finally:
                self._live = None  # refresh and commands read HA again until it is back

        await keep_following(once, self._where, min_backoff, max_backoff, fatal=(TokenRejected,))

    async def _follow_once(self, on_change: OnChange) -> None:
        async with self._socket() as sock:
            # Subscribed first, then read: nothing can slip between the two.
            states_sub, *registry_subs = await asyncio.gather(
                sock.subscribe("subscribe_events", event_type="state_changed"),
                *(sock.subscribe("subscribe_events", event_type=kind) for kind in REGISTRY_EVENTS))
            lists: dict[int, str] = {}  # item subscription -> its to-do list
            await self._catch_up(sock, await sock.command("get_states"))
            for entity_id in [e for e in self._known if e.startswith("todo.")]:
                lists[await sock.subscribe("todo/item/subscribe", entity_id=entity_id)] = entity_id
            for entity_id in set(self._reported) - set(self._known):  # removed while we were away
                await self._gone(entity_id, on_change)
            for entity_id in list(self._known):
                await self._report(entity_id, on_change)
            self._live = on_change
            while (message := await sock.next_event()) is not None:
                sub_id, event = message
                if sub_id == states_sub:
                    await self._state_changed(sock, event["data"], lists, on_change)
                elif sub_id in registry_subs:
                    self._placement = await read_placement(sock, list(self._known))
                    for entity_id in list(self._known):
                        await self._report(entity_id, on_change)
                elif sub_id in lists:
                    self._items[lists[sub_id]] = event["items"]
                    await self._report(lists[sub_id], on_change)

    async def _catch_up(self, sock: HaSocket, states: list[dict[str, Any]]) -> None:
        """Take HA's states (keeping newer ones already seen), and read where they are and what
        is on the to-do lists."""
        fresh = {s["entity_id"]: s for s in states if self.mirrors(s["entity_id"])}
        for entity_id in set(self._known) - set(fresh):
            self._known.pop(entity_id)  # removed from HA
        for state in fresh.values():
            self._take(state)
        self._placement = await read_placement(sock, list(self._known))
        self._items = await self._todo_items([e for e in self._known if e.startswith("todo.")])

    async def _state_changed(self, sock: HaSocket, data: dict[str, Any], lists: dict[int, str],
                             on_change: OnChange) -> None:
        entity_id, state = data["entity_id"], data.get("new_state")
        if not self.mirrors(entity_id):
            return
        if state is None:  # removed from HA
            self._known.pop(entity_id, None)
            await self._gone(entity_id, on_change)
            return
        new = entity_id not in self._known
        if self._take(state):
            if new and entity_id.startswith("todo."):
                lists[await sock.subscribe("todo/item/subscribe", entity_id=entity_id)] = entity_id
            await self._report(entity_id, on_change)

    async def _gone(self, entity_id: str, on_change: OnChange) -> None:
        """An entity HA no longer has: Claw keeps it, unavailable (nothing is deleted)."""
        self._reported.pop(entity_id, None)
        await _deliver(on_change, Entity(entity_id=entity_id, name=entity_id,
                                         device_id=self.device.device_id, state="unavailable"))

    async def _report(self, entity_id: str, on_change: OnChange) -> None:
        """Hand the entity to Claw if it differs from what Claw last had."""
        entity = self._entity(entity_id)
        if self._reported.get(entity_id) != entity:
            self._reported[entity_id] = entity
            await _deliver(on_change, entity)

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


async def _deliver(on_change: OnChange, entity: Entity) -> None:
    result = on_change(entity)
    if inspect.isawaitable(result):
        await result


def _when(state: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(state["last_updated"])


def make_driver(device: Device, token: str, include: list[str] | None = None, url: str = "",
                ca_file: str = "") -> HomeAssistantDriver:
    return HomeAssistantDriver(device, token, include=include, url=url, ca_file=ca_file)
