"""The fast path on Home Assistant's public intent sentences (../shared/benchmarks/intents-en).

Device control (579 sentences) and state questions (147), with no model at all. Each sentence
group gets its own home, built from its file's fixtures: where a file has no devices, the ones
its expected slots need are added, plus distractors (the same kind of device elsewhere, another
kind of device in the same room) that must not change. Every home runs on the real emulators
through the real drivers: lights on the Hue bridge emulator, speakers on Sonos emulators (soco),
switches, covers, valves, locks, climate and sensors on the Home Assistant bridge emulator (REST).
Domains no emulator serves yet (fan speed, vacuums, lawn mowers, scenes, scripts, people) live
in a small in-process driver here.

Scoring is by state difference: after a command, every expected change happened and nothing
else changed (read back from the devices). A question is right when the reply equals the
expected answer and nothing changed. A sentence handed to the model (the fast path returned
None) counts as a miss and as a model call. Security-tier commands (locks, valves, garage doors)
are confirmed by a stand-in owner who says yes; the count is reported.

Targets: >= 97% of device-control sentences; fast-path latency p50 <= 5 ms, p99 <= 20 ms.

    .venv/bin/python bench/intents.py [--data DIR] [--intent HassTurnOn] [--failures]
"""
from __future__ import annotations

import argparse
import asyncio
import colorsys
import logging
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from claw import home_tools  # noqa: E402
from claw.executor import Executor  # noqa: E402
from claw.fastpath import FastPath  # noqa: E402
from claw.tools import Caller, ToolRegistry  # noqa: E402
from devices import homefile  # noqa: E402
from devices.colors import COLOR_NAMES_RGB  # noqa: E402
from devices.families.homeassistant.emulator import HomeAssistantEmulator  # noqa: E402
from devices.families.hue.emulator import HueBridgeEmulator  # noqa: E402
from devices.families.sonos.emulator import SonosEmulator, SonosHousehold, Track  # noqa: E402
from devices.home import Home  # noqa: E402
from devices.families.homeassistant.driver import HomeAssistantDriver  # noqa: E402
from devices.families.hue.driver import HueDriver  # noqa: E402
from devices.model import Device, DeviceError, Entity  # noqa: E402
from devices.families.sonos.driver import SonosDriver  # noqa: E402
from memory.store import Store  # noqa: E402

DATA = ROOT.parent / "shared" / "benchmarks" / "intents-en"
CONTROL = ("HassTurnOn HassTurnOff HassLightSet HassClimateSetTemperature HassSetPosition "
           "HassFanSetSpeed HassMediaPause HassMediaUnpause HassMediaNext HassMediaPrevious "
           "HassMediaSearchAndPlay HassSetVolume HassSetVolumeRelative HassMediaPlayerMute "
           "HassMediaPlayerUnmute HassVacuumStart HassVacuumReturnToBase HassVacuumCleanArea "
           "HassLawnMowerStartMowing HassLawnMowerDock").split()
QUERIES = ["HassGetState", "HassClimateGetTemperature"]
# The device kind an intent acts on when its slots don't say.
INTENT_DOMAIN = {
    "HassLightSet": "light", "HassClimateSetTemperature": "climate", "HassSetPosition": "cover",
    "HassFanSetSpeed": "fan", "HassVacuumStart": "vacuum", "HassVacuumReturnToBase": "vacuum",
    "HassVacuumCleanArea": "vacuum", "HassLawnMowerStartMowing": "lawn_mower",
    "HassLawnMowerDock": "lawn_mower", "HassClimateGetTemperature": "climate",
    **{i: "media_player" for i in CONTROL if i.startswith("HassMedia") or "Volume" in i},
}
# Names for devices a home needs but its file does not list (none is a word the sentences use).
POOL = {"light": ["Pendant", "Spotlight"], "switch": ["Socket", "Plug"], "fan": ["Tower Fan", "Box Fan"],
        "cover": ["Left Panel", "Right Panel"], "climate": ["Thermostat"], "vacuum": ["Robo"],
        "lawn_mower": ["Mowbot"], "valve": ["Tap"], "lock": ["Bolt"], "media_player": ["Speaker"]}
SPARE_AREA, SPARE_FLOOR = "Utility Room", "Basement"
DEFAULT_AREA = "Hallway"
LIBRARY_MISS = "Does Not Exist"  # the one search the test data expects to find nothing
TRACKS = [Track(f"Track {n}", "The Bench Band", f"x-file-cifs://nas/bench/{n}.flac", "Bench", "0:03:00")
          for n in range(1, 4)]


