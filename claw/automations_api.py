"""Automations over HTTP: list, create, show (with its run log), pause/resume/edit, delete, and
run now. The JSON shape is claw.automations' (also in the README); a bad one gets 422 with one
sentence, and nothing is saved. Creating one with security-tier actions waits for the owner's
approval, like any security action (403 when it is not given)."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path

from claw.automations import AutomationError
from claw.scheduler import Scheduler
from claw.tools import Caller, ToolError

AutomationId = Annotated[int, Path(ge=1, le=2**53)]


def router(scheduler: Scheduler, caller: Caller) -> APIRouter:
    api = APIRouter(prefix="/api/automations")

    def found(automation_id: int):
        a = scheduler.get(automation_id)
        if a is None:
            raise HTTPException(404, f"There is no automation #{automation_id}; GET /api/automations "
                                     "lists them.")
        return a

    @api.get("")
    async def list_automations() -> dict[str, Any]:
        """Every automation and routine, with its plain-words description and what is broken."""
        return {"automations": [scheduler.public(a) for a in scheduler.all()]}

    @api.post("", status_code=201)
    async def create(spec: dict[str, Any] = Body(...)) -> dict[str, Any]:
        """Save an automation ({"name", "trigger"?, "conditions"?, "actions"}); without a
        trigger it is a routine, run by name."""
        try:
            a = await scheduler.create(spec, caller)
        except AutomationError as e:
            raise HTTPException(422, str(e)) from None
        except ToolError as e:
            raise HTTPException(403, str(e)) from None
        return scheduler.public(a)

    @api.get("/{automation_id}")
    async def show(automation_id: AutomationId) -> dict[str, Any]:
        a = found(automation_id)
        return {**scheduler.public(a), "runs": scheduler.runs(automation_id)}

    @api.patch("/{automation_id}")
    async def update(automation_id: AutomationId, changes: dict[str, Any] = Body(...)) -> dict[str, Any]:
        """{"enabled": false} pauses, true resumes; name, trigger, conditions or actions edit it."""
        found(automation_id)
        try:
            a = await scheduler.update(automation_id, changes, caller)
        except AutomationError as e:
            raise HTTPException(422, str(e)) from None
        except ToolError as e:
            raise HTTPException(403, str(e)) from None
        return scheduler.public(a)

    @api.delete("/{automation_id}")
    async def delete(automation_id: AutomationId) -> dict[str, Any]:
        found(automation_id)
        a = scheduler.delete(automation_id)
        return {"deleted": a.id, "name": a.name}

    @api.post("/{automation_id}/run")
    async def run(automation_id: AutomationId) -> dict[str, Any]:
        """Run its actions now, whatever its trigger and conditions say (one with waits runs
        in the background: `"background": true`, its results in its run log)."""
        a = found(automation_id)
        return await scheduler.run_now(a, "manual")

    return api
