"""Emulated MQTT devices: a Zigbee2MQTT bridge and Home Assistant discovery nodes.

Both are MQTT clients of a real broker (mosquitto), as the real ones are, and speak what they
speak: the bridge retains `<base>/bridge/state`, `<base>/bridge/devices` (with each device's
`definition.exposes`) and `<base>/<name>/availability`, publishes state JSON on `<base>/<name>`
(not retained, as Zigbee2MQTT's default), answers `<base>/<name>/get` and applies
`<base>/<name>/set` (JSON, or a bare `ON` meaning `{"state": "ON"}`). A discovery node (like
ESPHome's or Tasmota's MQTT mode) retains abbreviated configs with `~` under
`homeassistant/<component>/<node>/<object>/config`, retained states, and `<node>/status` as its
availability (its last will says `offline`). Both reconnect when the broker comes back and
announce everything again, as the real ones do.
"""
from __future__ import annotations

import asyncio
import json
import logging
import socket
from dataclasses import dataclass, field
from typing import Any

import aiomqtt

from .colors import hs_to_rgb, rgb_to_xy
from .tasks import cancel_and_wait

log = logging.getLogger(__name__)

NO_DELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class MqttPeer:
    """A device-side MQTT client that reconnects by itself and re-announces on each connect."""

    will: tuple[str, str] | None = None

    def __init__(self, host: str, port: int, username: str | None = None,
                 password: str | None = None) -> None:
        self.host, self.port = host, port
        self._username, self._password = username, password
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    async def start(self, within: float = 5.0) -> None:
        self._task = asyncio.ensure_future(self._run())
        async with asyncio.timeout(within):
            await self.connected.wait()

    async def stop(self) -> None:
        """A clean shutdown: says it is going offline, then disconnects."""
        if self._client is not None and self.will is not None:
            await self.publish(*self.will, retain=True)
        if self._task is not None:
            await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            will = aiomqtt.Will(self.will[0], self.will[1], retain=True) if self.will else None
            try:
                # No Nagle: the PUBACK of a command and the state report after it go at once.
                async with aiomqtt.Client(self.host, self.port, username=self._username,
                                          password=self._password, will=will, timeout=3,
                                          socket_options=[NO_DELAY]) as client:
                    self._client = client
                    await self.announce(client)
                    self.connected.set()
                    async for message in client.messages:
                        payload = message.payload if isinstance(message.payload, bytes) else b""
                        await self.received(message.topic.value, payload.decode(errors="replace"))
            except aiomqtt.MqttError as e:
                log.debug("%s: %s; reconnecting", type(self).__name__, e)
            finally:
                self._client = None
                self.connected.clear()
            await asyncio.sleep(0.1)

    async def publish(self, topic: str, payload: str, retain: bool = False) -> None:
        """QoS 0, as Zigbee2MQTT and ESPHome publish states by default."""
        if self._client is None:
            raise RuntimeError(f"{type(self).__name__} is not connected to the broker")
        await self._client.publish(topic, payload, qos=0, retain=retain)

    async def announce(self, client: aiomqtt.Client) -> None: ...

    async def received(self, topic: str, payload: str) -> None: ...


# -- Zigbee2MQTT ------------------------------------------------------------------------------
def _binary(name: str, on: Any = "ON", off: Any = "OFF", access: int = 7) -> dict[str, Any]:
    return {"type": "binary", "name": name, "property": name, "access": access,
            "value_on": on, "value_off": off}


def _numeric(name: str, unit: str | None = None, access: int = 5, **extra: Any) -> dict[str, Any]:
    return {"type": "numeric", "name": name, "property": name, "access": access,
            **({"unit": unit} if unit else {}), **extra}


def _enum(name: str, values: list[str], access: int = 7) -> dict[str, Any]:
    return {"type": "enum", "name": name, "property": name, "access": access, "values": values}


