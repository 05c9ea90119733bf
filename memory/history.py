"""The house's history: every state change of every entity, kept for a bounded number of days.

One narrow table (entity id, state, when) with an index on (entity id, when), so the questions
people ask ("when did the garage last open?", "how long was the pool pump on today?", "was the
front door unlocked last night?") are a few index range reads even with millions of rows.
Names are resolved by the caller: the history knows entity ids only, so a rename keeps it whole.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

import sqlite_utils

DAY = 86_400.0
PRUNE_EVERY = 1_000  # changes recorded between two prunes
PRUNE_BATCH = 5_000  # rows one prune looks at: a backlog (retention shortened) goes a bit at a time


class Changed(Protocol):
    entity_id: str
    state: str


@dataclass
class Span:
    """A stretch of time an entity spent in one of the asked-about states."""

    start: float
    end: float


class History:
    def __init__(self, db: sqlite_utils.Database, retention_days: float = 30.0):
        self.db = db
        self.retention = retention_days * DAY
        self._since_prune = 0
        if "history" not in db.table_names():
            db["history"].create({"id": int, "entity_id": str, "state": str, "at": float}, pk="id")
            db["history"].create_index(["entity_id", "at"])
            db["history"].create_index(["at"])

    def record(self, old: Changed | None, new: Changed, at: float | None = None) -> None:
        """Home listener: keep a change of state (attribute-only updates are not history)."""
        if old is not None and old.state == new.state:
            return
        self.add(new.entity_id, new.state, time.time() if at is None else at)

    def add(self, entity_id: str, state: str, at: float) -> None:
        self.db.execute("insert into history (entity_id, state, at) values (?, ?, ?)",
                        [entity_id, state, at])
        self._since_prune += 1
        if self._since_prune >= PRUNE_EVERY:
            self.prune(at)

    def add_many(self, rows: Iterable[tuple[str, str, float]]) -> None:
        """Bulk insert (imports, benchmarks): (entity id, state, when) each."""
        self.db.execute("begin")  # the store's connection autocommits: one transaction, not one per row
        self.db.conn.executemany("insert into history (entity_id, state, at) values (?, ?, ?)", rows)
        self.db.execute("commit")

    def prune(self, now: float | None = None) -> int:
        """Forget changes older than the retention, except each entity's last one before the
        cutoff (what state it was in since then); returns how many rows went (at most about
        PRUNE_BATCH, so the house is never held up for long; call again for the rest)."""
        self._since_prune = 0
        cutoff = (time.time() if now is None else now) - self.retention
        # Few rows are older than the cutoff (each entity's one kept row and what aged since the
        # last prune): read them by the time index rather than group the whole table.
        last: dict[str, int] = {}
        old = []
        for row_id, entity_id in self.db.execute(
                "select id, entity_id from history where at < ? order by at limit ?", [cutoff, PRUNE_BATCH]):
            if entity_id in last:
                old.append((last[entity_id],))
            last[entity_id] = row_id
        self.db.execute("begin")
        self.db.conn.executemany("delete from history where id = ?", old)
        self.db.execute("commit")
        return len(old)

    # -- questions -------------------------------------------------------------------------
    def last_became(self, entity_id: str, states: set[str], before: float | None = None) -> float | None:
        """When the entity last changed into one of `states` (None: not within the retention)."""
        marks = ",".join("?" * len(states))
        row = self.db.execute(
            f"select at from history where entity_id = ? and state in ({marks}) and at <= ? "
            "order by at desc limit 1",
            [entity_id, *sorted(states), time.time() if before is None else before]).fetchone()
        return row[0] if row else None

    def state_at(self, entity_id: str, when: float) -> str | None:
        row = self.db.execute(
            "select state from history where entity_id = ? and at <= ? order by at desc limit 1",
            [entity_id, when]).fetchone()
        return row[0] if row else None

    def spans(self, entity_id: str, states: set[str], start: float, end: float) -> list[Span]:
        """The stretches within [start, end) the entity spent in one of `states`."""
        changes = [(start, self.state_at(entity_id, start))]
        changes += [(r[0], r[1]) for r in self.db.execute(
            "select at, state from history where entity_id = ? and at > ? and at < ? order by at",
            [entity_id, start, end])]
        out: list[Span] = []
        for (at, state), nxt in zip(changes, [*changes[1:], (end, None)]):
            if state in states and nxt[0] > at:
                if out and out[-1].end == at:
                    out[-1].end = nxt[0]
                else:
                    out.append(Span(at, nxt[0]))
        return out

    def seconds_in(self, entity_id: str, states: set[str], start: float, end: float) -> float:
        return sum(s.end - s.start for s in self.spans(entity_id, states, start, end))

    def first_at(self, entity_id: str) -> float | None:
        """When the record of this entity begins."""
        row = self.db.execute("select min(at) from history where entity_id = ?", [entity_id]).fetchone()
        return row[0]

    def count(self) -> int:
        return self.db.execute("select count(*) from history").fetchone()[0]

    def recent(self, entity_id: str, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.db.execute("select state, at from history where entity_id = ? order by at desc limit ?",
                               [entity_id, limit])
        return [{"state": s, "at": at} for s, at in rows]