# -- one home per sentence group ------------------------------------------------------------

@dataclass
class Spec:
    domain: str
    name: str
    area: str
    state: str
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.domain, self.name.casefold(), self.area)


@dataclass
class Case:
    path: Path
    intent: str
    sentences: list[str]
    slots: dict[str, Any]
    response: str
    speaker_area: str | None
    areas: dict[str, str | None]  # name -> floor
    entities: list[Spec]
    library: list[str]

    @property
    def is_query(self) -> bool:
        return self.intent in QUERIES


def pre_state(intent: str, domain: str) -> tuple[str, dict[str, Any]]:
    """A state from which the intent's change is visible."""
    on = intent != "HassTurnOff"
    if domain in ("light", "switch", "fan"):
        lit = intent in ("HassLightSet", "HassFanSetSpeed") or not on
        return ("on" if lit else "off"), ({"percentage": 20} if domain == "fan" else {})
    if domain == "cover":
        opened = not on or intent == "HassSetPosition"
        return ("open", {"current_position": 100}) if opened else ("closed", {"current_position": 0})
    if domain == "valve":
        return ("closed" if on else "open"), {}
    if domain == "lock":
        return ("unlocked" if on else "locked"), {}
    if domain == "climate":
        return "heat", {"temperature": 18.0, "current_temperature": 19.0}
    if domain == "media_player":
        if intent == "HassMediaUnpause":
            return "paused", {}
        if intent == "HassMediaSearchAndPlay":
            return "paused", {}
        return "playing", {"is_volume_muted": intent == "HassMediaPlayerUnmute"}
    if domain == "vacuum":
        return ("cleaning" if intent == "HassVacuumReturnToBase" else "docked"), {}
    if domain == "lawn_mower":
        return ("mowing" if intent == "HassLawnMowerDock" else "docked"), {}
    if domain == "scene":
        return "2026-01-01T00:00:00", {}
    return "off", {}


def build_case(path: Path, group: dict[str, Any], combos: dict[str, Any]) -> Case:
    intent, combo = path.parent.name, path.stem
    text = path.read_text()
    data = yaml.safe_load(text)
    home = homefile.parse(text, str(path))
    slots = dict(group.get("slots") or {})
    areas: dict[str, str | None] = {a.name: a.floor for a in home.areas}
    speaker_area = None
    if (combos.get(intent, {}).get("slot_combinations") or {}).get(combo, {}).get("context_area"):
        speaker_area = next(iter(areas), "Living Room")
        areas.setdefault(speaker_area, None)

    def area_on(floor: str) -> str:
        found = next((a for a, f in areas.items() if f == floor), None)
        if found is None:
            found = f"{floor} Landing"
            areas[found] = floor
        return found

    if "area" in slots:
        areas.setdefault(slots["area"], None)
    place = slots.get("area") or (area_on(slots["floor"]) if "floor" in slots else None) or speaker_area
    if intent == "HassVacuumCleanArea":
        place = None  # the area is what gets cleaned; the vacuum lives anywhere
    named = str(slots.get("name", "")).casefold()
    query = intent in QUERIES
    entities: list[Spec] = []
    for e in home.entities:
        area = e.area or (place if place and (not named or e.name.casefold() == named) else DEFAULT_AREA)
        if query and not e.area:
            area = speaker_area or DEFAULT_AREA
        state, attrs = (e.state, dict(e.attributes)) if query else pre_state(intent, e.domain)
        entities.append(Spec(e.domain, e.name, area, state, {**e.attributes, **attrs}))
    areas.setdefault(DEFAULT_AREA, None)

    if not query:
        domain = slots.get("domain") or INTENT_DOMAIN.get(intent)
        if named:
            domain = next(e.domain for e in entities if e.name.casefold() == named)
        cls = slots.get("device_class")
        extra = {"device_class": cls} if cls else {}
        kind = [e for e in entities
                if e.domain == domain and (not cls or e.attributes.get("device_class") == cls)]
        if not named and not [e for e in kind if place is None or e.area == place]:
            count = 1 if domain in ("climate", "vacuum", "lawn_mower", "media_player") else 2
            for name in POOL.get(domain, [])[:count]:
                state, attrs = pre_state(intent, domain)
                entities.append(Spec(domain, name, place or DEFAULT_AREA, state, {**attrs, **extra}))
        # Distractors: the same kind of device in another room, and another kind in this room.
        areas[SPARE_AREA] = SPARE_FLOOR
        target = next((e for e in entities if e.domain == domain
                       and (e.name.casefold() == named if named else (place is None or e.area == place))), None)
        if target is not None and (named or domain not in ("vacuum", "lawn_mower")):
            state, attrs = pre_state(intent, domain)
            located = "floor" in slots or ("area" in slots and intent != "HassVacuumCleanArea")
            if located or not named:
                spare_name = target.name  # a namesake elsewhere: only the area tells them apart
            else:
                spare_name = f"Spare {POOL.get(domain, ['Device'])[0]}"
            entities.append(Spec(domain, spare_name, SPARE_AREA, state, {**target.attributes, **attrs}))
            other = "switch" if domain != "switch" else "light"
            entities.append(Spec(other, POOL[other][1], target.area, pre_state(intent, other)[0]))

    library = [m["title"] for m in data.get("media") or []]
    for g in data["tests"]:
        query_text = (g.get("slots") or {}).get("search_query")
        if query_text and query_text != LIBRARY_MISS and query_text not in library:
            library.append(query_text)
    return Case(path, intent, list(group["sentences"]), slots, str(group.get("response", "")),
                speaker_area, areas, entities, library)