KINDS: dict[str, tuple[str, str, list[dict[str, Any]], dict[str, Any]]] = {
    # kind: (vendor, model, exposes, initial state)
    "light": ("IKEA", "LED1924G9", [
        {"type": "light", "features": [
            {**_binary("state"), "value_toggle": "TOGGLE"},
            _numeric("brightness", access=7, value_min=0, value_max=254),
            _numeric("color_temp", "mired", access=7, value_min=250, value_max=454),
            {"type": "composite", "name": "color_xy", "property": "color", "access": 7,
             "features": [_numeric("x", access=7), _numeric("y", access=7)]}]},
        _numeric("linkquality", "lqi", access=1)],
        {"state": "OFF", "brightness": 254, "color_temp": 370, "color_mode": "color_temp",
         "color": {"x": 0.4599, "y": 0.4106}, "linkquality": 120}),
    "switch": ("SONOFF", "S26R2ZB", [
        {"type": "switch", "features": [{**_binary("state"), "value_toggle": "TOGGLE"}]},
        _numeric("linkquality", "lqi", access=1)], {"state": "OFF", "linkquality": 98}),
    "cover": ("IKEA", "E1757", [
        {"type": "cover", "features": [_enum("state", ["OPEN", "CLOSE", "STOP"], access=3),
                                       _numeric("position", "%", access=7, value_min=0, value_max=100)]},
        _numeric("battery", "%", access=5)], {"state": "CLOSE", "position": 0, "battery": 87}),
    "lock": ("Yale", "YRD226HA2619", [
        {"type": "lock", "features": [_binary("state", "LOCK", "UNLOCK"),
                                      _enum("lock_state", ["not_fully_locked", "locked", "unlocked"], access=1)]},
        _numeric("battery", "%", access=5)], {"state": "LOCK", "lock_state": "locked", "battery": 76}),
    "thermostat": ("Danfoss", "014G2461", [
        {"type": "climate", "features": [
            _numeric("occupied_heating_setpoint", "°C", access=7, value_min=5, value_max=30, value_step=0.5),
            _numeric("local_temperature", "°C", access=5),
            _enum("system_mode", ["off", "heat", "auto"]),
            _enum("running_state", ["idle", "heat"], access=5)]},
        _numeric("battery", "%", access=5)],
        {"occupied_heating_setpoint": 20, "local_temperature": 19.5, "system_mode": "heat",
         "running_state": "heat", "battery": 64}),
    "climate_sensor": ("Aqara", "WSDCGQ11LM", [
        _numeric("temperature", "°C"), _numeric("humidity", "%"), _numeric("battery", "%"),
        _numeric("linkquality", "lqi", access=1)],
        {"temperature": 21.5, "humidity": 45.0, "battery": 90, "linkquality": 110}),
    "motion": ("Philips", "9290012607", [
        _binary("occupancy", True, False, access=1), _numeric("battery", "%")],
        {"occupancy": False, "battery": 100}),
    "contact": ("Aqara", "MCCGQ11LM", [_binary("contact", True, False, access=1), _numeric("battery", "%")],
                {"contact": True, "battery": 95}),
}


@dataclass
class ZigbeeDevice:
    friendly_name: str
    kind: str
    ieee: str
    state: dict[str, Any] = field(default_factory=dict)
    online: bool = True

    def __post_init__(self) -> None:
        if not self.state:
            self.state = json.loads(json.dumps(KINDS[self.kind][3]))

    def info(self) -> dict[str, Any]:
        vendor, model, exposes, _ = KINDS[self.kind]
        return {"ieee_address": self.ieee, "type": "EndDevice", "network_address": int(self.ieee[-4:], 16),
                "supported": True, "friendly_name": self.friendly_name, "disabled": False,
                "interview_completed": True, "power_source": "Battery",
                "definition": {"vendor": vendor, "model": model, "description": f"emulated {self.kind}",
                               "exposes": exposes, "options": []}}

    def apply(self, command: dict[str, Any]) -> None:
        """A `/set` the way the device's converters take it; unknown keys are ignored."""
        s = self.state
        if "state" in command:
            value = str(command["state"]).upper()
            if self.kind in ("light", "switch") and value in ("ON", "OFF", "TOGGLE"):
                s["state"] = ("OFF" if s["state"] == "ON" else "ON") if value == "TOGGLE" else value
            elif self.kind == "cover" and value in ("OPEN", "CLOSE"):
                s["state"], s["position"] = value, 100 if value == "OPEN" else 0
            elif self.kind == "lock" and value in ("LOCK", "UNLOCK"):
                s["state"], s["lock_state"] = value, "locked" if value == "LOCK" else "unlocked"
        if self.kind == "light":
            if isinstance(command.get("brightness"), (int, float)):
                s["brightness"] = max(0, min(254, round(command["brightness"])))
                s["state"] = "ON" if s["brightness"] else "OFF"
            if isinstance(command.get("color_temp"), (int, float)):
                s["color_temp"] = max(250, min(454, round(command["color_temp"])))
                s["color_mode"] = "color_temp"
            if isinstance(command.get("color"), dict):
                xy = _xy(command["color"])
                if xy is not None:
                    s["color"], s["color_mode"] = {"x": xy[0], "y": xy[1]}, "xy"
        if self.kind == "cover" and isinstance(command.get("position"), (int, float)):
            s["position"] = max(0, min(100, round(command["position"])))
            s["state"] = "OPEN" if s["position"] else "CLOSE"
        if self.kind == "thermostat":
            if isinstance(command.get("occupied_heating_setpoint"), (int, float)):
                s["occupied_heating_setpoint"] = max(5.0, min(30.0, float(command["occupied_heating_setpoint"])))
            if command.get("system_mode") in ("off", "heat", "auto"):
                s["system_mode"] = command["system_mode"]


