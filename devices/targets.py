"""Resolve `name | area | floor | domain | device_class` to entities, the way Home Assistant does.

Failures say what is wrong in words a person can act on, with Home Assistant's error codes
(no_entity, no_area, no_floor, duplicate_entities, feature_not_supported) for programs.
"""
from __future__ import annotations

from devices.home import Home, normalize
from devices.model import Entity


class TargetError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _words(text: str) -> set[str]:
    # "lights" and "light" are the same word for matching purposes
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in normalize(text).split()}


def _names(e: Entity) -> list[str]:
    return [e.name, *e.aliases]


def _listing(entities: list[Entity]) -> str:
    parts = [f"{e.name} ({e.area})" if e.area else e.name for e in entities]
    return ", ".join(parts[:-1]) + " or " + parts[-1] if len(parts) > 1 else parts[0]


def _domain_word(domain: str) -> str:
    return {"media_player": "speaker", "binary_sensor": "sensor", "climate": "thermostat",
            "alarm_control_panel": "alarm panel"}.get(domain, domain.replace("_", " "))


def resolve(
    home: Home,
    *,
    name: str | None = None,
    area: str | None = None,
    floor: str | None = None,
    domain: str | list[str] | None = None,
    device_class: str | list[str] | None = None,
    service: str | None = None,
) -> list[Entity]:
    domains = [domain] if isinstance(domain, str) else list(domain or [])
    classes = [device_class] if isinstance(device_class, str) else list(device_class or [])
    if not (name or area or floor or domains or classes):
        raise TargetError("no_target", "Say which device, area or kind of device you mean.")

    areas: set[str] | None = None
    where = ""
    if area:
        found = home.area_named(area)
        if found is None:
            known = ", ".join(sorted(home.areas)) or "none yet"
            raise TargetError("no_area", f"I don't have an area called '{area}' (areas: {known}).")
        areas, where = {found.name}, f" in the {found.name}"
    if floor:
        floors = {normalize(f): f for f in home.floors()}
        if normalize(floor) not in floors:
            known = ", ".join(home.floors()) or "none set up"
            raise TargetError("no_floor", f"I don't have a floor called '{floor}' (floors: {known}).")
        floor_name = floors[normalize(floor)]
        on_floor = {a.name for a in home.areas.values() if a.floor == floor_name}
        areas = on_floor if areas is None else areas & on_floor
        where = where or f" on the {floor_name}"

    def fits(e: Entity) -> bool:
        return ((not domains or e.domain in domains)
                and (not classes or e.device_class in classes)
                and (areas is None or e.area in areas))

    if name:
        # An exact name or alias (the usual case) is one lookup; words are matched by a scan.
        matched = ([e for e in home.named(name) if fits(e)]
                   or _match_words(name, [e for e in home.entities.values() if fits(e)]))
        if not matched:
            kind = _domain_word(domains[0]) if len(domains) == 1 else "device"
            raise TargetError("no_entity", f"I don't have a {kind} called '{name}'{where}.")
        if len(matched) > 1:
            raise TargetError(
                "duplicate_entities",
                f"{len(matched)} devices match '{name}': {_listing(matched)}. Which one?",
            )
        if service and service not in matched[0].services:
            raise TargetError(
                "feature_not_supported",
                f"The {matched[0].name} can't {service.replace('_', ' ')}.",
            )
        return matched

    candidates = [e for e in home.entities.values() if fits(e)]
    if service:
        able = [e for e in candidates if service in e.services]
        if candidates and not able:
            raise TargetError(
                "feature_not_supported",
                f"Nothing{where} can {service.replace('_', ' ')}.",
            )
        candidates = able
    if not candidates:
        kind = " or ".join(_domain_word(d) for d in domains) if domains else "device"
        if classes:
            kind = " or ".join(classes) + " " + kind
        raise TargetError("no_entity", f"I don't have a {kind}{where}.")
    return sorted(candidates, key=lambda e: e.entity_id)


def _match_words(name: str, candidates: list[Entity]) -> list[Entity]:
    """Entities whose names hold all the words of `name` (for a name with no exact match)."""
    wanted = _words(name)
    if not wanted:
        return []
    # "lamp" -> "Desk Lamp"; "study speaker" -> "Study Speaker" even with extra words
    partial = [e for e in candidates if any(wanted <= _words(n) for n in _names(e))]
    if partial:
        return partial
    # "kitchen ceiling" -> "Ceiling" in the Kitchen
    return [
        e for e in candidates
        if any(wanted <= _words(n) | _words(e.area or "") for n in _names(e))
    ]
