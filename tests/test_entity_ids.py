"""An entity id belongs to the first device that reported it, also after a restart.

Anything on the LAN can announce itself: a second Shelly calling itself "Garage Door" must not
take over the owner's garage door (where its commands go, what state it shows). It becomes
cover.garage_door_2, and "the garage door" then asks which one."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devices.families.shelly.driver import ShellyDriver
from devices.families.shelly.emulator import ShellyEmulator
from devices.home import Home
from devices.model import Device
from memory.store import Store


def driver_for(emu: ShellyEmulator) -> ShellyDriver:
    """Two devices of one model and name: told apart by their own ids (their MACs, on a LAN)."""
    device_id = f"shelly:{emu.port}"
    return ShellyDriver(Device(device_id, "shelly", "Garage Door", emu.host, emu.port, model=emu.model))


@pytest.fixture
async def doors() -> AsyncIterator[tuple[ShellyEmulator, ShellyEmulator]]:
    genuine = ShellyEmulator(name="Garage Door", kind="cover", device_class="garage", travel_time=0.05)
    impostor = ShellyEmulator(name="Garage Door", kind="cover", device_class="garage", travel_time=0.05)
    async with genuine, impostor:
        yield genuine, impostor


async def test_a_second_device_with_the_same_name_gets_its_own_id(doors, tmp_path: Path) -> None:
    genuine, impostor = doors
    home = Home(Store(tmp_path / "claw.db"))
    await home.add(driver_for(genuine))
    await home.add(driver_for(impostor))
    assert {e for e in home.entities if e.startswith("cover.garage_door")} == {
        "cover.garage_door", "cover.garage_door_2"}
    assert home.entities["cover.garage_door"].device_id == f"shelly:{genuine.port}"
    assert len(home.named("garage door")) == 2  # the name now asks which one

    await home.call(home.entities["cover.garage_door_2"], "open_cover", {})
    for _ in range(50):  # it travels for 0.05 s
        if impostor.position == 100:
            break
        await asyncio.sleep(0.02)
    assert (genuine.position, impostor.position) == (0, 100)  # the owner's door did not move

    for driver in list(home.drivers.values()):
        await driver.close()
    # After a restart the impostor answers first: the owner's door keeps its id all the same.
    home = Home(Store(tmp_path / "claw.db"))
    await home.add(driver_for(impostor))
    await home.add(driver_for(genuine))
    assert home.entities["cover.garage_door"].device_id == f"shelly:{genuine.port}"
    assert home.entities["cover.garage_door_2"].device_id == f"shelly:{impostor.port}"
    for driver in list(home.drivers.values()):
        await driver.close()
