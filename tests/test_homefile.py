"""A house in a file: both shapes parse, malformed files get one clear error, and a home built
from a file comes up under Claw with the file's names, areas and states, is controllable
through the tools, and resets. The end-to-end part runs in a network namespace the test
creates (real mDNS/SSDP, never on the host's LAN)."""
from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from claw.demo import demo_app, demo_service
from devices import homefile
from devices.families import FAMILIES
from devices.emulators.house import DEMO_HOME, EmulatedHouse
from devices.homefile import HomeFileError
from tests import netns
from tests.conftest import make_config, serve

MODULE = "tests.test_homefile"
# A sample of Home Assistant's public intent test fixtures (tests/data/intents-en/README.md).
FIXTURES = Path(__file__).resolve().parent / "data" / "intents-en" / "tests" / "en"

CLAW_SHAPE = """
name: Flat
floors: [Downstairs, Upstairs]
colour_scheme: dark          # not ours: ignored
areas:
  - {name: Kitchen, floor: Downstairs, aliases: [galley]}
  - {name: Bedroom, floor: Upstairs, icon: "mdi:bed"}
  - Balcony
entities:
  - {domain: light, name: Ceiling, area: Kitchen, state: on, attributes: {brightness: 200},
     aliases: [big light], icon: "mdi:lamp"}
  - {domain: light, name: Strip, area: Balcony, state: off, via: wled}
  - {domain: media_player, name: Bedroom Speaker, area: Bedroom, state: playing,
     attributes: {volume_level: 0.4}}
  - {domain: media_player, name: Radio, area: Kitchen, state: idle}
  - {domain: switch, name: Kettle, area: Kitchen, state: "off"}
  - {domain: cover, name: Blind, area: Bedroom, state: open, attributes: {current_position: 70}}
  - {domain: camera, name: Door Camera, area: Balcony}
  - {domain: climate, name: Heating, area: Bedroom, state: heat, attributes: {temperature: 21}}
  - {domain: sensor, name: Bedroom Temperature, area: Garage, state: 19.5}
"""

HA_SHAPE = """
language: en
floors:
  - {name: Ground Floor, id: ground_id}
  - {name: First Floor, id: first_id}
areas:
  - {name: Living Room, id: living_id, floor: ground_id}
  - {name: Office, id: office_id, floor: first_id}
entities:
  - name: Reading Lamp
    id: light.reading_lamp
    area: living_id
    device: lamp_device        # not ours: ignored
    state: "on"
    attributes:
      brightness: 128
  - id: lock.office_door
    area: office_id
    state: locked
  - id: climate.office
    name: Office Thermostat
    area: Office
    state:
      state: cool
      attributes: {temperature: 23, hvac_modes: ["off", cool]}
timers: [{start_minutes: 5}]   # not ours: ignored
"""


def entity(spec: homefile.HomeSpec, entity_id: str) -> homefile.EntitySpec:
    return next(e for e in spec.entities if e.entity_id == entity_id)


def test_claw_shape_loads():
    spec = homefile.parse(CLAW_SHAPE, "flat.yaml")
    assert spec.name == "Flat"
    assert spec.floors == ["Downstairs", "Upstairs"]
    assert [(a.name, a.floor, a.aliases) for a in spec.areas] == [
        ("Kitchen", "Downstairs", ["galley"]), ("Bedroom", "Upstairs", []), ("Balcony", None, []),
        ("Garage", None, [])]  # an entity's unknown area becomes an area
    got = {e.entity_id: (e.name, e.area, e.state, e.via) for e in spec.entities}
    assert got == {
        "light.ceiling": ("Ceiling", "Kitchen", "on", "hue"),  # a bare on is YAML's true
        "light.strip": ("Strip", "Balcony", "off", "wled"),
        "media_player.bedroom": ("Bedroom Speaker", "Bedroom", "playing", "sonos"),
        "media_player.radio": ("Radio", "Kitchen", "idle", "home_assistant"),
        "switch.kettle": ("Kettle", "Kitchen", "off", "shelly"),
        "cover.blind": ("Blind", "Bedroom", "open", "shelly"),
        "camera.door_camera": ("Door Camera", "Balcony", "off", "camera"),
        "climate.heating": ("Heating", "Bedroom", "heat", "home_assistant"),
        "sensor.bedroom_temperature": ("Bedroom Temperature", "Garage", "19.5", "home_assistant"),
    }
    ceiling = entity(spec, "light.ceiling")
    assert ceiling.aliases == ["big light"] and ceiling.attributes == {"brightness": 200}
    assert ceiling.line == 10
    assert entity(spec, "media_player.bedroom").attributes == {"volume_level": 0.4}
    assert entity(spec, "cover.blind").attributes == {"current_position": 70}


