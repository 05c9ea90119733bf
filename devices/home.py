"""The home registry: drivers, their entities, areas and floors, and the owner's settings.

Entities keep the owner's renames, aliases, areas and tiers (stored in memory) across
rediscovery and restarts. A device that stops answering makes its entities `unavailable`;
nothing is deleted.
"""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any, Awaitable, Callable

from devices.model import Device, DeviceError, DeviceRefused, Driver, Entity, TIERS
from memory.store import Store
from memory.untrusted import as_data

log = logging.getLogger(__name__)

# Families that mirror other systems' devices (a Sonos that Home Assistant also shows).
MIRRORS = {"home_assistant"}

Listener = Callable[[Entity | None, Entity], Awaitable[None] | None]

# Every prompt carries every name, alias and area: bound them. The owner is told when a setting
# is too long; what a device reports is cut to fit.
MAX_NAME = 100  # characters in a name, alias, area, floor or device class
MAX_ALIASES = 20  # per entity or area

PUSHED_POLL_EVERY = 12  # a device that pushes its changes is polled every 12th round (60 s)
SEEN_SAVE_EVERY = 60.0  # seconds between writes of a device's "last seen" while it answers
UPDATES_PER_TURN = 100  # entity updates between two chances for other work to run


@dataclass
class Area:
    name: str
    floor: str | None = None
    aliases: list[str] = field(default_factory=list)