def load_cases(data_dir: Path, only: str | None) -> list[Case]:
    combos = yaml.safe_load((data_dir / "intents.yaml").read_text())
    cases = []
    for intent in CONTROL + QUERIES:
        if only and intent != only:
            continue
        for path in sorted((data_dir / "tests" / "en" / intent).glob("*.yaml")):
            for group in yaml.safe_load(path.read_text())["tests"]:
                cases.append(build_case(path, group, combos))
    return cases


# -- what should have changed ------------------------------------------------------------

def expected_targets(case: Case) -> list[Spec]:
    """The entities a group's expected slots pick out (Home Assistant's matching rules)."""
    s, intent = case.slots, case.intent
    if intent == "HassMediaSearchAndPlay" and s.get("search_query") == LIBRARY_MISS:
        return []
    domain = s.get("domain") or INTENT_DOMAIN.get(intent)
    area = s.get("area") or (case.speaker_area if "floor" not in s else None)
    if intent == "HassVacuumCleanArea":
        area = None
    found = []
    for e in case.entities:
        if "name" in s:
            if e.name.casefold() != str(s["name"]).casefold():
                continue
        elif e.domain != domain:
            continue
        if s.get("device_class") and e.attributes.get("device_class") != s["device_class"]:
            continue
        if area and e.area != area:
            continue
        if "floor" in s and case.areas.get(e.area) != s["floor"]:
            continue
        found.append(e)
    return found


def changed_right(case: Case, before: Entity, after: Entity) -> bool:
    """Whether one target entity changed the way the intent says."""
    s, intent, d = case.slots, case.intent, after.domain
    a, b = after.attributes, before.attributes
    if intent in ("HassTurnOn", "HassTurnOff"):
        on = intent == "HassTurnOn"
        if d in ("scene", "script"):
            return after.state != before.state
        wanted = {"cover": ("open", "closed"), "valve": ("open", "closed"),
                  "lock": ("locked", "unlocked")}.get(d, ("on", "off"))
        return after.state == wanted[0 if on else 1]
    if intent == "HassLightSet":
        if after.state != "on":
            return False
        if "brightness" in s:
            return abs((a.get("brightness") or 0) - round(s["brightness"] * 255 / 100)) <= 3
        if "color" in s:
            return _same_colour(a.get("rgb_color"), COLOR_NAMES_RGB[s["color"]])
        kelvin = min(max(int(s["temperature"]), a.get("min_color_temp_kelvin") or 0),
                     a.get("max_color_temp_kelvin") or 100000)
        return bool(a.get("color_temp_kelvin")) and abs(1e6 / a["color_temp_kelvin"] - 1e6 / kelvin) <= 10
    if intent == "HassClimateSetTemperature":
        return a.get("temperature") == float(s["temperature"])
    if intent == "HassSetPosition":
        return a.get("current_position") == s["position"]
    if intent == "HassFanSetSpeed":
        return a.get("percentage") == s["percentage"]
    if intent == "HassMediaPause":
        return after.state == "paused"
    if intent == "HassMediaUnpause":
        return after.state == "playing"
    if intent in ("HassMediaNext", "HassMediaPrevious"):
        return a.get("media_title") != b.get("media_title")
    if intent == "HassSetVolume":
        return abs(a["volume_level"] - s["volume_level"] / 100) < 0.011
    if intent == "HassSetVolumeRelative":
        step = {"up": 1, "down": -1}.get(s["volume_step"])
        delta = a["volume_level"] - b["volume_level"]
        return delta * step > 0 if step else abs(delta - s["volume_step"] / 100) < 0.011
    if intent in ("HassMediaPlayerMute", "HassMediaPlayerUnmute"):
        return a.get("is_volume_muted") is (intent == "HassMediaPlayerMute")
    if intent == "HassMediaSearchAndPlay":
        return after.state == "playing" and a.get("media_title") == s["search_query"]
    if intent == "HassVacuumCleanArea":
        return after.state == "cleaning" and a.get("cleaning_area") == (s.get("area") or case.speaker_area)
    wanted_state = {"HassVacuumStart": "cleaning", "HassVacuumReturnToBase": "returning",
                    "HassLawnMowerStartMowing": "mowing", "HassLawnMowerDock": "docked"}[intent]
    return after.state == wanted_state


