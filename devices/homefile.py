"""A house in a file: floors, areas and entities in YAML.

Two shapes load: Claw's own (entities with `domain` and `name`) and the shape of Home
Assistant's public intent test fixtures (entities with an `id` like `light.kitchen_ceiling`,
areas with `id`/`name`/`floor`, floors with `id`/`name`). Attributes are in Home Assistant units
in both (brightness 0-255, volume_level 0-1). Unknown keys are ignored; a malformed file raises
HomeFileError naming the line and the field. An entity Claw could not serve (a domain no family
drives, an id another entity already has) is an error too, rather than missing from the house.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devices.families import BY_NAME, FAMILIES
from devices.names import slug

# Attributes an emulator turns into device settings (Home Assistant units), with their bounds.
# Entities that Home Assistant serves keep their attributes as written, as HA's own states do.
NUMBERS = {"brightness": (0, 255), "volume_level": (0, 1), "current_position": (0, 100),
           "color_temp_kelvin": (1000, 40000)}
TEXTS = ("media_title", "media_artist", "device_class")


class HomeFileError(ValueError):
    pass


@dataclass
class AreaSpec:
    name: str
    floor: str | None = None
    aliases: list[str] = field(default_factory=list)


@dataclass
class EntitySpec:
    entity_id: str
    name: str
    area: str | None
    state: str
    attributes: dict[str, Any]
    aliases: list[str]
    via: str
    line: int

    @property
    def domain(self) -> str:
        return self.entity_id.split(".", 1)[0]


@dataclass
class HomeSpec:
    name: str
    floors: list[str]
    areas: list[AreaSpec]
    entities: list[EntitySpec]


class _Map(dict):
    line = 0  # where the mapping starts
    lines: dict[str, int] = {}  # key -> the line it is on


class _Seq(list):
    lines: list[int] = []  # the line each item starts on


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> _Map:
    m = _Map(loader.construct_mapping(node, deep=True))
    m.line = node.start_mark.line + 1
    m.lines = {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
    return m


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> _Seq:
    s = _Seq(loader.construct_sequence(node, deep=True))
    s.lines = [item.start_mark.line + 1 for item in node.value]
    return s


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def default_via(domain: str, name: str, area: str | None) -> str:
    """The family that serves an entity whose file does not say (`via:`)."""
    return next(f.name for f in FAMILIES if f.claims(domain, name, area) and domain in f.serves)


def load(path: Path | str) -> HomeSpec:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise HomeFileError(f"{path}: cannot read it ({e})") from None
    return parse(text, str(path))


def parse(text: str, where: str = "home file") -> HomeSpec:
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise HomeFileError(f"{where}{line}: not valid YAML ({getattr(e, 'problem', e)})") from None
    if not isinstance(data, dict):
        raise HomeFileError(f"{where}: expected a mapping with floors, areas and entities")

    def fail(item: Any, msg: str, key: str | None = None) -> HomeFileError:
        """An error at `item` (a mapping, or a line number), on the line of its `key` if given."""
        line = item if isinstance(item, int) else item.lines.get(key) or item.line
        return HomeFileError(f"{where} line {line}: {msg}")

    def items(key: str) -> list[tuple[int, Any]]:
        """The list under `key`, each item with its line."""
        value = data.get(key) or _Seq()
        if not isinstance(value, _Seq):
            raise fail(data, f"'{key}' must be a list", key)
        return list(zip(value.lines, value))

    floors: dict[str, str] = {}
    for line, f in items("floors"):
        if isinstance(f, str):
            floors[f] = f
            continue
        if not isinstance(f, dict) or not isinstance(f.get("name") or f.get("id"), str):
            raise fail(line, "each floor needs a name")
        name = str(f.get("name") or f["id"])
        floors[str(f.get("id") or name)] = name

    areas: dict[str, AreaSpec] = {}  # by id and by name
    area_list: list[AreaSpec] = []
    for line, a in items("areas"):
        if isinstance(a, str):
            a = _Map(name=a)
        if not isinstance(a, dict) or not isinstance(a.get("name") or a.get("id"), str):
            raise fail(line, "each area needs a name")
        floor = a.get("floor")
        if floor is not None and not isinstance(floor, str):
            raise fail(a, "field 'floor' must be a floor name or id", "floor")
        spec = AreaSpec(str(a.get("name") or a["id"]), floors.get(floor, floor) if floor else None,
                        _strings(a, "aliases", fail))
        if spec.floor and spec.floor not in floors.values():
            floors[spec.floor] = spec.floor
        area_list.append(spec)
        areas[spec.name] = spec
        if a.get("id"):
            areas[str(a["id"])] = spec

    entities: list[EntitySpec] = []
    seen: dict[str, int] = {}  # entity id -> the line of the entity that has it
    for line, e in items("entities"):
        if not isinstance(e, dict):
            raise fail(line, "each entity must be a mapping")
        entity_id, name = e.get("id"), e.get("name")
        domain = e.get("domain")
        if entity_id is not None:
            if not isinstance(entity_id, str) or "." not in entity_id:
                raise fail(e, f"field 'id' must look like 'light.kitchen', got {entity_id!r}", "id")
            domain = domain or entity_id.split(".", 1)[0]
        if not isinstance(domain, str) or not domain:
            raise fail(e, "field 'domain' is missing (or give an 'id' like 'light.kitchen')")
        if name is None:
            if entity_id is None:
                raise fail(e, "field 'name' is missing")
            name = entity_id.split(".", 1)[1].replace("_", " ").title()
        if not isinstance(name, str) or not name.strip():
            raise fail(e, "field 'name' must be text", "name")
        area = e.get("area")
        if area is not None and not isinstance(area, str):
            raise fail(e, "field 'area' must be an area name or id", "area")
        if area is not None and area not in areas:
            spec = AreaSpec(area)
            areas[area] = spec
            area_list.append(spec)
        area_name = areas[area].name if area else None
        attributes = e.get("attributes") or {}
        if not isinstance(attributes, dict):
            raise fail(e, "field 'attributes' must be a mapping", "attributes")
        state = e.get("state", "off")
        if isinstance(state, bool):  # YAML reads a bare on/off as a boolean
            state = "on" if state else "off"
        if isinstance(state, dict):  # fixtures sometimes write state: {state: ..., attributes: ...}
            attributes = {**attributes, **(state.get("attributes") or {})}
            state = state.get("state", "off")
        what = f"entity {name.strip()!r}"
        if not any(domain in f.serves for f in FAMILIES):
            known = ", ".join(sorted(set().union(*(f.serves for f in FAMILIES))))
            raise fail(e, f"{what}: Claw has no driver for domain {domain!r} (it drives {known})",
                       "id" if "id" in e else "domain")
        via = e.get("via") or default_via(domain, name, area_name)
        family = BY_NAME.get(via) if isinstance(via, str) else None
        if family is None or family.emulation is None:
            names = ", ".join(f.name for f in FAMILIES if f.emulation)
            raise fail(e, f"field 'via' must be one of {names}, got {via!r}", "via")
        if domain not in family.serves:
            raise fail(e, f"{what}: {via} serves {', '.join(sorted(family.serves))}, not {domain}", "via")
        if via == "sonos":  # a Sonos speaker's id comes from its room
            entity_id = f"media_player.{slug(area_name or name)}"
        elif via != "home_assistant" or entity_id is None:
            entity_id = f"{domain}.{slug(name)}"
        if entity_id in seen:
            change = ("area (a Sonos speaker's id comes from its room)" if via == "sonos"
                      else "id" if "id" in e and via == "home_assistant" else "name")
            raise fail(e, f"{what} gets the id {entity_id}, which the entity on line "
                          f"{seen[entity_id]} has already; give one of them another {change}")
        seen[entity_id] = e.line
        if via != "home_assistant":
            for key, value in attributes.items():
                problem = _bad_attribute(key, value)
                if problem:
                    raise fail(e, f"{what}: attribute {key!r} {problem}", "attributes")
        entities.append(EntitySpec(entity_id, name.strip(), area_name, str(state),
                                   dict(attributes), _strings(e, "aliases", fail), via, e.line))
    return HomeSpec(str(data.get("name") or "Home"), list(dict.fromkeys(floors.values())),
                    area_list, entities)


def _bad_attribute(key: str, value: Any) -> str | None:
    """What is wrong with an attribute an emulator will use, in words; None if nothing."""
    if key in NUMBERS:
        low, high = NUMBERS[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            return f"must be a number from {low} to {high}, got {value!r}"
    elif key == "rgb_color":
        if not (isinstance(value, list) and len(value) == 3
                and all(type(c) is int and 0 <= c <= 255 for c in value)):
            return f"must be three numbers from 0 to 255 like [255, 160, 0], got {value!r}"
    elif key == "is_volume_muted" and not isinstance(value, bool):
        return f"must be true or false, got {value!r}"
    elif key in TEXTS and not isinstance(value, str):
        return f"must be text, got {value!r}"
    return None


def _strings(item: dict[str, Any], key: str, fail: Any) -> list[str]:
    value = item.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(item, f"field '{key}' must be a list of names", key)
    return list(value)
