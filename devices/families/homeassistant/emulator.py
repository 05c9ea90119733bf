"""A loopback Home Assistant that speaks the real REST and WebSocket APIs, faithful to what
HA's own client library (hass-client) and Claw's driver use.

REST: GET /api/, /api/config, /api/states, /api/states/<entity_id>;
POST /api/services/<domain>/<service> with HA's flat service data (a target, `entity_id`,
`device_id`, `area_id` or `floor_id`, beside the data), answering the states the call changed
(with `?return_response`: {"changed_states", "service_response"}). Every request needs
`Authorization: Bearer`.
WebSocket /api/websocket: auth_required -> auth -> auth_ok | auth_invalid, then commands with
ids: ping, get_states, get_config, get_services, call_service, subscribe_events (any event type),
unsubscribe_events, subscribe_entities (HA's compressed states and diffs), the floor, area,
device and entity registries (`config/*_registry/list`, `config/entity_registry/get[_entries]`),
`todo/item/list` and `todo/item/subscribe`.

Services change state as HA's integrations would (see services.py). Areas, floors and aliases
live in the registries (registries.py), never in state attributes; `add_entity` still takes an
`area` attribute, as the area its registry entry is put in. A to-do list's items live beside
its state, which is the count of items still to do, as in HA.

`zeroconf_properties()` is the TXT record HA advertises as `_home-assistant._tcp`; every bearer
token and WebSocket access token a client sends is kept in `credentials_seen`, so a test can
play a rogue instance and check what it was given.
"""
from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from typing import Any, Iterable

from aiohttp import WSCloseCode, WSMsgType, web

from devices.emulators.base import Emulator
from devices.families.homeassistant import services as ha_services
from devices.families.homeassistant.registries import Registries
from devices.families.homeassistant.services import ServiceError, now

HA_VERSION = "2026.11.1"
KEPT = 1000  # entries kept of each record of what clients did (credentials, requests, commands)
TARGET_KEYS = ("entity_id", "device_id", "area_id", "floor_id", "label_id")
REGISTRY_LISTS = {"config/floor_registry/list": "floors", "config/area_registry/list": "areas",
                  "config/device_registry/list": "devices"}
# What a vacuum or a to-do list says it supports when the file gives nothing: pause, stop,
# return, locate, state, start, clean area; create, delete, update items.
DEFAULT_FEATURES = {"vacuum": 4 | 8 | 16 | 512 | 4096 | 8192 | 16384, "todo": 1 | 2 | 4}


def _context() -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "parent_id": None, "user_id": None}


