"""Zigbee2MQTT: its retained `<base>/bridge/devices` list -> components, as discovery configs.

Each device's `definition.exposes` says what it is and which properties its state JSON
(`<base>/<friendly_name>`) carries; commands go to `<base>/<friendly_name>/set` as JSON. The
exposes are translated into Home Assistant discovery configs, much as Zigbee2MQTT's own Home
Assistant extension does, so one set of components (hass.py) reads both.

A `/` in a friendly name structures topics (`kitchen/ceiling`): the part before the last `/` is
taken as the area, the rest as the name. Devices behind endpoints (`state_l1`) are read as switches only; groups
(`bridge/groups`) and settable numbers/selects are not read yet.
"""
from __future__ import annotations

import json
from typing import Any, Iterator

from devices.names import slug

from .hass import Publish

# Read-only numeric properties that are sensors, with Home Assistant's device class.
SENSOR_CLASSES = {
    "temperature": "temperature", "local_temperature": "temperature", "humidity": "humidity",
    "pressure": "pressure", "battery": "battery", "illuminance": "illuminance",
    "illuminance_lux": "illuminance", "power": "power", "energy": "energy", "voltage": "voltage",
    "current": "current", "co2": "carbon_dioxide", "pm25": "pm25", "voc": "volatile_organic_compounds",
}
# Binary properties and their device class; Zigbee's `contact: true` means closed, so it is
# inverted for Home Assistant's door/window meaning of "on" (open).
BINARY_CLASSES = {"occupancy": "motion", "presence": "occupancy", "contact": "door",
                  "water_leak": "moisture", "smoke": "smoke", "vibration": "vibration",
                  "tamper": "tamper", "battery_low": "battery", "carbon_monoxide": "carbon_monoxide"}
SKIPPED = {"linkquality"}  # diagnostics Home Assistant hides by default

READ, SET, GET = 1, 2, 4  # the `access` bits of an expose


