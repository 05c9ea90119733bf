"""Tools for bringing devices in: connecting Home Assistant, listing what was found."""
from __future__ import annotations

from typing import Annotated

from claw.house import House
from claw.tools import ToolContext, ToolError, ToolRegistry


def register(registry: ToolRegistry, house: House) -> None:
    async def ConnectHomeAssistant(
        ctx: ToolContext,
        token: Annotated[str, "The long-lived access token from the owner's HA profile"],
        address: Annotated[str, "host:port of the Home Assistant the token is for, when the "
                                "owner names one"] = "",
    ) -> str:
        """Connects Claw to the Home Assistant it found, with the owner's long-lived token, so
        Home Assistant's devices become Claw's. The token goes only to that Home Assistant."""
        if len(token.strip()) < 20:
            raise ToolError("that doesn't look like a long-lived token (they are long, about 180 characters)")
        return await house.connect_home_assistant(token.strip(), address.strip())

    async def ListDevices(ctx: ToolContext) -> str:
        """Lists the devices Claw has found on the network and whether they answer."""
        drivers = house.home.drivers.values()
        if not drivers:
            return "No devices found yet."
        return "\n".join(
            f"{d.device.name} ({d.device.family}, {d.device.host}:{d.device.port}): "
            + ("online" if d.device.available else "not answering") for d in drivers)

    registry.add(ConnectHomeAssistant, owner_only=True)
    registry.add(ListDevices)
