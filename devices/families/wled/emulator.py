"""An emulated WLED LED controller speaking its JSON API.

`GET /json` (state, info, effects, palettes), `GET /json/state|info|effects|palettes`, and
`POST /json/state` (or `/json`) with a partial state: `on` (bool or "t" to toggle), `bri`,
`transition`, `seg` (a list of segment updates: `col`, `fx`, `pal`, `sx`, `ix`, `on`, `bri`).
The answer is `{"success": true}`, or the whole new state when the body has `"v": true`.

Faults for tests: set `fail` to "offline", "slow" (answers after `slow_delay` seconds) or
"error" (HTTP 500).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from aiohttp import web

from devices.emulators.base import Emulator

VERSION = "0.14.4"
VID = 2405180
# The first effects and palettes of WLED 0.14, in firmware order (the index is the id).
EFFECTS = [
    "Solid", "Blink", "Breathe", "Wipe", "Wipe Random", "Random Colors", "Sweep", "Dynamic",
    "Colorloop", "Rainbow", "Scan", "Scan Dual", "Fade", "Theater", "Theater Rainbow", "Running",
    "Saw", "Twinkle", "Dissolve", "Dissolve Rnd", "Sparkle", "Sparkle Dark", "Sparkle+", "Strobe",
    "Strobe Rainbow", "Strobe Mega", "Blink Rainbow", "Android", "Chase", "Chase Random",
    "Chase Rainbow", "Chase Flash", "Chase Flash Rnd", "Rainbow Runner", "Colorful",
    "Traffic Light", "Sweep Random", "Chase 2", "Aurora", "Stream", "Scanner", "Lighthouse",
    "Fireworks", "Rain", "Tetrix", "Fire Flicker", "Gradient", "Loading", "Rolling Balls",
    "Fairy", "Two Dots", "Fairytwinkle", "Running Dual", "Halloween", "Chase 3", "Tri Wipe",
    "Tri Fade", "Lightning", "ICU", "Multi Comet", "Scanner Dual", "Stream 2", "Oscillate",
    "Pride 2015", "Juggle", "Palette", "Fire 2012", "Colorwaves", "Bpm", "Fill Noise", "Noise 1",
    "Noise 2", "Noise 3", "Noise 4", "Colortwinkles", "Lake", "Meteor", "Meteor Smooth",
    "Railway", "Ripple",
]
PALETTES = [
    "Default", "* Random Cycle", "* Color 1", "* Colors 1&2", "* Color Gradient", "* Colors Only",
    "Party", "Cloud", "Lava", "Ocean", "Forest", "Rainbow", "Rainbow Bands", "Sunset",
    "Rivendell", "Breeze", "Red & Blue", "Yellowout", "Analogous", "Splash", "Pastel",
    "Sunset 2", "Beach", "Vintage", "Departure", "Landscape", "Beech", "Sherbet", "Hult",
]
ERR_JSON = 9  # WLED's code for a body it could not parse


class WledEmulator(Emulator):
    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, name: str = "Deck Strip", leds: int = 60,
        slow_delay: float = 10.0,
    ) -> None:
        super().__init__(host, port, slow_delay)
        self.name = name
        self.leds = leds
        self.mac = hashlib.sha1(f"{host}/{name}".encode()).hexdigest()[:12]
        self.on = False
        self.bri = 128
        self.transition = 7
        self.seg: dict[str, Any] = {
            "id": 0, "start": 0, "stop": leds, "len": leds, "grp": 1, "spc": 0, "of": 0,
            "on": True, "frz": False, "bri": 255, "cct": 127,
            "col": [[255, 160, 0], [0, 0, 0], [0, 0, 0]], "fx": 0, "sx": 128, "ix": 128,
            "pal": 0, "sel": True, "rev": False, "mi": False,
        }

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/json", self._get)
        app.router.add_get("/json/{part}", self._get)
        app.router.add_post("/json", self._post_state)
        app.router.add_post("/json/state", self._post_state)

    # -- documents -------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "on": self.on, "bri": self.bri, "transition": self.transition, "ps": -1, "pl": -1,
            "nl": {"on": False, "dur": 60, "mode": 1, "tbri": 0, "rem": -1},
            "udpn": {"send": False, "recv": True, "sgrp": 1, "rgrp": 1},
            "lor": 0, "mainseg": 0, "seg": [json.loads(json.dumps(self.seg))],
        }

    def info(self) -> dict[str, Any]:
        lit = self.on and self.seg["on"]
        milliamps = round(self.leds * 60 * max(self.seg["col"][0][:3]) / 255 * self.bri / 255) if lit else 0
        return {
            "ver": VERSION, "vid": VID,
            "leds": {"count": self.leds, "pwr": milliamps, "fps": 42 if lit else 0, "maxpwr": 850,
                     "maxseg": 32, "seglc": [1], "lc": 1, "rgbw": False, "wv": 0, "cct": 0},
            "str": False, "name": self.name, "udpport": 21324, "live": False, "liveseg": -1,
            "lm": "", "lip": "", "ws": 0, "fxcount": len(EFFECTS), "palcount": len(PALETTES),
            "cpalcount": 0, "wifi": {"bssid": "", "rssi": -58, "signal": 84, "channel": 6},
            "arch": "esp32", "core": "v3.3.6-16-gcc5440f6a2", "freeheap": 182344, "uptime": 3600,
            "opt": 79, "brand": "WLED", "product": "FOSS", "mac": self.mac, "ip": self.host,
        }

    async def _get(self, request: web.Request) -> web.Response:
        doc = {"state": self.state(), "info": self.info(), "effects": EFFECTS, "palettes": PALETTES}
        part = request.match_info.get("part")
        if part is None:
            return web.json_response(doc)
        if part not in doc:
            raise web.HTTPNotFound()
        return web.json_response(doc[part])

    # -- updates ---------------------------------------------------------------------------

    async def _post_state(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.text())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.json_response({"error": ERR_JSON}, status=400)
        self.apply(body)
        return web.json_response(self.state() if body.get("v") else {"success": True})

    def apply(self, body: dict[str, Any]) -> None:
        """Apply a partial state the way the firmware does (bad values are clamped or ignored)."""
        if isinstance(body.get("bri"), int):  # like the firmware: a brightness implies on/off
            if body["bri"] == 0:  # off, keeping the last brightness
                self.on = False
            else:
                self.bri = max(1, min(255, body["bri"]))
                self.on = True
        if "on" in body:
            self.on = (not self.on) if body["on"] == "t" else bool(body["on"])
        if isinstance(body.get("transition"), int):
            self.transition = body["transition"]
        segs = body.get("seg")
        for i, seg in enumerate(segs if isinstance(segs, list) else [segs] if isinstance(segs, dict) else []):
            if seg.get("id", i) == 0:
                self._apply_segment(seg)

    def _apply_segment(self, seg: dict[str, Any]) -> None:
        for slot, color in enumerate(seg.get("col", [])[:3]):
            if isinstance(color, str):  # hex "FF8800"
                color = [int(color[i:i + 2], 16) for i in (0, 2, 4)]
            if isinstance(color, list) and len(color) >= 3:
                self.seg["col"][slot] = [max(0, min(255, int(c))) for c in color[:3]]
        if isinstance(seg.get("fx"), int):
            self.seg["fx"] = seg["fx"] if 0 <= seg["fx"] < len(EFFECTS) else 0
        if isinstance(seg.get("pal"), int):
            self.seg["pal"] = seg["pal"] if 0 <= seg["pal"] < len(PALETTES) else 0
        for key in ("sx", "ix", "bri"):
            if isinstance(seg.get(key), int):
                self.seg[key] = max(0, min(255, seg[key]))
        if isinstance(seg.get("on"), bool):
            self.seg["on"] = seg["on"]
