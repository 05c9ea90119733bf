"""Home Assistant MQTT discovery configs and Zigbee2MQTT exposes as Claw reads them: the wire
format's details (abbreviations, `~`, availability lists, templates, light schemas), no broker."""
from __future__ import annotations

import json

import pytest

from devices.families.mqtt import z2m
from devices.families.mqtt.hass import BadDiscovery, component, expand, from_config, parse_topic
from devices.model import DeviceRefused


def test_topics_abbreviations_and_the_topic_base() -> None:
    assert parse_topic("homeassistant/light/node1/kitchen/config", "homeassistant") == ("light", "light/node1/kitchen")
    assert parse_topic("homeassistant/switch/plug/config", "homeassistant") == ("switch", "switch/plug")
    assert parse_topic("homeassistant/light/a/b/c/config", "homeassistant") is None
    assert parse_topic("other/light/x/config", "homeassistant") is None
    config = expand({"~": "tasmota/desk", "stat_t": "~/stat/POWER", "cmd_t": "cmnd/~", "name": "~ not a topic",
                     "avty": [{"t": "~/LWT", "pl_avail": "Online"}], "dev": {"ids": ["x"], "sa": "Study"}})
    assert config["state_topic"] == "tasmota/desk/stat/POWER" and config["command_topic"] == "cmnd/tasmota/desk"
    assert config["name"] == "~ not a topic"  # only topics are rebased
    assert config["availability"] == [{"topic": "tasmota/desk/LWT", "payload_available": "Online"}]
    assert config["device"] == {"identifiers": ["x"], "suggested_area": "Study"}


def test_names_areas_ids_and_availability() -> None:
    sensor = component("sensor", "sensor/n/t", json.dumps({
        "name": "Temperature", "stat_t": "n/t", "val_tpl": "{{ value_json.t | round(1) }}", "unit_of_meas": "°C",
        "dev": {"name": "Attic Node", "sa": "Attic"}, "avty_t": "n/status", "pl_avail": "up", "pl_not_avail": "down"}))
    assert (sensor.name, sensor.area, sensor.object_id) == ("Attic Node Temperature", "Attic", "attic_node_temperature")
    assert sensor.receive("n/t", '{"t": 21.456}') and sensor.state == "21.5"
    plain = component("sensor", "sensor/n/p", json.dumps({"stat_t": "n/p", "name": "Plain"}))
    assert not plain.receive("n/p", "x" * 256) and plain.state == "unknown"  # over 255 characters
    assert plain.receive("n/p", "x" * 255) and plain.state == "x" * 255
    assert not sensor.available  # nothing heard on its availability topic yet
    sensor.receive("n/status", "up")
    assert sensor.entity("sensor.x", "d").state == "21.5"
    sensor.receive("n/status", "down")
    assert sensor.entity("sensor.x", "d").state == "unavailable"
    named_by_device = component("switch", "switch/n/s", json.dumps(
        {"name": None, "cmd_t": "n/s/set", "def_ent_id": "switch.garden_pump", "dev": {"name": "Garden Pump"}}))
    assert (named_by_device.name, named_by_device.object_id) == ("Garden Pump", "garden_pump")


def test_json_schema_light_in_hs_mode() -> None:
    light = component("light", "light/n/l", json.dumps({
        "schema": "json", "stat_t": "n/l", "cmd_t": "n/l/set", "brightness": True, "bri_scl": 100,
        "sup_clrm": ["hs"], "name": "Lamp"}))
    assert light.receive("n/l", json.dumps({"state": "ON", "brightness": 50, "color_mode": "hs",
                                            "color": {"h": 240, "s": 100}}))
    assert light.state == "on" and light.attributes["brightness"] == 128
    assert light.attributes["rgb_color"] == [0, 0, 255]
    [(topic, payload)] = light.command("turn_on", {"brightness_pct": 100, "rgb_color": [255, 0, 0]})
    assert topic == "n/l/set" and json.loads(payload) == {"state": "ON", "brightness": 100, "color": {"h": 0.0, "s": 100.0}}
    with pytest.raises(DeviceRefused, match="temperature"):
        light.command("turn_on", {"color_temp_kelvin": 100})


