"""HTTP endpoints for pairing codes, people and pending confirmations (under the app's auth)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from claw.chats import Channels
from claw.pairing import PairingError


class Answer(BaseModel):
    approve: bool


class Decision(BaseModel):
    approve: bool = True


def router(channels: Channels) -> APIRouter:
    api = APIRouter(prefix="/api", tags=["pairing and confirmations"])

    @api.post("/pair")
    async def pair() -> dict[str, Any]:
        """A one-time code (10 minutes) to send to Claw on Telegram; the first becomes owner."""
        try:
            code, expires = channels.pairing.new_code()
        except PairingError as e:
            raise HTTPException(409, str(e)) from None
        return {"code": code, "expires": expires}

    @api.get("/confirmations")
    async def confirmations() -> dict[str, Any]:
        return {"confirmations": channels.confirmations.pending()}

    @api.post("/confirmations/{request_id}")
    async def answer(request_id: str, body: Answer) -> dict[str, Any]:
        found = channels.confirmations.get(request_id)
        if found is None:
            raise HTTPException(404, f"No confirmation {request_id}; GET /api/confirmations lists them.")
        if request_id not in {c["id"] for c in channels.confirmations.pending()}:
            raise HTTPException(409, f"Too late: that request is already {found['status']}.")
        result = channels.confirmations.answer(request_id, body.approve, by="api")
        return {"result": result, "confirmation": channels.confirmations.get(request_id)}

    @api.get("/people")
    async def people() -> dict[str, Any]:
        return {"people": [p.as_dict() for p in channels.pairing.people()]}

    @api.post("/people/{person_id}/approve")
    async def approve(person_id: str, body: Decision | None = None) -> dict[str, Any]:
        try:
            person = channels.pairing.decide(person_id, (body or Decision()).approve, by="api")
        except PairingError as e:
            known = any(p.id == person_id for p in channels.pairing.people())
            raise HTTPException(409 if known else 404, str(e)) from None
        return person.as_dict()

    return api
