"""Resolve `name | area | floor | domain | device_class` to entities, the way Home Assistant does.

Failures say what is wrong in words a person can act on, with Home Assistant's error codes
(no_entity, no_area, no_floor, duplicate_entities, feature_not_supported) for programs.
"""
from __future__ import annotations

from rapidfuzz import process
from rapidfuzz.distance import OSA

from devices.home import Area, Home, normalize
from devices.model import Entity

# How close a misspelt word must be to a name's word (optimal string alignment, so a swap of two
# letters is one typo: "dsek" is 75% "desk"), and how long a word must be before a typo is
# allowed at all ("fan" vs "fen" is not a typo worth guessing).
NEAR_WORD = 0.75
MIN_FUZZY_LENGTH = 4
# Words that say the kind of a device rather than which one ("the bedside light" for the Bedside
# Lamp): with no name holding them, the other words pick among devices of that kind.
KIND_WORDS = {"light": "light", "lamp": "light", "speaker": "media_player", "tv": "media_player",
              "fan": "fan", "switch": "switch", "plug": "switch", "socket": "switch",
              "blind": "cover", "shade": "cover", "curtain": "cover", "thermostat": "climate",
              "valve": "valve", "vacuum": "vacuum", "lock": "lock", "alarm": "alarm_control_panel",
              "camera": "camera", "heater": "water_heater"}


class TargetError(Exception):
    def __init__(self, code: str, message: str, candidates: list[Entity] | None = None):
        super().__init__(message)
        self.code = code
        self.candidates = candidates or []  # duplicate_entities: what the person picks from


def _words(text: str) -> set[str]:
    # "lights" and "light" are the same word for matching purposes
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in normalize(text).split()}


def _names(e: Entity) -> list[str]:
    return [e.name, *e.aliases]


def listing(entities: list[Entity]) -> str:
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
        found = area_like(home, area)
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
        fitting = [e for e in home.entities.values() if fits(e)]
        matched = ([e for e in home.named(name) if fits(e)]
                   or _match_words(name, fitting) or _match_near(name, fitting)
                   or _match_kind(name, fitting))
        if not matched:
            kind = _domain_word(domains[0]) if len(domains) == 1 else "device"
            raise TargetError("no_entity", f"I don't have a {kind} called '{name}'{where}.")
        if len(matched) > 1 and not _plural_of_shared_word(name, matched):
            raise TargetError(
                "duplicate_entities",
                f"{len(matched)} devices match '{name}': {listing(matched)}. Which one?",
                sorted(matched, key=lambda e: e.entity_id),
            )
        unable = [e for e in matched if service and service not in e.services]
        if unable:
            raise TargetError(
                "feature_not_supported",
                f"The {unable[0].name} can't {service.replace('_', ' ')}.",
            )
        return sorted(matched, key=lambda e: e.entity_id)

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


def area_like(home: Home, said: str) -> Area | None:
    """The area `said` means: its name or alias, else the one area whose name holds all the
    words ("guest room" for "Guest Room 2"), else the one area within a typo of it."""
    exact = home.area_named(said)
    if exact is not None:
        return exact
    wanted = _words(said)
    if not wanted:
        return None
    areas = list(home.areas.values())
    spelled = {a.name: [a.name, *a.aliases] for a in areas}
    holding = [a for a in areas if any(wanted <= _words(n) for n in spelled[a.name])]
    if len(holding) == 1:
        return holding[0]
    if holding:
        return None  # "room" for "Guest Room 2" and "Living Room": not ours to pick
    joined = "".join(normalize(said).split())  # "guestroom" for "Guest Room 2"
    run_together = [a for a in areas if any("".join(normalize(n).split()).startswith(joined)
                                            for n in spelled[a.name])]
    if len(run_together) == 1 and len(joined) >= MIN_FUZZY_LENGTH:
        return run_together[0]
    near = [a for a in areas if any(_near_words(wanted, _words(n)) for n in spelled[a.name])]
    return near[0] if len(near) == 1 else None


def _plural_of_shared_word(name: str, matched: list[Entity]) -> bool:
    """ "the lamps" for Desk Lamp and Floor Lamp means both: the last word said is a plural that
    none of their names spells that way."""
    said = normalize(name).split()
    if not said or not said[-1].endswith("s") or len(said[-1]) <= 3:
        return False
    return not any(said[-1] in normalize(n).split() for e in matched for n in _names(e))


def _match_near(name: str, candidates: list[Entity]) -> list[Entity]:
    """Entities whose names hold every word of `name` within a typo (rapidfuzz), used only when
    no name holds the words exactly: a near name never beats an exact one."""
    wanted = _words(name)
    if not wanted:
        return []
    return [e for e in candidates
            if any(_near_words(wanted, _words(n) | _words(e.area or "")) for n in _names(e))]


def _match_kind(name: str, candidates: list[Entity]) -> list[Entity]:
    """ "bedside light" -> the Bedside Lamp: the name's kind word picks the domain, the rest of
    its words the device; "the valve" alone is every valve (one, or a question)."""
    wanted = _words(name)
    kinds = {KIND_WORDS[w] for w in wanted if w in KIND_WORDS}
    rest = {w for w in wanted if w not in KIND_WORDS}
    if len(kinds) != 1:
        return []
    of_kind = [e for e in candidates if e.domain in kinds]
    if not rest:
        return of_kind
    words = " ".join(rest)
    return _match_words(words, of_kind) or _match_near(words, of_kind)


def _near_words(wanted: set[str], have: set[str]) -> bool:
    """Every wanted word is in `have`, or (when long enough) a typo of one of its words."""
    if not have:
        return False
    for word in wanted:
        if word in have:
            continue
        if len(word) < MIN_FUZZY_LENGTH:
            return False
        best = process.extractOne(word, have, scorer=OSA.normalized_similarity, score_cutoff=NEAR_WORD)
        if best is None:
            return False
    return True


def entity_fits_words(said: str, e: Entity) -> bool:
    """Whether every word said is in the entity's name, an alias, its area or floor (a typo
    allowed), as in an answer to "which one?" ("the kitchen one", "desk")."""
    wanted = _words(said)
    around = _words(e.area or "") | _words(e.floor or "")
    return bool(wanted) and any(_near_words(wanted, _words(n) | around) for n in _names(e))