class Home:
    def __init__(self, store: Store, device_timeout: float = 3.0):
        self.store = store
        self.device_timeout = device_timeout
        self.drivers: dict[str, Driver] = {}
        self.entities: dict[str, Entity] = {}
        self._device_of: dict[str, str] = {}  # entity_id -> device_id
        self._discovered: dict[str, Entity] = {}  # entity_id -> the entity as its device reports it
        # Which device an entity id belongs to, kept across restarts: the first device to report
        # an id keeps it (see `_home_id`), and what each device is, for the ones not here now.
        self._owners = store.entity_owners()
        self._families = {d["device_id"]: d["family"] for d in store.devices()}
        self._ids: dict[tuple[str, str], str] = {}  # (device, the id it reports) -> entity_id
        self.areas: dict[str, Area] = {}
        self.listeners: list[Listener] = []
        self._refreshing: dict[str, asyncio.Future[None]] = {}  # device or entity id -> its read
        self._pushed: dict[str, float] = {}  # entity id -> when its device last pushed a change
        self._seen_saved: dict[str, float] = {}  # device id -> when its "last seen" was written
        # The owner's settings, read once: every state update of every entity applies them.
        self._settings = store.entity_settings()
        # normalized name or alias -> entity ids, in `entities` order; rebuilt when names change
        self._names: dict[str, list[str]] | None = None
        self._cut: set[str] = set()  # entities whose reported names were cut (logged once)
        self._load_areas()

    # -- devices ---------------------------------------------------------------------------
    async def add(self, driver: Driver) -> list[Entity]:
        """Adopt a driver (new or rediscovered device) and read its entities."""
        device = driver.device
        if len(device.name) > MAX_NAME:
            log.warning("%s reported a name of %d characters; keeping the first %d",
                        device.device_id, len(device.name), MAX_NAME)
            device.name = device.name[:MAX_NAME]
        old = self.drivers.get(device.device_id)
        if old is not None and old is not driver:
            await old.close()
        self.drivers[device.device_id] = driver
        self._save_device(device)
        return await self.refresh_device(device.device_id)

    async def remove(self, device_id: str) -> None:
        driver = self.drivers.pop(device_id, None)
        if driver:
            await driver.close()
        for entity_id in [e for e, d in self._device_of.items() if d == device_id]:
            self._device_of.pop(entity_id)
            self._discovered.pop(entity_id, None)
            self.entities.pop(entity_id, None)
            self._names = None
        self._ids = {k: v for k, v in self._ids.items() if k[0] != device_id}

    async def refresh_device(self, device_id: str) -> list[Entity]:
        driver = self.drivers[device_id]
        asked = time.monotonic()
        try:
            async with asyncio.timeout(self.device_timeout):
                reported = await driver.refresh()
        except (DeviceError, TimeoutError, OSError) as e:
            self.mark_unavailable(device_id, str(e) or "timed out")
            raise DeviceError(self._unreachable(driver.device, e)) from None
        now = time.time()
        came_back = not driver.device.available
        driver.device.available = True
        driver.device.last_seen = now
        # Written when it changes, and now and then for "last seen": not on every poll.
        if came_back or now - self._seen_saved.get(device_id, 0.0) > SEEN_SAVE_EVERY:
            self._save_device(driver.device)
            self._seen_saved[device_id] = now
        entities = []
        for i, e in enumerate(reported):
            if i and i % UPDATES_PER_TURN == 0:
                await asyncio.sleep(0)  # a big bridge's read lets commands in between
            entities.append(await self._update_read(device_id, e, asked))
        return entities

    async def _update_read(self, device_id: str, reported: Entity, asked: float) -> Entity:
        """An entity as a read asked at `asked` found it: older than a change pushed since, it
        would undo that change, so the pushed state stays."""
        entity_id = self._ids.get((device_id, reported.entity_id))
        if entity_id in self.entities and self._pushed.get(entity_id, 0.0) > asked:
            return self.entities[entity_id]
        return await self._update(device_id, reported)

    async def refresh_all(self) -> None:
        """Poll every device; one slow device does not hold up the others."""
        results = await asyncio.gather(
            *(self.refresh_device(d) for d in list(self.drivers)), return_exceptions=True
        )
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, DeviceError):
                raise r

    async def poll(self, interval: float, pushed_every: int = PUSHED_POLL_EVERY) -> None:
        """Poll every device once per `interval`, until cancelled: see `poll_once`. Devices that
        push their changes are polled only every `pushed_every` rounds, as a safety net."""
        rounds = 0
        while True:
            await self.poll_once(interval, pushed_too=rounds % pushed_every == 0)
            rounds += 1

    async def poll_once(self, interval: float, pushed_too: bool = True) -> None:
        """One round of polls spread over `interval`: the devices take turns (one every
        interval/n seconds) in the background, so a round never lands on the event loop at once
        and a slow device holds up nobody. A device already being read is not read twice."""
        devices = [d for d, driver in self.drivers.items()
                   if pushed_too or not hasattr(driver, "follow")]
        if not devices:
            await asyncio.sleep(interval)
            return
        for device_id in devices:
            await asyncio.sleep(interval / len(devices))
            if device_id in self.drivers:
                self._read_back(device_id, device_id, self.refresh_device(device_id))

    def mark_unavailable(self, device_id: str, why: str) -> None:
        driver = self.drivers.get(device_id)
        if driver is None:
            return
        if driver.device.available:
            log.warning("%s (%s) is unavailable: %s", driver.device.name, device_id, why)
        driver.device.available = False
        self._save_device(driver.device)
        for entity_id, dev in self._device_of.items():
            if dev == device_id and self.entities[entity_id].state != "unavailable":
                old = self.entities[entity_id]
                self.entities[entity_id] = new = replace(old, state="unavailable")
                asyncio.ensure_future(self._notify(old, new))  # callers here are not async

    def _unreachable(self, device: Device, error: BaseException) -> str:
        if isinstance(error, DeviceError):
            return str(error)
        seen = _ago(device.last_seen)
        return (
            f"I can't reach {device.name} at {device.host}:{device.port} "
            f"(no answer within {self.device_timeout:g} s); it was last seen {seen}."
        )

    def _save_device(self, d: Device) -> None:
        self._families[d.device_id] = d.family
        self.store.upsert_device(
            {"device_id": d.device_id, "family": d.family, "name": d.name, "host": d.host,
             "port": d.port, "model": d.model, "available": int(d.available),
             "last_seen": d.last_seen}
        )

    # -- entity state ----------------------------------------------------------------------
    async def entity_changed(self, device_id: str, reported: Entity) -> Entity:
        """A driver's push update (events, WebSocket): same path as a poll."""
        entity = await self._update(device_id, reported)
        self._pushed[entity.entity_id] = time.monotonic()
        return entity

    def _home_id(self, device_id: str, reported_id: str) -> str | None:
        """The entity id a device's entity has here; None while a native device has it and this
        one only mirrors it (a Sonos that Home Assistant also shows).

        An id belongs to the first device that reported it, also after a restart: anything on
        the LAN can announce itself, and a second device claiming "cover.garage_door" must not
        take over the owner's garage door (its commands, its state, its settings). It gets
        "cover.garage_door_2", and the name then asks "which one?". A native device does take
        an id over from a mirror of it."""
        if (device_id, reported_id) in self._ids:
            return self._ids[(device_id, reported_id)]
        mirror = self._families.get(device_id) in MIRRORS
        entity_id, n = reported_id, 2
        while True:
            owner = self._owners.get(entity_id)
            if owner is None or owner == device_id:
                break
            if mirror and entity_id == reported_id:
                if owner in self.drivers and entity_id in self.entities:
                    return None  # the native driver wins over a mirror of it
                return entity_id  # shown by the mirror while the native device is away
            if self._families.get(owner) in MIRRORS and not mirror:
                self._ids.pop((owner, entity_id), None)  # the native device takes it over
                break
            entity_id, n = f"{reported_id}_{n}", n + 1
        if entity_id != reported_id:
            log.warning("%s reports %s, which belongs to %s: it is %s here", device_id, reported_id,
                        self._owners[reported_id], entity_id)
        if self._owners.get(entity_id) != device_id:
            self._owners[entity_id] = device_id
            self.store.set_entity_owner(entity_id, device_id)
        self._ids[(device_id, reported_id)] = entity_id
        return entity_id

    async def _update(self, device_id: str, reported: Entity) -> Entity:
        entity_id = self._home_id(device_id, reported.entity_id)
        if entity_id is None:
            return self.entities[reported.entity_id]
        self._device_of[entity_id] = device_id
        reported = self._bounded(reported)
        self._discovered[entity_id] = reported  # as the device said it, with the device's id
        entity = self._with_settings(replace(reported, entity_id=entity_id))
        old = self.entities.get(entity.entity_id)
        if old != entity:
            await self._notify(old, entity)
        if old is None or (old.name, old.aliases) != (entity.name, entity.aliases):
            self._names = None
        self.entities[entity.entity_id] = entity
        return entity

    def _bounded(self, reported: Entity) -> Entity:
        """The entity with what its device reported cut to the bounds: a device may say anything."""
        texts = [reported.name, reported.area or "", reported.device_class or "", *reported.aliases,
                 *reported.area_aliases]
        if (max(len(reported.aliases), len(reported.area_aliases)) <= MAX_ALIASES
                and all(len(t) <= MAX_NAME for t in texts)):
            return reported
        if reported.entity_id not in self._cut:
            self._cut.add(reported.entity_id)
            log.warning("%s reported names over the bounds (%d characters each, %d aliases); "
                        "keeping what fits", reported.entity_id, MAX_NAME, MAX_ALIASES)
        return replace(
            reported, name=reported.name[:MAX_NAME], area=_cut(reported.area),
            device_class=_cut(reported.device_class),
            aliases=[a[:MAX_NAME] for a in reported.aliases[:MAX_ALIASES]],
            area_aliases=[a[:MAX_NAME] for a in reported.area_aliases[:MAX_ALIASES]],
        )

    async def _notify(self, old: Entity | None, new: Entity) -> None:
        for listener in self.listeners:
            result = listener(old, new)
            if asyncio.iscoroutine(result):
                await result

    def _with_settings(self, reported: Entity) -> Entity:
        s = self._settings.get(reported.entity_id)
        entity = replace(reported, aliases=list(reported.aliases), attributes=dict(reported.attributes))
        if s:
            entity.name = s["name"] or entity.name
            entity.area = s["area"] or entity.area
            entity.aliases = list(dict.fromkeys([*entity.aliases, *s["aliases"]]))
            entity.tier = s["tier"] or entity.tier
        if entity.area:
            area = self.areas.get(entity.area) or self.area_named(entity.area)
            if area is None:
                area = self.areas.setdefault(entity.area, Area(entity.area))
            if entity.area == reported.area:  # the device's floor plan (HA's registries) fills the
                area.floor = area.floor or reported.floor  # owner's gaps; the owner's words come first
                if not set(reported.area_aliases) <= set(area.aliases):  # once, not per update
                    area.aliases = list(dict.fromkeys([*area.aliases, *reported.area_aliases]))
            entity.area = area.name
            entity.floor = area.floor
        return entity

    # -- calls -----------------------------------------------------------------------------
    async def call(self, entity: Entity, service: str, data: dict[str, Any]) -> None:
        """Run one service on one entity within the device timeout.

        The device's new state is read back in the background (see `settle`), so a command
        costs one round trip to the device, not two.
        """
        device_id = self._device_of[entity.entity_id]
        driver = self.drivers[device_id]
        if service not in entity.services:
            raise DeviceError(f"The {entity.name} can't do {service.replace('_', ' ')}.")
        try:
            # asyncio.timeout, not wait_for: no extra task, so no background work (read-backs,
            # pushed events) gets to run between the device's answer and our return.
            async with asyncio.timeout(self.device_timeout):
                await driver.call(self._device_id_of(entity.entity_id), service, data)
        except DeviceRefused:
            raise  # it answered: still available
        except (DeviceError, TimeoutError, OSError) as e:
            self.mark_unavailable(device_id, str(e) or "timed out")
            raise DeviceError(self._unreachable(driver.device, e)) from None
        # Only what changed is read back where the driver can read one entity.
        refresh_entity = getattr(driver, "refresh_entity", None)
        if refresh_entity is None:
            self._read_back(device_id, device_id, self.refresh_device(device_id))
        else:
            self._read_back(device_id, entity.entity_id, self._refresh_entity(device_id, entity.entity_id))

    async def _refresh_entity(self, device_id: str, entity_id: str) -> None:
        driver = self.drivers[device_id]
        asked = time.monotonic()
        try:
            async with asyncio.timeout(self.device_timeout):
                reported = await driver.refresh_entity(self._device_id_of(entity_id))  # type: ignore[attr-defined]
        except (DeviceError, TimeoutError, OSError) as e:
            self.mark_unavailable(device_id, str(e) or "timed out")
            raise DeviceError(self._unreachable(driver.device, e)) from None
        await self._update_read(device_id, reported, asked)

    def _read_back(self, device_id: str, key: str, read: Awaitable[Any]) -> None:
        """Run `read` in the background unless a read under `key` (a device or an entity id) is
        already running; `settle` waits for them."""
        if key in self._refreshing:
            read.close()  # type: ignore[attr-defined]
            return
        task = asyncio.ensure_future(self._quietly(device_id, read))
        self._refreshing[key] = task
        task.add_done_callback(lambda _: self._refreshing.pop(key, None))

    async def _quietly(self, device_id: str, read: Awaitable[Any]) -> None:
        try:
            await read
        except DeviceError as e:  # already marked unavailable; the next command will say so
            log.info("reading %s failed: %s", device_id, e)

    async def settle(self) -> None:
        """Wait for the read-backs of recent commands, so the states are current."""
        while self._refreshing:
            await asyncio.gather(*list(self._refreshing.values()), return_exceptions=True)

    async def snapshot(self, entity: Entity) -> bytes:
        """A camera's current picture (JPEG), within the device timeout."""
        device_id = self._device_of[entity.entity_id]
        driver = self.drivers[device_id]
        if "snapshot" not in entity.services:
            raise DeviceError(f"The {entity.name} is not a camera.")
        try:
            async with asyncio.timeout(self.device_timeout):
                return await driver.snapshot(self._device_id_of(entity.entity_id))  # type: ignore[attr-defined]
        except (DeviceError, TimeoutError, OSError) as e:
            self.mark_unavailable(device_id, str(e) or "timed out")
            raise DeviceError(self._unreachable(driver.device, e)) from None

    def _device_id_of(self, entity_id: str) -> str:
        """The id its own device knows an entity by (another only when another device had it)."""
        return self._discovered[entity_id].entity_id

    def driver_for(self, entity_id: str) -> Driver:
        return self.drivers[self._device_of[entity_id]]

    # -- the owner's settings ------------------------------------------------------------
    def entity(self, entity_id: str) -> Entity:
        if entity_id not in self.entities:
            raise KeyError(entity_id)
        return self.entities[entity_id]

    async def customize(
        self, entity_id: str, *, name: str | None = None, area: str | None = None,
        aliases: list[str] | None = None, tier: str | None = None,
    ) -> Entity:
        self.entity(entity_id)  # raises KeyError for an unknown entity
        if tier is not None and tier not in TIERS:
            raise ValueError(f"tier must be one of {', '.join(TIERS)}")
        if aliases is not None:
            saved = self._settings.get(entity_id, {}).get("aliases", [])
            aliases = list(dict.fromkeys([*saved, *aliases]))
        self.save_settings(entity_id, name=name, area=area, aliases=aliases, tier=tier)
        return await self._update(self._device_of[entity_id], self._discovered[entity_id])

    def save_settings(self, entity_id: str, **settings: Any) -> None:
        """Store the owner's choices for an entity (also one not found yet); they apply from
        its next update. Raises ValueError for a name, area or aliases over the bounds."""
        for key, what in (("name", "a name"), ("area", "an area")):
            if settings.get(key) is not None:
                _check_name(what, settings[key])
        if settings.get("aliases") is not None:
            _check_aliases(settings["aliases"])
        self.store.save_entity_settings(entity_id, **settings)
        self._settings = self.store.entity_settings()

    def named(self, name: str) -> list[Entity]:
        """The entities whose name or an alias is `name` (normalized), in `entities` order."""
        if self._names is None:
            index: dict[str, list[str]] = {}
            for e in self.entities.values():
                for key in dict.fromkeys(normalize(n) for n in (e.name, *e.aliases)):
                    index.setdefault(key, []).append(e.entity_id)
            self._names = index
        return [self.entities[i] for i in self._names.get(normalize(name), ())]

    def set_area(self, name: str, floor: str | None = None, aliases: list[str] | None = None) -> Area:
        """Name an area's floor or add aliases; raises ValueError for text over the bounds."""
        _check_name("an area", name)
        if floor is not None:
            _check_name("a floor", floor)
        area = self.areas.get(name) or Area(name)
        if aliases is not None:
            aliases = list(dict.fromkeys([*area.aliases, *aliases]))
            _check_aliases(aliases)
            area.aliases = aliases
        if floor is not None:
            area.floor = floor
        self.areas[name] = area
        self.store.set_setting(
            "areas", json.dumps({a.name: {"floor": a.floor, "aliases": a.aliases} for a in self.areas.values()})
        )
        for entity_id, e in self.entities.items():
            if e.area == name:
                self.entities[entity_id] = replace(e, floor=area.floor)
        return area

    def _load_areas(self) -> None:
        for name, a in json.loads(self.store.get_setting("areas", "{}") or "{}").items():
            self.areas[name] = Area(name, a.get("floor"), a.get("aliases", []))

    def area_named(self, name: str) -> Area | None:
        key = normalize(name)
        for area in self.areas.values():
            if key == normalize(area.name) or key in (normalize(a) for a in area.aliases):
                return area
        return None

    def floors(self) -> list[str]:
        return sorted({a.floor for a in self.areas.values() if a.floor})

    # -- what the model sees -----------------------------------------------------------
    def overview(self) -> str:
        """Names, areas and kinds of everything, without live state (so it stays byte-stable)."""
        if not self.entities:
            return "No devices have been found yet."
        lines = []
        by_area: dict[str, list[Entity]] = {}
        for e in sorted(self.entities.values(), key=lambda e: (e.area or "~", e.entity_id)):
            by_area.setdefault(e.area or "No area", []).append(e)
        # Names come from devices and people: each is encoded as data (see memory.untrusted).
        for area, entities in by_area.items():
            a = self.areas.get(area)
            head = as_data(area) + (f" (floor: {as_data(a.floor)})" if a and a.floor else "")
            if a and a.aliases:
                head += f" (also called: {_names(a.aliases)})"
            lines.append(f"- {head}:")
            for e in entities:
                extra = f"; also called {_names(e.aliases)}" if e.aliases else ""
                cls = f" {as_data(e.device_class)}" if e.device_class else ""
                lines.append(f"  - {as_data(e.name)} ({as_data(e.domain)}{cls}, {as_data(e.entity_id)}{extra})")
        return "\n".join(lines)


