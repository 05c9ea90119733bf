"""Confirmations for physical-security actions: the Executor's Confirmer.

Each request is one row bound to one exact action (service, entities, arguments; their digest
is shown with it). The owner gets it everywhere they are (Confirm/Cancel buttons on Telegram,
the page, the terminal); any of those, or the API with the owner's token, answers it. Only an
explicit yes within the time limit lets the action run; a timeout, a "no", a restart or an
unreachable owner all mean no, and the caller is told which.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
from typing import Any

from claw.reach import OwnerReach
from claw.tools import Caller, ToolError
from devices.model import Entity
from memory.channels import ensure_tables
from memory.store import Store

log = logging.getLogger(__name__)


class Confirmations:
    def __init__(self, store: Store, reach: OwnerReach, timeout: float = 60.0):
        self.store = store
        self.db = store.db
        self.reach = reach
        self.timeout = timeout
        self._waiting: dict[str, asyncio.Future[tuple[bool, str]]] = {}  # -> (approved, by whom)
        ensure_tables(self.db)
        # Requests from before a restart have nobody waiting for them: they failed closed.
        self.db.execute("update confirmations set status = 'expired' where status = 'pending'")

    async def confirm(self, caller: Caller, what: str, entities: list[Entity], service: str,
                      data: dict[str, Any]) -> bool:
        """Ask the owner; True only on an explicit yes for exactly this action. A "no" or no
        answer in time raises ToolError saying which."""
        now = time.time()
        ids = sorted(e.entity_id for e in entities)
        digest = hashlib.sha256(json.dumps([service, ids, data], sort_keys=True, default=str)
                                .encode()).hexdigest()[:16]
        request_id = secrets.token_hex(6)
        asked_by = f"{caller.channel}:{caller.chat_id} ({caller.role})"
        self.db["confirmations"].insert({
            "id": request_id, "what": what, "service": service, "entity_ids": json.dumps(ids),
            "data": json.dumps(data, default=str), "digest": digest, "asked_by": asked_by,
            "created": now, "expires": now + self.timeout, "status": "pending"})
        future: asyncio.Future[tuple[bool, str]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        self.reach.tell(
            f"confirm:{request_id}", f"{what}? Asked {_origin(caller)}. This expires in {self.timeout:g} s.",
            options={"buttons": [[["Confirm", f"cf:{request_id}:y"], ["Cancel", f"cf:{request_id}:n"]]],
                     "confirmation": request_id, "what": what},
            max_age=self.timeout)
        log.info("waiting for the owner to confirm %s (%s)", what, request_id)
        try:
            async with asyncio.timeout(self.timeout):
                approved, by = await future
        except TimeoutError:
            self._close(request_id, "expired", "", f"Expired, so not done: {what}.")
            raise ToolError(f"{what}: not confirmed in time (the owner did not answer within "
                            f"{self.timeout:g} s), so I haven't done it.") from None
        finally:
            self._waiting.pop(request_id, None)
        if not approved:
            if by == NEWER_MESSAGE:
                raise ToolError(f"{what}: not done, because a newer message in this chat cancelled "
                                "the request before the owner answered.")
            raise ToolError(f"{what}: not confirmed (the owner declined), so I haven't done it.")
        return True

    def answer(self, request_id: str, approve: bool, by: str) -> str:
        """Record the owner's answer; returns a sentence saying what happened."""
        row = self.get(request_id)
        if row is None:
            return "That confirmation doesn't exist."
        future = self._waiting.get(request_id)
        if row["status"] != "pending" or future is None or future.done():
            return f"Too late: that request is already {row['status']}."
        status = "approved" if approve else "denied"
        done = f"Confirmed: {row['what']}." if approve else f"Cancelled: {row['what']}."
        self._close(request_id, status, by, done)
        future.set_result((approve, by))
        return done

    def _close(self, request_id: str, status: str, by: str, text: str) -> None:
        with self.db.atomic():
            self.db["confirmations"].update(
                request_id, {"status": status, "answered_by": by, "answered_at": time.time()})
            self.store.add_event("confirmation", request_id, {"status": status, "by": by})
            self.reach.tell(f"confirm-done:{request_id}", text, kind="edit",  # replaces the buttons
                            options={"target": f"confirm:{request_id}", "confirmation": request_id},
                            max_age=3600)

    def get(self, request_id: str) -> dict[str, Any] | None:
        rows = list(self.db.query("select * from confirmations where id = ?", [request_id]))
        return _public(rows[0]) if rows else None

    def pending(self) -> list[dict[str, Any]]:
        rows = self.db.query("select * from confirmations where status = 'pending' order by created")
        return [_public(r) for r in rows if r["id"] in self._waiting]


# Who "answers" a request that a newer message in the same chat cancelled (claw.chats).
NEWER_MESSAGE = "a newer message"

ORIGINS = {"api": "over the API", "mcp": "over MCP (another agent)", "web": "on the web page",
           "terminal": "in a terminal"}


def _origin(caller: Caller) -> str:
    where = ORIGINS.get(caller.channel, f"from {caller.channel}")
    return where + ("" if caller.role == "owner" else f" by a {caller.role}")


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "what": row["what"], "service": row["service"],
            "entity_ids": json.loads(row["entity_ids"]), "data": json.loads(row["data"]),
            "digest": row["digest"], "asked_by": row["asked_by"], "status": row["status"],
            "expires": row["expires"]}
