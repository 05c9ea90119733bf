"""A loopback HTTP snapshot camera: GET /snapshot.jpg draws the driveway as it is now.

`set_scene("truck")` parks a box truck on the driveway; `set_scene("empty")` clears it. Each
snapshot carries a timestamp, so two snapshots of an unchanged scene differ only slightly,
as with a real camera.
"""
from __future__ import annotations

import io
from datetime import datetime

from aiohttp import web
from PIL import Image, ImageDraw

from devices.emulators.base import Emulator

SCENES = ("empty", "truck")


class CameraEmulator(Emulator):
    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, name: str = "Driveway Camera",
        size: tuple[int, int] = (640, 360),
    ) -> None:
        super().__init__(host, port)
        self.name = name
        self.size = size
        self.scene = "empty"
        self.snapshots_served = 0

    def set_scene(self, scene: str) -> None:
        if scene not in SCENES:
            raise ValueError(f"unknown scene {scene!r}; choose from {SCENES}")
        self.scene = scene

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/snapshot.jpg", self._snapshot)
        app.router.add_get("/info", self._info)

    def render(self) -> bytes:
        """The current scene as JPEG bytes."""
        w, h = self.size
        img = Image.new("RGB", self.size, (135, 180, 220))  # sky
        draw = ImageDraw.Draw(img)
        horizon = int(h * 0.45)
        draw.rectangle((0, horizon, w, h), fill=(70, 130, 60))  # lawn
        draw.polygon([(w * 0.42, horizon), (w * 0.58, horizon), (w * 0.9, h), (w * 0.1, h)],
                     fill=(120, 120, 118))  # driveway
        draw.rectangle((w * 0.05, h * 0.2, w * 0.3, horizon), fill=(180, 90, 70))  # house
        draw.rectangle((w * 0.14, h * 0.3, w * 0.2, horizon), fill=(90, 60, 40))  # door
        if self.scene == "truck":
            box = (w * 0.3, h * 0.4, w * 0.62, h * 0.8)
            draw.rectangle(box, fill=(235, 235, 230), outline=(40, 40, 40), width=3)
            draw.rectangle((w * 0.62, h * 0.55, w * 0.74, h * 0.8), fill=(200, 40, 40))  # cab
            for cx in (w * 0.38, w * 0.55, w * 0.69):
                draw.ellipse((cx - h * 0.06, h * 0.74, cx + h * 0.06, h * 0.86), fill=(20, 20, 20))
        stamp = datetime.now().isoformat(sep=" ", timespec="milliseconds")
        draw.text((8, 8), f"{self.name}  {stamp}", fill=(255, 255, 255))
        out = io.BytesIO()
        img.save(out, "JPEG", quality=80)
        return out.getvalue()

    def failure(self) -> web.Response | None:
        """Besides the shared faults, "garbage": a login page instead of an image."""
        if self.fail == "garbage":
            return web.Response(text="<html><body>Please log in</body></html>", content_type="text/html")
        return super().failure()

    async def _snapshot(self, request: web.Request) -> web.Response:
        self.snapshots_served += 1
        return web.Response(body=self.render(), content_type="image/jpeg")

    async def _info(self, request: web.Request) -> web.Response:
        w, h = self.size
        return web.json_response({"name": self.name, "model": "Claw SnapCam 1", "width": w, "height": h})
