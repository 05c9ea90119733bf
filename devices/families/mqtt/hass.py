"""Home Assistant MQTT discovery: one config message -> one component Claw can read and drive.

The wire format is Home Assistant's (homeassistant/components/mqtt): configs on
`<prefix>/<component>/[<node_id>/]<object_id>/config`, keys abbreviated (`stat_t`, `cmd_t`), `~`
as the topic base, value templates in Jinja with `value` and `value_json`, availability topics.
Tasmota, ESPHome, Zigbee2MQTT, zwave-js-ui and many DIY devices announce themselves this way.

Covered: light (the default and the JSON schema; on/off, brightness, RGB/xy/hs colour, colour
temperature), switch, cover (open/close/stop, position), sensor, binary_sensor, climate (HVAC
mode, target temperature), lock. Other components (fan, number, select, button, ...), the
`template` light schema, device-based discovery (`<prefix>/device/...`) and
`json_attributes_topic` are not read yet.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from devices.colors import color_name_target, kelvin_to_rgb
from devices.model import DeviceRefused, Entity
from devices.names import slug

from .colors import hs_to_rgb, kelvin_to_mired, mired_to_kelvin, rgb_to_hs, rgb_to_xy, xy_to_rgb
from .templates import render, render_with

# The abbreviations of the keys read here (Home Assistant's mqtt/abbreviations.py names them all).
ABBREVIATIONS = {
    "avty": "availability", "avty_mode": "availability_mode", "avty_t": "availability_topic",
    "avty_tpl": "availability_template", "bri_cmd_t": "brightness_command_topic",
    "bri_cmd_tpl": "brightness_command_template", "bri_scl": "brightness_scale",
    "bri_stat_t": "brightness_state_topic", "bri_val_tpl": "brightness_value_template",
    "clr_temp_cmd_t": "color_temp_command_topic", "clr_temp_cmd_tpl": "color_temp_command_template",
    "clr_temp_stat_t": "color_temp_state_topic", "clr_temp_val_tpl": "color_temp_value_template",
    "clr_temp_klv": "color_temp_kelvin", "cmd_t": "command_topic", "cmd_tpl": "command_template",
    "curr_temp_t": "current_temperature_topic", "curr_temp_tpl": "current_temperature_template",
    "def_ent_id": "default_entity_id", "dev": "device", "dev_cla": "device_class",
    "max_mirs": "max_mireds", "min_mirs": "min_mireds", "max_klv": "max_kelvin", "min_klv": "min_kelvin",
    "max_temp": "max_temp", "min_temp": "min_temp", "mode_cmd_t": "mode_command_topic",
    "mode_cmd_tpl": "mode_command_template", "mode_stat_t": "mode_state_topic",
    "mode_stat_tpl": "mode_state_template", "obj_id": "object_id", "on_cmd_type": "on_command_type",
    "pl_avail": "payload_available", "pl_not_avail": "payload_not_available", "pl_cls": "payload_close",
    "pl_open": "payload_open", "pl_stop": "payload_stop", "pl_lock": "payload_lock",
    "pl_unlk": "payload_unlock", "pl_on": "payload_on", "pl_off": "payload_off",
    "pos_clsd": "position_closed", "pos_open": "position_open", "pos_t": "position_topic",
    "pos_tpl": "position_template", "set_pos_t": "set_position_topic",
    "set_pos_tpl": "set_position_template", "rgb_cmd_t": "rgb_command_topic",
    "rgb_cmd_tpl": "rgb_command_template", "rgb_stat_t": "rgb_state_topic",
    "rgb_val_tpl": "rgb_value_template", "ret": "retain", "stat_cla": "state_class",
    "stat_clsd": "state_closed", "stat_closing": "state_closing", "stat_off": "state_off",
    "stat_on": "state_on", "stat_open": "state_open", "stat_opening": "state_opening",
    "stat_stopped": "state_stopped", "stat_locked": "state_locked", "stat_unlocked": "state_unlocked",
    "stat_locking": "state_locking", "stat_unlocking": "state_unlocking", "stat_jam": "state_jammed",
    "stat_t": "state_topic", "stat_val_tpl": "state_value_template",
    "sup_clrm": "supported_color_modes", "t": "topic", "temp_cmd_t": "temperature_command_topic",
    "temp_cmd_tpl": "temperature_command_template", "temp_stat_t": "temperature_state_topic",
    "temp_stat_tpl": "temperature_state_template", "temp_unit": "temperature_unit",
    "uniq_id": "unique_id", "unit_of_meas": "unit_of_measurement", "val_tpl": "value_template",
}
DEVICE_ABBREVIATIONS = {"ids": "identifiers", "mf": "manufacturer", "mdl": "model",
                        "sw": "sw_version", "sa": "suggested_area", "cu": "configuration_url"}

TOPIC = re.compile(r"(?P<component>\w+)/(?:(?P<node>[a-zA-Z0-9_-]+)/)?(?P<object>[a-zA-Z0-9_-]+)/config")

Publish = tuple[str, str]  # topic, payload
MAX_STATE_TEXT = 255  # characters in a state, as Home Assistant allows: longer ones are ignored


class BadDiscovery(ValueError):
    """A discovery config Claw cannot use; the message says why, for the log."""


def parse_topic(topic: str, prefix: str) -> tuple[str, str] | None:
    """`<prefix>/light/node/obj/config` -> ("light", "light/node/obj"); None for other topics."""
    rest = topic.removeprefix(prefix + "/")
    match = TOPIC.fullmatch(rest) if rest != topic else None
    if not match:
        return None
    return match["component"], rest.removesuffix("/config")


def expand(config: dict[str, Any]) -> dict[str, Any]:
    """Abbreviations spelled out and `~` replaced by the topic base, as Home Assistant does."""
    config = {ABBREVIATIONS.get(k, k): v for k, v in config.items()}
    if isinstance(config.get("device"), dict):
        config["device"] = {DEVICE_ABBREVIATIONS.get(k, k): v for k, v in config["device"].items()}
    if isinstance(config.get("availability"), list):
        config["availability"] = [{ABBREVIATIONS.get(k, k): v for k, v in a.items()}
                                  for a in config["availability"] if isinstance(a, dict)]
    base = config.pop("~", None)
    if isinstance(base, str):
        def rebase(value: Any) -> Any:
            if isinstance(value, str) and value.startswith("~"):
                return base + value[1:]
            if isinstance(value, str) and value.endswith("~"):
                return value[:-1] + base
            return value
        config = {k: rebase(v) if k.endswith("topic") else v for k, v in config.items()}
        for a in config.get("availability") or []:
            a["topic"] = rebase(a.get("topic"))
    return config


def component(kind: str, key: str, payload: str) -> "Component":
    """The component a discovery payload describes; BadDiscovery when it is not one Claw reads."""
    try:
        config = json.loads(payload)
    except ValueError as e:
        raise BadDiscovery(f"is not JSON ({e})") from None
    if not isinstance(config, dict):
        raise BadDiscovery("is not a JSON object")
    return from_config(kind, key, expand(config))


def from_config(kind: str, key: str, config: dict[str, Any]) -> "Component":
    cls = KINDS.get(kind)
    if cls is None:
        raise BadDiscovery(f"is a {kind!r}, which Claw does not read yet")
    if kind == "light":
        schema = config.get("schema", "default")
        cls = {"default": DefaultLight, "basic": DefaultLight, "json": JsonLight}.get(schema)
        if cls is None:
            raise BadDiscovery(f"uses the light schema {schema!r}, which Claw does not read yet")
    for needed in cls.required:
        if not isinstance(config.get(needed), str) or not config[needed]:
            raise BadDiscovery(f"has no {needed}")
    return cls(key, config)


def _text(value: Any) -> str:
    """A config payload as it appears on the wire (`true` in a config compares as "True", as
    Home Assistant's templates render Python values)."""
    return str(value)


@dataclass
class Availability:
    topic: str
    available: str = "online"
    not_available: str = "offline"
    template: str | None = None


class Component:
    domain = ""
    required: tuple[str, ...] = ("state_topic",)
    services: frozenset[str] = frozenset()

    def __init__(self, key: str, config: dict[str, Any]) -> None:
        self.key = key
        self.config = config
        device = config.get("device") if isinstance(config.get("device"), dict) else {}
        self.device_name = str(device.get("name") or "")
        self.area = device.get("suggested_area") or None
        self.name = self._name(config)
        default_id = str(config.get("default_entity_id") or "").split(".", 1)[-1]
        self.object_id = str(config.get("object_id") or default_id
                             or slug(self.name, fallback=key.rsplit("/", 1)[-1]))
        self.device_class = config.get("device_class") or None
        self.state = "unknown"
        self.attributes: dict[str, Any] = {}
        self.removed = False  # its config was withdrawn: unavailable, not deleted
        self.availability = self._availability(config)
        self.mode = config.get("availability_mode", "latest")
        self._online: dict[str, bool] = {}
        self._latest: bool | None = None

    def _name(self, config: dict[str, Any]) -> str:
        # A name of null means "the device itself"; otherwise the device name comes first.
        name = config.get("name")
        if name is None:
            return self.device_name or self.key.rsplit("/", 1)[-1].replace("_", " ")
        return f"{self.device_name} {name}".strip() if self.device_name and name else str(name)

    @staticmethod
    def _availability(config: dict[str, Any]) -> list[Availability]:
        common = {"available": _text(config.get("payload_available", "online")),
                  "not_available": _text(config.get("payload_not_available", "offline"))}
        if isinstance(config.get("availability_topic"), str):
            return [Availability(config["availability_topic"], **common,
                                 template=config.get("availability_template"))]
        return [Availability(a["topic"], _text(a.get("payload_available", "online")),
                             _text(a.get("payload_not_available", "offline")), a.get("value_template"))
                for a in config.get("availability") or [] if isinstance(a.get("topic"), str)]

    # -- what it listens to ------------------------------------------------------------------
    def state_topics(self) -> set[str]:
        return {self.config["state_topic"]} if self.config.get("state_topic") else set()

    def topics(self) -> set[str]:
        return self.state_topics() | {a.topic for a in self.availability}

    @property
    def available(self) -> bool:
        if self.removed:
            return False
        if not self.availability:
            return True
        if self.mode == "all":
            return all(self._online.get(a.topic, False) for a in self.availability)
        if self.mode == "any":
            return any(self._online.values())
        if self.mode == "all_heard":  # Claw's own, for Zigbee2MQTT: a topic never published is no veto
            return bool(self._online) and all(self._online.values())
        return bool(self._latest)

    def receive(self, topic: str, payload: str) -> bool:
        """Take one message; whether the entity changed."""
        before = (self.state, dict(self.attributes), self.available)
        for a in self.availability:
            if a.topic == topic:
                value = render(a.template, payload)
                if value in (a.available, a.not_available):
                    self._online[topic] = self._latest = value == a.available
        if topic in self.state_topics():
            self.read(topic, payload)
        return (self.state, self.attributes, self.available) != before

    def read(self, topic: str, payload: str) -> None:
        """Update state and attributes from a message on one of the state topics."""

    # -- what it does ------------------------------------------------------------------------
    def command(self, service: str, data: dict[str, Any]) -> list[Publish]:
        raise DeviceRefused(f"{self.name} can't {service.replace('_', ' ')}")

    def entity(self, entity_id: str, device_id: str) -> Entity:
        return Entity(
            entity_id=entity_id, name=self.name, device_id=device_id, area=self.area,
            device_class=self.device_class, state=self.state if self.available else "unavailable",
            attributes=dict(self.attributes), services=set(self.services),
        )

    def _publish(self, topic_key: str, value: Any, template_key: str | None = None,
                 **variables: Any) -> Publish:
        template = self.config.get(template_key) if template_key else None
        payload = render_with(template, value=value, **variables) if template else None
        return self.config[topic_key], payload if payload is not None else _text(value)


class Sensor(Component):
    domain = "sensor"

    def __init__(self, key: str, config: dict[str, Any]) -> None:
        super().__init__(key, config)
        self.attributes = {k: config[k] for k in ("unit_of_measurement", "state_class") if config.get(k)}

    def read(self, topic: str, payload: str) -> None:
        value = render(self.config.get("value_template"), payload)
        if value is not None and len(value) <= MAX_STATE_TEXT:
            self.state = value


class BinarySensor(Component):
    domain = "binary_sensor"

    def read(self, topic: str, payload: str) -> None:
        value = render(self.config.get("value_template"), payload)
        if value == _text(self.config.get("payload_on", "ON")):
            self.state = "on"
        elif value == _text(self.config.get("payload_off", "OFF")):
            self.state = "off"


class Switch(Component):
    domain = "switch"
    required = ("command_topic",)
    services = frozenset({"turn_on", "turn_off", "toggle"})

    def read(self, topic: str, payload: str) -> None:
        value = render(self.config.get("value_template"), payload)
        on = _text(self.config.get("payload_on", "ON"))
        off = _text(self.config.get("payload_off", "OFF"))
        if value == _text(self.config.get("state_on", on)):
            self.state = "on"
        elif value == _text(self.config.get("state_off", off)):
            self.state = "off"

    def command(self, service: str, data: dict[str, Any]) -> list[Publish]:
        if service == "toggle":
            service = "turn_off" if self.state == "on" else "turn_on"
        if service not in self.services:
            return super().command(service, data)
        payload = self.config.get("payload_on" if service == "turn_on" else "payload_off",
                                  "ON" if service == "turn_on" else "OFF")
        return [self._publish("command_topic", _text(payload), "command_template")]


class Lock(Component):
    domain = "lock"
    required = ("command_topic",)
    services = frozenset({"lock", "unlock"})
    STATES = {"state_locked": ("LOCKED", "locked"), "state_unlocked": ("UNLOCKED", "unlocked"),
              "state_locking": ("LOCKING", "locking"), "state_unlocking": ("UNLOCKING", "unlocking"),
              "state_jammed": ("JAMMED", "jammed")}

    def read(self, topic: str, payload: str) -> None:
        value = render(self.config.get("value_template"), payload)
        for key, (default, state) in self.STATES.items():
            if value == _text(self.config.get(key, default)):
                self.state = state

    def command(self, service: str, data: dict[str, Any]) -> list[Publish]:
        if service not in self.services:
            return super().command(service, data)
        payload = self.config.get(f"payload_{service}", service.upper())
        return [self._publish("command_topic", _text(payload), "command_template")]


class Cover(Component):
    domain = "cover"
    required = ()

    def __init__(self, key: str, config: dict[str, Any]) -> None:
        super().__init__(key, config)
        services = set()
        if config.get("command_topic"):
            services |= {"open_cover", "close_cover", "stop_cover"}
        if config.get("set_position_topic"):
            services.add("set_cover_position")
        self.services = frozenset(services)
        self.open_at = float(config.get("position_open", 100))
        self.closed_at = float(config.get("position_closed", 0))

    def state_topics(self) -> set[str]:
        return super().state_topics() | ({self.config["position_topic"]}
                                         if self.config.get("position_topic") else set())

    def read(self, topic: str, payload: str) -> None:
        if topic == self.config.get("state_topic"):
            value = render(self.config.get("value_template"), payload)
            for key, default, state in (("state_open", "open", "open"), ("state_opening", "opening", "opening"),
                                        ("state_closed", "closed", "closed"),
                                        ("state_closing", "closing", "closing")):
                if value == _text(self.config.get(key, default)):
                    self.state = state
            if value == _text(self.config.get("state_stopped", "stopped")):
                self.state = "closed" if self.attributes.get("current_position") == 0 else "open"
        if topic == self.config.get("position_topic"):
            raw = _number(render(self.config.get("position_template"), payload))
            if raw is not None:
                span = self.open_at - self.closed_at
                position = round(max(0.0, min(100.0, (raw - self.closed_at) * 100 / span))) if span else 0
                self.attributes["current_position"] = position
                if not self.config.get("state_topic"):
                    self.state = "closed" if position == 0 else "open"

    def command(self, service: str, data: dict[str, Any]) -> list[Publish]:
        if service not in self.services:
            return super().command(service, data)
        if service == "set_cover_position":
            percent = _in_range(data.get("position"), 0, 100, "A position is a percentage from 0 to 100")
            raw = round(self.closed_at + percent * (self.open_at - self.closed_at) / 100)
            return [self._publish("set_position_topic", raw, "set_position_template", position=raw)]
        word = {"open_cover": ("payload_open", "OPEN"), "close_cover": ("payload_close", "CLOSE"),
                "stop_cover": ("payload_stop", "STOP")}[service]
        return [self._publish("command_topic", _text(self.config.get(*word)), "command_template")]


class Climate(Component):
    domain = "climate"
    required = ()

    def __init__(self, key: str, config: dict[str, Any]) -> None:
        super().__init__(key, config)
        services = set()
        if config.get("mode_command_topic"):
            services.add("set_hvac_mode")
        if config.get("temperature_command_topic"):
            services.add("set_temperature")
        self.services = frozenset(services)
        modes = config.get("modes")
        self.modes = [str(m) for m in modes] if isinstance(modes, list) else \
            ["auto", "off", "cool", "heat", "dry", "fan_only"]
        self.low = _number(config.get("min_temp")) or 7.0
        self.high = _number(config.get("max_temp")) or 35.0
        self.attributes = {"hvac_modes": list(self.modes), "min_temp": self.low, "max_temp": self.high}

    def state_topics(self) -> set[str]:
        keys = ("mode_state_topic", "temperature_state_topic", "current_temperature_topic")
        return {self.config[k] for k in keys if self.config.get(k)}

    def read(self, topic: str, payload: str) -> None:
        if topic == self.config.get("mode_state_topic"):
            mode = render(self.config.get("mode_state_template"), payload)
            if mode in self.modes:
                self.state = mode
        for topic_key, template_key, attribute in (
                ("temperature_state_topic", "temperature_state_template", "temperature"),
                ("current_temperature_topic", "current_temperature_template", "current_temperature")):
            if topic == self.config.get(topic_key):
                value = _number(render(self.config.get(template_key), payload))
                if value is not None:
                    self.attributes[attribute] = value

    def command(self, service: str, data: dict[str, Any]) -> list[Publish]:
        if service not in self.services:
            return super().command(service, data)
        publishes = []
        mode = data.get("hvac_mode")
        if mode is not None or service == "set_hvac_mode":
            if mode not in self.modes:
                raise DeviceRefused(f"{self.name} can be set to {', '.join(self.modes)}, not {mode!r}")
            publishes.append(self._publish("mode_command_topic", mode, "mode_command_template"))
        if service == "set_temperature":
            target = _in_range(data.get("temperature"), self.low, self.high,
                               f"{self.name} takes a temperature from {self.low:g} to {self.high:g}")
            publishes.append(self._publish("temperature_command_topic", target, "temperature_command_template"))
        return publishes


# -- lights -------------------------------------------------------------------------------------
TURN_ON_KEYS = {"brightness_pct", "brightness", "rgb_color", "color_name", "color_temp_kelvin"}


@dataclass
class LightRequest:
    """A turn_on in Home Assistant's terms: brightness 0-255, an RGB colour or a temperature."""

    brightness: int | None = None
    rgb: tuple[int, int, int] | None = None
    kelvin: int | None = None


def light_request(name: str, data: dict[str, Any]) -> LightRequest:
    unknown = set(data) - TURN_ON_KEYS
    if unknown:
        raise DeviceRefused(f"{name} can't set {', '.join(sorted(unknown))}")
    request = LightRequest()
    if "brightness_pct" in data:
        pct = _in_range(data["brightness_pct"], 0, 100, "A brightness is a percentage from 0 to 100")
        request.brightness = round(pct * 255 / 100)
    elif "brightness" in data:
        request.brightness = round(_in_range(data["brightness"], 0, 255, "A raw brightness is from 0 to 255"))
    if "rgb_color" in data:
        rgb = data["rgb_color"]
        if not (isinstance(rgb, (list, tuple)) and len(rgb) == 3
                and all(isinstance(c, int) and 0 <= c <= 255 for c in rgb)):
            raise DeviceRefused(f"An RGB colour is three whole numbers from 0 to 255, not {rgb!r}")
        request.rgb = (rgb[0], rgb[1], rgb[2])
    elif "color_name" in data:
        kind, value = color_name_target(str(data["color_name"]))
        if kind == "kelvin":
            request.kelvin = value
        else:
            request.rgb = value
    elif "color_temp_kelvin" in data:
        request.kelvin = round(_in_range(data["color_temp_kelvin"], 1000, 40000,
                                         "A colour temperature is from 1000 to 40000 K"))
    return request


class Light(Component):
    domain = "light"
    required = ("command_topic",)
    services = frozenset({"turn_on", "turn_off", "toggle"})

    def __init__(self, key: str, config: dict[str, Any]) -> None:
        super().__init__(key, config)
        self.scale = _number(config.get("brightness_scale")) or 255.0
        # Mireds, as the config gives them (or kelvin, from newer configs).
        self.warmest = _number(config.get("max_mireds")) or (
            kelvin_to_mired(config["min_kelvin"]) if _number(config.get("min_kelvin")) else 500)
        self.coolest = _number(config.get("min_mireds")) or (
            kelvin_to_mired(config["max_kelvin"]) if _number(config.get("max_kelvin")) else 153)
        self.modes = self._color_modes()
        self.attributes = self._base_attributes()

    def _color_modes(self) -> list[str]:
        return []

    def _base_attributes(self) -> dict[str, Any]:
        attributes: dict[str, Any] = {"supported_color_modes": list(self.modes)}
        if "color_temp" in self.modes:
            attributes.update(min_color_temp_kelvin=mired_to_kelvin(self.warmest),
                              max_color_temp_kelvin=mired_to_kelvin(self.coolest))
        return attributes

    def _to_raw(self, brightness: int) -> int:
        return round(brightness * self.scale / 255)

    def _from_raw(self, raw: float) -> int:
        return round(max(0.0, min(255.0, raw * 255 / self.scale)))

    def _color(self, request: LightRequest) -> tuple[str, Any] | None:
        """The colour to send: ("color_temp", mireds) or (mode, value) for the best colour mode."""
        if request.kelvin is not None:
            if "color_temp" in self.modes:
                mired = max(self.coolest, min(self.warmest, kelvin_to_mired(request.kelvin)))
                return "color_temp", round(mired)
            request.rgb = kelvin_to_rgb(request.kelvin)
        if request.rgb is None:
            return None
        for mode in ("rgb", "xy", "hs"):
            if mode in self.modes:
                return mode, request.rgb
        raise DeviceRefused(f"{self.name} has no colours; it can only be dimmed or switched")

    def _note_color(self, mode: str, rgb: tuple[int, int, int] | None = None, mired: float | None = None) -> None:
        self.attributes["color_mode"] = mode
        if rgb is not None:
            self.attributes["rgb_color"] = list(rgb)
        if mired is not None:
            self.attributes["color_temp_kelvin"] = mired_to_kelvin(mired)


class JsonLight(Light):
    """The JSON schema (Zigbee2MQTT, ESPHome): one JSON state topic, one JSON command topic."""

    def _color_modes(self) -> list[str]:
        modes = self.config.get("supported_color_modes")
        modes = [str(m) for m in modes] if isinstance(modes, list) else []
        if not modes:
            modes = ["brightness"] if self.config.get("brightness") else ["onoff"]
        return modes

    def read(self, topic: str, payload: str) -> None:
        try:
            doc = json.loads(payload)
        except ValueError:
            return
        if not isinstance(doc, dict):
            return
        if doc.get("state") in ("ON", "OFF"):
            self.state = doc["state"].lower()
        brightness = _number(doc.get("brightness"))
        if brightness is not None:
            self.attributes["brightness"] = self._from_raw(brightness)
        color, mode = doc.get("color"), doc.get("color_mode")
        temp = _number(doc.get("color_temp"))
        if temp is not None and self.config.get("color_temp_kelvin"):
            temp = kelvin_to_mired(temp) if temp else None
        if mode == "color_temp" and temp:
            self._note_color("color_temp", mired=temp)
        elif isinstance(color, dict):
            rgb = _color_as_rgb(color)
            if rgb is not None:
                self._note_color(mode if isinstance(mode, str) else "rgb", rgb=rgb)
        elif temp:
            self._note_color("color_temp", mired=temp)
        if self.state == "off":
            self.attributes["brightness"] = None

    def command(self, service: str, data: dict[str, Any]) -> list[Publish]:
        if service == "toggle":
            service = "turn_off" if self.state == "on" else "turn_on"
        if service == "turn_off":
            return [(self.config["command_topic"], json.dumps({"state": "OFF"}))]
        if service != "turn_on":
            return super().command(service, data)
        request = light_request(self.name, data)
        if request.brightness == 0:  # Home Assistant's meaning of brightness 0: off
            return [(self.config["command_topic"], json.dumps({"state": "OFF"}))]
        body: dict[str, Any] = {"state": "ON"}
        if request.brightness is not None:
            body["brightness"] = self._to_raw(request.brightness)
        color = self._color(request)
        if color is not None:
            mode, value = color
            if mode == "color_temp":
                body["color_temp"] = mired_to_kelvin(value) if self.config.get("color_temp_kelvin") else value
            elif mode == "rgb":
                body["color"] = dict(zip("rgb", value))
            elif mode == "xy":
                body["color"] = dict(zip("xy", rgb_to_xy(value)))
            else:
                body["color"] = dict(zip("hs", rgb_to_hs(value)))
        return [(self.config["command_topic"], json.dumps(body))]


class DefaultLight(Light):
    """The default schema (Tasmota and DIY): a topic per property, plain payloads."""

    def _color_modes(self) -> list[str]:
        modes = [mode for mode, key in (("rgb", "rgb_command_topic"), ("color_temp", "color_temp_command_topic"))
                 if self.config.get(key)]
        if not modes:
            modes = ["brightness"] if self.config.get("brightness_command_topic") else ["onoff"]
        return modes

    def state_topics(self) -> set[str]:
        keys = ("state_topic", "brightness_state_topic", "rgb_state_topic", "color_temp_state_topic")
        return {self.config[k] for k in keys if self.config.get(k)}

    def read(self, topic: str, payload: str) -> None:
        if topic == self.config.get("state_topic"):
            value = render(self.config.get("state_value_template"), payload)
            if value == _text(self.config.get("payload_on", "ON")):
                self.state = "on"
            elif value == _text(self.config.get("payload_off", "OFF")):
                self.state = "off"
                self.attributes["brightness"] = None
        if topic == self.config.get("brightness_state_topic"):
            raw = _number(render(self.config.get("brightness_value_template"), payload))
            if raw is not None:
                self.attributes["brightness"] = self._from_raw(raw)
        if topic == self.config.get("rgb_state_topic"):
            value = render(self.config.get("rgb_value_template"), payload) or ""
            parts = [_number(p) for p in value.split(",")]
            if len(parts) == 3 and all(p is not None for p in parts):
                self._note_color("rgb", rgb=tuple(round(p) for p in parts))  # type: ignore[arg-type]
        if topic == self.config.get("color_temp_state_topic"):
            mired = _number(render(self.config.get("color_temp_value_template"), payload))
            if mired:
                self._note_color("color_temp", mired=mired)

    def command(self, service: str, data: dict[str, Any]) -> list[Publish]:
        if service == "toggle":
            service = "turn_off" if self.state == "on" else "turn_on"
        on = _text(self.config.get("payload_on", "ON"))
        off = _text(self.config.get("payload_off", "OFF"))
        if service == "turn_off":
            return [(self.config["command_topic"], off)]
        if service != "turn_on":
            return super().command(service, data)
        request = light_request(self.name, data)
        if request.brightness == 0:
            return [(self.config["command_topic"], off)]
        publishes = []
        if request.brightness is not None:
            if not self.config.get("brightness_command_topic"):
                raise DeviceRefused(f"{self.name} can't be dimmed; it only switches on and off")
            publishes.append(self._publish("brightness_command_topic", self._to_raw(request.brightness),
                                           "brightness_command_template"))
        color = self._color(request)
        if color is not None:
            mode, value = color
            if mode == "color_temp":
                publishes.append(self._publish("color_temp_command_topic", value, "color_temp_command_template"))
            else:
                red, green, blue = value
                publishes.append(self._publish("rgb_command_topic", f"{red},{green},{blue}",
                                               "rgb_command_template", red=red, green=green, blue=blue))
        # "brightness": the brightness message itself turns the light on (Tasmota's dimmers).
        if not (self.config.get("on_command_type") == "brightness" and request.brightness is not None):
            publishes.insert(0 if self.config.get("on_command_type") == "first" else len(publishes),
                             (self.config["command_topic"], on))
        return publishes


KINDS: dict[str, type[Component]] = {
    "sensor": Sensor, "binary_sensor": BinarySensor, "switch": Switch, "lock": Lock,
    "cover": Cover, "climate": Climate, "light": Light,
}


def _color_as_rgb(color: dict[str, Any]) -> tuple[int, int, int] | None:
    r, g, b = (_number(color.get(c)) for c in "rgb")
    if r is not None and g is not None and b is not None:
        return round(r), round(g), round(b)
    x, y = _number(color.get("x")), _number(color.get("y"))
    if x is not None and y is not None:
        return xy_to_rgb(x, y)
    h = _number(color.get("h", color.get("hue")))
    s = _number(color.get("s", color.get("saturation")))
    if h is not None and s is not None:
        return hs_to_rgb(h, s)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _in_range(value: Any, low: float, high: float, rule: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise DeviceRefused(f"{rule}, not {value!r}")
    return float(value)
