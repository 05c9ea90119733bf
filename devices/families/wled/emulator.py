"""An emulated WLED LED controller (firmware 0.14) speaking its JSON API and its WebSocket.

`GET /json` (state, info, effects, palettes), `GET /json/state|info|si|effects|palettes|fxdata|cfg`,
`GET /presets.json`, and `POST /json/state` (or `/json`) with a partial state: `on` (bool or
"t" to toggle), `bri`, `transition`, `tt` (this change only), `ps` (apply a preset), `psave` +
`n` (save one), `nl` (nightlight), `udpn` (sync), and `seg`: updates by `id` of any segment,
`start`/`stop` creating a new one or `stop` <= `start` deleting it. The answer is
`{"success": true}`, or the new state when the body has `"v": true`. `/ws` sends
`{"state", "info"}` on connect and after every change, and takes the same state updates.
python-wled (Home Assistant's library) is the referee: tests/test_wled_conformance.py.

Faults for tests: set `fail` to "offline", "slow" (answers after `slow_delay` seconds) or
"error" (HTTP 500).
"""
from __future__ import annotations

import copy
import hashlib
from collections import deque
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from devices.emulators.base import Emulator
from devices.families.wled.catalog import EFFECTS, FXDATA, PALETTES, PRESETS, led_config

VERSION = "0.14.4"
VID = 2405180
ERR_JSON = 9  # WLED's code for a body it could not parse
CCT_KELVIN = (1900, 10091)  # a cct above 255 is kelvin in this range; stored as 0-255
SEGMENT_KEYS = ("sx", "ix", "c1", "c2", "c3", "bri", "cct", "grp", "spc", "of")
SEGMENT_FLAGS = ("on", "frz", "sel", "rev", "mi", "o1", "o2", "o3")


def new_segment(segment_id: int, start: int, stop: int) -> dict[str, Any]:
    return {
        "id": segment_id, "start": start, "stop": stop, "len": stop - start, "grp": 1, "spc": 0,
        "of": 0, "on": True, "frz": False, "bri": 255, "cct": 127, "set": 0,
        "col": [[255, 160, 0], [0, 0, 0], [0, 0, 0]], "fx": 0, "sx": 128, "ix": 128, "pal": 0,
        "c1": 128, "c2": 128, "c3": 16, "sel": segment_id == 0, "rev": False, "mi": False,
        "o1": False, "o2": False, "o3": False, "si": 0, "m12": 0,
    }


