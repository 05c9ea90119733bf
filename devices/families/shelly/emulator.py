"""An emulated Shelly Gen2+ device (a metered plug or a roller-shutter controller).

It speaks the Gen2 RPC API the way the firmware does: `GET /shelly`, `GET|POST /rpc/<Method>`
(bare result, errors as HTTP 4xx/5xx with `{"code", "message"}`), `POST /rpc` with a JSON-RPC
frame, and a WebSocket on `/rpc` that answers frames and, once a client has sent one with a
`src`, pushes `NotifyStatus` frames holding only what changed (a config change as
`{"sys": {"cfg_rev": n}}`), and `NotifyFullStatus` when asked to. Methods: Shelly.GetDeviceInfo,
GetStatus, GetConfig, GetComponents, ListMethods; Sys.GetStatus, GetConfig, SetConfig;
Wifi.GetStatus; Switch.* or Cover.* (GetStatus, GetConfig, SetConfig and the actions);
Input.GetStatus/GetConfig where the model has inputs. aioshelly's `RpcDevice.initialize()`
(Home Assistant's setup) is the referee: tests/test_shelly_conformance.py.

Faults for tests: set `fail` to "offline" (connections dropped unanswered), "slow" (answers
after `slow_delay` seconds) or "error" (every call fails with an RPC error).
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any, Self

from aiohttp import web

from devices.emulators.base import Emulator
from devices.families.shelly import shapes

FW_ID = "20241011-114455/1.4.4-g6d2a586"
VERSION = "1.4.4"
# Model code -> the app name Shelly reports for it; the default model per kind.
APPS = {"SNPL-00112EU": "PlugS", "SNSW-102P16EU": "Plus2PM", "S3SH-0A2P4EU": "MiniShutterG3"}
DEFAULT_MODELS = {"switch": "SNPL-00112EU", "cover": "SNSW-102P16EU"}
ACTIONS = {"switch": ("GetStatus", "Set", "Toggle"),
           "cover": ("GetStatus", "Open", "Close", "Stop", "GoToPosition")}
VOLTAGE = 230.4
COVER_MOTOR_W = 95.0  # what a shutter motor draws while it moves

# Error codes from the Gen2 RPC documentation.
ERR_INVALID_ARGUMENT = -103
ERR_NOT_FOUND = -105
ERR_UNAVAILABLE = -109
ERR_NO_HANDLER = 404


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ShellyEmulator(Emulator):
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str | None = "Pool Pump",
        model: str | None = None,  # None: a Plus Plug S for "switch", a Plus 2PM for "cover"
        kind: str = "switch",
        device_class: str | None = None,  # "garage", "blind", ...; exposed in Sys config ui_data
        travel_time: float = 1.5,  # seconds for a full 0 -> 100 travel
        power_w: float = 750.0,  # what the load on the plug draws when on
        slow_delay: float = 10.0,
    ) -> None:
        if kind not in DEFAULT_MODELS:
            raise ValueError(f"kind must be 'switch' or 'cover', not {kind!r}")
        super().__init__(host, port, slow_delay)
        self.name = name
        self.kind = kind
        self.model = model or DEFAULT_MODELS[kind]
        self.device_class = device_class
        self.travel_time = travel_time
        self.power_w = power_w

        digest = hashlib.sha1(f"{host}/{name}/{kind}".encode()).hexdigest().upper()
        self.mac = "A8032A" + digest[:6]
        self.app = APPS.get(self.model, "Plus1PM")
        self.device_id = f"shelly{self.app.lower()}-{self.mac.lower()}"

        # A plug has no inputs or profiles; a 2PM or a shutter controller has two inputs and
        # reports which profile (a pair of relays, or one cover) it runs.
        self.inputs = 0 if self.app == "PlugS" else 2
        self.profile = None if self.app == "PlugS" else kind
        self.component_name: str | None = None  # the switch's or cover's own name (SetConfig)
        self.cfg_rev = 3
        self._booted = time.monotonic()

        self.output = False  # switch relay
        self.position = 0.0  # cover, 0 closed .. 100 open
        self.cover_state = "closed"
        self._source = "init"  # what caused the last change, as the firmware reports it
        self._energy_wh = 0.0
        self._metered_at = time.monotonic()
        # Cover motion: (from position, to position, monotonic start) while moving.
        self._motion: tuple[float, float, float] | None = None
        self._motion_task: asyncio.Task[None] | None = None
        self._last_direction: str | None = None

        # Open WebSockets: socket -> [its request, the client's src (None until it sends one)].
        self._peers: dict[web.WebSocketResponse, list[Any]] = {}
        self._reported: dict[str, Any] = {}  # component status as last pushed to sockets
        self._reported_cfg_rev = self.cfg_rev
        methods = self._methods()
        self._rpc_names = list(methods)
        self._rpc = {name.lower(): handler for name, handler in methods.items()}  # case-blind, like the firmware

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def component(self) -> str:
        return f"{self.kind}:0"

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/shelly", self._shelly)
        app.router.add_get("/rpc", self._websocket)
        app.router.add_post("/rpc", self._rpc_frame)
        app.router.add_route("*", "/rpc/{method}", self._rpc_path)

    async def start(self) -> Self:
        await super().start()
        self._reported = self._component_status()
        return self

    async def stop(self) -> None:
        if self._motion_task is not None:
            self._motion_task.cancel()
        await self.drop_websockets()
        await super().stop()

    async def drop_websockets(self) -> None:
        """Cut every WebSocket without a close frame, as a Wi-Fi drop or a reboot would."""
        for request, _ in list(self._peers.values()):
            if request.transport is not None:
                request.transport.abort()
        self._peers.clear()

    @property
    def websocket_count(self) -> int:
        return len(self._peers)

    # -- HTTP ------------------------------------------------------------------------------

    def failure(self) -> None:
        return None  # "error" is answered as the firmware does, with an RPC error: see dispatch()

    async def _shelly(self, request: web.Request) -> web.Response:
        return web.json_response(self._device_info())

    async def _rpc_path(self, request: web.Request) -> web.Response:
        """`/rpc/Switch.Set?id=0&on=true` or a POSTed JSON params object."""
        if request.method == "POST" and request.can_read_body:
            params = await request.json()
        else:  # query values are JSON literals; bare words count as strings
            params = {k: _json_or_text(v) for k, v in request.query.items()}
        try:
            result = await self.dispatch(request.match_info["method"], params, "HTTP_in")
        except RpcError as exc:
            status = 404 if exc.code == ERR_NO_HANDLER else 500
            return web.json_response({"code": exc.code, "message": exc.message}, status=status)
        return web.json_response(result)

    async def _rpc_frame(self, request: web.Request) -> web.Response:
        return web.json_response(await self._answer(await request.json(), "HTTP_in"))

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        peer = self._peers[ws] = [request, None]
        try:
            async for msg in ws:
                if msg.type != web.WSMsgType.TEXT:
                    break
                frame = json.loads(msg.data)
                if frame.get("src"):
                    peer[1] = frame["src"]  # notifications go to the latest src
                await ws.send_json(await self._answer(frame, "WS_in"))
        finally:
            self._peers.pop(ws, None)
        return ws

    async def _answer(self, frame: dict[str, Any], source: str) -> dict[str, Any]:
        reply: dict[str, Any] = {"id": frame.get("id"), "src": self.device_id}
        if frame.get("src"):
            reply["dst"] = frame["src"]
        try:
            reply["result"] = await self.dispatch(frame.get("method", ""), frame.get("params") or {}, source)
        except RpcError as exc:
            reply["error"] = {"code": exc.code, "message": exc.message}
        return reply

    # -- RPC -------------------------------------------------------------------------------

    async def dispatch(self, method: str, params: dict[str, Any], source: str = "HTTP_in") -> Any:
        if self.fail == "error":
            raise RpcError(ERR_UNAVAILABLE, "Device busy: overtemperature protection is active")
        handler = self._rpc.get(method.lower())
        if handler is None:
            raise RpcError(ERR_NO_HANDLER, f"No handler for {method}")
        component = method.partition(".")[0].lower()
        channels = 2 if component == "input" else 1
        if component in (self.kind, "input") and not (
                isinstance(params.get("id", 0), int) and 0 <= params.get("id", 0) < channels):
            raise RpcError(ERR_NOT_FOUND, f"Argument 'id', value {params['id']} not found!")
        result = handler(params, source)
        await self.push_changes()
        return result

    def _methods(self) -> dict[str, Any]:
        """Method name, as the firmware spells it in Shelly.ListMethods -> handler(params, source)."""
        kind = self.kind.capitalize()
        methods: dict[str, Any] = {
            "Shelly.GetDeviceInfo": lambda p, s: self._device_info(),
            "Shelly.GetStatus": lambda p, s: self._full_status(),
            "Shelly.GetConfig": lambda p, s: self._full_config(),
            "Shelly.GetComponents": self._get_components,
            "Shelly.ListMethods": lambda p, s: {"methods": sorted(self._rpc_names)},
            "Sys.GetConfig": lambda p, s: self._sys_config(),
            "Sys.GetStatus": lambda p, s: self._sys_status(),
            "Sys.SetConfig": self._sys_setconfig,
            "Wifi.GetStatus": lambda p, s: self._wifi_status(),
            f"{kind}.GetConfig": lambda p, s: self._component_config(),
            f"{kind}.SetConfig": self._component_setconfig,
        }
        for verb in ACTIONS[self.kind]:  # "GoToPosition" -> self._cover_gotoposition
            methods[f"{kind}.{verb}"] = getattr(self, f"_{self.kind}_{verb.lower()}")
        if self.inputs:
            methods["Input.GetStatus"] = lambda p, s: self._input_status(p.get("id", 0))
            methods["Input.GetConfig"] = lambda p, s: shapes.input_config(p.get("id", 0))
        return methods

    def _device_info(self) -> dict[str, Any]:
        info = {
            "name": self.name, "id": self.device_id, "mac": self.mac, "slot": 0,
            "model": self.model, "gen": 2, "fw_id": FW_ID, "ver": VERSION, "app": self.app,
            "auth_en": False, "auth_domain": None,
        }
        if self.profile is not None:
            info["profile"] = self.profile
        return info

    def _sys_config(self) -> dict[str, Any]:
        # The Shelly app keeps its own hints in ui_data; cover_type is this emulator's.
        ui_data = {"cover_type": self.device_class} if self.device_class else {}
        return shapes.sys_config(self.name, self.mac, FW_ID, self.profile, ui_data, self.cfg_rev)

    def _full_config(self) -> dict[str, Any]:
        config = {**shapes.service_configs(self.device_id), "sys": self._sys_config(),
                  self.component: self._component_config()}
        for channel in range(self.inputs):
            config[f"input:{channel}"] = shapes.input_config(channel)
        return config

    def _component_config(self) -> dict[str, Any]:
        if self.kind == "switch":
            return shapes.switch_config(self.component_name)
        return shapes.cover_config(self.component_name, self.travel_time)

    def _sys_setconfig(self, params: dict[str, Any], source: str) -> dict[str, Any]:
        device = (params.get("config") or {}).get("device") or {}
        if "name" in device:
            self.name = device["name"]
        return self._config_changed()

    def _component_setconfig(self, params: dict[str, Any], source: str) -> dict[str, Any]:
        config = params.get("config")
        if not isinstance(config, dict):
            raise RpcError(ERR_INVALID_ARGUMENT, "Missing required argument 'config'!")
        if "name" in config:
            self.component_name = config["name"]
        return self._config_changed()

    def _config_changed(self) -> dict[str, Any]:
        self.cfg_rev += 1  # pushed as NotifyStatus {"sys": {"cfg_rev": ...}}, as the firmware does
        return {"restart_required": False}

    def _get_components(self, params: dict[str, Any], source: str) -> dict[str, Any]:
        """Static components, or none with `dynamic_only` (this device has no virtual ones)."""
        keys = [] if params.get("dynamic_only") else sorted(self._full_config())
        status, config = self._full_status(), self._full_config()
        offset = params.get("offset", 0)
        page = [{"key": k, "status": status.get(k, {}), "config": config[k]} for k in keys[offset:]]
        return {"components": page, "cfg_rev": self.cfg_rev, "offset": offset, "total": len(keys)}

    def _sys_status(self) -> dict[str, Any]:
        return {
            "mac": self.mac, "restart_required": False, "time": time.strftime("%H:%M"),
            "unixtime": int(time.time()), "uptime": int(time.monotonic() - self._booted),
            "ram_size": 260_000, "ram_free": 118_000, "fs_size": 458_752, "fs_free": 135_168,
            "cfg_rev": self.cfg_rev, "kvs_rev": 0, "schedule_rev": 0, "webhook_rev": 0,
            "available_updates": {}, "reset_reason": 3,
        }

    def _wifi_status(self) -> dict[str, Any]:
        return {"sta_ip": self.host, "status": "got ip", "ssid": "Home", "rssi": -54}

    def _input_status(self, channel: int) -> dict[str, Any]:
        return {"id": channel, "state": False}

    def _full_status(self) -> dict[str, Any]:
        status = {
            "ble": {}, "cloud": {"connected": False}, "mqtt": {"connected": False},
            "sys": self._sys_status(), "wifi": self._wifi_status(), "ws": {"connected": False},
            self.component: self._component_status(),
        }
        for channel in range(self.inputs):
            status[f"input:{channel}"] = self._input_status(channel)
        return status

    def _component_status(self) -> dict[str, Any]:
        return self._switch_getstatus({}, "") if self.kind == "switch" else self._cover_getstatus({}, "")

    # -- energy ----------------------------------------------------------------------------

    def _draw_w(self) -> float:
        if self.kind == "switch":
            return self.power_w if self.output else 0.0
        return COVER_MOTOR_W if self._motion else 0.0

    def _meter(self) -> None:
        """Add what was drawn since the last reading; call before any change of draw."""
        now = time.monotonic()
        self._energy_wh += self._draw_w() * (now - self._metered_at) / 3600
        self._metered_at = now

    def _electrical(self) -> dict[str, Any]:
        self._meter()
        watts = self._draw_w()
        return {
            "apower": round(watts, 1), "voltage": VOLTAGE, "freq": 50.0,
            "current": round(watts / VOLTAGE, 3),
            "aenergy": {"total": round(self._energy_wh, 3), "by_minute": [0.0, 0.0, 0.0],
                        "minute_ts": int(time.time())},
            "temperature": {"tC": 41.2, "tF": 106.2},
        }

    # -- switch ----------------------------------------------------------------------------

    def _switch_getstatus(self, params: dict[str, Any], source: str) -> dict[str, Any]:
        return {"id": 0, "source": self._source, "output": self.output, **self._electrical()}

    def _switch_set(self, params: dict[str, Any], source: str) -> dict[str, Any]:
        if not isinstance(params.get("on"), bool):
            raise RpcError(ERR_INVALID_ARGUMENT, "Missing required argument 'on'!")
        return self._set_output(params["on"], source)

    def _switch_toggle(self, params: dict[str, Any], source: str) -> dict[str, Any]:
        return self._set_output(not self.output, source)

    def _set_output(self, on: bool, source: str) -> dict[str, Any]:
        was_on = self.output
        self._meter()
        self.output = on
        self._source = source
        return {"was_on": was_on}

    # -- cover -----------------------------------------------------------------------------

    def _cover_getstatus(self, params: dict[str, Any], source: str) -> dict[str, Any]:
        status: dict[str, Any] = {
            "id": 0, "source": self._source, "state": self.cover_state,
            "current_pos": round(self._position_now()), "pos_control": True,
            "last_direction": self._last_direction, **self._electrical(),
        }
        if self._motion is not None:
            status["target_pos"] = round(self._motion[1])
            status["move_started_at"] = time.time() - (time.monotonic() - self._motion[2])
        return status

    def _cover_open(self, params: dict[str, Any], source: str) -> None:
        self._move_to(100.0, source)

    def _cover_close(self, params: dict[str, Any], source: str) -> None:
        self._move_to(0.0, source)

    def _cover_gotoposition(self, params: dict[str, Any], source: str) -> None:
        pos = params.get("pos")
        if not isinstance(pos, (int, float)) or isinstance(pos, bool) or not 0 <= pos <= 100:
            raise RpcError(ERR_INVALID_ARGUMENT, "Argument 'pos' must be a number from 0 to 100!")
        self._move_to(float(pos), source)

    def _cover_stop(self, params: dict[str, Any], source: str) -> None:
        self._source = source
        if self._motion is not None:
            self._halt(self._position_now(), "stopped")

    def _position_now(self) -> float:
        if self._motion is None:
            return self.position
        start, target, t0 = self._motion
        span = abs(target - start)
        moved = min(span, 100.0 * (time.monotonic() - t0) / self.travel_time)
        return start + moved if target > start else start - moved

    def _move_to(self, target: float, source: str) -> None:
        self._source = source
        here = self._position_now()
        if self._motion is not None:
            self._halt(here, "stopped")
        if target == here:
            return
        self._meter()
        self._motion = (here, target, time.monotonic())
        self.cover_state = "opening" if target > here else "closing"
        self._last_direction = "open" if target > here else "close"
        self._motion_task = asyncio.create_task(self._arrive(abs(target - here) / 100.0 * self.travel_time))

    async def _arrive(self, after: float) -> None:
        await asyncio.sleep(after)
        assert self._motion is not None
        target = self._motion[1]
        self._motion_task = None  # we are finishing; _halt must not cancel us
        self._halt(target, "open" if target == 100 else "closed" if target == 0 else "stopped")
        await self.push_changes()

    def _halt(self, position: float, state: str) -> None:
        self._meter()
        if self._motion_task is not None:
            self._motion_task.cancel()
            self._motion_task = None
        self._motion = None
        self.position = position
        self.cover_state = state

    # -- notifications ---------------------------------------------------------------------

    async def push_changes(self) -> None:
        """Send NotifyStatus with the fields that changed to every socket that has a src."""
        status = self._component_status()
        # Meter readings drift continuously; like the firmware, don't notify for them alone.
        drifting = {"aenergy", "current", "temperature", "move_started_at"}
        changed = {k: v for k, v in status.items() if k not in drifting and self._reported.get(k) != v}
        self._reported = status
        params: dict[str, Any] = {"ts": round(time.time(), 2)}
        if changed:
            params[self.component] = {"id": 0, **changed}
        if self.cfg_rev != self._reported_cfg_rev:  # "config changed": clients re-read it
            self._reported_cfg_rev = self.cfg_rev
            params["sys"] = {"cfg_rev": self.cfg_rev}
        if len(params) > 1:
            await self._notify("NotifyStatus", params)

    async def push_full_status(self) -> None:
        """Send NotifyFullStatus (the whole status, as after a wake-up) to every subscribed socket."""
        self._reported = self._component_status()
        await self._notify("NotifyFullStatus", {"ts": round(time.time(), 2), **self._full_status()})

    async def _notify(self, method: str, params: dict[str, Any]) -> None:
        for ws, (_, dst) in list(self._peers.items()):
            if dst is None or ws.closed:
                continue
            frame = {"src": self.device_id, "dst": dst, "method": method, "params": params}
            try:
                await ws.send_json(frame)
            except ConnectionResetError:  # the client vanished; its handler cleans up
                continue


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value
