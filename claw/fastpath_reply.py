"""Fast-path replies: the response templates that ship with Home Assistant's sentences
(Jinja, as Home Assistant renders them), filled in with the slots and live entity state.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jinja2 import Template
from jinja2.sandbox import ImmutableSandboxedEnvironment

from devices.home import Home
from devices.model import Entity

# What a binary sensor's on/off means, by device class (as Home Assistant says it).
BINARY_WORDS = {
    **dict.fromkeys(("door", "window", "garage_door", "opening"), ("open", "closed")),
    **dict.fromkeys(("motion", "occupancy", "presence"), ("detected", "clear")),
    "lock": ("unlocked", "locked"),
    "moisture": ("wet", "dry"),
}


@dataclass
class StateView:
    """An entity as the templates see it (`state.name`, `state.state_with_unit`, ...)."""

    entity_id: str
    name: str
    domain: str
    state: str
    state_with_unit: str
    attributes: dict[str, Any] = field(default_factory=dict)


def view(e: Entity) -> StateView:
    state = e.state
    if e.domain == "binary_sensor" and e.device_class in BINARY_WORDS and state in ("on", "off"):
        state = BINARY_WORDS[e.device_class][0 if state == "on" else 1]
    unit = e.attributes.get("unit_of_measurement")
    return StateView(e.entity_id, e.name, e.domain, state, f"{state} {unit}" if unit else state,
                     dict(e.attributes))


class Replies:
    def __init__(self, responses: dict[str, dict[str, str]], home: Home):
        self.responses = responses
        self.home = home
        self.env = ImmutableSandboxedEnvironment()
        self.env.globals["state_attr"] = self._state_attr
        self._compiled: dict[tuple[str, str], Template] = {}

    def render(self, intent: str, key: str, slots: dict[str, Any], targets: list[Entity],
               matched: list[Entity] | None = None, unmatched: list[Entity] | None = None) -> str:
        """The reply for an intent's response key; "" when the intent ships no template."""
        source = self.responses.get(intent, {}).get(key)
        if source is None:
            return ""
        template = self._compiled.get((intent, key))
        if template is None:
            template = self._compiled[(intent, key)] = self.env.from_string(source)
        first = (matched or unmatched or targets or [None])[0]
        text = template.render(
            slots=slots,
            state=view(first) if first is not None else None,
            query={"matched": [view(e) for e in matched or []],
                   "unmatched": [view(e) for e in unmatched or []]},
        )
        return " ".join(text.split())

    def _state_attr(self, entity_id: str, name: str) -> Any:
        entity = self.home.entities.get(entity_id)
        return entity.attributes.get(name) if entity else None