def _same_colour(rgb: Any, wanted: tuple[int, int, int]) -> bool:
    if not rgb:
        return False
    h1, s1, _ = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    h2, s2, _ = colorsys.rgb_to_hsv(*(c / 255 for c in wanted))
    if s2 < 0.2:
        return s1 < 0.2
    return s1 > 0.4 and min(abs(h1 - h2), 1 - abs(h1 - h2)) < 25 / 360


# -- devices no emulator serves yet -------------------------------------------------------

class LocalDriver:
    """Home Assistant's behaviour for fan speed, vacuums, lawn mowers, scenes, scripts and
    people, kept in memory: no emulator or driver covers these domains yet."""

    SERVICES = {"fan": {"turn_on", "turn_off", "set_percentage"},
                "vacuum": {"start", "return_to_base", "clean_area"},
                "lawn_mower": {"start_mowing", "dock"}, "scene": {"turn_on"},
                "script": {"turn_on", "turn_off"}, "person": set()}

    def __init__(self, specs: list[Spec]):
        self.device = Device("bench-local", "bench", "Bench devices", "127.0.0.1", 0)
        self.specs = specs
        self.states: dict[str, tuple[str, dict[str, Any]]] = {}
        self.ids = {s.key: f"{s.domain}.bench_{n}" for n, s in enumerate(specs)}
        self.activations = 0
        self.reset()

    def reset(self) -> None:
        self.states = {self.ids[s.key]: (s.state, dict(s.attributes)) for s in self.specs}

    async def refresh(self) -> list[Entity]:
        return [Entity(self.ids[s.key], s.name, self.device.device_id, area=s.area,
                       device_class=s.attributes.get("device_class"), state=self.states[self.ids[s.key]][0],
                       attributes=dict(self.states[self.ids[s.key]][1]), services=set(self.SERVICES[s.domain]))
                for s in self.specs]

    async def call(self, entity_id: str, service: str, data: dict[str, Any]) -> None:
        state, attrs = self.states[entity_id]
        new = {"turn_on": "on", "turn_off": "off", "start": "cleaning", "clean_area": "cleaning",
               "return_to_base": "returning", "start_mowing": "mowing", "dock": "docked",
               "set_percentage": "on" if data.get("percentage") else "off"}[service]
        if entity_id.startswith("scene."):
            self.activations += 1
            new = f"2026-01-01T00:00:{self.activations:02d}"
        if service == "set_percentage":
            attrs = {**attrs, "percentage": data["percentage"]}
        if service == "clean_area":
            attrs = {**attrs, "cleaning_area": data["area"]}
        self.states[entity_id] = (new, attrs)

    async def close(self) -> None:
        pass


# -- the run ----------------------------------------------------------------------------

LOCAL_DOMAINS = {"vacuum", "lawn_mower", "scene", "script", "person"}


