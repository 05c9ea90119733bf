"""Where Home Assistant says each entity is: its area (its own, else its device's), that area's
floor, and the aliases of the entity and the area, read from HA's registries over the
WebSocket. This is what HA's own voice assistant and `helpers/llm.py` go by."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from devices.families.homeassistant.socket import CommandFailed, HaSocket
from devices.names import slug


@dataclass(frozen=True)
class Place:
    area: str | None = None
    floor: str | None = None
    aliases: tuple[str, ...] = ()  # the entity's own
    area_aliases: tuple[str, ...] = ()


@dataclass
class Placement:
    places: dict[str, Place] = field(default_factory=dict)  # entity_id -> where it is
    area_ids: dict[str, str] = field(default_factory=dict)  # slug of an area name or alias -> area id

    def of(self, entity_id: str) -> Place:
        return self.places.get(entity_id, Place())

    def area_id(self, name: str) -> str | None:
        """HA's id of the area called `name` (or one of its aliases), in any case."""
        return self.area_ids.get(slug(name))


async def read_placement(sock: HaSocket, entity_ids: list[str]) -> Placement:
    """The placement of `entity_ids`, from the four registries (read at once)."""
    floors, areas, devices, entries = await asyncio.gather(
        _floors(sock), sock.command("config/area_registry/list"),
        sock.command("config/device_registry/list"),
        # `list` leaves the aliases out; `get_entries` gives the whole entries
        sock.command("config/entity_registry/get_entries", entity_ids=entity_ids) if entity_ids
        else _nothing())
    floor_names = {f["floor_id"]: f["name"] for f in floors}
    by_id = {a["area_id"]: a for a in areas}
    device_areas = {d["id"]: d.get("area_id") for d in devices}
    placement = Placement()
    for area in areas:
        for name in (area["name"], *_names(area.get("aliases"))):
            placement.area_ids.setdefault(slug(name), area["area_id"])
    for entity_id, entry in entries.items():
        if entry is None:  # not in the registry (no unique id): HA places it nowhere
            continue
        area = by_id.get(entry.get("area_id") or device_areas.get(entry.get("device_id") or "") or "")
        placement.places[entity_id] = Place(
            area=area["name"] if area else None,
            floor=floor_names.get(area.get("floor_id") or "") if area else None,
            aliases=_names(entry.get("aliases")),
            area_aliases=_names(area.get("aliases")) if area else ())
    return placement


async def _nothing() -> dict[str, Any]:
    return {}


async def _floors(sock: HaSocket) -> list[dict[str, Any]]:
    """The floor registry; a Home Assistant older than 2024.4 has none (its areas are on no floor)."""
    try:
        return await sock.command("config/floor_registry/list")
    except CommandFailed as e:
        if e.code != "unknown_command":
            raise
        return []


def _names(values: Any) -> tuple[str, ...]:
    """Aliases as HA stores them; newer HA also lists None, meaning "the entity's own name"."""
    return tuple(v for v in values or () if isinstance(v, str) and v.strip())
