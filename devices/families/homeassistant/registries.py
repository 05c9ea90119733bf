"""The emulated Home Assistant's floor, area, device and entity registries, in HA's wire shapes
(`config/<kind>_registry/list`, `config/entity_registry/get_entries`), and how a service
target (`entity_id`, `device_id`, `area_id`, `floor_id`) becomes entity ids, as HA resolves it:
an entity is in its own area, or else in its device's area.
"""
from __future__ import annotations

import time
import uuid
from typing import Any, Iterable

from devices.names import slug


def _stamp() -> float:
    return time.time()


class Registries:
    def __init__(self) -> None:
        self.floors: dict[str, dict[str, Any]] = {}
        self.areas: dict[str, dict[str, Any]] = {}
        self.devices: dict[str, dict[str, Any]] = {}
        self.entities: dict[str, dict[str, Any]] = {}  # entity_id -> extended entry

    # -- building them -------------------------------------------------------------------

    def floor(self, name: str, aliases: Iterable[str] = (), level: int | None = None) -> str:
        """The id of the floor called `name`, made if there is none."""
        for floor_id, floor in self.floors.items():
            if floor["name"] == name:
                return floor_id
        floor_id = _free(slug(name, "floor"), self.floors)
        now = _stamp()
        self.floors[floor_id] = {"aliases": list(aliases), "created_at": now, "floor_id": floor_id,
                                 "icon": None, "level": level, "name": name, "modified_at": now}
        return floor_id

    def area(self, name: str, floor: str | None = None, aliases: Iterable[str] = ()) -> str:
        """The id of the area called `name` (made if there is none), on `floor` (a name)."""
        for area_id, area in self.areas.items():
            if area["name"] == name:
                return area_id
        area_id = _free(slug(name, "area"), self.areas)
        now = _stamp()
        self.areas[area_id] = {
            "aliases": list(aliases), "area_id": area_id, "floor_id": self.floor(floor) if floor else None,
            "humidity_entity_id": None, "icon": None, "labels": [], "name": name, "picture": None,
            "temperature_entity_id": None, "created_at": now, "modified_at": now,
        }
        return area_id

    def device(self, name: str, area: str | None = None, manufacturer: str = "Claw",
               model: str = "Emulated") -> str:
        device_id = uuid.uuid4().hex
        now = _stamp()
        self.devices[device_id] = {
            "area_id": self.area(area) if area else None, "configuration_url": None,
            "config_entries": ["emulated"], "config_entries_subentries": {"emulated": [None]},
            "connections": [], "created_at": now, "disabled_by": None, "entry_type": None,
            "hw_version": None, "id": device_id, "identifiers": [["emulated", device_id]],
            "labels": [], "manufacturer": manufacturer, "model": model, "model_id": None,
            "modified_at": now, "name_by_user": None, "name": name, "primary_config_entry": "emulated",
            "serial_number": None, "sw_version": None, "via_device_id": None,
        }
        return device_id

    def entity(self, entity_id: str, name: str | None = None, area: str | None = None,
               device_id: str | None = None, aliases: Iterable[str] = ()) -> dict[str, Any]:
        now = _stamp()
        entry = {
            "area_id": self.area(area) if area else None, "categories": {}, "config_entry_id": "emulated",
            "config_subentry_id": None, "created_at": now, "device_id": device_id, "disabled_by": None,
            "entity_category": None, "entity_id": entity_id, "has_entity_name": False, "hidden_by": None,
            "icon": None, "id": uuid.uuid4().hex, "labels": [], "modified_at": now, "name": None,
            "options": {}, "original_name": name, "platform": "emulated", "translation_key": None,
            "unique_id": entity_id,
            # the extended part (get / get_entries)
            "aliases": list(aliases), "capabilities": None, "device_class": None,
            "original_device_class": None, "original_icon": None,
        }
        self.entities[entity_id] = entry
        return entry

    # -- what the WebSocket answers ------------------------------------------------------

    def list_entities(self) -> list[dict[str, Any]]:
        """config/entity_registry/list: the partial entries, without aliases and capabilities."""
        extended = ("aliases", "capabilities", "device_class", "original_device_class", "original_icon")
        return [{k: v for k, v in e.items() if k not in extended} for e in self.entities.values()]

    def get_entries(self, entity_ids: list[str]) -> dict[str, dict[str, Any] | None]:
        return {entity_id: self.entities.get(entity_id) for entity_id in entity_ids}

    # -- targets -------------------------------------------------------------------------

    def area_of(self, entity_id: str) -> str | None:
        entry = self.entities.get(entity_id)
        if entry is None:
            return None
        if entry["area_id"]:
            return entry["area_id"]
        device = self.devices.get(entry["device_id"] or "")
        return device["area_id"] if device else None

    def targets(self, target: dict[str, Any], all_ids: Iterable[str]) -> list[str]:
        """The entity ids a service target names, in the order HA would list them."""
        entity_ids = _listed(target.get("entity_id"))
        if entity_ids == ["all"]:
            return list(all_ids)
        picked = dict.fromkeys(entity_ids)
        if not any(target.get(k) for k in ("area_id", "floor_id", "device_id")):
            return list(picked)
        areas = set(_listed(target.get("area_id")))
        floors = set(_listed(target.get("floor_id")))
        areas |= {a for a, area in self.areas.items() if area["floor_id"] in floors}
        devices = set(_listed(target.get("device_id")))
        for entity_id in all_ids:
            entry = self.entities.get(entity_id)
            if entry is None:
                continue
            if self.area_of(entity_id) in areas or entry["device_id"] in devices:
                picked[entity_id] = None
        return list(picked)


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _free(base: str, taken: dict[str, Any]) -> str:
    """HA's id for a new registry entry: the slug, with _2, _3 ... when it is taken."""
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}_{n}"
    return candidate
