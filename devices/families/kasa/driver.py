"""TP-Link Kasa plugs, strips and bulbs through python-kasa (the library Home Assistant uses).

Legacy devices only: the XOR-"encrypted" JSON protocol on TCP 9999, no account needed. The
driver connects by address (`Device.connect` with the legacy connection type, another port
when the device is forwarded or emulated) and polls with `update()`: these devices push
nothing. A plug is a `switch` (with its energy meter when it has one), each outlet of a strip
is a `switch` of its own, and a bulb (or a dimmer) is a `light`. Not covered: devices that
speak only the newer protocols (KLAP, AES, Tapo's "smart" protocol), which need the owner's
TP-Link cloud credentials.

`scan()` finds devices as python-kasa does, by a UDP broadcast to port 9999 that each
device answers with its system info.
"""
from __future__ import annotations

import colorsys
import logging
from typing import Any

from kasa import Device as KasaDevice
from kasa import DeviceConfig, Discover, KasaException, Module
from kasa.deviceconfig import DeviceConnectionParameters, DeviceEncryptionType, DeviceFamily

from devices.colors import color_name_target
from devices.family import Sighting
from devices.home import MAX_NAME
from devices.model import Device, DeviceError, Entity
from devices.names import slug

log = logging.getLogger(__name__)

LEGACY = DeviceConnectionParameters(DeviceFamily.IotSmartPlugSwitch, DeviceEncryptionType.Xor)
SWITCH_SERVICES = {"turn_on", "turn_off", "toggle"}
# System info keys only an emulated house's devices carry (claw_house is devices.discovery.HOUSE_TXT).
MARKS = ("claw_house", "area")
TURN_ON_KEYS = {"brightness_pct", "rgb_color", "color_name", "color_temp_kelvin", "transition"}


class KasaDriver:
    def __init__(self, device: Device, area: str | None = None, timeout: float = 3.0) -> None:
        self.device = device
        self.area = area
        self.timeout = timeout
        self._kasa: KasaDevice | None = None
        self._parts: dict[str, KasaDevice] = {}  # entity_id -> the device or strip outlet behind it

    # -- Driver protocol -------------------------------------------------------------------
    async def refresh(self) -> list[Entity]:
        async with self._talking("read"):
            if self._kasa is None:
                config = DeviceConfig(host=self.device.host, port_override=self.device.port,
                                      timeout=max(1, round(self.timeout)), connection_type=LEGACY)
                self._kasa = await KasaDevice.connect(config=config)  # reads it once too
            else:
                await self._kasa.update()
        kasa = self._kasa
        # Discovery may know it by address only; people by the name they gave it in the app.
        self.device.name = (kasa.alias or self.device.name)[:MAX_NAME]
        self.device.model = kasa.model
        parts = list(kasa.children) or [kasa]
        entities = [self._entity(part) for part in parts]
        self._parts = {e.entity_id: part for e, part in zip(entities, parts)}
        return entities

    async def call(self, entity_id: str, service: str, data: dict[str, Any]) -> None:
        if not self._parts:
            await self.refresh()
        part = self._parts.get(entity_id)
        if part is None:
            raise DeviceError(f"{entity_id} is not on {self._where()}")
        light = part.modules.get(Module.Light)
        if service not in SWITCH_SERVICES:
            raise DeviceError(f"{part.alias} can't {service.replace('_', ' ')}; it can turn on, turn off or toggle")
        if light is None and set(data) - {"transition"}:
            raise DeviceError(f"{part.alias} is a plug: it only turns on and off.")
        if service == "toggle":
            service = "turn_off" if part.is_on else "turn_on"
        async with self._talking(service.replace("_", " ")):
            if service == "turn_off":
                await part.turn_off(transition=_ms(data.get("transition")))
            elif light is not None and data:
                await self._turn_on_light(part, light, data)
            else:
                await part.turn_on()

    async def close(self) -> None:
        if self._kasa is not None:
            await self._kasa.disconnect()
            self._kasa = None

    # -- talking to it ---------------------------------------------------------------------
    def _where(self) -> str:
        return f"the Kasa device {self.device.name} at {self.device.host}:{self.device.port}"

    def _talking(self, doing: str) -> "_Talking":
        return _Talking(self, doing)

    async def _turn_on_light(self, part: KasaDevice, light: Any, data: dict[str, Any]) -> None:
        unknown = set(data) - TURN_ON_KEYS
        if unknown:
            raise DeviceError(f"Kasa lights don't take {', '.join(sorted(unknown))} when turning on.")
        transition = _ms(data.get("transition"))
        rgb, kelvin = data.get("rgb_color"), data.get("color_temp_kelvin")
        if "color_name" in data:
            kind, value = color_name_target(str(data["color_name"]))
            rgb, kelvin = (value, None) if kind == "rgb" else (None, value)
        pct = data.get("brightness_pct")
        if pct is not None and float(pct) <= 0:  # Home Assistant's rule: on to 0 % means off
            await part.turn_off(transition=transition)
            return
        if pct is not None and not light.has_feature("brightness"):
            raise DeviceError(f"{part.alias} can't dim; it only turns on and off.")
        if rgb is not None:
            if not light.has_feature("hsv"):
                raise DeviceError(f"{part.alias} can't change colour.")
            h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
            value = round(float(pct)) if pct is not None else max(1, round(v * 100))
            await light.set_hsv(round(h * 360) % 360, round(s * 100), value, transition=transition)
        elif kelvin is not None:
            if not light.has_feature("color_temp"):
                raise DeviceError(f"{part.alias} can't change its white tone.")
            low, high = light.get_feature("color_temp").range
            await light.set_color_temp(max(low, min(high, round(float(kelvin)))),
                                       brightness=None if pct is None else round(float(pct)),
                                       transition=transition)
        elif pct is not None:
            await light.set_brightness(max(1, min(100, round(float(pct)))), transition=transition)
        else:
            await part.turn_on(transition=transition)

    # -- entities --------------------------------------------------------------------------
    def _entity(self, part: KasaDevice) -> Entity:
        name = (part.alias or self.device.name)[:MAX_NAME]
        light = part.modules.get(Module.Light)
        domain = "light" if light is not None else "switch"
        entity = Entity(entity_id=f"{domain}.{slug(name, fallback='kasa')}", name=name,
                        device_id=self.device.device_id, area=self.area, services=set(SWITCH_SERVICES),
                        state="on" if part.is_on else "off")
        if light is not None:
            entity.attributes = _light_attributes(light, part.is_on)
        else:
            entity.device_class = "outlet"
        energy = part.modules.get(Module.Energy)
        if energy is not None:
            entity.attributes.update(current_power_w=energy.current_consumption,
                                     energy_kwh=energy.consumption_total, voltage=energy.voltage)
        return entity


