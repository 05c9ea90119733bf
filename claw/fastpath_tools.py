"""Generic tools for the Home Assistant intents that claw/home_tools.py does not cover yet:
fan speed, vacuums and lawn mowers. Same shape as the others (targets by name, area, floor),
same path: resolve, then `Executor.act`. They belong with the other generic tools; they live
here until they move there.
"""
from __future__ import annotations

from typing import Annotated

from claw.executor import Executor
from claw.tools import ToolContext, ToolError, ToolRegistry
from devices.home import Home
from devices.model import Entity
from devices.targets import resolve

Name = Annotated[str | None, "Name or alias of the device"]
AreaName = Annotated[str | None, "Area (room) name or alias"]
Floor = Annotated[str | None, "Floor name"]


def _done(entities: list[Entity]) -> str:
    return "; ".join(f"{e.name}{f' ({e.area})' if e.area else ''}: {e.state}" for e in entities)


def register(registry: ToolRegistry, executor: Executor, home: Home) -> None:
    act = executor.act

    def targets(domain: str, service: str, name: str | None, area: str | None,
                floor: str | None) -> list[Entity]:
        # With no target at all, every device of the kind ("start mowing" with one mower).
        return resolve(home, name=name, area=area, floor=floor, domain=domain, service=service)

    async def HassFanSetSpeed(ctx: ToolContext,
                              percentage: Annotated[int, "Fan speed percent 0-100"],
                              name: Name = None, area: AreaName = None, floor: Floor = None) -> str:
        """Sets the speed of fans to a percentage."""
        if not 0 <= percentage <= 100:
            raise ToolError("percentage must be from 0 to 100")
        fans = targets("fan", "set_percentage", name, area, floor)
        return _done(await act(ctx, fans, "set_percentage", {"percentage": percentage}))

    async def HassVacuumStart(ctx: ToolContext, name: Name = None, area: AreaName = None,
                              floor: Floor = None) -> str:
        """Starts robot vacuums cleaning."""
        return _done(await act(ctx, targets("vacuum", "start", name, area, floor), "start", {}))

    async def HassVacuumReturnToBase(ctx: ToolContext, name: Name = None, area: AreaName = None,
                                     floor: Floor = None) -> str:
        """Sends robot vacuums back to their dock."""
        found = targets("vacuum", "return_to_base", name, area, floor)
        return _done(await act(ctx, found, "return_to_base", {}))

    async def HassVacuumCleanArea(ctx: ToolContext,
                                  area: Annotated[str, "The area (room) to clean"],
                                  name: Name = None) -> str:
        """Sends a robot vacuum to clean one area."""
        room = home.area_named(area)
        if room is None:
            known = ", ".join(sorted(home.areas)) or "none yet"
            raise ToolError(f"I don't have an area called '{area}' (areas: {known}).")
        vacuums = targets("vacuum", "clean_area", name, None, None)
        if len(vacuums) > 1:
            here = [v for v in vacuums if v.area == room.name]
            if len(here) != 1:
                raise ToolError(f"Which vacuum: {', '.join(v.name for v in vacuums)}?")
            vacuums = here
        return _done(await act(ctx, vacuums, "clean_area", {"area": room.name}))

    async def HassLawnMowerStartMowing(ctx: ToolContext, name: Name = None,
                                       area: AreaName = None) -> str:
        """Starts lawn mowers mowing."""
        found = targets("lawn_mower", "start_mowing", name, area, None)
        return _done(await act(ctx, found, "start_mowing", {}))

    async def HassLawnMowerDock(ctx: ToolContext, name: Name = None, area: AreaName = None) -> str:
        """Sends lawn mowers back to their dock."""
        return _done(await act(ctx, targets("lawn_mower", "dock", name, area, None), "dock", {}))

    for fn in (HassFanSetSpeed, HassVacuumStart, HassVacuumReturnToBase, HassVacuumCleanArea,
               HassLawnMowerStartMowing, HassLawnMowerDock):
        registry.add(fn)
