"""One executor, one policy: every tool call from any path (fast path, Claude, the local model,
REST) runs here, and every device change goes through `act`, where the risk tiers are enforced.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from claw.tools import Caller, ToolContext, ToolError, ToolRegistry, result_text
from devices.home import Home
from devices.model import TIERS, DeviceError, Entity
from devices.targets import TargetError

log = logging.getLogger(__name__)

READ_SERVICES = {"snapshot"}

# Asks the owner to approve one exact action; returns True only on an explicit yes.
Confirmer = Callable[[Caller, str, list[Entity], str, dict[str, Any]], Awaitable[bool]]


@dataclass
class Action:
    tool: str
    args: dict[str, Any]
    result: str
    ok: bool = True
    images: list[bytes] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"tool": self.tool, "args": self.args, "result": self.result, "ok": self.ok}


def describe(service: str, entities: list[Entity]) -> str:
    verbs = {"unlock": "Unlock", "lock": "Lock", "open_cover": "Open", "close_cover": "Close",
             "alarm_disarm": "Disarm", "turn_on": "Turn on", "turn_off": "Turn off"}
    verb = verbs.get(service, service.replace("_", " ").capitalize())
    return f"{verb} the {', '.join(e.name for e in entities)}"


class Executor:
    def __init__(self, registry: ToolRegistry, home: Home, confirmer: Confirmer | None = None):
        self.registry = registry
        self.home = home
        self.confirmer = confirmer

    async def run(self, name: str, args: dict[str, Any], caller: Caller) -> Action:
        """Run a tool by name; failures come back as an Action with the reason as text."""
        tool = self.registry.get(name)
        if tool is None:
            known = ", ".join(sorted(self.registry.tools))
            return Action(name, args, f"Error: there is no tool called {name} (tools: {known})", False)
        if tool.owner_only and caller.role != "owner":
            return Action(name, args, f"Error: only the owner can use {name}.", False)
        ctx = ToolContext(caller)
        try:
            checked = self.registry.validate(tool, args)
            result = await tool.fn(ctx, **checked)
        except (ToolError, DeviceError, TargetError) as e:
            return Action(name, args, f"Error: {e}", False, ctx.images)
        return Action(name, args, result_text(result), True, ctx.images)

    async def confirm(self, ctx: ToolContext, what: str, entities: list[Entity], service: str,
                      data: dict[str, Any]) -> None:
        """A security action goes ahead only on the owner's explicit yes on their own channel;
        raises ToolError otherwise (members are refused outright)."""
        if ctx.caller.role != "owner":
            raise ToolError(f"Only the owner can do that ({what[0].lower() + what[1:]}).")
        if self.confirmer is None:
            raise ToolError(f"{what} needs the owner's confirmation, and confirmations are not "
                            "set up yet; I haven't done it.")
        if not await self.confirmer(ctx.caller, what, entities, service, data):
            raise ToolError(f"{what}: not confirmed, so I haven't done it.")

    async def set_tier(self, ctx: ToolContext, entity: Entity, tier: str) -> Entity:
        """Change how careful Claw is with an entity. Taking one out of the security tier is
        itself a security action (else a lowered lock opens without the owner); raising is free."""
        if tier not in TIERS:
            raise ToolError(f"tier must be one of {', '.join(TIERS)}")
        if entity.risk_tier == "security" and tier != "security":
            await self.confirm(ctx, f"Take the {entity.name} out of the security tier (to {tier})",
                               [entity], "set_tier", {"tier": tier})
        return await self.home.customize(entity.entity_id, tier=tier)

    async def act(
        self, ctx: ToolContext, entities: list[Entity], service: str, data: dict[str, Any]
    ) -> list[Entity]:
        """Apply a service to entities under the policy; returns the entities it was done to."""
        writes = service not in READ_SERVICES
        if writes:
            read_only = [e.name for e in entities if e.risk_tier == "read"]
            if read_only:
                raise ToolError(f"The {', '.join(read_only)} is read-only for me (its tier is "
                                "'read'); the owner can change its tier to let me control it.")
        secure = [e for e in entities if writes and e.risk_tier == "security"]
        if secure:
            await self.confirm(ctx, describe(service, secure), secure, service, data)
        if len(entities) == 1:
            # Awaited here, not gathered: gather's extra task and wake-ups would let the state
            # read-back that Home.call starts in the background run before this call returns.
            await self.home.call(entities[0], service, data)
            return entities
        results = await asyncio.gather(
            *(self.home.call(e, service, data) for e in entities), return_exceptions=True
        )
        done, failed = [], []
        for entity, r in zip(entities, results):
            if isinstance(r, DeviceError):
                failed.append(str(r))
            elif isinstance(r, BaseException):
                raise r
            else:
                done.append(entity)
        if failed and not done:
            raise DeviceError(" ".join(failed))
        if failed:
            names = ", ".join(e.name for e in done)
            raise DeviceError(f"Done for {names}, but: {' '.join(failed)}")
        return done
