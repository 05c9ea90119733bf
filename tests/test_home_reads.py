"""A read that was asked before a device pushed a change must not undo that change.

The driver here is the smallest thing that keeps Home's Driver protocol: a device that pushes,
and whose answer to a read is what it held when the read was asked (as every real read is: the
answer was made before it travelled back)."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from devices.home import Home
from devices.model import Device, Entity
from memory.store import Store


class GatedDevice:
    """A switch whose reads wait for the test to let them answer."""

    def __init__(self) -> None:
        self.device = Device("gated", "test", "Gated Plug", "127.0.0.1", 1)
        self.state = "off"
        self.gate = asyncio.Event()
        self.gate.set()

    def entity(self) -> Entity:
        return Entity("switch.gated_plug", "Gated Plug", device_id="gated", state=self.state,
                      services={"turn_on", "turn_off"})

    async def refresh(self) -> list[Entity]:
        snapshot = self.entity()  # what the device held when it was asked
        await self.gate.wait()
        return [snapshot]

    async def call(self, entity_id: str, service: str, data: dict[str, Any]) -> None:
        self.state = "on" if service == "turn_on" else "off"

    async def close(self) -> None:
        pass


async def test_a_read_asked_before_a_push_keeps_the_pushed_state(tmp_path: Path) -> None:
    home = Home(Store(tmp_path / "claw.db"))
    device = GatedDevice()
    await home.add(device)
    device.gate.clear()
    poll = asyncio.create_task(home.refresh_device("gated"))
    await asyncio.sleep(0.01)  # the poll is out, holding the "off" it was given
    device.state = "on"
    await home.entity_changed("gated", device.entity())  # the device pushes its change
    device.gate.set()
    await poll
    assert home.entities["switch.gated_plug"].state == "on"

    await home.refresh_device("gated")  # a read asked after the push is the truth again
    assert home.entities["switch.gated_plug"].state == "on"
    device.state = "off"
    await home.refresh_device("gated")
    assert home.entities["switch.gated_plug"].state == "off"

