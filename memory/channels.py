"""Tables for the chat channels: the durable inbox and outbox, paired people, pairing codes,
pending confirmations and alert rules. They live in the Store's database so that one SQLite
transaction can take an update in, queue its reply and move the channel's cursor together.
"""
from __future__ import annotations

import sqlite_utils


def ensure_tables(db: sqlite_utils.Database) -> None:
    names = set(db.table_names())
    if "inbox" not in names:
        # One row per accepted update; `key` (channel:update_id) makes a re-fetch a no-op.
        db["inbox"].create(
            {"id": int, "key": str, "channel": str, "chat_id": str, "payload": str,
             "status": str, "created": float, "done_at": float},
            pk="id", not_null={"key", "channel", "chat_id", "status"},
        )
        db["inbox"].create_index(["key"], unique=True)
        db["inbox"].create_index(["status", "chat_id", "id"])
    if "channel_cursors" not in names:
        # The next update id a channel asks for: moving it acknowledges everything before it.
        db["channel_cursors"].create({"channel": str, "next_id": int}, pk="channel")
    if "outbox" not in names:
        db["outbox"].create(
            {"id": int, "key": str, "channel": str, "chat_id": str, "kind": str, "text": str,
             "photo": bytes, "options": str, "created": float, "expires": float,
             "status": str, "attempts": int, "sent_at": float, "message_id": int, "error": str},
            pk="id", not_null={"key", "channel", "chat_id", "kind", "status"},
        )
        db["outbox"].create_index(["key"], unique=True)
        db["outbox"].create_index(["channel", "status", "chat_id", "id"])
    if "people" not in names:
        db["people"].create(
            {"id": str, "channel": str, "user_id": str, "chat_id": str, "name": str,
             "role": str, "created": float, "approved": float},
            pk="id",
        )
    if "pair_codes" not in names:
        db["pair_codes"].create(
            {"code": str, "created": float, "expires": float, "used_by": str, "used_at": float},
            pk="code",
        )
    if "confirmations" not in names:
        db["confirmations"].create(
            {"id": str, "what": str, "service": str, "entity_ids": str, "data": str,
             "digest": str, "asked_by": str, "created": float, "expires": float,
             "status": str, "answered_by": str, "answered_at": float},
            pk="id",
        )
    if "alert_rules" not in names:
        db["alert_rules"].create(
            {"id": int, "channel": str, "chat_id": str, "kind": str, "target": str,
             "state": str, "minutes": float, "camera": str, "message": str,
             "cooldown": float, "gate": int, "urgent": int, "last_fired": float,
             "created": float},
            pk="id",
        )
