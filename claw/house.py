"""Keeps the home registry in step with the network: discovery -> drivers -> Home.

New devices are adopted by themselves and the owner is told once, in one sentence per batch.
The Hue bridge needs its link button pressed: Claw asks and keeps retrying for a while.
A poll loop refreshes every device so state changes reach the watchers.

Secrets go only where the owner sent them. Anything on the LAN can announce itself as Home
Assistant or claim a Hue bridge's id, so a stored credential is pinned to the device it was
given for: the Home Assistant token to the instances (TXT `uuid` + host:port) that were waiting
when the owner sent it, or to the URL in claw.toml; a Hue username to the address it was paired
at. Anything else waits, and the owner is told in plain words what to do if it is theirs.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Awaitable, Callable
from urllib.parse import SplitResult, urlsplit

from claw.config import MqttConfig
from claw.tools import ToolError
from devices.background import Background
from devices.families import BY_NAME
from devices.families.homeassistant import driver as homeassistant
from devices.families.hue import driver as hue
from devices.families.mqtt.driver import MqttDriver
from devices.discovery import Discovery, Found
from devices.home import Home
from devices.model import Device, DeviceError, Driver, Entity
from memory.store import Store

log = logging.getLogger(__name__)

Notify = Callable[[str], Awaitable[None]]

ANNOUNCE_QUIET = 1.5  # seconds without new devices before the owner is told about a batch
PAIR_RETRY = 5.0
PAIR_GIVE_UP = 300.0

HA_TOKEN = "home_assistant:token"
HA_PINS = "home_assistant:pins"  # JSON list of the instances the owner's token was given for
CONFIGURED_HA = "home_assistant:configured"  # device id of the Home Assistant at the owner's URL


@dataclass(frozen=True)
class HaInstance:
    """One Home Assistant as discovery saw it: what the owner's token is pinned to. Another
    uuid at the same address is another instance (a reinstall, or an impostor): it waits."""

    uuid: str  # its TXT `uuid`; "" if it advertised none
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


class House:
    def __init__(self, home: Home, store: Store, notify: Notify, interfaces: list[str] | str,
                 ssdp_interval: float = 30.0, poll_interval: float = 5.0,
                 ha_token: str = "", pair_retry: float = PAIR_RETRY, ha_url: str = "",
                 ha_ca_file: str = "", demo_house: str = "", mqtt: MqttConfig | None = None):
        self.home = home
        self.store = store
        self.notify = notify
        self.poll_interval = poll_interval
        self.pair_retry = pair_retry
        # From claw.toml: the token goes only to the URL beside it (none: to no instance).
        self.ha_token = ha_token
        self.ha_url = ha_url.rstrip("/")
        self.ha_ca_file = ha_ca_file
        self.mqtt = mqtt or MqttConfig()  # the owner's broker, with its credentials
        ifaces: Any = "all" if interfaces in ("all", ["all"]) else list(interfaces)
        self.discovery = Discovery(ifaces, self._found, self._lost, ssdp_interval=ssdp_interval,
                                   house=demo_house)
        self._batch: list[tuple[Device, int]] = []
        self._announce: asyncio.TimerHandle | None = None
        self._background = Background("a house task")
        # device id -> the Home Assistant waiting for the owner's word (None: the one at ha_url)
        self.waiting_for_token: dict[str, tuple[Device, HaInstance | None]] = {}
        self._told: set[HaInstance] = set()  # instances the owner has been asked about

    async def start(self, discover: bool = True) -> None:
        """Start watching the house: discovery (unless the owner turned it off), the Home
        Assistant and the MQTT broker named in claw.toml, and the polls."""
        if discover:
            await self.discovery.start()
        if self.ha_url:
            self._background.spawn(self._connect_configured())
        if self.mqtt.url:
            self._background.spawn(self._connect_mqtt())
        self._background.spawn(self._poll())

    async def stop(self) -> None:
        await self.discovery.stop()
        await self._background.cancel()

    async def _poll(self) -> None:
        await self.home.poll(self.poll_interval)

    # -- discovery callbacks ---------------------------------------------------------------
    async def _found(self, found: Found) -> None:
        if found.family == "mqtt" and self.mqtt.url:
            return  # the owner named their broker: others announced on the LAN are not joined
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
            self._background.spawn(self._pair_hue(driver))
            return
        await self._adopt(driver)

    async def _lost(self, key: str) -> None:
        self.home.mark_unavailable(key, "it left the network")

    def _driver(self, device: Device, props: dict[str, str]) -> Driver | None:
        # The two families that need the owner's word first are made here, with it.
        if device.family == "hue":
            return hue.make_driver(device, self._hue_username(device))
        if device.family == "home_assistant":
            return self._home_assistant(device, props)
        family = BY_NAME.get(device.family)
        if family is None or family.make_driver is None:
            log.info("no driver for %s (%s)", device.name, device.family)
            return None
        return family.make_driver(device, props)

    async def _adopt(self, driver: Driver) -> None:
        try:
            entities = await self.home.add(driver)
        except DeviceError as e:
            log.warning("found %s but could not read it: %s", driver.device.name, e)
            return
        self._adopted(driver, entities)

    def _adopted(self, driver: Driver, entities: list[Entity]) -> None:
        self._follow(driver)
        self._batch.append((driver.device, len(entities)))
        if self._announce:
            self._announce.cancel()
        self._announce = asyncio.get_running_loop().call_later(
            ANNOUNCE_QUIET, lambda: self._background.spawn(self._tell_batch()))

    # -- Home Assistant: the owner's token, pinned ---------------------------------------------
    def _home_assistant(self, device: Device, props: dict[str, str]) -> Driver | None:
        instance = HaInstance(props.get("uuid", ""), device.host, device.port)
        if self._is_configured(instance, props):
            return None  # connected at start, at the owner's URL (with its certificate checks)
        token = self.store.get_setting(HA_TOKEN)
        if token and instance in self._ha_pins():
            return homeassistant.make_driver(device, token)
        self.waiting_for_token[device.device_id] = (device, instance)
        if instance not in self._told:  # once, however often it is announced
            self._told.add(instance)
            self._background.spawn(self.notify(self._unknown_ha(instance, token)))
        return None

    def _unknown_ha(self, instance: HaInstance, token: str | None) -> str:
        """What the owner is told about a Home Assistant that does not get the token (yet)."""
        where = instance.address
        pins = sorted(p.address for p in self._ha_pins())
        if token and pins:
            return (f"A Home Assistant I don't know claims to be at {where}. I haven't sent it your "
                    f"token, which you gave me for the one at {' and '.join(pins)}. If this one is "
                    "yours too (it moved, or was set up again), send me the token again "
                    f"(\"connect Home Assistant at {where} with token ...\"); if not, ignore this.")
        if token:
            return (f"I found Home Assistant at {where}. I haven't sent it the token you gave me, "
                    "because I hadn't found it when you did: if it is yours, send me the token "
                    "again (\"connect Home Assistant with token ...\").")
        if self.ha_token and not self.ha_url:
            return (f"I found Home Assistant at {where}. I haven't sent it the token from claw.toml, "
                    "because the file doesn't say which Home Assistant the token is for: add "
                    f"url = \"http://{where}\" under [home_assistant] there and restart me, or send "
                    "me the token in chat (\"connect Home Assistant with token ...\").")
        return (f"I found Home Assistant at {where}. To bring its devices in, make a long-lived "
                "access token in your Home Assistant profile and send it to me "
                "(\"connect Home Assistant with token ...\").")

    def _is_configured(self, instance: HaInstance, props: dict[str, str]) -> bool:
        """Whether a discovered instance is the one at the owner's URL. Only says whom not to
        ask about: the token goes to the URL itself, never to the announced address."""
        if not self.ha_url:
            return False
        url = urlsplit(self.ha_url)
        advertised = {props.get(k, "").rstrip("/") for k in ("internal_url", "external_url", "base_url")}
        return (url.hostname, _port(url)) == (instance.host, instance.port) or self.ha_url in advertised

    def _ha_pins(self) -> set[HaInstance]:
        return {HaInstance(**p) for p in json.loads(self.store.get_setting(HA_PINS) or "[]")}

    def _pin(self, instance: HaInstance) -> None:
        pins = sorted(self._ha_pins() | {instance}, key=lambda p: (p.address, p.uuid))
        self.store.set_setting(HA_PINS, json.dumps([asdict(p) for p in pins]))

    async def _connect_configured(self) -> None:
        url = urlsplit(self.ha_url)
        device = Device(CONFIGURED_HA, "home_assistant", "Home Assistant", url.hostname or "", _port(url))
        token = self.ha_token or self.store.get_setting(HA_TOKEN)
        if not token:
            self.waiting_for_token[device.device_id] = (device, None)
            await self.notify(f"To connect your Home Assistant at {self.ha_url}, make a long-lived "
                              "access token in its profile page and send it to me "
                              "(\"connect Home Assistant with token ...\").")
            return
        driver = self._configured_driver(device, token)
        try:
            entities = await self.home.add(driver)
        except homeassistant.TokenRejected:
            await self.home.remove(device.device_id)  # retrying would get Claw banned by HA
            self.waiting_for_token[device.device_id] = (device, None)
            await self.notify(f"Your Home Assistant at {self.ha_url} rejected the token I have for "
                              "it: make a new long-lived token in its profile page and put it in "
                              "claw.toml, or send it to me (\"connect Home Assistant with token ...\").")
            return
        except DeviceError as e:
            # Not up yet (or its certificate fails the check): say so, and keep trying; the
            # event stream reconnects by itself and catches up.
            await self.notify(f"I can't connect to your Home Assistant yet: {e}. I'll keep trying.")
            self._follow(driver)
            return
        self._adopted(driver, entities)

    async def _connect_mqtt(self) -> None:
        """The broker at [mqtt] url. Its driver tells the owner, once per outage, when it can't
        connect or loses the connection, and when it is back; it keeps trying meanwhile."""
        url = urlsplit(self.mqtt.url)
        tls = url.scheme == "mqtts"
        host, port = url.hostname or "", url.port or (8883 if tls else 1883)
        device = Device(f"mqtt:{host}:{port}", "mqtt", "MQTT broker", host, port)
        driver = MqttDriver(device, username=self.mqtt.username, password=self.mqtt.password,
                            ca_file=self.mqtt.ca_file, tls=tls, on_problem=self.notify,
                            discovery_prefix=self.mqtt.discovery_prefix,
                            z2m_base=self.mqtt.zigbee2mqtt_base)
        try:
            entities = await self.home.add(driver)
        except DeviceError as e:  # already told (on_problem); it joins the house when it connects
            log.info("the MQTT broker is not connected yet: %s", e)
            self._follow(driver)
            return
        self._adopted(driver, entities)

    def _configured_driver(self, device: Device, token: str) -> homeassistant.HomeAssistantDriver:
        return homeassistant.make_driver(device, token, url=self.ha_url, ca_file=self.ha_ca_file)

    async def connect_home_assistant(self, token: str, address: str = "") -> str:
        """Connect the waiting Home Assistant (the one at `address`, if several wait) with the
        owner's token; the token is stored pinned to that instance."""
        waiting = [w for w in self.waiting_for_token.values()
                   if not address or _address(w[0]) == address]
        if address and not waiting:
            raise ToolError(f"No Home Assistant is waiting at {address}. {self._waiting_list()}")
        if not waiting:
            self.store.set_setting(HA_TOKEN, token)
            return ("Token saved. I haven't found a new Home Assistant yet; when I do, I'll ask you "
                    "before I send it the token.")
        if len(waiting) > 1:
            raise ToolError(f"{self._waiting_list()} Which one is yours? Send me the token again "
                            "with its address (\"connect Home Assistant at <address> with token ...\").")
        device, instance = waiting[0]
        driver = (self._configured_driver(device, token) if instance is None
                  else homeassistant.make_driver(device, token))
        try:
            count = len(await self.home.add(driver))
        except DeviceError:
            # Rejected or unreachable: it keeps waiting, and is not polled with a failed token
            # (HA bans an address after repeated failed logins).
            await self.home.remove(device.device_id)
            raise
        del self.waiting_for_token[device.device_id]
        self.store.set_setting(HA_TOKEN, token)
        if instance is not None:
            self._pin(instance)
        self._follow(driver)
        return f"Connected to Home Assistant at {_address(device)}: {count} devices mirrored."

    def _waiting_list(self) -> str:
        addresses = [_address(d) for d, _ in self.waiting_for_token.values()]
        if not addresses:
            return "None is waiting for a token."
        return f"Waiting for a token: Home Assistant at {' and at '.join(addresses)}."

    def _follow(self, driver: Driver) -> None:
        """Drivers whose devices push changes (their `follow`) are followed, not only polled."""
        follow = getattr(driver, "follow", None)
        if follow is not None:
            device_id = driver.device.device_id
            self._background.spawn(follow(lambda e: self.home.entity_changed(device_id, e)))

    async def _tell_batch(self) -> None:
        batch, self._batch = self._batch, []
        if batch:
            await self.notify(announcement(batch))

    # -- Hue: the username, pinned to the bridge's address -------------------------------------
    def _hue_username(self, device: Device) -> str | None:
        """The stored username, only for the address it was paired at: another device claiming
        the bridge's id must not get it, so a bridge at a new address is paired again."""
        key = f"hue:{device.device_id}"
        if self.store.get_setting(f"{key}:address") != _address(device):
            return None
        return self.store.get_setting(f"{key}:username")

    def _ask_for_link_button(self, device: Device) -> str:
        key = f"hue:{device.device_id}"
        if self.store.get_setting(f"{key}:username") is None:
            return (f"I found a Hue bridge ({device.name}). Please press the round link button on "
                    "top of it; I'll keep trying for the next 5 minutes.")
        paired_at = self.store.get_setting(f"{key}:address")
        before = f" at {paired_at}" if paired_at else ""
        return (f"A Hue bridge at {_address(device)} says it is {device.name}, which I paired with "
                f"before{before}. I haven't sent it my key. If it is yours (it may have moved), press "
                "the round link button on top of it and I'll pair with it again (I'll keep trying for the "
                "next 5 minutes); if not, ignore this.")

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
                    await self.notify(self._ask_for_link_button(driver.device))
                await asyncio.sleep(self.pair_retry)
                continue
            except DeviceError as e:
                log.warning("pairing with %s failed: %s", driver.device.name, e)
                await asyncio.sleep(self.pair_retry)
                continue
            key = f"hue:{driver.device.device_id}"
            self.store.set_setting(f"{key}:username", username)
            self.store.set_setting(f"{key}:address", _address(driver.device))
            await self._adopt(driver)
            return
        await self.notify(f"I gave up pairing with the Hue bridge {driver.device.name}; "
                          "press its button and restart me to try again.")


def _address(device: Device) -> str:
    return f"{device.host}:{device.port}"


def _port(url: SplitResult) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def announcement(batch: list[tuple[Device, int]]) -> str:
    counts = Counter(d.family for d, _ in batch)
    lights = sum(n for d, n in batch if d.family == "hue")
    parts = []
    for family, n in counts.items():
        known = BY_NAME.get(family)
        one, many = known.nouns if known else (family + " device", family + " devices")
        words = {1: "a", 2: "two", 3: "three", 4: "four"}.get(n, str(n))
        first = one.split()[0]  # an initialism says its letters: "an MQTT broker", "an HTTP camera"
        if n == 1 and (one[0].lower() in "aeiou" or (first.isupper() and first[0] in "AEFHILMNORSX")):
            words = "an"
        text = f"{words} {one if n == 1 else many}"
        if family == "hue":
            text += f" with {lights} light{'s' if lights != 1 else ''}"
        parts.append(text)
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"I found {joined}."
