"""A loopback Home Assistant that speaks the real REST and WebSocket APIs (the subset Claw uses).

Services change state as HA's would for lights, switches, fans, covers, valves, locks, alarm
panels, climate, water heaters, media players, vacuums, lawn mowers, scenes and scripts;
sensors, people and weather only change through `set_state`.

REST: GET /api/, /api/config, /api/states, /api/states/<entity_id>;
POST /api/services/<domain>/<service> with HA's flat service data ({"entity_id": ..., **data}),
answering the list of states the call changed. Every request needs `Authorization: Bearer`.
WebSocket /api/websocket: auth_required -> auth -> auth_ok | auth_invalid, then commands with
ids: subscribe_events (state_changed), get_states, ping.

`zeroconf_properties()` is the TXT record HA advertises as `_home-assistant._tcp`; every bearer
token and WebSocket access token a client sends is kept in `credentials_seen`, so a test can
play a rogue instance and check what it was given.
"""
from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timezone
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from devices.emulators.base import Emulator

HA_VERSION = "2026.11.1"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _context() -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "parent_id": None, "user_id": None}


class ServiceError(Exception):
    """A service call HA would refuse with 400 (unknown service, invalid data)."""


class _Connection:
    """One WebSocket client; everything it is sent goes through one queue so that a
    subscription's `result` always precedes its events."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.subscriptions: set[int] = set()  # ids of state_changed subscriptions

    async def write(self) -> None:
        while True:
            await self.ws.send_json(await self.outbox.get())


class HomeAssistantEmulator(Emulator):
    def __init__(self, host: str = "127.0.0.1", port: int = 0, token: str = "claw-test-token",
                 instance_uuid: str = "", location_name: str = "Home") -> None:
        super().__init__(host, port)
        self.token = token
        self.uuid = instance_uuid or uuid.uuid4().hex  # HA's instance id, kept across restarts
        self.location_name = location_name
        self.credentials_seen: list[str] = []  # every Authorization header and WebSocket token
        self.states: dict[str, dict[str, Any]] = {}
        self.service_calls: list[tuple[str, str, dict[str, Any]]] = []
        self.websocket_connects = 0  # authenticated connections, ever
        self._connections: set[_Connection] = set()

    # -- lifecycle -------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.middlewares.append(self._auth)
        app.router.add_get("/api/websocket", self._websocket)
        app.router.add_get("/api/", self._api_status)
        app.router.add_get("/api/config", self._api_config)
        app.router.add_get("/api/states", self._api_states)
        app.router.add_get("/api/states/{entity_id}", self._api_state)
        app.router.add_post("/api/services/{domain}/{service}", self._api_service)

    async def stop(self) -> None:
        await self.drop_websockets()
        await super().stop()

    async def drop_websockets(self) -> None:
        """Close every WebSocket, as a Home Assistant restart would."""
        for conn in list(self._connections):
            await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"restarting")

    @property
    def subscriber_count(self) -> int:
        return sum(1 for conn in self._connections if conn.subscriptions)

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

    def add_entity(self, entity_id: str, state: str, attributes: dict[str, Any] | None = None) -> dict[str, Any]:
        attrs = dict(attributes or {})
        attrs.setdefault("friendly_name", entity_id.split(".", 1)[1].replace("_", " ").title())
        now = _now()
        self.states[entity_id] = {
            "entity_id": entity_id,
            "state": state,
            "attributes": attrs,
            "last_changed": now,
            "last_updated": now,
            "context": _context(),
        }
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
        now = _now()
        new = {
            "entity_id": entity_id,
            "state": state,
            "attributes": attrs,
            "last_changed": now if state != old["state"] else old["last_changed"],
            "last_updated": now,
            "context": context or _context(),
        }
        self.states[entity_id] = new
        event = {
            "event_type": "state_changed",
            "data": {"entity_id": entity_id, "old_state": old, "new_state": new},
            "origin": "LOCAL",
            "time_fired": now,
            "context": new["context"],
        }
        for conn in self._connections:
            for sub_id in conn.subscriptions:
                conn.outbox.put_nowait({"id": sub_id, "type": "event", "event": event})
        return new

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

    def call_service(self, domain: str, service: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        """Run a service the way HA would; returns the states it changed."""
        self.service_calls.append((domain, service, data))
        ids = data.get("entity_id")
        if ids is None:
            raise ServiceError("entity_id is required")
        ids = [ids] if isinstance(ids, str) else list(ids)
        context = _context()
        changed = []
        for entity_id in ids:
            if entity_id not in self.states:
                raise ServiceError(f"Entity {entity_id} not found")
            target_domain = entity_id.split(".", 1)[0]
            if domain == "homeassistant":
                service = _HOMEASSISTANT_SERVICES.get((target_domain, service), service)
            elif domain != target_domain:
                raise ServiceError(f"{domain}.{service} does not apply to {entity_id}")
            state, attrs = self._apply(target_domain, service, self.states[entity_id], data)
            changed.append(self.set_state(entity_id, state, attrs, context))
        return changed

    def _apply(
        self, domain: str, service: str, current: dict[str, Any], data: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """The new (state, changed attributes) of one entity after one service."""
        state, attrs = current["state"], current["attributes"]
        match domain, service:
            case ("light" | "switch" | "fan", "toggle"):
                return self._apply(domain, "turn_off" if state == "on" else "turn_on", current, data)
            case ("light", "turn_on"):
                changes: dict[str, Any] = {}
                if "brightness_pct" in data:
                    changes["brightness"] = round(float(data["brightness_pct"]) * 255 / 100)
                elif "brightness" in data:
                    changes["brightness"] = int(data["brightness"])
                elif attrs.get("brightness") is None:
                    changes["brightness"] = 255
                for key in ("rgb_color", "color_temp_kelvin"):
                    if key in data:
                        changes[key] = data[key]
                return "on", changes
            case ("light", "turn_off"):
                return "off", {"brightness": None}
            case ("switch", "turn_on"):
                return "on", {}
            case ("switch", "turn_off"):
                return "off", {}
            case ("fan", "turn_on"):
                percentage = int(_number(data, "percentage", 1, 100)) if "percentage" in data else 100
                return "on", {"percentage": percentage}
            case ("fan", "turn_off"):
                return "off", {"percentage": 0}
            case ("fan", "set_percentage"):
                percentage = int(_number(data, "percentage", 0, 100))
                return ("on" if percentage else "off"), {"percentage": percentage}
            case ("media_player", "turn_on"):
                return "idle", {}
            case ("media_player", "turn_off"):
                return "off", {}
            case ("media_player", "media_play"):
                if state == "off":
                    raise ServiceError("Media player is off")
                return "playing", {}
            case ("media_player", "media_pause"):
                return ("paused" if state in ("playing", "buffering") else state), {}
            case ("media_player", "media_stop"):
                return ("idle" if state != "off" else state), {}
            case ("media_player", "media_next_track" | "media_previous_track"):
                track = attrs.get("media_track") or 1
                step = 1 if service == "media_next_track" else -1
                return state, {"media_track": max(1, track + step)}
            case ("media_player", "volume_set"):
                return state, {"volume_level": _number(data, "volume_level", 0, 1)}
            case ("media_player", "volume_mute"):
                if not isinstance(data.get("is_volume_muted"), bool):
                    raise ServiceError("is_volume_muted must be a boolean")
                return state, {"is_volume_muted": data["is_volume_muted"]}
            case ("media_player", "play_media"):
                if not data.get("media_content_id") or not data.get("media_content_type"):
                    raise ServiceError("media_content_id and media_content_type are required")
                return "playing", {"media_content_id": data["media_content_id"],
                                   "media_content_type": data["media_content_type"],
                                   "media_title": None, "media_artist": None}
            case ("vacuum", "start"):
                return "cleaning", {}
            case ("vacuum", "return_to_base"):
                return "returning", {}
            case ("lawn_mower", "start_mowing"):
                return "mowing", {}
            case ("lawn_mower", "dock"):
                return "returning", {}
            case ("scene", "turn_on"):  # a scene's state is when it was last activated
                return _now(), {}
            case ("script", "turn_on"):  # runs to its end at once here
                return "off", {"last_triggered": _now()}
            case ("cover", "open_cover"):
                return "open", {"current_position": 100}
            case ("cover", "close_cover"):
                return "closed", {"current_position": 0}
            case ("cover", "stop_cover"):
                return state, {}
            case ("cover", "set_cover_position"):
                position = _number(data, "position", 0, 100)
                return ("closed" if position == 0 else "open"), {"current_position": int(position)}
            case ("valve", "open_valve"):
                return "open", {}
            case ("valve", "close_valve"):
                return "closed", {}
            case ("valve", "set_valve_position"):
                position = _number(data, "position", 0, 100)
                return ("closed" if position == 0 else "open"), {"current_position": int(position)}
            case ("lock", "lock"):
                return "locked", {}
            case ("lock", "unlock"):
                return "unlocked", {}
            case ("alarm_control_panel", "alarm_arm_away" | "alarm_arm_home" | "alarm_arm_night"):
                if attrs.get("code_arm_required") and not data.get("code"):
                    raise ServiceError("Arming requires a code but none was given")
                return "armed_" + service.removeprefix("alarm_arm_"), {}
            case ("alarm_control_panel", "alarm_disarm"):
                return "disarmed", {}
            case ("climate", "set_temperature"):
                temperature = _number(data, "temperature", attrs.get("min_temp", 7), attrs.get("max_temp", 35))
                return _hvac_mode(data.get("hvac_mode", state), attrs), {"temperature": temperature}
            case ("climate", "set_hvac_mode"):
                return _hvac_mode(data.get("hvac_mode"), attrs), {}
            case ("water_heater", "set_temperature"):
                temperature = _number(data, "temperature", attrs.get("min_temp", 10), attrs.get("max_temp", 60))
                return state, {"temperature": temperature}
        raise ServiceError(f"Service {domain}.{service} not found.")

    # -- HTTP ------------------------------------------------------------------------------

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        # The WebSocket API authenticates inside the socket instead.
        if request.path != "/api/websocket":
            self.credentials_seen.append(request.headers.get("Authorization", ""))
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return web.Response(status=401, text="401: Unauthorized")
        return await handler(request)

    async def _api_status(self, request: web.Request) -> web.Response:
        return web.json_response({"message": "API running."})

    async def _api_config(self, request: web.Request) -> web.Response:
        return web.json_response({
            "location_name": "Home", "version": HA_VERSION, "time_zone": "Europe/London",
            "unit_system": {"length": "km", "mass": "g", "temperature": "°C", "volume": "L"},
            "components": sorted({e.split(".", 1)[0] for e in self.states} | {"api", "websocket_api"}),
            "state": "RUNNING",
        })

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
        try:
            changed = self.call_service(request.match_info["domain"], request.match_info["service"], data)
        except ServiceError:
            return web.Response(status=400, text="400: Bad Request")  # HA gives no detail here
        return web.json_response(changed)

    # -- WebSocket -------------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "auth_required", "ha_version": HA_VERSION})
        auth = await ws.receive_json(timeout=10)
        self.credentials_seen.append(str(auth.get("access_token", "")))
        if auth.get("type") != "auth" or auth.get("access_token") != self.token:
            await ws.send_json({"type": "auth_invalid", "message": "Invalid access token or password"})
            await ws.close()
            return ws
        await ws.send_json({"type": "auth_ok", "ha_version": HA_VERSION})
        self.websocket_connects += 1
        conn = _Connection(ws)
        self._connections.add(conn)
        writer = asyncio.create_task(conn.write())
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    break
                conn.outbox.put_nowait(self._command(conn, msg.json()))
        finally:
            self._connections.discard(conn)
            writer.cancel()
        return ws

    def _command(self, conn: _Connection, msg: dict[str, Any]) -> dict[str, Any]:
        msg_id, kind = msg.get("id"), msg.get("type")
        if kind == "ping":
            return {"id": msg_id, "type": "pong"}
        if kind == "get_states":
            return {"id": msg_id, "type": "result", "success": True, "result": list(self.states.values())}
        if kind == "subscribe_events" and msg.get("event_type") == "state_changed":
            conn.subscriptions.add(msg_id)
            return {"id": msg_id, "type": "result", "success": True, "result": None}
        if kind == "unsubscribe_events":
            conn.subscriptions.discard(msg.get("subscription"))
            return {"id": msg_id, "type": "result", "success": True, "result": None}
        return {"id": msg_id, "type": "result", "success": False,
                "error": {"code": "unknown_command", "message": "Unknown command."}}


# homeassistant.turn_on/off maps to a cover's own verbs, as in HA; other domains use theirs.
_HOMEASSISTANT_SERVICES = {("cover", "turn_on"): "open_cover", ("cover", "turn_off"): "close_cover"}


def _hvac_mode(mode: Any, attrs: dict[str, Any]) -> str:
    if mode not in attrs.get("hvac_modes", []):
        raise ServiceError(f"HVAC mode {mode} is not valid")
    return str(mode)


def _number(data: dict[str, Any], key: str, low: float, high: float) -> float:
    if key not in data:
        raise ServiceError(f"{key} is required")
    value = float(data[key])
    if not low <= value <= high:
        raise ServiceError(f"{key} {value} is outside {low}..{high}")
    return value
