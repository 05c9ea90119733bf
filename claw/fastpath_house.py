"""Questions about the house itself, answered from what Claw knows of it (no model, no device
call): what it can do here, what it has, which rooms there are, and where a thing is."""
from __future__ import annotations

from devices.home import Home
from devices.model import Entity
from devices.targets import TargetError, area_like, resolve

KIND = {"media_player": "speaker", "binary_sensor": "sensor", "climate": "thermostat",
        "alarm_control_panel": "alarm", "water_heater": "water heater", "lawn_mower": "lawn mower",
        "todo": "list"}
# One thing to say per kind of device, with {name} and {area} from the house's own.
EXAMPLES = {
    "light": ['turn on the {name}', 'dim the {area} lights to 30%'],
    "switch": ['turn off the {name}'],
    "fan": ['set the {name} to 50%'],
    "media_player": ['pause the music in the {area}', 'set the volume in the {area} to 40'],
    "cover": ['open the {name}'],
    "valve": ['close the {name}'],
    "climate": ['set the {area} to 21 degrees', "what's the temperature in the {area}?"],
    "lock": ['lock the {name}'],
    "alarm_control_panel": ['arm the {name}'],
    "vacuum": ['start the {name}', 'send the {name} back to the dock'],
    "lawn_mower": ['start the {name}'],
    "todo": ['add milk to the {name}', "what's on the {name}?"],
    "sensor": ["what's the {name}?"],
    "binary_sensor": ['is the {name} on?'],
}


def kind(e: Entity) -> str:
    if e.domain == "cover" and e.device_class == "garage":
        return "garage door"
    return KIND.get(e.domain, e.domain.replace("_", " "))


def help_text(home: Home) -> str:
    """What the fast path understands here, with examples made of this house's own names."""
    examples: list[str] = []
    seen: set[str] = set()
    for e in sorted(home.entities.values(), key=lambda e: e.entity_id):
        if e.domain in seen or e.domain not in EXAMPLES:
            continue
        seen.add(e.domain)
        area = e.area or "living room"
        examples += [f'"{x.format(name=e.name.lower(), area=area.lower())}"' for x in EXAMPLES[e.domain]]
    if not examples:
        return "I haven't found any devices yet, so there's little I can do. Once I have, ask again."
    return ("Without a model I understand everyday commands for this house, for example "
            + ", ".join(examples[:10]) + '. Several at once work too ("turn on the kitchen lights and '
            'pause the music"), and so does "I\'m in the kitchen" (then "turn off the light" means '
            'the kitchen\'s). Ask "what do you have?" or "where is the …?" about the house itself.')


def devices_text(home: Home, area: str | None = None) -> str:
    """What the house has, by room (or in one room)."""
    if area is not None:
        room = area_like(home, area)
        if room is None:
            return f"I don't have an area called '{area}' (areas: {', '.join(sorted(home.areas)) or 'none yet'})."
        here = sorted((e for e in home.entities.values() if e.area == room.name), key=lambda e: e.name)
        if not here:
            return f"I don't have anything in the {room.name}."
        return f"In the {room.name}: " + ", ".join(f"{e.name} ({kind(e)}, {e.state})" for e in here) + "."
    if not home.entities:
        return "I haven't found any devices yet."
    by_area: dict[str, list[Entity]] = {}
    for e in sorted(home.entities.values(), key=lambda e: (e.area or "~", e.name)):
        by_area.setdefault(e.area or "No room", []).append(e)
    return f"I have {len(home.entities)} devices. " + " ".join(
        f"{room}: " + ", ".join(f"{e.name} ({kind(e)})" for e in items) + "."
        for room, items in by_area.items())


def rooms_text(home: Home) -> str:
    if not home.areas:
        return "I don't know any rooms yet."
    parts = []
    for a in sorted(home.areas.values(), key=lambda a: (a.floor or "~", a.name)):
        parts.append(a.name + (f" ({a.floor})" if a.floor else ""))
    return "Rooms: " + ", ".join(parts) + "."


def where_text(home: Home, name: str) -> str:
    """Where one thing (or each thing a name fits) is."""
    try:
        found = resolve(home, name=name)
    except TargetError as e:
        if e.code != "duplicate_entities":
            return str(e)
        found = e.candidates
    return " ".join(_where(e) for e in found)


def _where(e: Entity) -> str:
    if not e.area:
        return f"The {e.name} isn't in any room I know of."
    return f"The {e.name} is in the {e.area}" + (f", on the {e.floor}." if e.floor else ".")