@functools.lru_cache(maxsize=4096)  # every target lookup normalizes every entity's names
def normalize(text: str) -> str:
    """Case-, punctuation- and article-insensitive form of a name, for matching."""
    words = "".join(c if c.isalnum() else " " for c in text.casefold()).split()
    return " ".join(w for w in words if w not in ("the", "my"))


def _names(names: list[str]) -> str:
    return ", ".join(as_data(n) for n in names)


def _cut(text: str | None) -> str | None:
    return text[:MAX_NAME] if text else text


def _check_name(what: str, text: str) -> None:
    if len(text) > MAX_NAME:
        raise ValueError(f"{what} can be at most {MAX_NAME} characters; this one has {len(text):,}")


def _check_aliases(aliases: list[str]) -> None:
    if len(aliases) > MAX_ALIASES:
        raise ValueError(f"a device or area can have at most {MAX_ALIASES} aliases; "
                         f"this would make {len(aliases):,}")
    for alias in aliases:
        _check_name("an alias", alias)


def _ago(t: float) -> str:
    seconds = max(0, time.time() - t)
    if seconds < 90:
        return "just now"
    if seconds < 5400:
        return f"{round(seconds / 60)} minutes ago"
    if seconds < 36 * 3600:
        return f"{round(seconds / 3600)} hours ago"
    return f"{round(seconds / 86400)} days ago"