class _Talking:
    """Turns python-kasa's failures into one sentence naming the device."""

    def __init__(self, driver: KasaDriver, doing: str) -> None:
        self.driver, self.doing = driver, doing

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        if isinstance(exc, KasaException):
            driver = self.driver
            if driver._kasa is not None:
                await driver._kasa.protocol.close()  # the next attempt opens a fresh connection
            log.info("%s (%s): %s", driver._where(), self.doing, exc)
            raise DeviceError(f"I can't {self.doing} {driver._where()}; check that it has power and "
                              "is on the network") from None
        return False


def _ms(seconds: Any) -> int | None:
    return None if seconds is None else round(float(seconds) * 1000)


def _light_attributes(light: Any, on: bool) -> dict[str, Any]:
    modes = [m for m, feature in (("color_temp", "color_temp"), ("hs", "hsv")) if light.has_feature(feature)]
    modes = modes or (["brightness"] if light.has_feature("brightness") else ["onoff"])
    attributes: dict[str, Any] = {"supported_color_modes": modes, "color_mode": None, "brightness": None,
                                  "rgb_color": None, "color_temp_kelvin": None}
    if "color_temp" in modes:
        low, high = light.get_feature("color_temp").range
        attributes.update(min_color_temp_kelvin=low, max_color_temp_kelvin=high)
    if not on:
        return attributes
    if light.has_feature("brightness"):
        attributes["brightness"] = round(light.brightness * 255 / 100)
    if "color_temp" in modes and light.color_temp:
        attributes.update(color_mode="color_temp", color_temp_kelvin=light.color_temp)
    elif "hs" in modes:
        hue, saturation, _ = light.hsv
        rgb = colorsys.hsv_to_rgb(hue / 360, saturation / 100, 1.0)
        attributes.update(color_mode="hs", rgb_color=[round(c * 255) for c in rgb])
    else:
        attributes["color_mode"] = modes[0]
    return attributes


async def scan(target: str = "255.255.255.255", port: int | None = None,
               timeout: int = 2) -> list[Sighting]:
    """The legacy Kasa devices that answer a broadcast to `target` (python-kasa's discovery),
    with what their system info says (an emulated house marks its own: `claw_house`, `area`)."""
    found = await Discover.discover(target=target, port=port, discovery_timeout=timeout,
                                    discovery_packets=2, timeout=timeout)
    sightings = []
    for host, kasa in sorted(found.items()):
        info = kasa.sys_info
        properties = {"model": kasa.model, **{k: str(info[k]) for k in MARKS if k in info}}
        sightings.append(Sighting(uid=kasa.mac.replace(":", "").lower(), name=kasa.alias or host,
                                  host=host, port=port or 9999, properties=properties))
        await kasa.disconnect()
    return sightings