def test_home_assistant_shape_loads():
    spec = homefile.parse(HA_SHAPE)
    assert spec.name == "Home" and spec.floors == ["Ground Floor", "First Floor"]
    assert [(a.name, a.floor) for a in spec.areas] == [("Living Room", "Ground Floor"),
                                                      ("Office", "First Floor")]
    got = {e.entity_id: (e.name, e.area, e.state, e.attributes) for e in spec.entities}
    assert got == {
        "light.reading_lamp": ("Reading Lamp", "Living Room", "on", {"brightness": 128}),
        "lock.office_door": ("Office Door", "Office", "locked", {}),  # name from the id
        "climate.office": ("Office Thermostat", "Office", "cool",  # area by name works too
                           {"temperature": 23, "hvac_modes": ["off", "cool"]}),
    }


def test_home_assistant_fixtures_load():
    # The shared fixtures load as they are, to-do lists too (Home Assistant serves them).
    spec = homefile.parse((FIXTURES / "_fixtures.yaml").read_text(), "fixtures")
    assert len(spec.entities) > 100
    assert spec.floors[:2] == ["Upstairs", "Ground Floor"]
    assert ("Bedroom", "Second Floor") in [(a.name, a.floor) for a in spec.areas]
    lamp = entity(spec, "light.bedroom_lamp")
    assert (lamp.name, lamp.area, lamp.state, lamp.via) == ("Bedroom Lamp", "Bedroom", "off", "hue")
    thermostat = entity(spec, "climate.thermostat")
    assert (thermostat.area, thermostat.state) == ("Living Room", "heat")
    assert thermostat.attributes["current_temperature"] == 68
    assert entity(spec, "todo.chores").via == "home_assistant"
    # every per-intent test file loads as it is, even those that only list areas
    files = sorted(FIXTURES.glob("*/*.yaml"))
    assert len(files) == 16
    loaded = [homefile.load(f) for f in files]
    assert [s for s in loaded if s.entities]
    assert [s for s in loaded if s.areas and not s.entities]  # areas only
    fan = entity(homefile.load(FIXTURES / "HassFanSetSpeed" / "name_only.yaml"), "fan.ceiling_fan")
    assert fan.via == "home_assistant"


def test_demo_home_is_a_home_file():
    spec = homefile.load(DEMO_HOME)
    assert len(spec.entities) == 25
    assert {e.via for e in spec.entities} == {f.name for f in FAMILIES if f.emulation}


@pytest.mark.parametrize("text, line, words", [
    ("entities:\n  - {domain: light, name: A\n  - x: [\n", 3, "not valid YAML"),
    ("entities:\n  - domain: light\n    area: Kitchen\n", 2, "field 'name' is missing"),
    ("entities:\n  - name: Lamp\n    area: Kitchen\n", 2, "field 'domain' is missing"),
    ("entities:\n  - {domain: light, name: A}\n  - domain: light\n    name: B\n    via: zigbee\n",
     5, "field 'via' must be one of hue, sonos"),
    ("entities:\n  - id: light.a\n    name: A\n    attributes: [1, 2]\n", 4,
     "field 'attributes' must be a mapping"),
    ("entities:\n  - id: light.a\n    name: A\n    area: [Kitchen]\n", 4,
     "field 'area' must be an area name or id"),
    ("entities:\n  - id: kitchen\n", 2, "field 'id' must look like 'light.kitchen'"),
    ("name: x\nentities:\n  - light.a\n", 3, "each entity must be a mapping"),
    ("name: x\nentities:\n  light.a: {}\n", 2, "'entities' must be a list"),
    ("areas:\n  - name: K\n    aliases: 3\n", 3, "field 'aliases' must be a list of names"),
    ("areas:\n  - {name: K, floor: 2}\n", 2, "field 'floor' must be a floor name or id"),
])
def test_malformed_file_names_line_and_field(text: str, line: int, words: str):
    with pytest.raises(HomeFileError) as caught:
        homefile.parse(text, "house.yaml")
    assert str(caught.value).startswith(f"house.yaml line {line}: "), caught.value
    assert words in str(caught.value)


