"""The durable inbox: an update is stored, and the channel's cursor moved past it, in one
transaction, before the channel asks for the next batch (which is what acknowledges it).
Channels inside the house (the API, the page, terminals) have no cursor: `put` stores their
message before the caller is answered.

A row stays `new` until its reply is queued in the outbox; `finish` is called inside that same
transaction, so a crash at any moment either replays the whole turn or nothing.
"""
from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass

import sqlite_utils

from memory.channels import ensure_tables


@dataclass
class Arrival:
    """One update from a channel, reduced to what Claw needs."""

    channel: str
    update_id: int
    chat_id: str
    user_id: str
    name: str = ""
    text: str = ""
    callback_id: str = ""  # set for a button press
    callback_data: str = ""
    # Set only by channels whose caller proved who it is (token or session): Telegram leaves
    # them empty and the sender's pairing decides.
    role: str = ""
    area: str = ""  # the room the speaker is in
    private: bool = False  # answer with the local model only

    @property
    def is_callback(self) -> bool:
        return bool(self.callback_id)


@dataclass
class InboxItem:
    id: int
    arrival: Arrival


class Inbox:
    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        ensure_tables(db)

    def cursor(self, channel: str) -> int | None:
        """The next update id to ask the channel for (None: whatever it has)."""
        rows = list(self.db.query("select next_id from channel_cursors where channel = ?", [channel]))
        return rows[0]["next_id"] if rows else None

    def record(self, channel: str, update_id: int, arrival: Arrival | None) -> int | None:
        """Move the cursor past this update and store `arrival` (None: nothing to handle).
        Call inside `db.atomic()` together with whatever else deciding about it wrote."""
        self.db["channel_cursors"].upsert({"channel": channel, "next_id": update_id + 1}, pk="channel")
        if arrival is None:
            return None
        key = f"{channel}:{update_id}"
        self.db.execute(
            "insert or ignore into inbox (key, channel, chat_id, payload, status, created) "
            "values (?, ?, ?, ?, 'new', ?)",
            [key, channel, arrival.chat_id, json.dumps(asdict(arrival)), time.time()],
        )
        rows = list(self.db.query("select id from inbox where key = ?", [key]))
        return rows[0]["id"]

    def put(self, arrival: Arrival) -> int:
        """Store a message from a channel without update ids; returns its inbox id."""
        return self.db["inbox"].insert({
            "key": f"{arrival.channel}:{secrets.token_hex(8)}", "channel": arrival.channel,
            "chat_id": arrival.chat_id, "payload": json.dumps(asdict(arrival)), "status": "new",
            "created": time.time()}).last_pk

    def pending(self) -> list[InboxItem]:
        """Everything not yet answered, oldest first."""
        rows = self.db.query("select id, payload from inbox where status = 'new' order by id")
        return [InboxItem(r["id"], Arrival(**json.loads(r["payload"]))) for r in rows]

    def finish(self, item_id: int) -> None:
        self.db.execute("update inbox set status = 'done', done_at = ? where id = ?",
                        [time.time(), item_id])
