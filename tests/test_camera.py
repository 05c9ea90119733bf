"""The snapshot camera driver against a loopback camera over real HTTP."""
from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from devices.families.camera.driver import CameraDriver, changed, difference
from devices.families.camera.emulator import CameraEmulator
from devices.model import Device, DeviceError


@pytest.fixture
async def cam() -> AsyncIterator[CameraEmulator]:
    async with CameraEmulator(name="Driveway Camera", size=(640, 360)) as emulator:
        yield emulator


def device_for(cam: CameraEmulator) -> Device:
    return Device(device_id="cam-1", family="camera", name=cam.name, host=cam.host, port=cam.port)


@pytest.fixture
async def driver(cam: CameraEmulator) -> AsyncIterator[CameraDriver]:
    drv = CameraDriver(device_for(cam), area="Driveway")
    yield drv
    await drv.close()


async def test_refresh_gives_one_camera_entity(driver: CameraDriver) -> None:
    [entity] = await driver.refresh()
    assert entity.entity_id == "camera.driveway_camera"
    assert (entity.name, entity.area, entity.state) == ("Driveway Camera", "Driveway", "idle")
    assert entity.services == {"snapshot"}
    assert entity.risk_tier == "read"
    assert (entity.attributes["width"], entity.attributes["height"]) == (640, 360)
    assert entity.attributes["last_snapshot_at"]


async def test_snapshot_is_a_jpeg_of_the_expected_size(cam: CameraEmulator, driver: CameraDriver) -> None:
    data = await driver.snapshot("camera.driveway_camera")
    assert data[:3] == b"\xff\xd8\xff"
    with Image.open(io.BytesIO(data)) as img:
        assert (img.format, img.size) == ("JPEG", (640, 360))
    assert cam.snapshots_served == 1
    await driver.call("camera.driveway_camera", "snapshot", {})
    assert cam.snapshots_served == 2
    with pytest.raises(DeviceError, match="can only take a snapshot"):
        await driver.call("camera.driveway_camera", "turn_on", {})
    with pytest.raises(DeviceError, match="has no camera.porch"):
        await driver.snapshot("camera.porch")


async def test_scene_change_is_detected_and_no_change_is_not(cam: CameraEmulator, driver: CameraDriver) -> None:
    empty1 = await driver.snapshot(driver.entity_id)
    empty2 = await driver.snapshot(driver.entity_id)
    assert empty1 != empty2  # the timestamp moved on
    assert not changed(empty1, empty2, threshold=0.02)
    cam.set_scene("truck")
    truck = await driver.snapshot(driver.entity_id)
    assert changed(empty1, truck, threshold=0.02)
    assert difference(empty1, truck) > 5 * difference(empty1, empty2)
    cam.set_scene("empty")
    assert not changed(empty1, await driver.snapshot(driver.entity_id), threshold=0.02)


@pytest.mark.parametrize(("fail", "message"), [
    ("error", r"I asked the Driveway Camera at 127\.0\.0\.1:\d+ for a snapshot and it answered HTTP 500"),
    ("garbage", r"The Driveway Camera at 127\.0\.0\.1:\d+ sent something that is not a JPEG image"),
    ("offline", r"I can't reach the Driveway Camera at 127\.0\.0\.1:\d+ \(it dropped the connection\)"),
    ("slow", r"I can't reach the Driveway Camera at 127\.0\.0\.1:\d+ \(timed out after 0\.3 s\)"),
])
async def test_failures_become_device_errors(cam: CameraEmulator, fail: str, message: str) -> None:
    drv = CameraDriver(device_for(cam), timeout=0.3)
    cam.fail = fail
    try:
        with pytest.raises(DeviceError, match=message):
            await drv.refresh()
    finally:
        await drv.close()
    assert drv.last_snapshot is None


async def test_emulator_info(cam: CameraEmulator) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(f"{cam.url}/info") as resp:
        assert await resp.json() == {"name": "Driveway Camera", "model": "Claw SnapCam 1",
                                     "width": 640, "height": 360}
    with pytest.raises(ValueError):
        cam.set_scene("elephant")
