"""WLED LED controllers over the JSON API: one `light` entity per controller (its main segment).

Why Claw's own client and not python-wled (Home Assistant's library, which tests use as the
referee of the emulator): Claw exposes one light per controller, with no segments or presets,
and follows its `/ws` push; that is three small JSON calls and one WebSocket. python-wled
speaks only to port 80 (`URL.build(..., port=80)` for HTTP and /ws), so it could not reach a
controller announced on any other port, as every emulated one is. Revisit if Claw exposes
segments or presets.

The first read takes `/json` (with the effect names); later polls take `/json/si` (state and
info, no lists), and the effect list again only when the firmware's effect count changes.
`follow()` keeps `/ws` open: WLED sends `{"state", "info"}` on connect and after every change.
"""
from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from devices.colors import color_name_target, kelvin_to_rgb
from devices.http import DeviceHttp
from devices.follow import keep_following
from devices.model import Device, DeviceError, Entity
from devices.names import slug

log = logging.getLogger(__name__)

SERVICES = {"turn_on", "turn_off", "toggle"}
TURN_ON_KEYS = {"brightness_pct", "brightness", "rgb_color", "color_name", "color_temp_kelvin", "effect"}


class WledDriver:
    def __init__(self, device: Device, timeout: float = 3.0, area: str | None = None) -> None:
        self.device = device
        self.area = area
        self._http = DeviceHttp(device, timeout)
        self._name = device.name
        self._effects: list[str] = []
        self.entity_id = ""
        self._reported: Entity | None = None  # what follow() last reported
        self._websocket = True  # info.ws is -1 on builds without WebSockets

    @property
    def base_url(self) -> str:
        return self._http.base_url

    async def refresh(self) -> list[Entity]:
        doc = await self._http.json("GET", "/json/si" if self._effects else "/json", self._where())
        self._name = doc["info"].get("name") or self.device.name
        self._websocket = doc["info"].get("ws", 0) != -1
        if "effects" in doc:
            self._effects = list(doc["effects"])
        elif doc["info"].get("fxcount", len(self._effects)) != len(self._effects):  # new firmware
            self._effects = list(await self._http.json("GET", "/json/effects", self._where()))
        return [self._entity(doc["state"])]

    async def call(self, entity_id: str, service: str, data: dict[str, Any]) -> None:
        if not self.entity_id:
            await self.refresh()
        if entity_id != self.entity_id:
            raise DeviceError(f"{entity_id} is not on {self._where()}")
        if service not in SERVICES:
            raise DeviceError(f"{self._name} is a light: it can turn on, turn off or toggle, not {service}")
        if service == "turn_off":
            body: dict[str, Any] = {"on": False}
        elif service == "toggle":
            body = {"on": "t"}
        else:
            body = self._turn_on_body(data)
        await self._http.json("POST", "/json/state", self._where(), body)

    async def close(self) -> None:
        await self._http.close()

    # -- push ------------------------------------------------------------------------------

    async def follow(self, on_change: Callable[[Entity], Awaitable[None] | None],
                     min_backoff: float = 0.5, max_backoff: float = 5.0, poll_every: float = 5.0) -> None:
        """Report every change of the strip to `on_change` until cancelled, from its /ws.

        Each (re)connect starts with the full state, so changes missed while it was down are
        reported too; reconnects back off from min to max_backoff. A build without WebSockets
        is read every `poll_every` seconds instead (the House polls followed devices seldom).
        """
        await keep_following(lambda: self._follow_once(on_change), self._where, min_backoff, max_backoff,
                             pause=lambda delay: delay if self._websocket else poll_every)

    async def _follow_once(self, on_change: Callable[[Entity], Awaitable[None] | None]) -> None:
        if not self.entity_id or not self._websocket:
            [entity] = await self.refresh()  # first, so that errors below name the strip by its own name
            if not self._websocket:
                await self._report(entity, on_change)
                return
        url = self.base_url.replace("http://", "ws://", 1) + "/ws"
        ws_timeout = aiohttp.ClientWSTimeout(ws_receive=None, ws_close=self._http.timeout)
        async with self._http.reaching(self._where(), lost=True) as session, \
                session.ws_connect(url, heartbeat=30, timeout=ws_timeout) as ws:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                doc = msg.json()
                if not isinstance(doc, dict) or "state" not in doc:
                    continue  # a busy controller sends {"error": ...} instead of its state
                self._name = (doc.get("info") or {}).get("name") or self._name
                await self._report(self._entity(doc["state"]), on_change)

    async def _report(self, entity: Entity, on_change: Callable[[Entity], Awaitable[None] | None]) -> None:
        if entity != self._reported:
            self._reported = entity
            result = on_change(entity)
            if inspect.isawaitable(result):
                await result

    # -- translation -----------------------------------------------------------------------

    def _entity(self, state: dict[str, Any]) -> Entity:
        seg = state["seg"][state.get("mainseg", 0)] if state.get("seg") else {}
        fx = seg.get("fx")
        on = bool(state.get("on"))
        self.entity_id = f"light.{slug(self._name, fallback='light')}"
        return Entity(
            entity_id=self.entity_id, name=self._name, device_id=self.device.device_id,
            area=self.area, state="on" if on else "off", services=set(SERVICES),
            attributes={
                "brightness": state.get("bri") if on else None,
                "rgb_color": list(seg["col"][0][:3]) if seg.get("col") else None,
                "effect": self._effects[fx] if isinstance(fx, int) and fx < len(self._effects) else None,
                "effect_list": list(self._effects),
                "color_mode": "rgb",
                "supported_color_modes": ["rgb"],
            },
        )

    def _turn_on_body(self, data: dict[str, Any]) -> dict[str, Any]:
        unknown = set(data) - TURN_ON_KEYS
        if unknown:
            raise DeviceError(f"{self._name} can't set {', '.join(sorted(unknown))}")
        body: dict[str, Any] = {"on": True}
        if "brightness_pct" in data:
            pct = _number(data["brightness_pct"], 0, 100, "A brightness is a percentage from 0 to 100")
            body["bri"] = round(pct * 255 / 100)
        elif "brightness" in data:
            body["bri"] = round(_number(data["brightness"], 0, 255, "A raw brightness is from 0 to 255"))
        if body.get("bri") == 0:  # Home Assistant's meaning of brightness 0: off
            return {"on": False}
        rgb = None
        if "rgb_color" in data:
            rgb = data["rgb_color"]
            if not (isinstance(rgb, (list, tuple)) and len(rgb) == 3
                    and all(isinstance(c, int) and 0 <= c <= 255 for c in rgb)):
                raise DeviceError(f"An RGB colour is three whole numbers from 0 to 255, not {rgb!r}")
        elif "color_name" in data:
            kind, value = color_name_target(str(data["color_name"]))
            rgb = kelvin_to_rgb(value) if kind == "kelvin" else value
        elif "color_temp_kelvin" in data:
            rgb = kelvin_to_rgb(_number(data["color_temp_kelvin"], 1000, 40000,
                                        "A colour temperature is from 1000 to 40000 K"))
        segment: dict[str, Any] = {}
        if rgb is not None:
            segment["col"] = [list(rgb)]
        if "effect" in data:
            segment["fx"] = self._effect_index(str(data["effect"]))
        if segment:
            body["seg"] = [{"id": 0, **segment}]
        return body

    def _effect_index(self, name: str) -> int:
        wanted = name.strip().lower()
        for i, effect in enumerate(self._effects):
            if effect.lower() == wanted:
                return i
        raise DeviceError(f"{self._name} has no effect called {name!r}; it has "
                          + ", ".join(self._effects[:12]) + (" and more" if len(self._effects) > 12 else ""))

    # -- naming ----------------------------------------------------------------------------

    def _where(self) -> str:
        return f"{self._name} at {self.device.host}:{self.device.port}"


def _number(value: Any, low: float, high: float, rule: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise DeviceError(f"{rule}, not {value!r}")
    return float(value)
