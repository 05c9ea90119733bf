"""Our own paraphrase set (tests/data/paraphrases), every case through POST /api/chat of a
real Claw with no model, on the Home Assistant emulator (bench/paraphrases.py runs the same and
prints accuracy per kind)."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from bench import paraphrases

# Each kind must stay at or above this; the set today misses one sentence ("night lite").
LEAST_PER_KIND = 0.9


async def test_paraphrases_do_what_was_asked_and_nothing_else(tmp_path: Path) -> None:
    outcomes = await paraphrases.run_all(paraphrases.DATA, tmp_path)
    by_kind: dict[str, list[paraphrases.Outcome]] = defaultdict(list)
    for o in outcomes:
        by_kind[o.case.kind].append(o)
    assert len(outcomes) >= 140 and len(by_kind) >= 14
    low = {kind: f"{sum(o.ok for o in rows)}/{len(rows)}" for kind, rows in by_kind.items()
           if sum(o.ok for o in rows) / len(rows) < LEAST_PER_KIND}
    misses = [f"[{o.case.kind}] {' / '.join(o.case.turns)}: {o.why}; replies {o.replies}"
              for o in outcomes if not o.ok]
    assert not low, "\n".join(misses)
    assert len(misses) <= 2, "\n".join(misses)
    assert all(b in ("fast", "none") for o in outcomes for b in o.backends)  # no model was there to ask