class Bench:
    """The emulators and drivers every home of a run shares; `home_for` builds one home."""

    def __init__(self, tmp: Path, speaker_net: str = "127.0.4"):
        self.tmp = tmp
        self.ha = HomeAssistantEmulator(token="bench-token")
        self.hue = HueBridgeEmulator()
        # Each speaker on its own loopback address (soco talks to one device per address).
        household = SonosHousehold(f"Sonos_bench_{speaker_net.replace('.', '_')}_{time.time_ns()}")
        self.speakers = [SonosEmulator(f"{speaker_net}.{i}", "Spare", household=household,
                                       queue=list(TRACKS)) for i in range(1, 5)]
        self.confirmations = 0
        self.homes = 0

    async def __aenter__(self) -> Bench:
        await self.ha.start()
        await self.hue.start()
        for s in self.speakers:
            await s.start()
        self.hue.press_link_button()
        self.hue_driver = HueDriver(Device("hue-bench", "hue", "Bench Hue", self.hue.host, self.hue.port), None)
        await self.hue_driver.pair("claw-bench")
        self.ha_driver = HomeAssistantDriver(
            Device("ha-bench", "homeassistant", "Bench HA", self.ha.host, self.ha.port), "bench-token")
        self.sonos_drivers = [SonosDriver(Device(f"sonos:{s.uid}", "sonos", s.uid, s.host, s.port))
                              for s in self.speakers]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for d in [self.hue_driver, self.ha_driver, *self.sonos_drivers]:
            await d.close()
        for emu in [self.ha, self.hue, *self.speakers]:
            await emu.stop()

    async def confirm(self, *args: Any) -> bool:
        self.confirmations += 1  # the owner taps "yes"
        return True

    def _served_locally(self, case: Case, spec: Spec) -> bool:
        return spec.domain in LOCAL_DOMAINS or (spec.domain == "fan" and case.intent == "HassFanSetSpeed")

    def reset(self, case: Case, local: LocalDriver) -> None:
        """Put every device of the case's home in its initial state."""
        self.ha.states.clear()
        self.hue.lights.clear()
        self.hue.groups.clear()
        speakers = iter(self.speakers)
        for spec in case.entities:
            if self._served_locally(case, spec):
                continue
            if spec.domain == "light":
                light = self.hue.lights[self.hue.add_light(spec.name, spec.area)]
                light.on, light.bri, light.ct, light.colormode = spec.state == "on", 100, 454, "ct"
            elif spec.domain == "media_player":
                emu = next(speakers)
                emu.room = spec.area
                emu.favorites = [(t, f"x-rincon-mp3radio://radio.example.net/{n}") for n, t in enumerate(case.library)]
                emu.state.transport = {"playing": "PLAYING", "paused": "PAUSED_PLAYBACK"}.get(spec.state, "STOPPED")
                emu.state.volume = 50
                emu.state.mute = bool(spec.attributes.get("is_volume_muted"))
                emu.state.queue, emu.state.queue_index, emu.state.stream = list(TRACKS), 1, None
                emu.state.uri = emu.queue_uri
            else:
                attrs = {**spec.attributes, "friendly_name": spec.name, "area": spec.area}
                if spec.domain == "cover":
                    attrs.setdefault("supported_features", 15)
                if spec.domain == "climate":
                    attrs.update(hvac_modes=["off", "heat"], min_temp=0, max_temp=100)
                entity_id = f"{spec.domain}.{homefile.slug(spec.name)}_{homefile.slug(spec.area)}"
                self.ha.add_entity(entity_id, spec.state, attrs)
        local.reset()

    async def home_for(self, case: Case) -> tuple[Home, FastPath, LocalDriver]:
        self.homes += 1
        home = Home(Store(self.tmp / f"home{self.homes}.db"))
        for area, floor in case.areas.items():
            home.set_area(area, floor=floor)
        local = LocalDriver([s for s in case.entities if self._served_locally(case, s)])
        self.reset(case, local)
        drivers: list[Any] = [local]
        if self.hue.lights:
            drivers.append(self.hue_driver)
        if self.ha.states:
            drivers.append(self.ha_driver)
        players = [s for s in case.entities if s.domain == "media_player"]
        drivers += self.sonos_drivers[:len(players)]
        for d in drivers:
            await home.add(d)
        for spec in players:  # a speaker is "<Room> Speaker"; the file may call it "TV"
            entity = next(e for e in home.entities.values() if e.domain == "media_player" and e.area == spec.area)
            if entity.name != spec.name:
                await home.customize(entity.entity_id, name=spec.name)
        registry = ToolRegistry()
        executor = Executor(registry, home, confirmer=self.confirm)
        home_tools.register(registry, executor, home)
        return home, FastPath(home, executor), local


@dataclass
class Outcome:
    case: Case
    sentence: str
    ok: bool
    handed_off: bool
    why: str
    understand_ms: float
    total_ms: float


def snapshot(home: Home) -> dict[tuple[str, str, str], Entity]:
    return {(e.domain, e.name.casefold(), e.area or ""): e for e in home.entities.values()}


