"""Philips Hue bridges over the v1 REST API: pairing, lights as entities, HA-style services.

Every call goes to `http://<bridge>/api/<username>/...` with a total timeout. The bridge answers
HTTP 200 even for failures, with a list of `{"error": {"type", "address", "description"}}`
objects; those become DeviceError sentences.
"""
from __future__ import annotations

import colorsys
import json
import socket
from typing import Any

from devices.colors import color_name_target
from devices.http import DeviceHttp
from devices.model import Device, DeviceError, Entity
from devices.names import slug

LIGHT_SERVICES = {"turn_on", "turn_off", "toggle"}
TURN_ON_KEYS = {"brightness_pct", "rgb_color", "color_name", "color_temp_kelvin", "transition"}
DEFAULT_CT_RANGE = (153, 500)  # mireds, when a light does not report its own


class LinkButtonNotPressed(DeviceError):
    """Pairing needs the round button on the bridge pressed first."""


class NotPaired(DeviceError):
    """Claw has no username the bridge accepts."""


# --- conversions -----------------------------------------------------------------------------

def rgb_to_xy(rgb: tuple[int, int, int] | list[int]) -> tuple[float, float]:
    """sRGB -> CIE xy the way Philips documents it (gamma, then the Wide RGB D65 matrix)."""
    def linear(c: float) -> float:
        return ((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92

    r, g, b = (linear(max(0, min(255, c)) / 255) for c in rgb)
    x_ = r * 0.664511 + g * 0.154324 + b * 0.162028
    y_ = r * 0.283881 + g * 0.668433 + b * 0.047685
    z_ = r * 0.000088 + g * 0.072310 + b * 0.986039
    total = x_ + y_ + z_
    if total == 0:
        raise DeviceError("Black isn't a colour a light can show; turn it off instead.")
    return round(x_ / total, 4), round(y_ / total, 4)


def xy_to_rgb(x: float, y: float) -> tuple[int, int, int]:
    """CIE xy -> sRGB at full brightness (the inverse of rgb_to_xy, scaled so max is 255)."""
    y = y or 1e-9
    big_y = 1.0
    big_x = big_y / y * x
    big_z = big_y / y * (1 - x - y)
    r = big_x * 1.656492 - big_y * 0.354851 - big_z * 0.255038
    g = -big_x * 0.707196 + big_y * 1.655397 + big_z * 0.036152
    b = big_x * 0.051713 - big_y * 0.121364 + big_z * 1.011530

    def gamma(c: float) -> float:
        return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055

    rgb = [max(0.0, gamma(c)) for c in (r, g, b)]
    top = max(rgb) or 1.0
    return tuple(round(c / top * 255) for c in rgb)  # type: ignore[return-value]


def kelvin_to_mired(kelvin: float, ct_range: tuple[int, int] = DEFAULT_CT_RANGE) -> int:
    return max(ct_range[0], min(ct_range[1], round(1_000_000 / kelvin)))


def mired_to_kelvin(mired: float) -> int:
    return round(1_000_000 / mired)


def _ha_brightness(bri: int) -> int:
    """Hue's 1-254 -> Home Assistant's 0-255."""
    return min(255, round(bri * 255 / 254))


def _hue_bri_from_pct(pct: float) -> int:
    return max(1, min(254, round(pct * 254 / 100)))


# --- the driver ------------------------------------------------------------------------------

class HueDriver:
    """One Hue bridge; each of its lights is a `light.*` entity."""

    def __init__(self, device: Device, username: str | None, timeout: float = 3.0) -> None:
        self.device = device
        self.username = username
        self.timeout = timeout
        self._http = DeviceHttp(device, timeout)
        self._light_ids: dict[str, str] = {}  # entity_id -> bridge light id
        # bridge light id -> the light as last read (on a poll, or by refresh_entity after a
        # command): a command needs its name and abilities, not a fresh GET.
        self._lights: dict[str, dict[str, Any]] = {}
        self._rooms: dict[str, str] = {}  # bridge light id -> its room
        self._bridge = f"Hue bridge {device.name!r} at {device.host}:{device.port}"

    async def pair(self, app_name: str = "claw") -> str:
        """Ask the bridge for a username; works within 30 s of a press of its link button."""
        # devicetype is "<application>#<device>", at most 20 and 19 characters.
        devicetype = f"{app_name[:20]}#{socket.gethostname()[:19]}"
        answer = await self._request("POST", "/api", {"devicetype": devicetype})
        first = answer[0]
        if "error" in first and first["error"]["type"] == 101:
            raise LinkButtonNotPressed(
                f"To connect the {self._bridge}, press the round button on top of the bridge, "
                "then say \"done\" within 30 seconds and I'll try again.")
        if "error" in first:
            reason = first["error"]["description"]
            raise DeviceError(f"The {self._bridge} refused to pair: {reason}.")
        username: str = first["success"]["username"]
        self.username = username
        return username

    async def refresh(self) -> list[Entity]:
        full = await self._request("GET", self._user_path(""))
        self._raise_errors(full, "read its lights")
        rooms = {light_id: group["name"] for group in full["groups"].values()
                 if group.get("type") == "Room" for light_id in group["lights"]}
        entities: list[Entity] = []
        light_ids: dict[str, str] = {}
        for light_id, light in sorted(full["lights"].items(), key=lambda kv: int(kv[0])):
            base = f"light.{slug(light['name'], fallback=f'hue_{light_id}')}"
            entity_id, n = base, 2
            while entity_id in light_ids:  # two lights with one name: kitchen, kitchen_2
                entity_id, n = f"{base}_{n}", n + 1
            light_ids[entity_id] = light_id
            entities.append(self._entity(entity_id, light, rooms.get(light_id)))
        self._light_ids, self._lights, self._rooms = light_ids, full["lights"], rooms
        return entities

    async def refresh_entity(self, entity_id: str) -> Entity:
        """One light read again after a command, not the whole bridge."""
        light_id = self._light_ids[entity_id]
        light = await self._request("GET", self._user_path(f"/lights/{light_id}"))
        self._raise_errors(light, f"read {entity_id}")
        self._lights[light_id] = light
        return self._entity(entity_id, light, self._rooms.get(light_id))

    async def call(self, entity_id: str, service: str, data: dict[str, Any]) -> None:
        if entity_id not in self._light_ids:
            await self.refresh()
        if entity_id not in self._light_ids:
            raise DeviceError(f"The {self._bridge} has no light called {entity_id}.")
        light_id = self._light_ids[entity_id]
        light = self._lights[light_id]
        if service not in LIGHT_SERVICES:
            raise DeviceError(f"{light['name']} is a light; it can't {service.replace('_', ' ')}.")
        if service == "toggle" or not light["state"]["reachable"]:
            # Toggling needs the state now; a light that was unreachable may be back.
            light = await self._request("GET", self._user_path(f"/lights/{light_id}"))
            self._raise_errors(light, f"read {entity_id}")
            self._lights[light_id] = light
        name, state = light["name"], light["state"]
        if not state["reachable"]:
            raise DeviceError(f"{name} is not answering the Hue bridge; it may be switched off "
                              "at the wall.")
        if service == "turn_on":
            body = self._turn_on_body(light, data)
        elif service == "turn_off":
            body = {"on": False}
        else:
            body = {"on": not state["on"]}
        if "transition" in data:
            body["transitiontime"] = max(0, round(float(data["transition"]) * 10))
        answer = await self._request("PUT", self._user_path(f"/lights/{light_id}/state"), body)
        self._raise_errors(answer, f"change {name}")

    async def close(self) -> None:
        await self._http.close()

    # --- helpers -----------------------------------------------------------------------------

    def _entity(self, entity_id: str, light: dict[str, Any], area: str | None) -> Entity:
        state = light["state"]
        modes = self._color_modes(state)
        attributes: dict[str, Any] = {"supported_color_modes": modes, "color_mode": None,
                                      "brightness": None, "rgb_color": None,
                                      "color_temp_kelvin": None}
        if "color_temp" in modes:
            low, high = self._ct_range(light)
            attributes["min_color_temp_kelvin"] = mired_to_kelvin(high)
            attributes["max_color_temp_kelvin"] = mired_to_kelvin(low)
        if state["on"]:
            if "bri" in state:
                attributes["brightness"] = _ha_brightness(state["bri"])
            mode = state.get("colormode")
            if mode == "ct" and "color_temp" in modes:
                attributes.update(color_mode="color_temp",
                                  color_temp_kelvin=mired_to_kelvin(state["ct"]))
            elif mode == "xy":
                attributes.update(color_mode="xy", rgb_color=list(xy_to_rgb(*state["xy"])))
            elif mode == "hs":
                rgb = colorsys.hsv_to_rgb(state["hue"] / 65535, state["sat"] / 254, 1.0)
                attributes.update(color_mode="hs", rgb_color=[round(c * 255) for c in rgb])
            else:
                attributes["color_mode"] = modes[0]
        if not state["reachable"]:
            status = "unavailable"
        else:
            status = "on" if state["on"] else "off"
        return Entity(entity_id=entity_id, name=light["name"], device_id=self.device.device_id,
                      area=area, state=status, attributes=attributes, services=set(LIGHT_SERVICES))

    @staticmethod
    def _color_modes(state: dict[str, Any]) -> list[str]:
        """Home Assistant's supported_color_modes, read from which state keys the light has."""
        modes = [m for m, key in (("color_temp", "ct"), ("xy", "xy")) if key in state]
        if modes:
            return modes
        return ["brightness"] if "bri" in state else ["onoff"]

    @staticmethod
    def _ct_range(light: dict[str, Any]) -> tuple[int, int]:
        ct = light.get("capabilities", {}).get("control", {}).get("ct")
        return (ct["min"], ct["max"]) if ct else DEFAULT_CT_RANGE

    def _turn_on_body(self, light: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        unknown = set(data) - TURN_ON_KEYS
        if unknown:
            names = ", ".join(sorted(unknown))
            raise DeviceError(f"Hue lights don't take {names} when turning on.")
        name, modes = light["name"], self._color_modes(light["state"])
        # A bridge refuses colour and brightness for a light that is off, so "on" always goes too.
        body: dict[str, Any] = {"on": True}
        if "brightness_pct" in data:
            pct = float(data["brightness_pct"])
            if pct <= 0:  # Home Assistant's rule: turning on to 0 % means off
                return {"on": False}
            if "bri" not in light["state"]:
                raise DeviceError(f"{name} can't dim; it only turns on and off.")
            body["bri"] = _hue_bri_from_pct(pct)
        rgb, kelvin = data.get("rgb_color"), data.get("color_temp_kelvin")
        if "color_name" in data:
            kind, value = color_name_target(str(data["color_name"]))
            if kind == "rgb":
                rgb = value
            else:
                kelvin = value
        if rgb is not None:
            if "xy" not in modes:
                raise DeviceError(f"{name} can't change colour.")
            body["xy"] = list(rgb_to_xy(rgb))
        elif kelvin is not None:
            if "color_temp" not in modes:
                raise DeviceError(f"{name} can't change its white tone.")
            body["ct"] = kelvin_to_mired(float(kelvin), self._ct_range(light))
        return body

    def _user_path(self, rest: str) -> str:
        if not self.username:
            raise NotPaired(f"Claw isn't paired with the {self._bridge} yet; ask me to pair "
                            "with it and press the round button on the bridge.")
        return f"/api/{self.username}{rest}"

    def _raise_errors(self, answer: Any, doing: str) -> None:
        if not isinstance(answer, list):
            return
        errors = [item["error"] for item in answer if "error" in item]
        if any(e["type"] == 1 for e in errors):
            raise NotPaired(f"The {self._bridge} no longer accepts Claw's username; ask me to pair "
                            "again and press the round button on the bridge.")
        if errors:
            reasons = "; ".join(e["description"] for e in errors)
            raise DeviceError(f"The {self._bridge} couldn't {doing}: {reasons}.")

    async def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self._http.request(method, path, f"the {self._bridge}", body) as response:
            if response.status != 200:
                raise DeviceError(f"The {self._bridge} answered HTTP {response.status}; "
                                  "it may be restarting, try again in a minute.")
            text = await response.text()
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise DeviceError(f"The {self._bridge} answered with something that isn't Hue data; is "
                              "it really a Hue bridge?") from exc


def make_driver(device: Device, username: str | None) -> HueDriver:
    return HueDriver(device, username)