def _xy(color: dict[str, Any]) -> tuple[float, float] | None:
    if isinstance(color.get("x"), (int, float)) and isinstance(color.get("y"), (int, float)):
        return float(color["x"]), float(color["y"])
    if all(isinstance(color.get(c), int) for c in "rgb"):
        return rgb_to_xy((color["r"], color["g"], color["b"]))
    if isinstance(color.get("rgb"), str):
        return rgb_to_xy([int(c) for c in color["rgb"].split(",")])
    if isinstance(color.get("hex"), str):
        h = color["hex"].lstrip("#")
        return rgb_to_xy([int(h[i:i + 2], 16) for i in (0, 2, 4)])
    hue, sat = color.get("hue", color.get("h")), color.get("saturation", color.get("s"))
    if isinstance(hue, (int, float)) and isinstance(sat, (int, float)):
        return rgb_to_xy(hs_to_rgb(hue, sat))
    return None


class Zigbee2MqttBridge(MqttPeer):
    def __init__(self, host: str, port: int, devices: list[ZigbeeDevice] | None = None,
                 base: str = "zigbee2mqtt", **credentials: Any) -> None:
        super().__init__(host, port, **credentials)
        self.base = base
        self.devices = {d.friendly_name: d for d in devices or []}
        self.will = (f"{base}/bridge/state", json.dumps({"state": "offline"}))
        self.commands: list[tuple[str, dict[str, Any]]] = []  # every /set taken, in order

    def device_list(self) -> list[dict[str, Any]]:
        coordinator = {"ieee_address": "0x00124b0000000000", "type": "Coordinator",
                       "friendly_name": "Coordinator", "definition": None, "supported": True}
        return [coordinator, *(d.info() for d in self.devices.values())]

    async def announce(self, client: aiomqtt.Client) -> None:
        # Commands only (a name may hold one `/`): its own state reports do not come back to it.
        await client.subscribe([(f"{self.base}/{'+/' * depth}{verb}", 0)
                                for depth in (1, 2) for verb in ("set", "get")])
        await client.publish(f"{self.base}/bridge/state", json.dumps({"state": "online"}), qos=1, retain=True)
        await client.publish(f"{self.base}/bridge/devices", json.dumps(self.device_list()), qos=1, retain=True)
        for device in self.devices.values():
            await self._availability(client, device)
            await client.publish(f"{self.base}/{device.friendly_name}", json.dumps(device.state), qos=1)

    async def _availability(self, client: aiomqtt.Client, device: ZigbeeDevice) -> None:
        await client.publish(f"{self.base}/{device.friendly_name}/availability",
                             json.dumps({"state": "online" if device.online else "offline"}), qos=1, retain=True)

    async def received(self, topic: str, payload: str) -> None:
        name, _, verb = topic.removeprefix(self.base + "/").rpartition("/")
        device = self.devices.get(name)
        if device is None or verb not in ("set", "get") or not device.online:
            return
        if verb == "set":
            try:
                command = json.loads(payload)
            except ValueError:
                command = {"state": payload}  # Zigbee2MQTT's shorthand: a bare value is the state
            if isinstance(command, dict):
                self.commands.append((name, command))
                device.apply(command)
        await self.publish(f"{self.base}/{name}", json.dumps(device.state))

    async def report(self, name: str, **values: Any) -> None:
        """The device reports a change (a sensor reading, a button pressed on the device)."""
        self.devices[name].state.update(values)
        await self.publish(f"{self.base}/{name}", json.dumps(self.devices[name].state))

    async def set_online(self, name: str, online: bool) -> None:
        """The device stops (or starts again) answering on the Zigbee network."""
        self.devices[name].online = online
        assert self._client is not None
        await self._availability(self._client, self.devices[name])

    async def remove(self, name: str) -> None:
        """The device is removed from the Zigbee network: it leaves bridge/devices."""
        self.devices.pop(name)
        await self.publish(f"{self.base}/bridge/devices", json.dumps(self.device_list()), retain=True)


