"""The CLIP v2 side of an emulated Hue bridge: `https://<bridge>/clip/v2/resource[/<type>[/<id>]]`
and the event stream `https://<bridge>/eventstream/clip/v2`, over the same lights and rooms the
v1 API serves (a change on either side is seen on both and pushed as an event).

Resources, in the shapes aiohue's `HueBridgeV2` (Home Assistant's client for such a bridge)
parses: `bridge`, `bridge_home`, one `device` per light and one for the bridge, `light`,
`zigbee_connectivity`, `room` and `grouped_light` (per room, and one for the whole home).
Writes: `PUT light/<id>` (`on`, `dimming`, `color`, `color_temperature`, `dynamics`, `alert`) and
`PUT grouped_light/<id>` (`on`, `dimming`). Every call needs a `hue-application-key` header
holding a v1 username; without one the bridge answers 403, which is how clients tell a v2 bridge.
"""
from __future__ import annotations

import asyncio
import datetime
import json
import ssl
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devices.families.hue.emulator import CT_RANGE

if TYPE_CHECKING:
    from devices.families.hue.emulator import EmulatedLight, HueBridgeEmulator

GAMUT_C = {"red": {"x": 0.6915, "y": 0.3083}, "green": {"x": 0.17, "y": 0.7},
           "blue": {"x": 0.1532, "y": 0.0475}}