async def run_case(bench: Bench, case: Case, caller: Caller) -> list[Outcome]:
    home, fast, local = await bench.home_for(case)
    targets = {s.key for s in expected_targets(case)}
    if not case.is_query and not targets and case.slots.get("search_query") != LIBRARY_MISS:
        raise AssertionError(f"{case.path}: the home has nothing the slots {case.slots} pick out")
    outcomes = []
    for sentence in case.sentences:
        bench.reset(case, local)
        await home.refresh_all()
        before = snapshot(home)
        t = time.perf_counter()
        fast.understand(sentence, case.speaker_area)
        understood = time.perf_counter() - t
        t = time.perf_counter()
        result = await fast(sentence, caller, area=case.speaker_area)
        total = time.perf_counter() - t
        await home.refresh_all()
        after = snapshot(home)
        why = ""
        if result is None:
            why = "handed to the model"
        else:
            changed = {k for k in before
                       if (before[k].state, before[k].attributes) != (after[k].state, after[k].attributes)}
            if case.is_query:
                if changed:
                    why = f"changed {sorted(changed)}"
                elif " ".join(result.reply.split()).casefold() != case.response.casefold():
                    why = f"answered {result.reply!r}, expected {case.response!r}"
            else:
                wrong = [k for k in targets if not changed_right(case, before[k], after[k])]
                extra = sorted(changed - targets)
                if not targets and not changed and case.slots.get("search_query") == LIBRARY_MISS:
                    wrong = []
                if wrong or extra:
                    why = f"reply {result.reply!r}; not changed right: {sorted(wrong)}; changed too: {extra}"
        outcomes.append(Outcome(case, sentence, not why, result is None, why, understood * 1e3, total * 1e3))
    return outcomes


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else 0.0


def report(outcomes: list[Outcome], confirmations: int, show_failures: bool) -> None:
    by_intent: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_intent[o.case.intent].append(o)
    print(f"\n{'intent':32} {'sentences':>9} {'right':>6} {'accuracy':>9} {'to model':>8} "
          f"{'p50 ms':>7} {'p99 ms':>7}")
    for title, group in (("device control", CONTROL), ("state questions", QUERIES)):
        rows = [o for i in group for o in by_intent.get(i, [])]
        if not rows:
            continue
        print(f"-- {title}")
        for intent in group:
            rs = by_intent.get(intent, [])
            if rs:
                _row(intent, rs)
        _row(f"all {title}", rows)
    print(f"{'':32} (p50/p99: the whole fast-path turn, device round trips included)")
    understand = [o.understand_ms for o in outcomes]
    total = [o.total_ms for o in outcomes]
    print(f"\nunderstanding only (hassil match + plan): p50 {pct(understand, 50):.2f} ms, "
          f"p99 {pct(understand, 99):.2f} ms, mean {statistics.mean(understand):.2f} ms")
    print(f"whole turn (understand, executor, drivers, device HTTP, reply): p50 {pct(total, 50):.2f} ms, "
          f"p99 {pct(total, 99):.2f} ms")
    handed = sum(o.handed_off for o in outcomes)
    print(f"model calls: 0 (no model is configured); sentences the fast path handed to the model: {handed}")
    print(f"security-tier confirmations asked (stand-in owner said yes): {confirmations}")
    if show_failures:
        print("\nfailures:")
        for o in outcomes:
            if not o.ok:
                print(f"  {o.case.path.parent.name}/{o.case.path.name}: {o.sentence!r}: {o.why}")


def _row(label: str, rows: list[Outcome]) -> None:
    right = sum(o.ok for o in rows)
    totals = [o.total_ms for o in rows]
    print(f"{label:32} {len(rows):9d} {right:6d} {right / len(rows):9.1%} "
          f"{sum(o.handed_off for o in rows):8d} {pct(totals, 50):7.2f} {pct(totals, 99):7.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--intent", help="only this intent, e.g. HassLightSet")
    parser.add_argument("--failures", action="store_true", help="list every miss")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    cases = load_cases(args.data, args.intent)
    caller = Caller(role="owner", chat_id="bench", channel="bench")
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with Bench(Path(tmp)) as bench:
            for case in cases:
                outcomes += await run_case(bench, case, caller)
            confirmations = bench.confirmations
    print(f"{len(outcomes)} sentences in {len(cases)} groups, {time.perf_counter() - started:.0f} s")
    report(outcomes, confirmations, args.failures)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except DeviceError as e:
        sys.exit(f"bench: {e}")
