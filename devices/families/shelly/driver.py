"""Shelly Gen2+ devices (plugs, relays, shutter controllers) over the local RPC API.

Calls are JSON-RPC frames POSTed to `/rpc`; `follow()` keeps a WebSocket on `/rpc` open and
turns the device's `NotifyStatus` frames into entity updates. Each `switch:N` component becomes
a `switch` entity (with its power meter), each `cover:N` a `cover` entity.
"""
from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from devices.home import MAX_NAME
from devices.http import DeviceHttp
from devices.follow import keep_following
from devices.model import Device, DeviceError, Entity
from devices.names import slug

log = logging.getLogger(__name__)

SERVICES = {
    "switch": {"turn_on", "turn_off", "toggle"},
    "cover": {"open_cover", "close_cover", "stop_cover", "set_cover_position"},
}
# Words in a cover's name that say what it moves, in the order they are checked.
COVER_CLASS_WORDS = ("garage", "gate", "door", "blind", "shade", "curtain", "awning", "window", "shutter")

OnChange = Callable[[Entity], Awaitable[None] | None]


class ShellyDriver:
    def __init__(
        self, device: Device, timeout: float = 3.0, area: str | None = None,
        device_class: str | None = None,  # the owner's word for what a cover moves
    ) -> None:
        self.device = device
        self.area = area
        self._device_class = device_class
        self._http = DeviceHttp(device, timeout)
        self._src = f"claw-{uuid.uuid4().hex[:8]}"  # our address in the device's replies
        self._next_id = 0
        self._name = device.name
        self._ui_data: dict[str, Any] = {}
        self._channel_names: dict[str, str] = {}  # "switch:1" -> its name in the Shelly app
        self._status: dict[str, dict[str, Any]] = {}  # "switch:0" -> its status, as last known
        self._entity_ids: dict[str, str] = {}  # entity_id -> component key
        self._reported: dict[str, Entity] = {}  # entity_id -> last entity follow() reported

    @property
    def base_url(self) -> str:
        return self._http.base_url

    # -- Driver protocol -------------------------------------------------------------------

    async def refresh(self) -> list[Entity]:
        config = await self.rpc("Shelly.GetConfig")
        self._name = config["sys"]["device"].get("name") or self.device.name
        # Discovery knows it by its id ("shellyplus2pm-..."); people by the name they gave it.
        self.device.name = self._name[:MAX_NAME]
        self._ui_data = config["sys"].get("ui_data") or {}
        # A channel's own name in the Shelly app ("Pump" on relay 2) beats "<device> 2".
        self._channel_names = {k: v["name"] for k, v in config.items()
                               if ":" in k and isinstance(v, dict) and v.get("name")}
        self._status = _components(await self.rpc("Shelly.GetStatus"))
        if not self._status:
            raise DeviceError(f"{self._where()} has no switch or cover I know how to drive")
        return self._entities()

    async def call(self, entity_id: str, service: str, data: dict[str, Any]) -> None:
        if not self._entity_ids:
            await self.refresh()
        key = self._entity_ids.get(entity_id)
        if key is None:
            raise DeviceError(f"{entity_id} is not on {self._where()}")
        kind, channel = key.split(":")
        if service not in SERVICES[kind]:
            raise DeviceError(f"{self._name} can't {service.replace('_', ' ')}; it can "
                              + ", ".join(sorted(s.replace("_", " ") for s in SERVICES[kind])))
        params: dict[str, Any] = {"id": int(channel)}
        if service == "set_cover_position":
            position = data.get("position")
            if isinstance(position, bool) or not isinstance(position, (int, float)) or not 0 <= position <= 100:
                raise DeviceError(f"A cover position is a number from 0 (closed) to 100 (open), not {position!r}")
            params["pos"] = round(position)
        if service in ("turn_on", "turn_off"):
            params["on"] = service == "turn_on"
        method = {
            "turn_on": "Switch.Set", "turn_off": "Switch.Set", "toggle": "Switch.Toggle",
            "open_cover": "Cover.Open", "close_cover": "Cover.Close", "stop_cover": "Cover.Stop",
            "set_cover_position": "Cover.GoToPosition",
        }[service]
        await self.rpc(method, params)

    async def close(self) -> None:
        await self._http.close()

    # -- RPC -------------------------------------------------------------------------------

    async def rpc(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """One JSON-RPC call over HTTP; the device's error becomes a DeviceError."""
        async with self._http.request("POST", "/rpc", self._where(), self._frame(method, params)) as resp:
            if resp.status != 200:
                raise DeviceError(f"{self._where()} answered {method} with HTTP {resp.status}")
            reply = await resp.json()
        return self._result(method, reply)

    def _frame(self, method: str, params: dict[str, Any] | None) -> dict[str, Any]:
        self._next_id += 1
        frame: dict[str, Any] = {"id": self._next_id, "src": self._src, "method": method}
        if params:
            frame["params"] = params
        return frame

    def _result(self, method: str, reply: dict[str, Any]) -> Any:
        if "error" in reply:
            err = reply["error"]
            raise DeviceError(f"{self._where()} refused {method}: {err.get('message')} (error {err.get('code')})")
        return reply.get("result")

    def _where(self) -> str:
        return f"{self._name} at {self.device.host}:{self.device.port}"

    # -- entities --------------------------------------------------------------------------

    def _entities(self) -> list[Entity]:
        entities = []
        self._entity_ids = {}
        for key, status in sorted(self._status.items()):
            kind, channel = key.split(":")
            several = sum(k.startswith(kind + ":") for k in self._status) > 1
            name = self._channel_names.get(key) or (f"{self._name} {int(channel) + 1}" if several else self._name)
            entity = self._entity(kind, name, status)
            self._entity_ids[entity.entity_id] = key
            entities.append(entity)
        return entities

    def _entity(self, kind: str, name: str, status: dict[str, Any]) -> Entity:
        entity = Entity(
            entity_id=f"{kind}.{slug(name, fallback='device')}", name=name, device_id=self.device.device_id,
            area=self.area, services=set(SERVICES[kind]),
        )
        power = status.get("apower")
        if kind == "switch":
            entity.state = "on" if status.get("output") else "off"
            energy = (status.get("aenergy") or {}).get("total")
            entity.attributes = {
                "current_power_w": power,
                "energy_kwh": None if energy is None else round(energy / 1000, 6),
                "voltage": status.get("voltage"),
            }
        else:
            entity.device_class = self._cover_class(name)
            entity.state = _cover_state(status)
            entity.attributes = {"current_position": status.get("current_pos"), "current_power_w": power}
        return entity

    def _cover_class(self, name: str) -> str:
        if self._device_class:
            return self._device_class
        if self._ui_data.get("cover_type"):
            return str(self._ui_data["cover_type"])
        words = name.lower()
        return next((w for w in COVER_CLASS_WORDS if w in words), "shutter")

    # -- push updates ----------------------------------------------------------------------

    async def follow(self, on_change: OnChange, min_backoff: float = 0.5, max_backoff: float = 5.0) -> None:
        """Report every change of this device's entities to `on_change` until cancelled.

        After each (re)connect it re-reads the full status, so changes made while the
        connection was down are reported too; reconnects back off from min to max_backoff.
        """
        await keep_following(lambda: self._follow_once(on_change), self._where, min_backoff, max_backoff)

    async def _follow_once(self, on_change: OnChange) -> None:
        if not self._entity_ids:
            await self.refresh()  # first, so that errors below name the device by its own name
        url = self.base_url.replace("http://", "ws://") + "/rpc"
        ws_timeout = aiohttp.ClientWSTimeout(ws_receive=None, ws_close=self._http.timeout)
        async with self._http.reaching(self._where(), lost=True) as session, \
                session.ws_connect(url, heartbeat=30, timeout=ws_timeout) as ws:
            # The first frame with our src subscribes us; its answer is the catch-up read.
            frame = self._frame("Shelly.GetStatus", None)
            await ws.send_json(frame)
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                reply = msg.json()
                if reply.get("id") == frame["id"]:
                    self._status = _components(self._result("Shelly.GetStatus", reply))
                elif reply.get("method") == "NotifyStatus" and "cfg_rev" in reply["params"].get("sys", {}):
                    await self.refresh()  # its config changed: a name may be new
                elif reply.get("method") in ("NotifyStatus", "NotifyFullStatus"):
                    for key, part in reply.get("params", {}).items():
                        if key in self._status:
                            self._status[key].update(part)
                else:
                    continue
                for entity in self._entities():
                    if self._reported.get(entity.entity_id) != entity:
                        self._reported[entity.entity_id] = entity
                        await _deliver(on_change, entity)


def _components(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: dict(v) for k, v in status.items() if k.split(":")[0] in SERVICES and ":" in k}


def _cover_state(status: dict[str, Any]) -> str:
    state = status.get("state")
    if state in ("opening", "closing"):
        return state
    if status.get("pos_control") and status.get("current_pos") is not None:
        return "closed" if status["current_pos"] == 0 else "open"
    return "closed" if state == "closed" else "open"


async def _deliver(on_change: OnChange, entity: Entity) -> None:
    result = on_change(entity)
    if inspect.isawaitable(result):
        await result
