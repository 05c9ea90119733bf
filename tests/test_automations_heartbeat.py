"""The heartbeat sees what matters: in a big house an unlocked front door and an open garage are
at the top of its few lines, thermostats doing their job are not news, and it says how many
lines were left out."""
from __future__ import annotations

from claw.heartbeat import MAX_LINES, notable
from claw.service import Claw
from devices.model import Entity
from tests.conftest import make_config


def big_house() -> list[Entity]:
    entities = [Entity(f"binary_sensor.motion_{i:03d}", f"Motion {i:03d}", area="Hall", state="on",
                       device_class="motion") for i in range(200)]
    entities += [Entity(f"climate.room_{i:03d}", f"Thermostat {i:03d}", state="heat",
                        attributes={"current_temperature": 20.5, "temperature": 21}) for i in range(200)]
    entities += [Entity(f"switch.plug_{i:02d}", f"Plug {i:02d}", state="on") for i in range(60)]
    entities += [Entity(f"light.lamp_{i:02d}", f"Lamp {i:02d}", state="on") for i in range(37)]
    entities += [
        Entity("lock.front_door", "Front Door", area="Entrance", state="unlocked"),
        Entity("cover.garage_door", "Garage Door", area="Garage", state="open", device_class="garage"),
        Entity("alarm_control_panel.house", "House Alarm", state="disarmed"),
        Entity("climate.cellar", "Cellar Thermostat", state="heat",
               attributes={"current_temperature": 12, "temperature": 19}),
        Entity("binary_sensor.basement_water", "Basement Water", state="on", device_class="moisture"),
    ]
    return entities


def test_security_and_safety_come_first_and_thermostats_are_not_news():
    lines = notable(big_house())
    assert lines[:4] == ["Basement Water: detected", "Front Door (Entrance): unlocked",
                         "Garage Door (Garage): open", "House Alarm: disarmed"]
    assert "Cellar Thermostat: heat, 12° (set to 19°)" in lines  # far from its target: worth a line
    assert not any(line.startswith("Thermostat ") for line in lines)
    assert lines.index("Plug 00: on") < lines.index("Motion 000 (Hall): on")
    assert lines[-1].startswith("Lights on: Lamp 00, Lamp 01")


async def test_the_heartbeat_prompt_keeps_the_important_lines_and_says_how_many_were_left_out(claw_home):
    service = Claw(make_config(claw_home))
    service.home.entities = {e.entity_id: e for e in big_house()}
    volatile = service.heartbeat.prompt().volatile
    shown = volatile.split("```\n")[1].splitlines()
    assert len(shown) == MAX_LINES
    assert shown[1] == "Front Door (Entrance): unlocked" and shown[2] == "Garage Door (Garage): open"
    left_out = len(notable(big_house())) - MAX_LINES
    assert f"({left_out} less important lines left out.)" in volatile
    service.store.close()