class WledEmulator(Emulator):
    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, name: str = "Deck Strip", leds: int = 60,
        slow_delay: float = 10.0, clock: Callable[[], float] = time.monotonic,
        websockets: bool = True,  # False: a build without them (info.ws is -1, /ws is 404)
    ) -> None:
        super().__init__(host, port, slow_delay)
        self.websockets = websockets
        self.name = name
        self.leds = leds
        self.clock = clock  # the nightlight's time; tests pass one they can move
        self.mac = hashlib.sha1(f"{host}/{name}".encode()).hexdigest()[:12]
        self.presets: dict[str, Any] = copy.deepcopy(PRESETS)
        self.presets_modified = 0  # unix time of the last preset save (info.fs.pmt)
        self._booted = time.time()
        self._sockets: dict[web.WebSocketResponse, web.Request] = {}  # open /ws clients
        # (method, path) of the latest JSON API calls, for tests (bounded: a demo runs for days)
        self.requests: deque[tuple[str, str]] = deque(maxlen=1000)
        self.factory_state()

    def factory_state(self) -> None:
        """The light as it comes out of the box: off, one segment, no nightlight (presets stay)."""
        self.on = False
        self.bri = 128
        self.transition = 7
        self.preset = -1  # the preset last applied, until something else changes the state
        self.nightlight: dict[str, Any] = {"on": False, "dur": 60, "mode": 1, "tbri": 0}
        self._nightlight_from = 0.0  # clock() when the nightlight was switched on
        self.sync: dict[str, Any] = {"send": False, "recv": True, "sgrp": 1, "rgrp": 1}
        self.segments: dict[int, dict[str, Any]] = {0: new_segment(0, 0, self.leds)}

    @property
    def seg(self) -> dict[str, Any]:
        """The main segment (segment 0)."""
        return self.segments[0]

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/json", self._get)
        app.router.add_get("/json/{part}", self._get)
        app.router.add_post("/json", self._post_state)
        app.router.add_post("/json/state", self._post_state)
        app.router.add_get("/presets.json", self._presets)
        if self.websockets:
            app.router.add_get("/ws", self._websocket)

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        await super().stop()

    # -- documents -------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        self._run_nightlight()
        nightlight = {**self.nightlight, "rem": self._nightlight_left()}
        segments = [copy.deepcopy(self.segments[i]) for i in sorted(self.segments)]
        return {
            "on": self.on, "bri": self.bri, "transition": self.transition, "ps": self.preset,
            "pl": -1, "nl": nightlight, "udpn": dict(self.sync), "lor": 0,
            "mainseg": next((s["id"] for s in segments if s["sel"]), 0), "seg": segments,
        }

    def info(self) -> dict[str, Any]:
        lit = self.on and self.seg["on"]
        milliamps = round(self.leds * 60 * max(self.seg["col"][0][:3]) / 255 * self.bri / 255) if lit else 0
        return {
            "ver": VERSION, "vid": VID,
            "leds": {"count": self.leds, "pwr": milliamps, "fps": 42 if lit else 0, "maxpwr": 850,
                     "maxseg": 32, "seglc": [1 for _ in self.segments], "lc": 1, "rgbw": False,
                     "wv": 0, "cct": 0},
            "str": False, "name": self.name, "udpport": 21324, "live": False, "liveseg": -1,
            "lm": "", "lip": "", "ws": len(self._sockets) if self.websockets else -1, "fxcount": len(EFFECTS),
            "palcount": len(PALETTES), "cpalcount": 0, "maps": [{"id": 0}],
            "wifi": {"bssid": "", "rssi": -58, "signal": 84, "channel": 6},
            "fs": {"u": 12, "t": 983, "pmt": self.presets_modified},
            "ndc": 0, "arch": "esp32", "core": "v3.3.6-16-gcc5440f6a2", "lwip": 0,
            "freeheap": 182344, "uptime": round(time.time() - self._booted), "time": "",
            "opt": 79, "brand": "WLED", "product": "FOSS", "mac": self.mac, "ip": self.host,
        }

    async def _get(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        part = request.match_info.get("part")
        documents: dict[str, Callable[[], Any]] = {
            "state": self.state, "info": self.info, "effects": lambda: EFFECTS,
            "palettes": lambda: PALETTES, "si": lambda: {"state": self.state(), "info": self.info()},
            "fxdata": lambda: FXDATA, "cfg": lambda: led_config(self.leds, self.name),
        }
        if part is None:
            return web.json_response({"state": self.state(), "info": self.info(),
                                      "effects": EFFECTS, "palettes": PALETTES})
        if part not in documents:
            raise web.HTTPNotFound()
        return web.json_response(documents[part]())

    async def _presets(self, request: web.Request) -> web.Response:
        return web.json_response(self.presets)

    # -- updates ---------------------------------------------------------------------------

    async def _post_state(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        try:
            body = json.loads(await request.text())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.json_response({"error": ERR_JSON}, status=400)
        self.apply(body)
        await self.push()
        return web.json_response(self.state() if body.get("v") else {"success": True})

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets[ws] = request
        try:
            await ws.send_json({"state": self.state(), "info": self.info()})
            async for msg in ws:
                if msg.type != web.WSMsgType.TEXT:
                    break
                body = json.loads(msg.data)
                if isinstance(body, dict):
                    self.apply(body)
                    await self.push()  # every client, this one included, hears the new state
        finally:
            self._sockets.pop(ws, None)
        return ws

    async def drop_websockets(self) -> None:
        """Cut every /ws client without a close frame, as a Wi-Fi drop or a reboot would."""
        for request in list(self._sockets.values()):
            if request.transport is not None:
                request.transport.abort()
        self._sockets.clear()

    async def push(self) -> None:
        """Send the state and info to every WebSocket client, as the firmware does on a change."""
        message = {"state": self.state(), "info": self.info()}
        for ws in list(self._sockets):
            if not ws.closed:
                await ws.send_json(message)

    def apply(self, body: dict[str, Any]) -> None:
        """Apply a partial state the way the firmware does (bad values are clamped or ignored)."""
        if isinstance(body.get("ps"), int) and str(body["ps"]) in self.presets and body["ps"] > 0:
            preset_id = body["ps"]
            self.apply({k: v for k, v in self.presets[str(preset_id)].items() if k != "n"})
            self.preset = preset_id
            return
        if isinstance(body.get("psave"), int) and 1 <= body["psave"] <= 250:
            saved = {k: v for k, v in self.state().items() if k in ("on", "bri", "transition", "mainseg", "seg")}
            self.presets[str(body["psave"])] = {"n": str(body.get("n") or f"Preset {body['psave']}"), **saved}
            self.presets_modified = int(time.time())
            return
        changed = False
        if isinstance(body.get("bri"), int):  # like the firmware: a brightness implies on/off
            if body["bri"] == 0:  # off, keeping the last brightness
                self.on = False
            else:
                self.bri = max(1, min(255, body["bri"]))
                self.on = True
            changed = True
        if "on" in body:
            self.on = (not self.on) if body["on"] == "t" else bool(body["on"])
            changed = True
        if isinstance(body.get("transition"), int):
            self.transition = max(0, min(65535, body["transition"]))
        if isinstance(body.get("nl"), dict):
            self._apply_nightlight(body["nl"])
        if isinstance(body.get("udpn"), dict):
            for key in ("send", "recv"):
                if isinstance(body["udpn"].get(key), bool):
                    self.sync[key] = body["udpn"][key]
            for key in ("sgrp", "rgrp"):
                if isinstance(body["udpn"].get(key), int):
                    self.sync[key] = max(0, min(255, body["udpn"][key]))
        segs = body.get("seg")
        for i, seg in enumerate(segs if isinstance(segs, list) else [segs] if isinstance(segs, dict) else []):
            if isinstance(seg, dict):
                self._apply_segment(seg.get("id", i), seg)
                changed = True
        if changed:
            self.preset = -1  # the look no longer is the preset's

    def _apply_nightlight(self, nl: dict[str, Any]) -> None:
        for key, low, high in (("dur", 1, 255), ("mode", 0, 3), ("tbri", 0, 255)):
            if isinstance(nl.get(key), int):
                self.nightlight[key] = max(low, min(high, nl[key]))
        if isinstance(nl.get("on"), bool):
            if nl["on"] and not self.nightlight["on"]:
                self._nightlight_from = self.clock()
            self.nightlight["on"] = nl["on"]

    def _nightlight_left(self) -> int:
        if not self.nightlight["on"]:
            return -1
        return max(0, round(self.nightlight["dur"] * 60 - (self.clock() - self._nightlight_from)))

    def _run_nightlight(self) -> None:
        """A nightlight whose time is up leaves the strip at its target brightness (off at 0)."""
        if self.nightlight["on"] and self._nightlight_left() == 0:
            self.nightlight["on"] = False
            if self.nightlight["tbri"] == 0:
                self.on = False
            else:
                self.bri = self.nightlight["tbri"]

    def _apply_segment(self, segment_id: Any, seg: dict[str, Any]) -> None:
        if not isinstance(segment_id, int) or not 0 <= segment_id < 32:
            return
        current = self.segments.get(segment_id)
        start = seg.get("start", current["start"] if current else 0)
        stop = seg.get("stop", current["stop"] if current else None)
        if not isinstance(start, int) or not isinstance(stop, int):
            return  # a new segment needs its range
        if stop <= start:  # WLED's way to delete a segment; the last one stays
            if current is not None and len(self.segments) > 1:
                del self.segments[segment_id]
            return
        if current is None:
            current = self.segments[segment_id] = new_segment(segment_id, 0, 0)
        start, stop = max(0, min(start, self.leds)), max(1, min(stop, self.leds))
        current.update(start=start, stop=stop, len=stop - start)
        for slot, color in enumerate(seg.get("col", [])[:3]):
            if isinstance(color, str):  # hex "FF8800"
                color = [int(color[i:i + 2], 16) for i in (0, 2, 4)]
            if isinstance(color, list) and len(color) >= 3:
                current["col"][slot] = [max(0, min(255, int(c))) for c in color[:3]]
        if isinstance(seg.get("fx"), int):
            current["fx"] = seg["fx"] if 0 <= seg["fx"] < len(EFFECTS) else 0
        if isinstance(seg.get("pal"), int):
            current["pal"] = seg["pal"] if 0 <= seg["pal"] < len(PALETTES) else 0
        if isinstance(seg.get("cct"), int) and seg["cct"] > 255:  # kelvin
            low, high = CCT_KELVIN
            seg = {**seg, "cct": round((min(max(seg["cct"], low), high) - low) * 255 / (high - low))}
        for key in SEGMENT_KEYS:
            if isinstance(seg.get(key), int) and not isinstance(seg.get(key), bool):
                current[key] = max(0, min(31 if key == "c3" else 255, seg[key]))
        for key in SEGMENT_FLAGS:
            if isinstance(seg.get(key), bool):
                current[key] = seg[key]
        if isinstance(seg.get("n"), str):
            if seg["n"]:
                current["n"] = seg["n"][:32]
            else:
                current.pop("n", None)