# -- Home Assistant MQTT discovery ------------------------------------------------------------
@dataclass
class NodeEntity:
    component: str  # "light", "light_basic" (the default schema), "switch", "cover", ...
    object_id: str
    name: str | None
    values: dict[str, Any] = field(default_factory=dict)
    device_class: str | None = None
    unit: str | None = None

    @property
    def kind(self) -> str:
        return self.component.split("_")[0] if self.component == "light_basic" else self.component


NODE_DEFAULTS: dict[str, dict[str, Any]] = {
    "light": {"state": "OFF", "brightness": 255, "color_mode": "rgb", "color": {"r": 255, "g": 180, "b": 107},
              "color_temp": 370},
    "light_basic": {"state": "OFF", "brightness": 100, "rgb": "255,255,255"},
    "switch": {"state": "OFF"}, "lock": {"state": "LOCKED"},
    "cover": {"state": "closed", "position": 0},
    "sensor": {"state": "21.0"}, "binary_sensor": {"state": "OFF"},
    "climate": {"mode": "heat", "target": 20.0, "current": 19.0},
}


class DiscoveryNode(MqttPeer):
    """One device that announces its entities by Home Assistant MQTT discovery."""

    def __init__(self, host: str, port: int, node_id: str, name: str, entities: list[NodeEntity],
                 area: str | None = None, prefix: str = "homeassistant", **credentials: Any) -> None:
        super().__init__(host, port, **credentials)
        self.node_id, self.name, self.area, self.prefix = node_id, name, area, prefix
        self.entities = {e.object_id: e for e in entities}
        for e in entities:
            e.values = {**NODE_DEFAULTS[e.component], **e.values}
        self.will = (f"{node_id}/status", "offline")
        self.commands: list[tuple[str, str]] = []  # (topic, payload) of every command taken

    def base(self, e: NodeEntity) -> str:
        return f"{self.node_id}/{e.kind}/{e.object_id}"

    def config(self, e: NodeEntity) -> dict[str, Any]:
        """The retained discovery config, abbreviated, as ESPHome and Tasmota write them."""
        device = {"ids": [self.node_id], "name": self.name, "mf": "Claw", "mdl": "emulated node",
                  **({"sa": self.area} if self.area else {})}
        c: dict[str, Any] = {"~": self.base(e), "name": e.name, "uniq_id": f"{self.node_id}_{e.object_id}",
                             "avty_t": f"{self.node_id}/status", "dev": device}
        if e.device_class:
            c["dev_cla"] = e.device_class
        kind = e.component
        if kind == "light":
            c.update(schema="json", stat_t="~/state", cmd_t="~/command", brightness=True,
                     sup_clrm=["rgb", "color_temp"], min_mirs=153, max_mirs=500)
        elif kind == "light_basic":
            c.update(stat_t="~/state", cmd_t="~/switch", bri_stat_t="~/brightness", bri_cmd_t="~/brightness/set",
                     bri_scl=100, rgb_stat_t="~/rgb", rgb_cmd_t="~/rgb/set")
        elif kind in ("switch", "lock"):
            c.update(stat_t="~/state", cmd_t="~/set")
        elif kind == "cover":
            c.update(stat_t="~/state", cmd_t="~/set", pos_t="~/position", set_pos_t="~/position/set")
        elif kind == "sensor":
            c.update(stat_t="~/state", unit_of_meas=e.unit, stat_cla="measurement")
        elif kind == "binary_sensor":
            c.update(stat_t="~/state")
        elif kind == "climate":
            c.update(mode_stat_t="~/mode", mode_cmd_t="~/mode/set", modes=["off", "heat", "auto"],
                     temp_stat_t="~/target", temp_cmd_t="~/target/set", curr_temp_t="~/current",
                     min_temp=7, max_temp=30, temp_unit="C")
        return c

    def config_topic(self, e: NodeEntity) -> str:
        return f"{self.prefix}/{e.kind}/{self.node_id}/{e.object_id}/config"

    async def announce(self, client: aiomqtt.Client) -> None:
        await client.subscribe(f"{self.node_id}/#")
        await client.publish(f"{self.node_id}/status", "online", qos=1, retain=True)
        for e in self.entities.values():
            await client.publish(self.config_topic(e), json.dumps(self.config(e)), qos=1, retain=True)
            for topic, payload in self.states(e):
                await client.publish(topic, payload, qos=1, retain=True)

    def states(self, e: NodeEntity) -> list[tuple[str, str]]:
        base, v = self.base(e), e.values
        if e.component == "light":
            body = {"state": v["state"], "color_mode": v["color_mode"]}
            if v["state"] == "ON":
                body.update(brightness=v["brightness"], color=v["color"], color_temp=v["color_temp"])
            return [(f"{base}/state", json.dumps(body))]
        if e.component == "light_basic":
            return [(f"{base}/state", v["state"]), (f"{base}/brightness", str(v["brightness"])),
                    (f"{base}/rgb", v["rgb"])]
        if e.component == "cover":
            return [(f"{base}/state", v["state"]), (f"{base}/position", str(v["position"]))]
        if e.component == "climate":
            return [(f"{base}/mode", v["mode"]), (f"{base}/target", str(v["target"])),
                    (f"{base}/current", str(v["current"]))]
        return [(f"{base}/state", str(v["state"]))]

    async def received(self, topic: str, payload: str) -> None:
        for e in self.entities.values():
            base = self.base(e)
            if topic.startswith(base + "/") and self._apply(e, topic.removeprefix(base + "/"), payload):
                self.commands.append((topic, payload))
                for state_topic, state in self.states(e):
                    await self.publish(state_topic, state, retain=True)

    @staticmethod
    def _apply(e: NodeEntity, what: str, payload: str) -> bool:
        v = e.values
        if e.component == "light" and what == "command":
            command = json.loads(payload)
            v["state"] = command.get("state", v["state"])
            v["brightness"] = command.get("brightness", v["brightness"])
            if "color" in command:
                v["color"], v["color_mode"] = command["color"], "rgb"
            if "color_temp" in command:
                v["color_temp"], v["color_mode"] = command["color_temp"], "color_temp"
            return True
        if e.component == "light_basic" and what in ("switch", "brightness/set", "rgb/set"):
            key = {"switch": "state", "brightness/set": "brightness", "rgb/set": "rgb"}[what]
            v[key] = int(payload) if key == "brightness" else payload
            return True
        if e.component == "switch" and what == "set" and payload in ("ON", "OFF"):
            v["state"] = payload
            return True
        if e.component == "lock" and what == "set" and payload in ("LOCK", "UNLOCK"):
            v["state"] = payload + "ED"
            return True
        if e.component == "cover" and what == "set" and payload in ("OPEN", "CLOSE", "STOP"):
            if payload != "STOP":
                v["position"] = 100 if payload == "OPEN" else 0
                v["state"] = "open" if payload == "OPEN" else "closed"
            return True
        if e.component == "cover" and what == "position/set":
            v["position"] = max(0, min(100, int(payload)))
            v["state"] = "open" if v["position"] else "closed"
            return True
        if e.component == "climate" and what == "mode/set" and payload in ("off", "heat", "auto"):
            v["mode"] = payload
            return True
        if e.component == "climate" and what == "target/set":
            v["target"] = float(payload)
            return True
        return False

    async def report(self, object_id: str, **values: Any) -> None:
        """The device reports a change of its own (a reading, a switch pressed by hand)."""
        e = self.entities[object_id]
        e.values.update(values)
        for topic, payload in self.states(e):
            await self.publish(topic, payload, retain=True)

    async def withdraw(self, object_id: str) -> None:
        """The device stops announcing one entity (an empty retained config)."""
        e = self.entities.pop(object_id)
        await self.publish(self.config_topic(e), "", retain=True)