def self_signed_context(host: str, bridge_id: str) -> ssl.SSLContext:
    """A TLS server context with a fresh self-signed certificate named for the bridge id, as a
    real bridge's is (clients do not verify it: aiohue connects with ssl=False)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, bridge_id.lower())])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(key, hashes.SHA256()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as folder:  # ssl loads a chain only from files
        cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        context.load_cert_chain(cert_file, key_file)
    return context


def _ref(rid: str, rtype: str) -> dict[str, str]:
    return {"rid": rid, "rtype": rtype}


def _errors(status: int, description: str) -> web.Response:
    return web.json_response({"errors": [{"description": description}], "data": []}, status=status)


class ClipV2:
    def __init__(self, bridge: "HueBridgeEmulator") -> None:
        self.bridge = bridge
        self._streams: list[asyncio.Queue[str | None]] = []
        self._event_number = 0
        bridge.listeners.append(self._light_changed)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/clip/v2/resource", self._get)
        app.router.add_get("/clip/v2/resource/{type}", self._get)
        app.router.add_get("/clip/v2/resource/{type}/{id}", self._get)
        app.router.add_put("/clip/v2/resource/{type}/{id}", self._put)
        app.router.add_get("/eventstream/clip/v2", self._eventstream)

    def close_streams(self) -> None:
        for queue in self._streams:
            queue.put_nowait(None)

    # -- ids -------------------------------------------------------------------------------

    def uid(self, kind: str, local: str = "") -> str:
        """A stable v2 id for a v1 object ("light", "3"): the same on every read and restart."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"hue://{self.bridge.bridge_id}/{kind}/{local}"))

    # -- resources -------------------------------------------------------------------------

    def resources(self) -> list[dict[str, Any]]:
        bridge = self.bridge
        bridge_device = self.uid("device", "bridge")
        home_group = self.uid("grouped_light", "home")
        items: list[dict[str, Any]] = [
            {"id": self.uid("bridge"), "type": "bridge", "owner": _ref(bridge_device, "device"),
             "bridge_id": bridge.bridge_id.lower(), "time_zone": {"time_zone": "Europe/Berlin"}},
            {"id": bridge_device, "type": "device", "id_v1": "", "services": [_ref(self.uid("bridge"), "bridge")],
             "product_data": {"model_id": "BSB002", "manufacturer_name": "Signify Netherlands B.V.",
                              "product_name": "Hue Bridge", "product_archetype": "bridge_v2",
                              "certified": True, "software_version": bridge.software_version},
             "metadata": {"name": bridge.name, "archetype": "bridge_v2"}},
            {"id": self.uid("bridge_home"), "type": "bridge_home", "id_v1": "/groups/0",
             "children": [_ref(self.uid("room", g), "room") for g in bridge.groups],
             "services": [_ref(home_group, "grouped_light")]},
            self._grouped_light(home_group, _ref(self.uid("bridge_home"), "bridge_home"),
                                list(bridge.lights), "/groups/0"),
        ]
        for light_id, light in bridge.lights.items():
            items += [self._device(light_id, light), self._light(light_id, light), self._zigbee(light_id, light)]
        for group_id, group in bridge.groups.items():
            room = self.uid("room", group_id)
            items.append({
                "id": room, "type": "room", "id_v1": f"/groups/{group_id}",
                "metadata": {"name": group.name, "archetype": "other"},
                "children": [_ref(self.uid("device", lid), "device") for lid in group.lights],
                "services": [_ref(self.uid("grouped_light", group_id), "grouped_light")],
            })
            items.append(self._grouped_light(self.uid("grouped_light", group_id), _ref(room, "room"),
                                             group.lights, f"/groups/{group_id}"))
        return items

    def _device(self, light_id: str, light: "EmulatedLight") -> dict[str, Any]:
        return {
            "id": self.uid("device", light_id), "type": "device", "id_v1": f"/lights/{light_id}",
            "product_data": {
                "model_id": "LCT015" if light.color else "LWB010",
                "manufacturer_name": "Signify Netherlands B.V.",
                "product_name": "Hue color lamp" if light.color else "Hue white lamp",
                "product_archetype": "sultan_bulb" if light.color else "classic_bulb",
                "certified": True, "software_version": "1.104.2"},
            "metadata": {"name": light.name, "archetype": "sultan_bulb" if light.color else "classic_bulb"},
            "services": [_ref(self.uid("light", light_id), "light"),
                         _ref(self.uid("zigbee_connectivity", light_id), "zigbee_connectivity")],
        }

    def _light(self, light_id: str, light: "EmulatedLight") -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.uid("light", light_id), "type": "light", "id_v1": f"/lights/{light_id}",
            "owner": _ref(self.uid("device", light_id), "device"),
            "metadata": {"name": light.name, "archetype": "sultan_bulb" if light.color else "classic_bulb"},
            "on": {"on": light.on}, "mode": "normal",
            "dimming": {"brightness": round(light.bri * 100 / 254, 2), "min_dim_level": 0.2},
            "alert": {"action_values": ["breathe"]},
        }
        if light.color:
            body["color_temperature"] = {
                "mirek": light.ct if light.colormode == "ct" else None, "mirek_valid": light.colormode == "ct",
                "mirek_schema": {"mirek_minimum": CT_RANGE[0], "mirek_maximum": CT_RANGE[1]}}
            body["color"] = {"xy": {"x": light.xy[0], "y": light.xy[1]}, "gamut": GAMUT_C, "gamut_type": "C"}
        return body

    def _zigbee(self, light_id: str, light: "EmulatedLight") -> dict[str, Any]:
        return {"id": self.uid("zigbee_connectivity", light_id), "type": "zigbee_connectivity",
                "id_v1": f"/lights/{light_id}", "owner": _ref(self.uid("device", light_id), "device"),
                "status": "connected" if light.reachable else "connectivity_issue",
                "mac_address": f"00:17:88:01:0b:{int(light_id) // 256:02x}:{int(light_id) % 256:02x}:01"}

    def _grouped_light(self, rid: str, owner: dict[str, str], lights: list[str], id_v1: str) -> dict[str, Any]:
        members = [self.bridge.lights[lid] for lid in lights]
        lit = [light for light in members if light.on]
        brightness = max((light.bri for light in lit), default=0) * 100 / 254
        return {"id": rid, "type": "grouped_light", "id_v1": id_v1, "owner": owner,
                "on": {"on": bool(lit)}, "dimming": {"brightness": round(brightness, 2)},
                "alert": {"action_values": ["breathe"]}}

    # -- HTTP ------------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("hue-application-key", "") in self.bridge.users

    async def _get(self, request: web.Request) -> web.Response:
        if not request.secure:  # CLIP v2 is https only
            raise web.HTTPNotFound()
        if not self._authorized(request):
            return _errors(403, "unauthorized user")
        items = self.resources()
        kind, rid = request.match_info.get("type"), request.match_info.get("id")
        if kind is not None:
            items = [item for item in items if item["type"] == kind]
        if rid is not None:
            items = [item for item in items if item["id"] == rid]
            if not items:
                return _errors(404, "Not Found")
        return web.json_response({"errors": [], "data": items})

    async def _put(self, request: web.Request) -> web.Response:
        if not request.secure:
            raise web.HTTPNotFound()
        if not self._authorized(request):
            return _errors(403, "unauthorized user")
        kind, rid = request.match_info["type"], request.match_info["id"]
        try:
            body = await request.json()
        except ValueError:
            return _errors(400, "invalid body")
        if not isinstance(body, dict):
            return _errors(400, "invalid body")
        targets = self._targets(kind, rid)
        if targets is None:
            return _errors(404, "Not Found")
        allowed = ({"on", "dimming", "color", "color_temperature", "dynamics", "alert"}
                   if kind == "light" else {"on", "dimming", "dynamics", "alert"})
        unknown = set(body) - allowed - {"type"}
        if unknown:
            return _errors(400, f"device (light) has no such property: {', '.join(sorted(unknown))}")
        changes, problem = _v1_changes(body)
        if problem:
            return _errors(400, problem)
        for light in targets:
            self.bridge.apply_state(light, changes)  # an off light takes it too, unlike v1
        return web.json_response({"errors": [], "data": [_ref(rid, kind)]})

    def _targets(self, kind: str, rid: str) -> list["EmulatedLight"] | None:
        lights = self.bridge.lights
        if kind == "light":
            return next(([light] for lid, light in lights.items() if self.uid("light", lid) == rid), None)
        if kind == "grouped_light":
            if rid == self.uid("grouped_light", "home"):
                return list(lights.values())
            return next(([lights[lid] for lid in group.lights] for gid, group in self.bridge.groups.items()
                         if self.uid("grouped_light", gid) == rid), None)
        return None

    async def _eventstream(self, request: web.Request) -> web.StreamResponse:
        if not request.secure:
            raise web.HTTPNotFound()
        if not self._authorized(request):
            return _errors(403, "unauthorized user")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-cache"})
        await response.prepare(request)
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._streams.append(queue)
        try:
            await response.write(b": hi\n\n")
            while (message := await queue.get()) is not None:
                await response.write(message.encode())
        finally:
            self._streams.remove(queue)
        return response

    # -- events ----------------------------------------------------------------------------

    def _light_changed(self, light_id: str) -> None:
        """Push an update for a light that changed (by v1 or v2) and for the groups it is in."""
        if not self._streams:
            return
        light = self.bridge.lights[light_id]
        data = [self._light(light_id, light)]
        groups = [gid for gid, group in self.bridge.groups.items() if light_id in group.lights]
        for gid in groups:
            data.append(self._grouped_light(self.uid("grouped_light", gid),
                                            _ref(self.uid("room", gid), "room"),
                                            self.bridge.groups[gid].lights, f"/groups/{gid}"))
        self._event_number += 1
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {"creationtime": now, "data": data, "id": str(uuid.uuid4()), "type": "update"}
        message = f"id: {int(datetime.datetime.now().timestamp())}:{self._event_number}\ndata: {json.dumps([event])}\n\n"
        for queue in self._streams:
            queue.put_nowait(message)


