"""Keeps the home registry in step with the network: discovery -> drivers -> Home.

New devices are adopted by themselves and the owner is told once, in one sentence per batch.
The Hue bridge needs its link button pressed: Claw asks and keeps retrying for a while.
A poll loop refreshes every device so state changes reach the watchers.
"""
from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any, Awaitable, Callable

from devices import camera, homeassistant, hue, shelly, sonos, wled
from devices.discovery import Discovery, Found
from devices.home import Home
from devices.model import Device, DeviceError, Driver
from memory.store import Store

log = logging.getLogger(__name__)

Notify = Callable[[str], Awaitable[None]]

ANNOUNCE_QUIET = 1.5  # seconds without new devices before the owner is told about a batch
PAIR_RETRY = 5.0
PAIR_GIVE_UP = 300.0

NOUNS = {"sonos": ("Sonos speaker", "Sonos speakers"), "hue": ("Hue bridge", "Hue bridges"),
         "shelly": ("Shelly device", "Shelly devices"), "wled": ("WLED light strip", "WLED light strips"),
         "camera": ("camera", "cameras"), "home_assistant": ("Home Assistant", "Home Assistants")}


class House:
    def __init__(self, home: Home, store: Store, notify: Notify, interfaces: list[str] | str,
                 ssdp_interval: float = 30.0, poll_interval: float = 5.0,
                 ha_token: str = "", pair_retry: float = PAIR_RETRY):
        self.home = home
        self.store = store
        self.notify = notify
        self.poll_interval = poll_interval
        self.pair_retry = pair_retry
        self.ha_token = ha_token
        ifaces: Any = "all" if interfaces in ("all", ["all"]) else list(interfaces)
        self.discovery = Discovery(ifaces, self._found, self._lost, ssdp_interval=ssdp_interval)
        self._batch: list[tuple[Device, int]] = []
        self._announce: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.waiting_for_token: list[Device] = []

    async def start(self) -> None:
        await self.discovery.start()
        self._spawn(self._poll())

    async def stop(self) -> None:
        await self.discovery.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            await self.home.refresh_all()

    # -- discovery callbacks ---------------------------------------------------------------
    async def _found(self, found: Found) -> None:
        device = Device(found.key, found.family, found.name, found.host, found.port,
                        model=found.properties.get("model", ""))
        known = self.home.drivers.get(found.key)
        if known is not None and (known.device.host, known.device.port) == (found.host, found.port):
            try:
                await self.home.refresh_device(found.key)  # back on the network: read it again
            except DeviceError as e:
                log.info("%s is announced but does not answer yet: %s", found.name, e)
            return
        driver = self._driver(device, found.properties)
        if driver is None:
            return
        if isinstance(driver, hue.HueDriver) and driver.username is None:
            self._spawn(self._pair_hue(driver))
            return
        await self._adopt(driver)

    async def _lost(self, key: str) -> None:
        self.home.mark_unavailable(key, "it left the network")

    def _driver(self, device: Device, props: dict[str, str]) -> Driver | None:
        area = props.get("area") or None
        if device.family == "sonos":
            return sonos.make_driver(device)
        if device.family == "hue":
            return hue.make_driver(device, self.store.get_setting(f"hue:{device.device_id}:username"))
        if device.family == "shelly":
            return shelly.make_driver(device, area=area)
        if device.family == "wled":
            return wled.make_driver(device, area=area)
        if device.family == "camera":
            return camera.make_driver(device, area=area)
        if device.family == "home_assistant":
            token = self.store.get_setting("home_assistant:token") or self.ha_token
            if not token:
                self.waiting_for_token.append(device)
                self._spawn(self.notify(
                    f"I found Home Assistant at {device.host}:{device.port}. To bring its devices "
                    "in, make a long-lived access token in your Home Assistant profile and send it "
                    "to me (\"connect Home Assistant with token ...\")."))
                return None
            return homeassistant.make_driver(device, token)
        log.info("no driver for %s (%s)", device.name, device.family)
        return None

    async def _adopt(self, driver: Driver) -> None:
        try:
            entities = await self.home.add(driver)
        except DeviceError as e:
            log.warning("found %s but could not read it: %s", driver.device.name, e)
            return
        self._follow(driver)
        self._batch.append((driver.device, len(entities)))
        if self._announce:
            self._announce.cancel()
        self._announce = asyncio.get_running_loop().call_later(
            ANNOUNCE_QUIET, lambda: self._spawn(self._tell_batch()))

    async def connect_home_assistant(self, token: str) -> str:
        """Store the owner's token and adopt the Home Assistant instances that were waiting."""
        self.store.set_setting("home_assistant:token", token)
        if not self.waiting_for_token:
            return "Token saved; I'll use it when I find Home Assistant."
        count = 0
        for device in list(self.waiting_for_token):
            driver = homeassistant.make_driver(device, token)
            # A rejected token raises DeviceError (the owner is told why); the device keeps
            # waiting for a better token.
            count += len(await self.home.add(driver))
            self.waiting_for_token.remove(device)
            self._follow(driver)
        return f"Connected to Home Assistant: {count} devices mirrored."

    def _follow(self, driver: Driver) -> None:
        """Drivers whose devices push changes (WebSocket) are followed, not only polled."""
        if isinstance(driver, (homeassistant.HomeAssistantDriver, shelly.ShellyDriver)):
            device_id = driver.device.device_id
            self._spawn(driver.follow(lambda e: self.home.entity_changed(device_id, e)))

    async def _tell_batch(self) -> None:
        batch, self._batch = self._batch, []
        if batch:
            await self.notify(announcement(batch))

    async def _pair_hue(self, driver: hue.HueDriver) -> None:
        """Ask for the link button once, then retry quietly until it is pressed (or give up)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PAIR_GIVE_UP
        asked = False
        while loop.time() < deadline:
            try:
                username = await driver.pair()
            except hue.LinkButtonNotPressed:
                if not asked:
                    asked = True
                    await self.notify(
                        f"I found a Hue bridge ({driver.device.name}). Please press the round "
                        "link button on top of it; I'll keep trying for the next 5 minutes.")
                await asyncio.sleep(self.pair_retry)
                continue
            except DeviceError as e:
                log.warning("pairing with %s failed: %s", driver.device.name, e)
                await asyncio.sleep(self.pair_retry)
                continue
            self.store.set_setting(f"hue:{driver.device.device_id}:username", username)
            await self._adopt(driver)
            return
        await self.notify(f"I gave up pairing with the Hue bridge {driver.device.name}; "
                          "press its button and restart me to try again.")


def announcement(batch: list[tuple[Device, int]]) -> str:
    counts = Counter(d.family for d, _ in batch)
    lights = sum(n for d, n in batch if d.family == "hue")
    parts = []
    for family, n in counts.items():
        one, many = NOUNS.get(family, (family + " device", family + " devices"))
        words = {1: "a", 2: "two", 3: "three", 4: "four"}.get(n, str(n))
        if n == 1 and one[0].lower() in "aeiou":
            words = "an"
        text = f"{words} {one if n == 1 else many}"
        if family == "hue":
            text += f" with {lights} light{'s' if lights != 1 else ''}"
        parts.append(text)
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"I found {joined}."
