"""The SQLite store: chats and messages, facts (FTS5), events, devices, soul versions, settings.

One file, WAL mode. All writes go through one `Store` object on the service's event loop
thread, which keeps SQLite's single-writer rule without extra locking.
"""
from __future__ import annotations

import json
import re
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import sqlite_utils

RECENT_WINDOW = 12  # messages of one chat put back into each turn's context
FACTS_PER_TURN = 6

_WORD = re.compile(r"[\w']+", re.UNICODE)
# Words that carry no meaning for recall; without this every fact about "the" would match.
_STOPWORDS = set(
    "a an the and or but is are was were be been to of in on at for with from by it its this that "
    "these those i me my we our you your he she they them what which who whom how when where why "
    "do does did can could should would will shall may might must please turn set switch make "
    "tell show give any some all no not".split()
)


MAX_FACT = 1000  # characters; a fact is one sentence or two, and every matching turn carries it


@dataclass
class Fact:
    id: int
    text: str
    created: float
    chat_id: str = ""  # the chat it was said in
    role: str = "owner"  # who said it: owner, or member (anyone else); older facts are the owner's

    @property
    def by_owner(self) -> bool:
        return self.role == "owner"


class StoreError(Exception):
    """The database file can't be used as it is; the message names it and says what to do."""


BUSY_TIMEOUT = 5.0  # seconds a write waits for another program's write to finish

# SQLite's primary result codes that the owner can put right, and what to tell them. Any other
# error is a bug in Claw and stays as SQLite raised it.
_PROBLEMS = {
    sqlite3.SQLITE_NOTADB: "is not a SQLite database ({error}). Move it aside and Claw starts "
                           "with a fresh one; nothing else is changed.",
    sqlite3.SQLITE_CORRUPT: "is damaged ({error}). Move it aside and Claw starts with a fresh "
                            "one; nothing else is changed (sqlite3's .recover command may save "
                            "what it held).",
    sqlite3.SQLITE_READONLY: "is read-only ({error}). Claw writes to it: make the file and its "
                             "folder writable for the user that runs Claw.",
    sqlite3.SQLITE_CANTOPEN: "can't be opened ({error}). It must be a file, in a folder that "
                             "exists and that the user running Claw may write to.",
    sqlite3.SQLITE_BUSY: "is locked by another program (another Claw running?): it kept a write "
                         "open for more than {timeout:g} s. Stop the other program, then try again.",
    sqlite3.SQLITE_FULL: "can't grow: the disk is full ({error}). Free some space, then try again.",
    sqlite3.SQLITE_IOERR: "could not be read or written ({error}). Check the disk it is on.",
}


@contextmanager
def _as_store_error(path: str) -> Iterator[None]:
    """Raise the SQLite errors listed in _PROBLEMS as StoreError naming `path`."""
    try:
        yield
    except sqlite3.Error as e:
        problem = _PROBLEMS.get(getattr(e, "sqlite_errorcode", 0) & 0xFF)
        if problem is None:
            raise
        raise StoreError(f"{path} {problem.format(error=e, timeout=BUSY_TIMEOUT)}") from e


class _Connection(sqlite3.Connection):
    """A connection whose failures the owner can fix come as StoreError: sqlite_utils sends
    every statement through `execute` or `executescript`."""

    def __init__(self, database: str, *args: Any, **kwargs: Any):
        super().__init__(database, *args, **kwargs)
        self.path = database

    def execute(self, *args: Any) -> sqlite3.Cursor:
        with _as_store_error(self.path):
            return super().execute(*args)

    def executescript(self, script: str) -> sqlite3.Cursor:
        with _as_store_error(self.path):
            return super().executescript(script)


