"""A small real home for tests: a Hue bridge and a Home Assistant on loopback, with drivers."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import AsyncIterator

from claw import home_tools
from claw.executor import Executor
from claw.tools import ToolRegistry
from devices.families.homeassistant.emulator import HomeAssistantEmulator
from devices.families.hue.emulator import HueBridgeEmulator
from devices.home import Home
from devices.families.homeassistant.driver import HomeAssistantDriver
from devices.families.hue.driver import HueDriver
from devices.model import Device
from memory.store import Store


class SmallHome:
    def __init__(self, home: Home, executor: Executor, hue: HueBridgeEmulator,
                 ha: HomeAssistantEmulator):
        self.home = home
        self.store = home.store
        self.executor = executor
        self.hue = hue
        self.ha = ha

    def light(self, name: str):
        return next(l for l in self.hue.lights.values() if l.name == name)


@contextlib.asynccontextmanager
async def small_home(tmp: Path) -> AsyncIterator[SmallHome]:
    """A fresh Home with the generic tools, filled from the emulators."""
    home = Home(Store(tmp / "claw.db"), device_timeout=1.0)
    registry = ToolRegistry()
    executor = Executor(registry, home)
    home_tools.register(registry, executor, home)
    async with devices_in(home, executor) as h:
        yield h


@contextlib.asynccontextmanager
async def devices_in(home: Home, executor: Executor) -> AsyncIterator[SmallHome]:
    """Start the emulators and adopt their devices into an existing Home (e.g. a Claw's)."""
    hue = HueBridgeEmulator()
    hue.add_light("Kitchen Ceiling", "Kitchen")
    hue.add_light("Kitchen Pendant", "Kitchen")
    hue.add_light("Desk Lamp", "Study")
    hue.add_light("Floor Lamp", "Living Room")
    ha = HomeAssistantEmulator(token="t" * 40)
    ha.add_entity("lock.front_door", "locked", {"friendly_name": "Front Door", "area": "Entrance"})
    ha.add_entity("climate.hallway", "heat", {"friendly_name": "Hallway Thermostat", "area": "Hallway",
                                              "current_temperature": 19.5, "temperature": 20.0,
                                              "min_temp": 7, "max_temp": 35, "hvac_modes": ["off", "heat"]})
    ha.add_entity("cover.garage_door", "closed", {"friendly_name": "Garage Door", "area": "Garage",
                                                  "device_class": "garage", "current_position": 0})
    await hue.start()
    await ha.start()
    h = SmallHome(home, executor, hue, ha)
    hue.press_link_button()
    hue_driver = HueDriver(Device("hue:1", "hue", "Hue Bridge", hue.host, hue.port), None, timeout=1.0)
    await hue_driver.pair()
    await h.home.add(hue_driver)
    await h.home.add(HomeAssistantDriver(Device("ha:1", "home_assistant", "Home Assistant",
                                                ha.host, ha.port), "t" * 40, timeout=1.0))
    h.home.set_area("Kitchen", floor="Ground Floor")
    h.home.set_area("Living Room", floor="Ground Floor", aliases=["lounge"])
    h.home.set_area("Study", floor="First Floor", aliases=["office"])
    try:
        yield h
    finally:
        await h.home.settle()
        for d in list(h.home.drivers.values()):
            await d.close()
        await hue.stop()
        await ha.stop()
