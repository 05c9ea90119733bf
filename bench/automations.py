"""Automations: how close to their time they fire, and what they cost at rest.

1. Fire time vs scheduled time: automations due at the same minute (time triggers are to the
   minute), each running GetDateTime (no device, so this is the scheduler's own delay), for 1 and
   for 500 at once: lateness of each run's start, p50/p99/max. Baseline in the same run: a bare
   asyncio timer set for the same instant. The scheduler's clock is the system clock shifted so
   that each round's minute is 3 s away (no waiting for real minutes).
2. Idle CPU with 1,000 automations (due later in the day) over 15 s, vs none.
3. One state change of the house with 1,000 automations: the scheduler's listener, p50/p99.
"""
from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from claw import home_tools  # noqa: E402
from claw.executor import Executor  # noqa: E402
from claw.scheduler import Scheduler  # noqa: E402
from claw.tools import Caller, ToolRegistry  # noqa: E402
from devices.home import Home  # noqa: E402
from devices.model import Entity  # noqa: E402
from memory.store import Store  # noqa: E402

IDLE_SECONDS = 15.0
OWNER = Caller()


class ShiftedClock:
    """The system clock moved by `offset` seconds (real time passes at its real pace)."""

    def __init__(self, offset: float = 0.0):
        self.offset = offset

    def now(self) -> float:
        return time.time() + self.offset

    async def wait(self, until: float | None, wake: asyncio.Event) -> None:
        delay = 60.0 if until is None else max(0.0, until - self.now())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await wake.wait()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def book(tmp: Path, clock: ShiftedClock) -> Scheduler:
    store = Store(tmp / "claw.db")
    home = Home(store)
    registry = ToolRegistry()
    executor = Executor(registry, home)
    home_tools.register(registry, executor, home)
    return Scheduler(store, home, executor, registry, lambda *told, **when: True, clock=clock)


def spec(at: str, n: int) -> dict:
    return {"name": f"bench {n}", "trigger": {"at": at}, "actions": [{"tool": "GetDateTime", "args": {}}]}


async def fire_round(count: int) -> tuple[list[float], float]:
    """Lateness (ms) of `count` automations due at one minute, and of a bare timer for it."""
    with tempfile.TemporaryDirectory() as tmp:
        now = datetime.now()
        minute = (now + timedelta(minutes=2)).replace(second=0, microsecond=0)
        clock = ShiftedClock(minute.timestamp() - 600 - time.time())  # while making them: 10 min away
        scheduler = await book(Path(tmp), clock)
        for n in range(count):
            await scheduler.create(spec(minute.strftime("%H:%M"), n), OWNER)
        clock.offset = minute.timestamp() - 3.0 - time.time()  # now the minute is 3 s away
        loop = asyncio.get_running_loop()
        timer: list[float] = []
        loop.call_at(loop.time() + (minute.timestamp() - clock.now()),
                     lambda: timer.append((clock.now() - minute.timestamp()) * 1000))
        await scheduler.start()
        await asyncio.sleep(3.0 + 1.0 + count / 500)
        await scheduler.settle(30)
        runs = [r for a in scheduler.all() for r in scheduler.runs(a.id)]
        await scheduler.stop()
        scheduler.db.conn.close()
    assert len(runs) == count and all(r["ok"] for r in runs), runs[:3]
    return [(r["started"] - r["scheduled"]) * 1000 for r in runs], timer[0]


async def idle_cpu(count: int) -> float:
    """Share of one core the process uses over IDLE_SECONDS with `count` automations waiting."""
    with tempfile.TemporaryDirectory() as tmp:
        scheduler = await book(Path(tmp), ShiftedClock())
        later = datetime.now() + timedelta(hours=2)
        for n in range(count):  # spread over two hours from then: none due while measuring
            at = (later + timedelta(minutes=n % 120)).strftime("%H:%M")
            await scheduler.create(spec(at, n), OWNER)
        await scheduler.start()
        await asyncio.sleep(1.0)
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.sleep(IDLE_SECONDS)
        share = (time.process_time() - cpu) / (time.perf_counter() - wall)
        await scheduler.stop()
        scheduler.db.conn.close()
    return share


async def state_change(count: int) -> list[float]:
    """The scheduler's Home listener on one state change (ms), with `count` automations, a
    tenth of them state-triggered on other entities."""
    with tempfile.TemporaryDirectory() as tmp:
        scheduler = await book(Path(tmp), ShiftedClock())
        home = scheduler.home
        for n in range(count):
            await scheduler.create(spec("03:00", n), OWNER)
        # State triggers need entities in the house; the listener is what is measured.
        for n in range(count // 10):
            home.entities[f"binary_sensor.s{n}"] = Entity(f"binary_sensor.s{n}", f"Sensor {n}", state="off")
            await scheduler.create({"name": f"state {n}", "trigger": {"entity": f"binary_sensor.s{n}", "to": "on"},
                                    "actions": [{"tool": "GetDateTime", "args": {}}]}, OWNER)
        scheduler.all()
        old = Entity("light.x", "X", state="off")
        new = Entity("light.x", "X", state="on")
        times = []
        for _ in range(500):
            t = time.perf_counter()
            scheduler.on_change(old, new)
            times.append((time.perf_counter() - t) * 1000)
        scheduler.db.conn.close()
    return times


async def run() -> None:
    rows = []
    for count in (1, 500):
        late, timer = await fire_round(count)
        rows.append((f"fire delay, {count} due at once: p50 / p99 / max (ms)",
                     f"{statistics.median(late):.1f} / {percentile(late, 99):.1f} / {max(late):.1f}"))
        rows.append(("  bare asyncio timer for that instant (ms); p50 ratio", f"{timer:.2f}; "
                     f"{statistics.median(late) / max(timer, 0.01):.1f}x"))
    base = await idle_cpu(0)
    busy = await idle_cpu(1000)
    rows.append(("idle CPU, scheduler with 0 automations (% of a core)", f"{base * 100:.3f}"))
    rows.append(("idle CPU, scheduler with 1,000 automations (% of a core)", f"{busy * 100:.3f}"))
    listener = await state_change(1000)
    rows.append(("state change, listener with 1,000 automations: p50 / p99 (ms)",
                 f"{statistics.median(listener):.3f} / {percentile(listener, 99):.3f}"))
    print(f"{'measure':<66}{'value':>24}")
    for label, value in rows:
        print(f"{label:<66}{value:>24}")


if __name__ == "__main__":
    asyncio.run(run())
