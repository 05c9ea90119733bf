"""HTTP snapshot cameras: one `camera.<name>` entity whose image is a GET away.

`snapshot()` returns the JPEG bytes (the executor's camera snapshot tool calls it);
`changed()` is a cheap comparison of two snapshots for motion alerts.
"""
from __future__ import annotations

import io
from datetime import datetime, timezone
from typing import Any

from PIL import Image, ImageChops, ImageStat

from devices.http import DeviceHttp
from devices.model import Device, DeviceError, Entity
from devices.names import slug

JPEG_MAGIC = b"\xff\xd8\xff"
_COMPARE_SIZE = (64, 48)  # small enough to be cheap, to blur noise, and to ignore a timestamp


class CameraDriver:
    def __init__(
        self, device: Device, timeout: float = 3.0, area: str | None = None, path: str = "/snapshot.jpg"
    ) -> None:
        self.device = device
        self.entity_id = f"camera.{slug(device.name, fallback='camera')}"
        self._area = area
        self._path = path
        self._http = DeviceHttp(device, timeout)
        self.last_snapshot: bytes | None = None
        self._attributes: dict[str, Any] = {"last_snapshot_at": None}

    async def refresh(self) -> list[Entity]:
        """Takes a snapshot: the only way a plain snapshot camera shows it is alive."""
        await self.snapshot(self.entity_id)
        return [Entity(
            entity_id=self.entity_id,
            name=self.device.name,
            device_id=self.device.device_id,
            area=self._area,
            state="idle",
            attributes=dict(self._attributes),
            services={"snapshot"},
        )]

    async def call(self, entity_id: str, service: str, data: dict[str, Any]) -> None:
        if service != "snapshot":
            raise DeviceError(f"The {self.device.name} can't do {service}; it can only take a snapshot")
        await self.snapshot(entity_id)

    async def snapshot(self, entity_id: str) -> bytes:
        """The camera's current image as JPEG bytes."""
        if entity_id != self.entity_id:
            raise DeviceError(f"The {self.device.name} has no {entity_id}")
        where = f"the {self.device.name} at {self.device.host}:{self.device.port}"
        async with self._http.request("GET", self._path, where) as resp:
            if resp.status != 200:
                raise DeviceError(f"I asked {where} for a snapshot and it answered HTTP {resp.status}")
            body = await resp.read()
        if not body.startswith(JPEG_MAGIC):
            raise DeviceError(f"{where[0].upper()}{where[1:]} sent something that is not a JPEG image; "
                              "check its snapshot address")
        with Image.open(io.BytesIO(body)) as img:  # reads the header only
            width, height = img.size
        self.last_snapshot = body
        taken = datetime.now(timezone.utc).isoformat()
        self._attributes = {"last_snapshot_at": taken, "width": width, "height": height}
        return body

    async def close(self) -> None:
        await self._http.close()


def changed(prev: bytes, cur: bytes, threshold: float) -> bool:
    """Whether two snapshots differ by more than `threshold`: the mean absolute difference of
    small greyscale copies, as a fraction of full scale (0..1). About 0.02 ignores a timestamp
    and sensor noise but notices a car arriving."""
    return difference(prev, cur) > threshold


def difference(prev: bytes, cur: bytes) -> float:
    a, b = (_thumbnail(data) for data in (prev, cur))
    return ImageStat.Stat(ImageChops.difference(a, b)).mean[0] / 255


def _thumbnail(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        img.draft("L", _COMPARE_SIZE)  # lets the JPEG decoder downscale cheaply
        return img.convert("L").resize(_COMPARE_SIZE, Image.Resampling.BOX)