def test_unreadable_file(tmp_path: Path):
    with pytest.raises(HomeFileError, match="nope.yaml: cannot read it"):
        homefile.load(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(HomeFileError, match="expected a mapping"):
        homefile.load(tmp_path / "list.yaml")


# -- end to end: a file -> emulators -> discovery -> Claw -> tools -> reset ------------------

# Both shapes in one file (areas and one entity in Home Assistant's, the rest in Claw's), one
# or more entities for every family.
ROUND_TRIP = """
name: Round Trip
floors:
  - {id: ground_id, name: Ground Floor}
  - {id: first_id, name: First Floor}
areas:
  - {id: living_id, name: Living Room, floor: ground_id, aliases: [lounge]}
  - {id: study_id, name: Study, floor: first_id}
  - {id: garden_id, name: Garden}
entities:
  - {domain: media_player, name: Study Speaker, area: Study, state: paused,
     attributes: {volume_level: 0.3, media_title: So What, media_artist: Miles Davis}}
  - {domain: light, name: Floor Lamp, area: living_id, state: "on", attributes: {brightness: 180}}
  - {domain: light, name: Desk Lamp, area: Study, state: "off"}
  - {domain: light, name: Deck Strip, area: Garden, state: "on", via: wled,
     attributes: {brightness: 100, rgb_color: [0, 0, 255]}}
  - {domain: switch, name: Pool Pump, area: Garden, state: "on"}
  - {domain: cover, name: Study Blinds, area: Study, state: open,
     attributes: {device_class: blind, current_position: 40}}
  - {domain: camera, name: Garden Camera, area: Garden, state: idle}
  - id: climate.living_room
    name: Living Room Thermostat
    area: living_id
    state: heat
    attributes: {hvac_modes: ["off", heat], current_temperature: 19.5, temperature: 20.0,
                 min_temp: 7.0, max_temp: 30.0}
  - {id: lock.patio_door, name: Patio Door, area: garden_id, state: locked}
  - {id: sensor.pond_temperature, name: Pond Temperature, area: Garden, state: "12.5",
     attributes: {unit_of_measurement: "°C"}}
"""
# The attributes a reset must bring back (meters and timestamps move on by themselves).
KEPT = ("brightness", "rgb_color", "color_temp_kelvin", "color_mode", "volume_level",
        "is_volume_muted", "media_title", "group_members", "current_position", "temperature",
        "current_temperature", "hvac_modes", "unit_of_measurement")


def _view(devices: dict[str, Any]) -> dict[str, Any]:
    return {e["entity_id"]: {"name": e["name"], "area": e["area"], "floor": e["floor"],
                             "state": e["state"],
                             **{k: v for k, v in e["attributes"].items() if k in KEPT}}
            for e in devices["entities"]}


async def _until(check: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def scenario_round_trip(path: str) -> dict[str, Any]:
    assert netns.only_loopback(), "refusing to multicast outside a test namespace"
    out: dict[str, Any] = {}
    house = EmulatedHouse.from_file(path)
    await house.start()
    with tempfile.TemporaryDirectory() as tmp:
        service = demo_service(make_config(Path(tmp)), house)
        async with serve(service, demo_app(service, house)) as api:
            start = time.monotonic()
            await _until(lambda: len(service.home.entities) >= len(house.spec.entities), 20)
            out["discovered_s"] = time.monotonic() - start
            out["initial"] = _view((await api.get("/api/devices")).json())

            async def tool(name: str, args: dict[str, Any]) -> dict[str, Any]:
                return (await api.post(f"/api/tools/{name}", json=args)).json()

            commands = {
                "hue": tool("HassLightSet", {"name": "Floor Lamp", "brightness": 50, "color": "red"}),
                "hue_on": tool("HassTurnOn", {"name": "Desk Lamp"}),
                "wled": tool("HassTurnOff", {"name": "Deck Strip"}),
                "sonos": tool("HassMediaUnpause", {"area": "Study"}),
                "sonos_volume": tool("HassSetVolume", {"name": "Study Speaker", "volume_level": 55}),
                "shelly": tool("HassTurnOff", {"name": "Pool Pump"}),
                "shelly_cover": tool("HassSetPosition", {"name": "Study Blinds", "position": 80}),
                "camera": tool("GetLiveContext", {"name": "Garden Camera"}),
                "ha": tool("HassClimateSetTemperature", {"area": "lounge", "temperature": 22}),
                "ha_sensor": tool("GetLiveContext", {"name": "Pond Temperature"}),
            }
            out["results"] = {k: await v for k, v in commands.items()}
            # a security write waits for the owner; approve it through the API
            unlock = asyncio.create_task(tool("HassTurnOff", {"name": "Patio Door"}))
            pending: list[dict[str, Any]] = []
            for _ in range(100):
                pending = (await api.get("/api/confirmations")).json()["confirmations"]
                if pending:
                    break
                await asyncio.sleep(0.05)
            await api.post(f"/api/confirmations/{pending[0]['id']}", json={"approve": True})
            out["results"]["ha_lock"] = await unlock
            blinds = house.families["shelly"].devices["cover.study_blinds"]
            await _until(lambda: blinds.cover_state not in ("opening", "closing"), 5)

            floor_lamp = house.families["hue"].light("light.floor_lamp")
            out["devices"] = {
                "floor_lamp": [floor_lamp.on, floor_lamp.bri, floor_lamp.colormode],
                "desk_lamp": house.families["hue"].light("light.desk_lamp").on,
                "deck_strip": house.families["wled"].strips["light.deck_strip"].on,
                "study": [house.families["sonos"].speakers["media_player.study"].state.transport,
                          house.families["sonos"].speakers["media_player.study"].state.volume],
                "pool_pump": house.families["shelly"].devices["switch.pool_pump"].output,
                "blinds": blinds.position,
                "thermostat": house.families["home_assistant"].server.states["climate.living_room"]["attributes"]["temperature"],
                "patio_door": house.families["home_assistant"].server.states["lock.patio_door"]["state"],
            }
            out["after"] = _view((await api.get("/api/devices")).json())
            # the blinds are still closing when the reset comes: they must stay where it put them
            await tool("HassSetPosition", {"name": "Study Blinds", "position": 0})
            reset = await api.post("/api/demo/reset", json={})
            out["reset"] = [reset.status_code, reset.json()]
            await asyncio.sleep(1.0)  # longer than the rest of that travel
            out["blinds_after_reset"] = [blinds.position, blinds.cover_state]
            await _until(lambda: service.home.entities["lock.patio_door"].state == "locked", 5)
            out["after_reset"] = _view((await api.get("/api/devices")).json())
    await house.stop()
    return out


def test_home_file_round_trip(tmp_path: Path):
    path = tmp_path / "round_trip.yaml"
    path.write_text(ROUND_TRIP)
    spec = homefile.load(path)
    with netns.namespace() as ns:
        out = netns.run_in(ns, MODULE, "scenario_round_trip", str(path), timeout=60)

    # every entity of the file, with its name, area, floor and state, whatever its family
    floors = {a.name: a.floor for a in spec.areas}
    initial = out["initial"]
    assert sorted(initial) == sorted(e.entity_id for e in spec.entities)
    for e in spec.entities:
        got = initial[e.entity_id]
        assert (got["name"], got["area"], got["floor"], got["state"]) == \
            (e.name, e.area, floors[e.area], e.state), e.entity_id
    assert initial["light.floor_lamp"]["brightness"] == 180
    assert initial["light.deck_strip"]["brightness"] == 100
    assert initial["light.deck_strip"]["rgb_color"] == [0, 0, 255]
    assert initial["media_player.study"]["volume_level"] == 0.3
    assert initial["media_player.study"]["media_title"] == "So What"
    assert initial["cover.study_blinds"]["current_position"] == 40
    assert initial["climate.living_room"]["temperature"] == 20.0
    assert initial["sensor.pond_temperature"]["unit_of_measurement"] == "°C"

    # one command per family, through POST /api/tools, reached the emulated device
    results = out["results"]
    assert all(r["ok"] for r in results.values()), results
    assert "Garden Camera (Garden): idle" in results["camera"]["result"]
    assert "Pond Temperature (Garden): 12.5 °C" in results["ha_sensor"]["result"]
    assert out["devices"] == {
        "floor_lamp": [True, 127, "xy"], "desk_lamp": True, "deck_strip": False,
        "study": ["PLAYING", 55], "pool_pump": False, "blinds": 80.0, "thermostat": 22.0,
        "patio_door": "unlocked",
    }
    after = out["after"]
    assert after["light.desk_lamp"]["state"] == "on"
    assert after["light.deck_strip"]["state"] == "off"
    assert (after["media_player.study"]["state"], after["media_player.study"]["volume_level"]) == \
        ("playing", 0.55)
    assert after["switch.pool_pump"]["state"] == "off"
    assert after["climate.living_room"]["temperature"] == 22.0
    assert after["lock.patio_door"]["state"] == "unlocked"

    # reset puts every entity back as the file says, colours and positions included
    assert out["reset"] == [200, {"entities": len(spec.entities)}]
    assert out["blinds_after_reset"] == [40.0, "open"]
    assert out["after_reset"] == initial
    assert out["discovered_s"] < 15