def _v1_changes(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A v2 light or grouped_light PUT as the v1 state changes it means."""
    changes: dict[str, Any] = {}
    on = body.get("on")
    if on is not None:
        if not (isinstance(on, dict) and isinstance(on.get("on"), bool)):
            return {}, "on.on must be a boolean"
        changes["on"] = on["on"]
    dimming = body.get("dimming")
    if dimming is not None:
        brightness = dimming.get("brightness") if isinstance(dimming, dict) else None
        if isinstance(brightness, bool) or not isinstance(brightness, (int, float)) or not 0 <= brightness <= 100:
            return {}, "dimming.brightness must be a number from 0 to 100"
        changes["bri"] = max(1, min(254, round(brightness * 254 / 100)))
    color = body.get("color")
    if color is not None:
        xy = color.get("xy") if isinstance(color, dict) else None
        if not (isinstance(xy, dict) and all(isinstance(xy.get(k), (int, float)) and 0 <= xy[k] <= 1
                                             for k in ("x", "y"))):
            return {}, "color.xy needs x and y from 0 to 1"
        changes["xy"] = [float(xy["x"]), float(xy["y"])]
    temperature = body.get("color_temperature")
    if temperature is not None:
        mirek = temperature.get("mirek") if isinstance(temperature, dict) else None
        if isinstance(mirek, bool) or not isinstance(mirek, int) or not CT_RANGE[0] <= mirek <= CT_RANGE[1]:
            return {}, f"color_temperature.mirek must be a whole number from {CT_RANGE[0]} to {CT_RANGE[1]}"
        changes["ct"] = mirek
    return changes, None
