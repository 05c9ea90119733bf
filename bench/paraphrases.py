"""The fast path on our own paraphrases (tests/data/paraphrases/*.yaml), per kind of sentence.

Each file is one home (areas, floors, entities in Home Assistant's shape) and the things people
say to it: compound commands, the speaker's room, names as people say them, one device of a kind,
"which one?" and its answer, vacuums, garage doors, valves, lists, whole-house media, arming,
questions about the house, the demo banner's examples, and sentences that must not get a
confident wrong answer. Every sentence goes through POST /api/chat of a real Claw (no model) on
real HTTP; the house is the Home Assistant emulator behind the real bridge driver. A case is right when every expected change happened, nothing else changed, and the
reply says what it must. Security-tier actions are confirmed by a stand-in owner who says yes.

    .venv/bin/python bench/paraphrases.py [--data DIR] [--failures]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from claw.service import Claw  # noqa: E402
from devices.families.homeassistant.driver import DOMAIN_SERVICES, HomeAssistantDriver  # noqa: E402
from devices.families.homeassistant.emulator import HomeAssistantEmulator  # noqa: E402
from devices.model import Device, Entity  # noqa: E402
from tests.conftest import make_config, serve  # noqa: E402

DATA = ROOT / "tests" / "data" / "paraphrases"
TOKEN = "paraphrase-token"
TURN_TIMEOUT = 10.0  # seconds one message may take (a confirmation included)


@dataclass
class Case:
    kind: str
    turns: list[str]
    room: str | None
    expect: dict[str, Any]  # entity id -> state, or {attribute: value} (with "state")
    reply: list[str]  # words the last reply must hold (case-insensitive)
    confirm: bool  # a security-tier action: the owner must have been asked
    file: str


@dataclass
class Outcome:
    case: Case
    ok: bool
    why: str
    replies: list[str]
    backends: list[str]


@dataclass
class HomeSet:
    name: str
    areas: dict[str, dict[str, Any]]  # area -> {floor, aliases}
    entities: dict[str, dict[str, Any]]  # entity id -> {state, name, area, attributes...}
    cases: list[Case] = field(default_factory=list)


def load(data: Path = DATA) -> list[HomeSet]:
    sets = []
    for path in sorted(data.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        home = HomeSet(path.stem, {a["name"]: a for a in raw["areas"]}, raw["entities"])
        for c in raw["cases"]:
            turns = c["say"] if isinstance(c["say"], list) else [c["say"]]
            reply = c.get("reply", [])
            home.cases.append(Case(c["kind"], turns, c.get("room"), c.get("expect") or {},
                                   reply if isinstance(reply, list) else [reply],
                                   bool(c.get("confirm")), path.name))
        sets.append(home)
    return sets


class House:
    """One home of the set on the emulator, and a Claw serving POST /api/chat for it."""

    def __init__(self, spec: HomeSet, tmp: Path):
        self.spec = spec
        self.tmp = tmp
        self.ha = HomeAssistantEmulator(token=TOKEN)
        unserved = sorted({k.split(".")[0] for k in spec.entities} - set(DOMAIN_SERVICES))
        if unserved:
            raise ValueError(f"{spec.name}: the Home Assistant bridge does not mirror {', '.join(unserved)}")
        self.confirmations = 0

    def reset(self) -> None:
        self.ha.states.clear()
        for entity_id, e in self.spec.entities.items():
            attrs = {**e.get("attributes", {}), "friendly_name": e["name"]}
            if e.get("area"):
                attrs["area"] = e["area"]
            self.ha.add_entity(entity_id, str(e["state"]), attrs)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Any]:
        await self.ha.start()
        self.reset()
        service = Claw(make_config(self.tmp / self.spec.name))
        for area, a in self.spec.areas.items():
            service.home.set_area(area, floor=a.get("floor"), aliases=a.get("aliases"))
        await service.home.add(HomeAssistantDriver(
            Device("ha:paraphrase", "homeassistant", "Home Assistant", self.ha.host, self.ha.port), TOKEN))
        approving = asyncio.create_task(self._approve(service))
        try:
            async with serve(service) as api:
                yield service, api
        finally:
            approving.cancel()
            await asyncio.gather(approving, return_exceptions=True)
            await self.ha.stop()

    async def _approve(self, service: Claw) -> None:
        """The stand-in owner: says yes to every confirmation request, as it appears."""
        while True:
            for request in service.confirmations.pending():
                service.confirmations.answer(request["id"], True, by="stand-in owner")
                self.confirmations += 1
            await asyncio.sleep(0.01)


def _view(e: Entity) -> tuple[str, dict[str, Any]]:
    return e.state, {k: v for k, v in e.attributes.items() if k not in ("friendly_name", "area")}


def _right(expected: Any, state: str, attrs: dict[str, Any]) -> bool:
    if not isinstance(expected, dict):
        return state == str(expected)
    return all((state == str(v)) if k == "state" else attrs.get(k) == v for k, v in expected.items())


async def run_case(house: House, service: Claw, api: Any, case: Case, n: int) -> Outcome:
    house.reset()
    await service.home.refresh_all()
    await service.home.settle()
    before = {k: _view(e) for k, e in service.home.entities.items()}
    asked = house.confirmations
    replies, backends = [], []
    for text in case.turns:
        body: dict[str, Any] = {"text": text, "chat_id": f"para-{n}"}
        if case.room:
            body["area"] = case.room
        r = await asyncio.wait_for(api.post("/api/chat", json=body), TURN_TIMEOUT)
        r.raise_for_status()
        replies.append(r.json()["reply"])
        backends.append(r.json()["backend"])
    await service.home.settle()
    await service.home.refresh_all()
    after = {k: _view(e) for k, e in service.home.entities.items()}
    problems = []
    for entity_id, expected in case.expect.items():
        if entity_id not in after:
            problems.append(f"no entity {entity_id}")
        elif not _right(expected, *after[entity_id]):
            problems.append(f"{entity_id} is {after[entity_id][0]} {after[entity_id][1]}, expected {expected}")
    extra = sorted(k for k in after if k not in case.expect and after[k] != before.get(k))
    if extra:
        problems.append(f"changed too: {extra}")
    missing = [w for w in case.reply if w.casefold() not in replies[-1].casefold()]
    if missing:
        problems.append(f"reply lacks {missing}")
    if case.confirm and house.confirmations == asked:
        problems.append("the owner was not asked to confirm")
    return Outcome(case, not problems, "; ".join(problems), replies, backends)


async def run_all(data: Path, tmp: Path) -> list[Outcome]:
    outcomes = []
    n = 0
    for spec in load(data):
        house = House(spec, tmp)
        async with house.running() as (service, api):
            for case in spec.cases:
                n += 1
                outcomes.append(await run_case(house, service, api, case, n))
    return outcomes


def report(outcomes: list[Outcome], show_failures: bool) -> None:
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_kind[o.case.kind].append(o)
    print(f"{'kind':<22}{'cases':>7}{'right':>7}{'accuracy':>10}")
    for kind, rows in sorted(by_kind.items()):
        right = sum(o.ok for o in rows)
        print(f"{kind:<22}{len(rows):>7}{right:>7}{right / len(rows):>10.1%}")
    right = sum(o.ok for o in outcomes)
    print(f"{'all':<22}{len(outcomes):>7}{right:>7}{right / max(1, len(outcomes)):>10.1%}")
    if show_failures:
        print("\nfailures:")
        for o in outcomes:
            if not o.ok:
                print(f"  [{o.case.kind}] {' / '.join(o.case.turns)!r} (room {o.case.room}): {o.why}\n"
                      f"      replies: {o.replies}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--failures", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        outcomes = await run_all(args.data, Path(tmp))
    print(f"{len(outcomes)} cases, {time.perf_counter() - start:.1f} s (POST /api/chat, no model)\n")
    report(outcomes, args.failures)


if __name__ == "__main__":
    asyncio.run(main())