class Store:
    def __init__(self, path: Path | str):
        """Open (or create) the database. Raises StoreError, leaving the file as it was, when
        it is not a database, damaged, read-only or locked by another program."""
        self.path = str(path)
        with _as_store_error(self.path):
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                   timeout=BUSY_TIMEOUT, factory=_Connection)
        try:
            self.db = sqlite_utils.Database(conn)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._check_writable()
            self._create()
        except StoreError:
            conn.close()  # the owner is about to move or fix the file
            raise

    def _check_writable(self) -> None:
        """Write once and roll it back: SQLite opens a read-only file without a word, and
        another program may hold a write; either should show now, not at the first message."""
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute(f"PRAGMA user_version = {int(version)}")
        self.db.execute("ROLLBACK")

    def close(self) -> None:
        self.db.conn.close()

    def _create(self) -> None:
        db = self.db
        if "messages" not in db.table_names():
            db["messages"].create(
                {"id": int, "chat_id": str, "role": str, "text": str, "private": int,
                 "key": str, "created": float},
                pk="id",
            )
            db["messages"].create_index(["chat_id", "id"])
            # A message replayed after a crash (same channel message) is stored once.
            db["messages"].create_index(["key"], unique=True)
        if "chats" not in db.table_names():
            db["chats"].create(
                {"id": str, "channel": str, "title": str, "private": int, "created": float},
                pk="id",
            )
        if "facts" not in db.table_names():
            db["facts"].create(
                {"id": int, "text": str, "chat_id": str, "role": str, "created": float}, pk="id"
            )
            db["facts"].enable_fts(["text"], fts_version="FTS5", create_triggers=True)
        elif "role" not in db["facts"].columns_dict:
            # Databases from before facts knew who said them: those facts stay the owner's (NULL).
            db["facts"].add_column("role", str)
        if "events" not in db.table_names():
            db["events"].create(
                {"id": int, "kind": str, "subject": str, "data": str, "created": float}, pk="id"
            )
        if "devices" not in db.table_names():
            db["devices"].create(
                {
                    "device_id": str, "family": str, "name": str, "host": str, "port": int,
                    "model": str, "available": int, "last_seen": float,
                },
                pk="device_id",
            )
        if "entity_settings" not in db.table_names():
            # The owner's choices about an entity: they survive rediscovery and restarts.
            db["entity_settings"].create(
                {"entity_id": str, "name": str, "area": str, "aliases": str, "tier": str},
                pk="entity_id",
            )
        if "soul_versions" not in db.table_names():
            db["soul_versions"].create(
                {"id": int, "text": str, "source": str, "created": float}, pk="id"
            )
        if "settings" not in db.table_names():
            db["settings"].create({"key": str, "value": str}, pk="key")
        if "entity_owners" not in db.table_names():
            db["entity_owners"].create({"entity_id": str, "device_id": str}, pk="entity_id")

    # -- chats and messages -------------------------------------------------------------
    def ensure_chat(self, chat_id: str, channel: str = "api", title: str = "") -> None:
        self.db["chats"].insert(
            {"id": chat_id, "channel": channel, "title": title, "private": 0,
             "created": time.time()},
            ignore=True,
        )

    def set_chat_private(self, chat_id: str, private: bool) -> None:
        self.db["chats"].update(chat_id, {"private": int(private)})

    def chat_private(self, chat_id: str) -> bool:
        rows = list(self.db.query("select private from chats where id = ?", [chat_id]))
        return bool(rows and rows[0]["private"])

    def add_message(self, chat_id: str, role: str, text: str, private: bool = False,
                    key: str | None = None) -> None:
        """Store a message; one whose `key` is already stored (a replay) is not added again."""
        self.db["messages"].insert(
            {"chat_id": chat_id, "role": role, "text": text, "private": int(private),
             "key": key, "created": time.time()},
            ignore=True,
        )

    def recent_messages(self, chat_id: str, limit: int = RECENT_WINDOW,
                        include_private: bool = True) -> list[dict[str, Any]]:
        """The chat's last messages, oldest first; private ones only for a private turn."""
        private = "" if include_private else "and private = 0"
        rows = self.db.query(
            f"select role, text from messages where chat_id = ? {private} order by id desc limit ?",
            [chat_id, limit],
        )
        return list(reversed(list(rows)))

    # -- facts ----------------------------------------------------------------------------
    # The owner sees every fact. A member (`member=` their chat id) sees only what members said
    # in that chat: never the owner's facts.
    def remember(self, text: str, chat_id: str = "", role: str = "owner") -> Fact:
        text = text.strip()
        if not text:
            raise ValueError("there is nothing to remember in an empty text")
        if len(text) > MAX_FACT:
            raise ValueError(
                f"a fact can be at most {MAX_FACT:,} characters and this one has {len(text):,}; "
                "store the gist in a sentence or two")
        now = time.time()
        pk = self.db["facts"].insert(
            {"text": text, "chat_id": chat_id, "role": role, "created": now}).last_pk
        return Fact(pk, text, now, chat_id, role)

    def recall(self, query: str, limit: int = FACTS_PER_TURN, *,
               member: str | None = None) -> list[Fact]:
        """Facts that share meaningful words with `query`, best match first."""
        words = [w for w in _WORD.findall(query.lower()) if w not in _STOPWORDS and len(w) > 1]
        if not words:
            return []
        match = " OR ".join('"' + w.replace('"', '""') + '"*' for w in dict.fromkeys(words))
        scope, params = _fact_scope(member)
        rows = self.db.query(
            f"select {_FACT_COLUMNS} from facts_fts join facts on facts.id = facts_fts.rowid "
            f"where facts_fts match ? {scope} order by bm25(facts_fts) limit ?",
            [match, *params, limit],
        )
        return [_fact(r) for r in rows]

    def all_facts(self, *, member: str | None = None) -> list[Fact]:
        scope, params = _fact_scope(member)
        rows = self.db.query(f"select {_FACT_COLUMNS} from facts where 1 {scope} order by id", params)
        return [_fact(r) for r in rows]

    def forget(self, fact_id: int, *, member: str | None = None) -> Fact | None:
        """Delete a fact; None when there is none by that number that the caller may delete."""
        scope, params = _fact_scope(member)
        rows = list(self.db.query(
            f"select {_FACT_COLUMNS} from facts where id = ? {scope}", [fact_id, *params]))
        if not rows:
            return None
        self.db["facts"].delete(fact_id)
        return _fact(rows[0])

    # -- events ----------------------------------------------------------------------------
    def add_event(self, kind: str, subject: str, data: dict[str, Any] | None = None) -> None:
        self.db["events"].insert(
            {"kind": kind, "subject": subject, "data": json.dumps(data or {}),
             "created": time.time()}
        )

    def events(self, kind: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        where, params = ("where kind = ?", [kind]) if kind else ("", [])
        rows = self.db.query(
            f"select * from events {where} order by id desc limit ?", [*params, limit]
        )
        return [dict(r, data=json.loads(r["data"])) for r in rows]

    # -- devices and the owner's entity settings ---------------------------------------
    def upsert_device(self, row: dict[str, Any]) -> None:
        self.db["devices"].upsert(row, pk="device_id")

    def devices(self) -> list[dict[str, Any]]:
        return list(self.db["devices"].rows)

    def entity_owners(self) -> dict[str, str]:
        """entity_id -> the device that first reported it (devices.home keeps ids to their owner)."""
        return {r["entity_id"]: r["device_id"] for r in self.db["entity_owners"].rows}

    def set_entity_owner(self, entity_id: str, device_id: str) -> None:
        self.db["entity_owners"].upsert({"entity_id": entity_id, "device_id": device_id}, pk="entity_id")

    def entity_settings(self) -> dict[str, dict[str, Any]]:
        out = {}
        for row in self.db["entity_settings"].rows:
            row["aliases"] = json.loads(row["aliases"] or "[]")
            out[row["entity_id"]] = row
        return out

    def save_entity_settings(
        self, entity_id: str, *, name: str | None = None, area: str | None = None,
        aliases: list[str] | None = None, tier: str | None = None,
    ) -> None:
        current = self.entity_settings().get(entity_id, {})
        row = {
            "entity_id": entity_id,
            "name": name if name is not None else current.get("name"),
            "area": area if area is not None else current.get("area"),
            "aliases": json.dumps(aliases if aliases is not None else current.get("aliases", [])),
            "tier": tier if tier is not None else current.get("tier"),
        }
        self.db["entity_settings"].upsert(row, pk="entity_id")

    # -- soul versions ---------------------------------------------------------------------
    def add_soul_version(self, text: str, source: str) -> int:
        return self.db["soul_versions"].insert(
            {"text": text, "source": source, "created": time.time()}
        ).last_pk

    def soul_versions(self) -> list[dict[str, Any]]:
        return list(self.db.query("select * from soul_versions order by id"))

    # -- small settings ----------------------------------------------------------------------
    def get_setting(self, key: str, default: str | None = None) -> str | None:
        rows = list(self.db.query("select value from settings where key = ?", [key]))
        return rows[0]["value"] if rows else default

    def set_setting(self, key: str, value: str) -> None:
        self.db["settings"].upsert({"key": key, "value": value}, pk="key")


_FACT_COLUMNS = "facts.id, facts.text, facts.created, facts.chat_id, facts.role"


def _fact_scope(member: str | None) -> tuple[str, list[Any]]:
    """SQL that limits facts to what a member may see: what members said in their chat."""
    if member is None:
        return "", []
    return "and coalesce(facts.role, 'owner') != 'owner' and facts.chat_id = ?", [member]


def _fact(row: dict[str, Any]) -> Fact:
    return Fact(row["id"], row["text"], row["created"], row["chat_id"] or "", row["role"] or "owner")
