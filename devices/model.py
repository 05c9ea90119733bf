"""The entity model shared by drivers, the home registry and the executor.

The vocabulary follows Home Assistant (domains, services, attribute names) so that users,
models and the public intent test sentences already speak it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

# Risk tiers, lowest first. Security-tier writes need the owner's confirmation.
TIERS = ("read", "write", "security")

# Domains whose writes are physical security by default; covers only for these device classes.
SECURITY_DOMAINS = {"lock", "alarm_control_panel", "valve"}
SECURITY_COVER_CLASSES = {"garage", "gate", "door"}


class DeviceError(Exception):
    """A device could not do what was asked; the message is for a person to read."""


class DeviceRefused(DeviceError):
    """The device answered and will not do this one command (or the command is wrong for it):
    it is still there, so it stays available."""


@dataclass
class Device:
    """One physical thing on the network (a speaker, a bridge, a plug)."""

    device_id: str
    family: str  # driver family: "sonos", "hue", ...
    name: str
    host: str
    port: int
    model: str = ""
    available: bool = True
    last_seen: float = field(default_factory=time.time)


@dataclass
class Entity:
    """One controllable or observable thing a device exposes."""

    entity_id: str  # "light.kitchen_ceiling"
    name: str
    device_id: str = ""
    area: str | None = None
    floor: str | None = None
    aliases: list[str] = field(default_factory=list)
    # Other names of its area, where the device keeps a floor plan (Home Assistant's registries).
    area_aliases: list[str] = field(default_factory=list)
    device_class: str | None = None
    state: str = "unknown"  # "on", "off", "playing", "paused", "unavailable", ...
    attributes: dict[str, Any] = field(default_factory=dict)
    # Services the entity accepts, named like Home Assistant's: "turn_on", "media_pause", ...
    services: set[str] = field(default_factory=set)
    tier: str = ""  # empty means the default for its domain

    @property
    def domain(self) -> str:
        return self.entity_id.split(".", 1)[0]

    @property
    def risk_tier(self) -> str:
        if self.tier:
            return self.tier
        if self.domain in SECURITY_DOMAINS:
            return "security"
        if self.domain == "cover" and self.device_class in SECURITY_COVER_CLASSES:
            return "security"
        if self.domain in {"sensor", "binary_sensor", "camera"}:
            return "read"
        return "write"

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity_id": self.entity_id,
            "domain": self.domain,
            "name": self.name,
            "area": self.area,
            "floor": self.floor,
            "aliases": list(self.aliases),
            "device_class": self.device_class,
            "state": self.state,
            "attributes": dict(self.attributes),
            "services": sorted(self.services),
            "tier": self.risk_tier,
            "device_id": self.device_id,
        }


class Driver(Protocol):
    """What the home registry needs from a device family's driver.

    Drivers raise DeviceError with a sentence a person can act on; they never hang: every
    network call has a timeout.
    """

    device: Device

    async def refresh(self) -> list[Entity]:
        """Read the device's current state and return its entities."""
        ...

    async def call(self, entity_id: str, service: str, data: dict[str, Any]) -> None:
        """Run a Home Assistant-style service (`turn_on`, `media_pause`, ...) on one entity."""
        ...

    async def close(self) -> None:
        ...
