"""HTTP endpoints for soul.md's versions: the list, one version with its diff to the current
text, and restoring it."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path

from claw.soul import Soul, SoulError, UnknownVersion

Number = Annotated[int, Path(ge=1, le=2**53)]


def router(soul: Soul) -> APIRouter:
    api = APIRouter(prefix="/api/soul/versions", tags=["soul"])

    @api.get("")
    async def versions() -> dict[str, Any]:
        """Every version of soul.md that was ever live, newest first."""
        current = soul.text()
        return {"versions": [v.summary(current) for v in reversed(soul.versions())]}

    @api.get("/{number}")
    async def version(number: Number) -> dict[str, Any]:
        """One version's text and a unified diff from it to the current soul.md."""
        try:
            v, diff = soul.version(number), soul.diff(number)
        except UnknownVersion as e:
            raise HTTPException(404, f"{e}; GET /api/soul/versions lists them.") from None
        return {**v.summary(soul.text()), "text": v.text, "diff": diff}

    @api.post("/{number}/restore")
    async def restore(number: Number) -> dict[str, Any]:
        """Make version `number` the live soul.md again (as a new version: nothing is lost)."""
        try:
            v = soul.restore(number, source="api")
        except UnknownVersion as e:
            raise HTTPException(404, f"{e}; GET /api/soul/versions lists them.") from None
        except SoulError as e:
            raise HTTPException(422, str(e)) from None
        return {**v.summary(soul.text()), "text": v.text}

    return api