class _Connection:
    """One WebSocket client; everything it is sent goes through one queue so that a
    subscription's `result` always precedes its events."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.ws = ws
        self.request = request
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        # subscription id -> ("events", event type or "*") | ("entities", ids) | ("todo", entity id)
        self.subscriptions: dict[int, tuple[str, Any]] = {}

    def send(self, message: dict[str, Any]) -> None:
        self.outbox.put_nowait(message)

    async def write(self) -> None:
        while True:
            await self.ws.send_json(await self.outbox.get())


class HomeAssistantEmulator(Emulator):
    def __init__(self, host: str = "127.0.0.1", port: int = 0, token: str = "claw-test-token",
                 instance_uuid: str = "", location_name: str = "Home",
                 commands: Iterable[str] | None = None) -> None:
        self._connections: set[_Connection] = set()
        super().__init__(host, port)
        self.token = token
        self.uuid = instance_uuid or uuid.uuid4().hex  # HA's instance id, kept across restarts
        self.location_name = location_name
        self.credentials_seen: list[str] = []  # every Authorization header and WebSocket token
        self.states: dict[str, dict[str, Any]] = {}
        self.registries = Registries()
        self.todo_items: dict[str, list[dict[str, Any]]] = {}  # to-do entity id -> its items
        self.service_calls: list[tuple[str, str, dict[str, Any]]] = []
        self.websocket_connects = 0  # authenticated connections, ever
        self.commands_seen: list[str] = []  # every WebSocket command type, in order
        self.requests_seen: list[str] = []  # every REST request, as "GET /api/states"
        # WebSocket commands it knows (None: all); fewer plays an older Home Assistant
        self.commands = set(commands) if commands is not None else None

    # -- lifecycle -------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.middlewares.append(self._auth)
        app.router.add_get("/api/websocket", self._websocket)
        app.router.add_get("/api/", self._api_status)
        app.router.add_get("/api/config", self._api_config)
        app.router.add_get("/api/states", self._api_states)
        app.router.add_get("/api/states/{entity_id}", self._api_state)
        app.router.add_post("/api/services/{domain}/{service}", self._api_service)

    @property
    def fail(self) -> str | None:
        return self._fail

    @fail.setter
    def fail(self, value: str | None) -> None:
        """As Emulator.fail; "offline" also drops every open WebSocket unanswered, as a Home
        Assistant that lost power would."""
        self._fail = value
        if value == "offline":
            for conn in self._connections:
                if conn.request.transport is not None:
                    conn.request.transport.abort()

    async def stop(self) -> None:
        await self.drop_websockets()
        await super().stop()

    async def drop_websockets(self) -> None:
        """Close every WebSocket, as a Home Assistant restart would."""
        for conn in list(self._connections):
            await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"restarting")

    @property
    def subscriber_count(self) -> int:
        """Connections following state changes (subscribe_events or subscribe_entities)."""
        return sum(1 for conn in self._connections
                   if any(kind == "entities" or (kind == "events" and what in ("state_changed", "*"))
                          for kind, what in conn.subscriptions.values()))

    async def wait_for_subscribers(self, count: int = 1, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while self.subscriber_count < count:
                await asyncio.sleep(0.02)

    def zeroconf_properties(self) -> dict[str, str]:
        """What HA's zeroconf integration puts in its TXT record."""
        return {"location_name": self.location_name, "uuid": self.uuid, "version": HA_VERSION,
                "external_url": "", "internal_url": self.url, "base_url": self.url,
                "requires_api_password": "True"}

    # -- state -----------------------------------------------------------------------------

    def add_entity(self, entity_id: str, state: str, attributes: dict[str, Any] | None = None, *,
                   area: str | None = None, aliases: Iterable[str] = (),
                   device: str | None = None) -> dict[str, Any]:
        """A new entity with its registry entry: in `area` (a name; an `area` attribute means
        the same), or on `device` (a device id) and so in its area. A to-do list's `items`
        attribute becomes its items."""
        attrs = dict(attributes or {})
        area = attrs.pop("area", None) or area
        domain = entity_id.split(".", 1)[0]
        attrs.setdefault("friendly_name", entity_id.split(".", 1)[1].replace("_", " ").title())
        if domain in DEFAULT_FEATURES:
            attrs.setdefault("supported_features", DEFAULT_FEATURES[domain])
        if domain == "todo":
            self.todo_items[entity_id] = todo_items(attrs.pop("items", []))
            state = _todo_count(self.todo_items[entity_id])
        self.registries.entity(entity_id, attrs["friendly_name"], area=area, device_id=device, aliases=aliases)
        stamp = now()
        self.states[entity_id] = {
            "entity_id": entity_id, "state": state, "attributes": attrs,
            "last_changed": stamp, "last_updated": stamp, "context": _context(),
        }
        self._fire("state_changed", {"entity_id": entity_id, "old_state": None,
                                     "new_state": self.states[entity_id]})
        return self.states[entity_id]

    def set_state(
        self,
        entity_id: str,
        state: str,
        attributes: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Change an entity from the HA side (merging attributes) and push `state_changed`."""
        old = self.states[entity_id]
        attrs = {**old["attributes"], **(attributes or {})}
        stamp = now()
        new = {
            "entity_id": entity_id,
            "state": state,
            "attributes": attrs,
            "last_changed": stamp if state != old["state"] else old["last_changed"],
            "last_updated": stamp,
            "context": context or _context(),
        }
        self.states[entity_id] = new
        self._fire("state_changed", {"entity_id": entity_id, "old_state": old, "new_state": new},
                   new["context"])
        return new

    def set_items(self, entity_id: str, items: list[dict[str, Any]],
                  context: dict[str, Any] | None = None) -> dict[str, Any]:
        """A to-do list's new items: its state becomes their count, its subscribers hear of them."""
        self.todo_items[entity_id] = items
        for conn in self._connections:
            for sub_id, (kind, what) in conn.subscriptions.items():
                if kind == "todo" and what == entity_id:
                    conn.send({"id": sub_id, "type": "event", "event": {"items": _items_json(items)}})
        return self.set_state(entity_id, _todo_count(items), context=context)

    def update_registry(self, kind: str, key: str, **changes: Any) -> None:
        """Change a floor, area, device or entity registry entry and announce it as HA does
        (`<kind>_registry_updated`), e.g. update_registry("entity", "light.x", area_id="study")."""
        entries = {"floor": self.registries.floors, "area": self.registries.areas,
                   "device": self.registries.devices, "entity": self.registries.entities}[kind]
        entry = entries[key]
        old = {k: entry[k] for k in changes}
        entry.update(changes, modified_at=datetime.now().timestamp())
        id_key = {"floor": "floor_id", "area": "area_id", "device": "device_id", "entity": "entity_id"}[kind]
        data: dict[str, Any] = {"action": "update", id_key: key}
        if kind in ("device", "entity"):
            data["changes"] = old
        self._fire(f"{kind}_registry_updated", data)

    def seed_demo(self) -> None:
        self.add_entity("climate.hallway", "heat", {
            "friendly_name": "Hallway Thermostat",
            "hvac_modes": ["off", "heat", "cool", "auto"],
            "current_temperature": 19.5, "temperature": 20.0,
            "min_temp": 7.0, "max_temp": 35.0, "target_temp_step": 0.5,
            "supported_features": 385,
        })
        self.add_entity("lock.front_door", "locked", {"friendly_name": "Front Door", "supported_features": 0})
        self.add_entity("alarm_control_panel.house", "disarmed", {
            "friendly_name": "House Alarm", "code_format": None, "code_arm_required": False,
            "changed_by": None, "supported_features": 63,
        })
        self.add_entity("water_heater.spa", "electric", {
            "friendly_name": "Spa", "current_temperature": 37.0, "temperature": 38.0,
            "min_temp": 10.0, "max_temp": 40.0, "operation_list": ["off", "electric"],
            "operation_mode": "electric", "supported_features": 3,
        })
        self.add_entity("sensor.spa_temperature", "37.0", {
            "friendly_name": "Spa Temperature", "device_class": "temperature",
            "state_class": "measurement", "unit_of_measurement": "°C",
        })
        self.add_entity("binary_sensor.driveway_motion", "off", {
            "friendly_name": "Driveway Motion", "device_class": "motion",
        })

    # -- services --------------------------------------------------------------------------

    def call_service(self, domain: str, service: str, data: dict[str, Any], return_response: bool = False,
                     context: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Run a service the way HA would: the target (entity, device, area, floor ids, flat
        in `data` as HA merges them) names the entities, those of `domain` take it. Returns
        the states it changed and, with return_response, the service's response."""
        _note(self.service_calls, (domain, service, data))
        # HA has the services of the integrations it loaded: here, of the house's domains.
        loaded = domain == "homeassistant" or any(e.startswith(domain + ".") for e in self.states)
        if not loaded or service not in ha_services.SERVICES.get(domain, ()):
            raise ServiceError(f"Service {domain}.{service} not found.", "not_found")
        if ((domain, service) in ha_services.RESPONSE_ONLY) != return_response:
            raise ServiceError("Service call requires responses but caller did not ask for responses"
                               if return_response is False else
                               "An action which does not return responses can't be called with return_response=True")
        target = {k: data[k] for k in TARGET_KEYS if k in data}
        fields = {k: v for k, v in data.items() if k not in TARGET_KEYS}
        if not target:
            raise ServiceError("must contain at least one of entity_id, device_id, area_id, floor_id, "
                               "label_id.", "invalid_format")
        context = context or _context()
        changed, response = [], {}
        areas = set(self.registries.areas)
        for entity_id in self.registries.targets(target, self.states):
            if entity_id not in self.states:  # HA logs a warning and leaves it out
                continue
            entity_domain = entity_id.split(".", 1)[0]
            verb = service
            if domain == "homeassistant":
                verb = ha_services.HOMEASSISTANT_SERVICES.get((entity_domain, service), service)
            elif entity_domain != domain:  # an area holds other domains too: they are left out
                continue
            if entity_domain == "todo":
                items = self.todo_items[entity_id]
                if verb == "get_items":
                    wanted = fields.get("status") or ["needs_action", "completed"]
                    response[entity_id] = {"items": _items_json(
                        [i for i in items if i["status"] in wanted])}
                    continue
                if verb not in ha_services.TODO_FEATURES:
                    raise ServiceError(f"Service todo.{verb} not found.", "not_found")
                ha_services.supports(self.states[entity_id]["attributes"], ha_services.TODO_FEATURES[verb],
                                     f"todo.{verb}")
                changed.append(self.set_items(entity_id, ha_services.todo(verb, items, fields, uuid.uuid4().hex),
                                              context))
                continue
            state, attrs = ha_services.apply(entity_domain, verb, self.states[entity_id], fields, areas)
            changed.append(self.set_state(entity_id, state, attrs, context))
        self._fire("call_service", {"domain": domain, "service": service, "service_data": data}, context)
        return changed, (response if return_response else None)

    # -- HTTP ------------------------------------------------------------------------------

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        # The WebSocket API authenticates inside the socket instead.
        if request.path != "/api/websocket":
            _note(self.requests_seen, f"{request.method} {request.path}")
            _note(self.credentials_seen, request.headers.get("Authorization", ""))
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return web.Response(status=401, text="401: Unauthorized")
        return await handler(request)

    async def _api_status(self, request: web.Request) -> web.Response:
        return web.json_response({"message": "API running."})

    async def _api_config(self, request: web.Request) -> web.Response:
        return web.json_response(self.config())

    def config(self) -> dict[str, Any]:
        """HA's core config, as /api/config and get_config give it (hass.config.as_dict())."""
        return {
            "allowlist_external_dirs": ["/config/www", "/media"], "allowlist_external_urls": [],
            "components": sorted({e.split(".", 1)[0] for e in self.states}
                                 | {"api", "websocket_api", "config", "homeassistant"}),
            "config_dir": "/config", "config_source": "storage", "country": "GB", "currency": "GBP",
            "debug": False, "elevation": 20, "external_url": None, "internal_url": self.url,
            "language": "en", "latitude": 51.5, "location_name": self.location_name, "longitude": -0.12,
            "radius": 100, "recovery_mode": False, "safe_mode": False, "state": "RUNNING",
            "time_zone": "Europe/London",
            "unit_system": {"length": "km", "accumulated_precipitation": "mm", "area": "m²", "mass": "g",
                            "pressure": "Pa", "temperature": "°C", "volume": "L", "wind_speed": "m/s"},
            "version": HA_VERSION, "whitelist_external_dirs": ["/config/www", "/media"],
        }

    async def _api_states(self, request: web.Request) -> web.Response:
        return web.json_response(list(self.states.values()))

    async def _api_state(self, request: web.Request) -> web.Response:
        state = self.states.get(request.match_info["entity_id"])
        if state is None:
            return web.json_response({"message": "Entity not found."}, status=404)
        return web.json_response(state)

    async def _api_service(self, request: web.Request) -> web.Response:
        body = await request.text()
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return web.json_response({"message": "Data should be valid JSON."}, status=400)
        return_response = "return_response" in request.query
        try:
            changed, response = self.call_service(request.match_info["domain"], request.match_info["service"],
                                                  data, return_response)
        except ServiceError:
            return web.Response(status=400, text="400: Bad Request")  # HA gives no detail here
        if return_response:
            return web.json_response({"changed_states": changed, "service_response": response})
        return web.json_response(changed)

    # -- WebSocket -------------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "auth_required", "ha_version": HA_VERSION})
        auth = await ws.receive_json(timeout=10)
        _note(self.credentials_seen, str(auth.get("access_token", "")))
        if auth.get("type") != "auth" or auth.get("access_token") != self.token:
            await ws.send_json({"type": "auth_invalid", "message": "Invalid access token or password"})
            await ws.close()
            return ws
        await ws.send_json({"type": "auth_ok", "ha_version": HA_VERSION})
        self.websocket_connects += 1
        conn = _Connection(ws, request)
        self._connections.add(conn)
        writer = asyncio.create_task(conn.write())
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    break
                self._command(conn, msg.json())
        finally:
            self._connections.discard(conn)
            writer.cancel()
        return ws

    def _command(self, conn: _Connection, msg: dict[str, Any]) -> None:
        msg_id, kind = msg.get("id"), msg.get("type")
        _note(self.commands_seen, str(kind))

        def result(value: Any = None) -> None:
            conn.send({"id": msg_id, "type": "result", "success": True, "result": value})

        def error(code: str, message: str) -> None:
            conn.send({"id": msg_id, "type": "result", "success": False,
                       "error": {"code": code, "message": message}})

        if self.commands is not None and kind not in self.commands:
            error("unknown_command", "Unknown command.")
        elif kind == "ping":
            conn.send({"id": msg_id, "type": "pong"})
        elif kind == "get_states":
            result(list(self.states.values()))
        elif kind == "get_config":
            result(self.config())
        elif kind == "get_services":
            result(ha_services.descriptions({e.split(".", 1)[0] for e in self.states}))
        elif kind == "subscribe_events":
            conn.subscriptions[msg_id] = ("events", msg.get("event_type", "*"))
            result()
        elif kind == "subscribe_entities":
            wanted = set(msg.get("entity_ids") or ())
            conn.subscriptions[msg_id] = ("entities", wanted)
            result()
            conn.send({"id": msg_id, "type": "event", "event": {"a": {
                e: _compressed(s) for e, s in self.states.items() if not wanted or e in wanted}}})
        elif kind == "unsubscribe_events":
            if conn.subscriptions.pop(msg.get("subscription"), None) is None:
                error("not_found", "Subscription not found.")
            else:
                result()
        elif kind == "call_service":
            data = {**(msg.get("service_data") or {}), **(msg.get("target") or {})}
            context = _context()
            try:
                _, response = self.call_service(str(msg.get("domain")), str(msg.get("service")), data,
                                                bool(msg.get("return_response")), context)
            except ServiceError as e:
                error(e.code, str(e))
                return
            result({"context": context, **({"response": response} if msg.get("return_response") else {})})
        elif kind in REGISTRY_LISTS:
            result(list(getattr(self.registries, REGISTRY_LISTS[kind]).values()))
        elif kind == "config/entity_registry/list":
            result(self.registries.list_entities())
        elif kind == "config/entity_registry/get":
            entry = self.registries.entities.get(msg.get("entity_id", ""))
            if entry is None:
                error("not_found", "Entity not found")
            else:
                result(entry)
        elif kind == "config/entity_registry/get_entries":
            result(self.registries.get_entries(list(msg.get("entity_ids") or [])))
        elif kind in ("todo/item/list", "todo/item/subscribe"):
            entity_id = msg.get("entity_id")
            if entity_id not in self.todo_items:
                error("not_found", "Entity not found")
            elif kind == "todo/item/list":
                result({"items": _items_json(self.todo_items[entity_id])})
            else:
                conn.subscriptions[msg_id] = ("todo", entity_id)
                result()
                conn.send({"id": msg_id, "type": "event",
                           "event": {"items": _items_json(self.todo_items[entity_id])}})
        else:
            error("unknown_command", "Unknown command.")

    def _fire(self, event_type: str, data: dict[str, Any], context: dict[str, Any] | None = None) -> None:
        """Send an event to every subscription that wants it (state changes also as diffs)."""
        event = {"event_type": event_type, "data": data, "origin": "LOCAL", "time_fired": now(),
                 "context": context or _context()}
        for conn in self._connections:
            for sub_id, (kind, what) in conn.subscriptions.items():
                if kind == "events" and what in (event_type, "*"):
                    conn.send({"id": sub_id, "type": "event", "event": event})
                elif kind == "entities" and event_type == "state_changed" and (
                        not what or data["entity_id"] in what):
                    conn.send({"id": sub_id, "type": "event", "event": _diff(data)})


def _note(seen: list[Any], item: Any) -> None:
    """Keep `item` in a record tests read; the oldest go once there are many (a demo runs for days)."""
    seen.append(item)
    if len(seen) > 2 * KEPT:
        del seen[:-KEPT]


def todo_items(given: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A to-do list's items from a file's {"summary", "status"} (each gets a uid, as in HA)."""
    return [{"uid": uuid.uuid4().hex, "summary": str(i["summary"]), "status": i.get("status", "needs_action")}
            for i in given]


def _todo_count(items: list[dict[str, Any]]) -> str:
    return str(sum(1 for i in items if i["status"] == "needs_action"))


def _items_json(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(i) for i in items]


def _stamp(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _context_value(context: dict[str, Any]) -> str | dict[str, Any]:
    """HA sends a context as its id alone when it has no parent and no user."""
    if context.get("parent_id") is None and context.get("user_id") is None:
        return context["id"]
    return context


def _compressed(state: dict[str, Any]) -> dict[str, Any]:
    """HA's compressed state (subscribe_entities): s, a, c, lc, and lu when it differs."""
    out = {"s": state["state"], "a": state["attributes"], "c": _context_value(state["context"]),
           "lc": _stamp(state["last_changed"])}
    if state["last_updated"] != state["last_changed"]:
        out["lu"] = _stamp(state["last_updated"])
    return out


def _diff(data: dict[str, Any]) -> dict[str, Any]:
    """HA's subscribe_entities message for one state_changed event: a (added), c (changed:
    "+" what is new, "-" attributes removed) or r (removed)."""
    old, new = data["old_state"], data["new_state"]
    if new is None:
        return {"r": [data["entity_id"]]}
    if old is None:
        return {"a": {new["entity_id"]: _compressed(new)}}
    additions: dict[str, Any] = {}
    if old["state"] != new["state"]:
        additions["s"] = new["state"]
    if old["last_changed"] != new["last_changed"]:
        additions["lc"] = _stamp(new["last_changed"])
    elif old["last_updated"] != new["last_updated"]:
        additions["lu"] = _stamp(new["last_updated"])
    if old["context"]["id"] != new["context"]["id"]:
        additions["c"] = new["context"]["id"]
    added = {k: v for k, v in new["attributes"].items() if old["attributes"].get(k, object()) != v}
    if added:
        additions["a"] = added
    diff: dict[str, Any] = {"+": additions}
    removed = [k for k in old["attributes"] if k not in new["attributes"]]
    if removed:
        diff["-"] = {"a": removed}
    return {"c": {new["entity_id"]: diff}}
