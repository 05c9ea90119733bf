"""The house's history: query time on a million stored changes, and how fast the file grows.

1. A million state changes over 30 days for a 200-entity house, then the three questions people
   ask ("when did X last open", "how long was X on today", "was X unlocked last night"), p50/p99
   over random entities. Baseline in the same run: one row fetched by its primary key.
2. Growth per day for a 200-entity house with a realistic mix of changes (motion sensors change
   most), measured as the file's growth after one simulated day (with its indexes), and how long
   one recorded change takes.
"""
from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from memory.history import DAY, History  # noqa: E402
from memory.store import Store  # noqa: E402

ROWS = 1_000_000
ENTITIES = 200
QUERIES = 300
# A day of a 200-entity house: (how many, kind, changes a day each).
MIX = [(40, "binary_sensor.motion", 150), (60, "light.lamp", 12), (20, "switch.plug", 8),
       (10, "cover.blind", 4), (5, "lock.door", 6), (15, "media_player.speaker", 10),
       (50, "sensor.temperature", 48)]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - t) * 1000


def file_size(tmp: Path) -> int:
    return sum(f.stat().st_size for f in tmp.iterdir() if f.name.startswith("claw.db"))


def show(rows: list) -> None:
    print(f"{'measure':<64}{'value':>24}")
    for label, value in rows:
        print(f"{label:<64}{value:>24}")


def main() -> None:
    rnd = random.Random(16)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "claw.db")
        history = History(store.db, retention_days=3650)
        now = time.time()
        start = now - 30 * DAY
        ids = [f"switch.e{i:03d}" for i in range(ENTITIES)]
        t = time.perf_counter()
        history.add_many((ids[n % ENTITIES], "on" if (n // ENTITIES) % 2 else "off",
                          start + n * (30 * DAY / ROWS)) for n in range(ROWS))
        out.append((f"bulk insert of {ROWS:,} changes (s)", f"{time.perf_counter() - t:.1f}"))
        assert history.count() == ROWS
        midnight = now - (now % DAY)
        base, last, long, night = [], [], [], []
        for _ in range(QUERIES):
            entity = rnd.choice(ids)
            base.append(timed(lambda: store.db.execute("select * from history where id = ?",
                                                       [rnd.randrange(1, ROWS)]).fetchone()))
            last.append(timed(history.last_became, entity, {"on"}, now))
            long.append(timed(history.seconds_in, entity, {"on"}, midnight, now))
            night.append(timed(history.spans, entity, {"on"}, midnight - 4 * 3600, midnight + 8 * 3600))
        b = statistics.median(base)
        out.append(("baseline: one row by primary key, p50 (ms)", f"{b:.3f}"))
        for label, values in (("when did X last turn on", last), ("how long was X on today", long),
                              ("was X on last night (its spans)", night)):
            p50 = statistics.median(values)
            out.append((f"{label}: p50 / p99 (ms), p50 ratio", f"{p50:.3f} / {percentile(values, 99):.3f}, "
                                                               f"{p50 / b:.1f}x"))
        t = time.perf_counter()
        pruned = History(store.db, retention_days=30).prune(now + 3600)  # as the recorder does it
        out.append((f"routine prune, an hour's worth ({pruned:,} rows) (ms)", f"{(time.perf_counter() - t) * 1000:.0f}"))
        shorter, pruned, took = History(store.db, retention_days=7), 0, []
        while len(took) < 1000:
            t = time.perf_counter()
            n = shorter.prune(now)
            took.append((time.perf_counter() - t) * 1000)
            if not n:
                break
            pruned += n
        out.append((f"retention cut to 7 days: {pruned:,} rows, {len(took)} prunes, slowest (ms)",
                    f"{max(took):.0f}"))
        store.close()

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "claw.db")
        history = History(store.db)
        before = file_size(Path(tmp))
        day = now - DAY
        changes = [(f"{kind}_{i}", state, day + rnd.random() * DAY)
                   for count, kind, per_day in MIX for i in range(count)
                   for state in (["on", "off"] * (per_day // 2 + 1))[:per_day]]
        changes.sort(key=lambda c: c[2])
        t = time.perf_counter()
        for entity, state, at in changes:
            history.add(entity, state, at)  # one at a time, as the recorder does
        each = (time.perf_counter() - t) / len(changes) * 1000
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        grown = file_size(Path(tmp)) - before
        out.append((f"one simulated day, {sum(c for c, _, _ in MIX)} entities: changes", f"{len(changes):,}"))
        out.append(("database growth per day (KiB); 30 days' retention (MiB)",
                    f"{grown / 1024:.0f}; {grown * 30 / 2**20:.1f}"))
        out.append(("one recorded change (ms)", f"{each:.3f}"))
        store.close()
    show(out)


if __name__ == "__main__":
    main()