def configs(base: str, devices: Any) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(component, key, discovery config) for every entity of every device in the list."""
    if not isinstance(devices, list):
        raise ValueError("bridge/devices is not a list")
    for device in devices:
        if not isinstance(device, dict) or device.get("type") == "Coordinator" or device.get("disabled"):
            continue
        definition, name = device.get("definition"), device.get("friendly_name")
        ieee = device.get("ieee_address")
        if not isinstance(definition, dict) or not isinstance(name, str) or not isinstance(ieee, str):
            continue
        for expose in definition.get("exposes") or []:
            if isinstance(expose, dict):
                yield from _entity(base, name, ieee, definition, expose)


def gets(base: str, devices: Any) -> list[Publish]:
    """Requests for the current state of each device whose state can be read on demand
    (Zigbee2MQTT does not retain states unless told to)."""
    requests = []
    for device in devices if isinstance(devices, list) else []:
        if not isinstance(device, dict) or not isinstance(device.get("friendly_name"), str):
            continue
        definition = device.get("definition") if isinstance(device.get("definition"), dict) else {}
        gettable = {f["property"] for f in _features(definition.get("exposes") or [])
                    if f.get("access", 0) & GET and isinstance(f.get("property"), str)}
        if gettable:
            requests.append((f"{base}/{device['friendly_name']}/get",
                             json.dumps({p: "" for p in sorted(gettable)})))
    return requests


def _features(exposes: list[Any]) -> Iterator[dict[str, Any]]:
    for expose in exposes:
        if isinstance(expose, dict):
            yield expose
            yield from _features(expose.get("features") or [])


def _entity(base: str, name: str, ieee: str, definition: dict[str, Any],
            expose: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    kind = expose.get("type")
    features = {f.get("name"): f for f in expose.get("features") or [] if isinstance(f, dict)}
    area, _, device_name = name.rpartition("/")
    topic, command = f"{base}/{name}", f"{base}/{name}/set"
    common = {
        "device": {"name": device_name, "identifiers": [f"zigbee2mqtt_{ieee}"],
                   "manufacturer": definition.get("vendor"), "model": definition.get("model"),
                   **({"suggested_area": area} if area else {})},
        "availability": [{"topic": f"{base}/bridge/state", "value_template": "{{ value_json.state }}"},
                         {"topic": f"{topic}/availability", "value_template": "{{ value_json.state }}"}],
        "availability_mode": "all_heard",
        "state_topic": topic,
    }
    # "kitchen/ceiling" -> kitchen_ceiling, as Home Assistant names it; "Porch/Porch Light" ->
    # porch_light, not porch_porch_light.
    object_id = slug(name, fallback=ieee)
    if area and slug(device_name).startswith(slug(area)):
        object_id = slug(device_name, fallback=ieee)
    state = features.get("state") or {}
    prop = state.get("property", "state")
    if kind == "light" and prop == "state":
        modes = [m for m, f in (("xy", "color_xy"), ("hs", "color_hs"), ("color_temp", "color_temp"))
                 if f in features]
        temp = features.get("color_temp") or {}
        yield "light", f"z2m/{ieee}/light", {
            **common, "schema": "json", "name": None, "object_id": object_id, "command_topic": command,
            "brightness": "brightness" in features, "brightness_scale": 254,
            "supported_color_modes": modes or (["brightness"] if "brightness" in features else ["onoff"]),
            **({"min_mireds": temp["value_min"], "max_mireds": temp["value_max"]}
               if "value_min" in temp and "value_max" in temp else {}),
        }
    elif kind in ("switch", "light"):
        endpoint = expose.get("endpoint")
        yield "switch", f"z2m/{ieee}/{prop}", {
            **common, "name": endpoint if endpoint else None,
            "object_id": f"{object_id}_{slug(str(endpoint))}" if endpoint else object_id,
            "command_topic": command, "command_template": f'{{"{prop}": "{{{{ value }}}}"}}',
            "value_template": f"{{{{ value_json.{prop} }}}}",
            "payload_on": state.get("value_on", "ON"), "payload_off": state.get("value_off", "OFF"),
        }
    elif kind == "lock":
        yield "lock", f"z2m/{ieee}/lock", {
            **common, "name": None, "object_id": object_id, "command_topic": command,
            "command_template": '{"state": "{{ value }}"}', "value_template": "{{ value_json.state }}",
            "payload_lock": state.get("value_on", "LOCK"), "payload_unlock": state.get("value_off", "UNLOCK"),
            "state_locked": state.get("value_on", "LOCK"), "state_unlocked": state.get("value_off", "UNLOCK"),
        }
    elif kind == "cover":
        config = {**common, "name": None, "object_id": object_id, "command_topic": command,
                  "command_template": '{"state": "{{ value }}"}', "value_template": "{{ value_json.state }}",
                  "state_open": "OPEN", "state_closed": "CLOSE"}
        if "position" in features:
            config.update(position_topic=topic, position_template="{{ value_json.position }}",
                          set_position_topic=command, set_position_template='{"position": {{ position }}}')
        yield "cover", f"z2m/{ieee}/cover", config
    elif kind == "climate":
        setpoint = next((features[n] for n in ("occupied_heating_setpoint", "current_heating_setpoint")
                         if n in features), None)
        mode = features.get("system_mode") or {}
        config = {**{k: v for k, v in common.items() if k != "state_topic"},
                  "name": None, "object_id": object_id}
        if "local_temperature" in features:
            config.update(current_temperature_topic=topic,
                          current_temperature_template="{{ value_json.local_temperature }}")
        if setpoint is not None:
            config.update(temperature_state_topic=topic, temperature_command_topic=command,
                          temperature_state_template=f"{{{{ value_json.{setpoint['property']} }}}}",
                          temperature_command_template=f'{{"{setpoint["property"]}": {{{{ value }}}}}}',
                          min_temp=setpoint.get("value_min", 7), max_temp=setpoint.get("value_max", 35))
        if mode.get("values"):
            config.update(mode_state_topic=topic, mode_command_topic=command, modes=mode["values"],
                          mode_state_template="{{ value_json.system_mode }}",
                          mode_command_template='{"system_mode": "{{ value }}"}')
        yield "climate", f"z2m/{ieee}/climate", config
    elif kind == "numeric" and expose.get("access", 0) & READ and not expose.get("access", 0) & SET:
        prop = expose.get("property")
        if isinstance(prop, str) and prop not in SKIPPED:
            yield "sensor", f"z2m/{ieee}/{prop}", {
                **common, "name": expose.get("label") or prop.replace("_", " ").capitalize(),
                "object_id": f"{object_id}_{slug(prop)}", "value_template": f"{{{{ value_json.{prop} }}}}",
                "device_class": SENSOR_CLASSES.get(prop), "unit_of_measurement": expose.get("unit"),
                "state_class": "measurement",
            }
    elif kind == "binary" and expose.get("access", 0) & READ and not expose.get("access", 0) & SET:
        prop = expose.get("property")
        if isinstance(prop, str) and prop in BINARY_CLASSES:
            on, off = expose.get("value_on", True), expose.get("value_off", False)
            if prop == "contact":
                on, off = off, on
            yield "binary_sensor", f"z2m/{ieee}/{prop}", {
                **common, "name": expose.get("label") or prop.replace("_", " ").capitalize(),
                "object_id": f"{object_id}_{slug(prop)}", "value_template": f"{{{{ value_json.{prop} }}}}",
                "device_class": BINARY_CLASSES[prop], "payload_on": on, "payload_off": off,
            }