def test_default_schema_light_with_templates_and_brightness_as_on() -> None:
    light = from_config("light", "light/t/d", {
        "command_topic": "t/power", "state_topic": "t/state", "state_value_template": "{{ value_json.POWER }}",
        "brightness_command_topic": "t/dimmer", "brightness_scale": 100, "on_command_type": "brightness",
        "brightness_command_template": "{{ value }}", "payload_on": "ON", "payload_off": "OFF", "name": "Dimmer"})
    assert light.receive("t/state", '{"POWER": "ON"}') and light.state == "on"
    assert light.command("turn_on", {"brightness_pct": 40}) == [("t/dimmer", "40")]  # no ON: dimming turns it on
    assert light.command("turn_on", {}) == [("t/power", "ON")]
    with pytest.raises(DeviceRefused, match="no colours"):
        light.command("turn_on", {"color_name": "red"})


def test_cover_positions_on_a_custom_scale_and_a_template() -> None:
    cover = from_config("cover", "cover/x/c", {
        "command_topic": "c/set", "position_topic": "c/pos", "set_position_topic": "c/pos/set",
        "position_open": 255, "position_closed": 0, "set_position_template": '{"pos": {{ position }}}'})
    assert cover.receive("c/pos", "51") and cover.attributes["current_position"] == 20 and cover.state == "open"
    assert cover.command("set_cover_position", {"position": 50}) == [("c/pos/set", '{"pos": 128}')]
    assert cover.command("stop_cover", {}) == [("c/set", "STOP")]


def test_what_is_not_read_says_why() -> None:
    for kind, payload, why in [("fan", {"cmd_t": "f"}, "'fan', which Claw does not read yet"),
                               ("light", {"cmd_t": "l", "schema": "template"}, "light schema 'template'"),
                               ("switch", {"stat_t": "s"}, "has no command_topic"),
                               ("lock", {"cmd_t": 5}, "has no command_topic")]:
        with pytest.raises(BadDiscovery, match=why):
            component(kind, f"{kind}/x", json.dumps(payload))


def test_zigbee2mqtt_exposes_with_endpoints_and_the_coordinator() -> None:
    devices = [
        {"type": "Coordinator", "ieee_address": "0x0", "friendly_name": "Coordinator", "definition": None},
        {"type": "Router", "ieee_address": "0x1", "friendly_name": "Garage/Double Relay", "definition": {
            "vendor": "Tuya", "model": "TS0002", "exposes": [
                {"type": "switch", "endpoint": "l1", "features": [
                    {"type": "binary", "name": "state", "property": "state_l1", "value_on": "ON", "value_off": "OFF", "access": 7}]},
                {"type": "switch", "endpoint": "l2", "features": [
                    {"type": "binary", "name": "state", "property": "state_l2", "value_on": "ON", "value_off": "OFF", "access": 7}]}]}},
        {"type": "EndDevice", "ieee_address": "0x2", "friendly_name": "Hidden", "disabled": True, "definition": {"exposes": []}},
    ]
    found = {key: (kind, config) for kind, key, config in z2m.configs("zigbee2mqtt", devices)}
    assert set(found) == {"z2m/0x1/state_l1", "z2m/0x1/state_l2"}
    part = from_config("switch", "z2m/0x1/state_l2", found["z2m/0x1/state_l2"][1])
    assert (part.name, part.area, part.object_id) == ("Double Relay l2", "Garage", "garage_double_relay_l2")
    assert part.receive("zigbee2mqtt/Garage/Double Relay", '{"state_l1": "ON", "state_l2": "OFF"}')
    assert part.state == "off"
    assert part.command("turn_on", {}) == [("zigbee2mqtt/Garage/Double Relay/set", '{"state_l2": "ON"}')]
    assert z2m.gets("zigbee2mqtt", devices) == [
        ("zigbee2mqtt/Garage/Double Relay/get", '{"state_l1": "", "state_l2": ""}')]
    with pytest.raises(ValueError):
        list(z2m.configs("zigbee2mqtt", {"not": "a list"}))
