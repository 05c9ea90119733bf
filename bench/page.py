"""The owner's page in a real browser (Debian's chromium, headless): how fast a change made
inside an emulated device shows on the page, how long the page takes to be usable, and what
an open page costs the service in memory.

A small home (tests/home_fixtures.py: a Hue bridge and a Home Assistant on loopback, no
discovery). Each change is made inside the emulated Home Assistant, which pushes it over its
WebSocket; the baseline is the same change reaching Claw's Home (a listener in the process), so
the ratio is what the page path (SSE, the browser, the DOM) adds.

Targets: change -> visible p99 <= 1 s; load to interactive median <= 1 s.
"""
from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from claw.service import Claw  # noqa: E402
from devices.model import Entity  # noqa: E402
from tests.conftest import make_config, serve  # noqa: E402
from tests.home_fixtures import devices_in  # noqa: E402
from tests.test_page import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

CHANGES = 50
LOADS = 10
IDLE_S = 2.0
ENTITY = "climate.hallway"

# Runs before the page's own script: records when the thermostat's state text shows each
# temperature, and when the page says it is ready (wall clock, like the bench's own).
WATCH = """
window.seen = {};
new MutationObserver(() => {
  const state = document.querySelector(".tile[data-entity='ENTITY'] .state");
  if (state) { const m = state.textContent.match(/now ([0-9.]+)/); if (m && !(m[1] in seen)) seen[m[1]] = performance.timeOrigin + performance.now(); }
  if (document.body && document.body.dataset.ready && window.readyAt === undefined) window.readyAt = performance.now();
}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
""".replace("ENTITY", ENTITY)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def rss_mb() -> float:
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


async def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        service = Claw(make_config(Path(tmp)))  # no model, no discovery
        async with serve(service) as api, devices_in(service.home, service.executor) as small:
            ha = service.home.drivers["ha:1"]
            follow = asyncio.create_task(ha.follow(lambda e: service.home.entity_changed("ha:1", e)))
            await small.ha.wait_for_subscribers(1)
            reached: dict[str, float] = {}

            def at_home(old: Entity | None, new: Entity) -> None:
                if new.entity_id == ENTITY:
                    reached.setdefault(str(new.attributes.get("current_temperature")), time.time())

            service.home.listeners.append(at_home)
            base = str(api.base_url).rstrip("/")
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                context = await browser.new_context()
                await context.add_init_script(WATCH)
                await asyncio.sleep(IDLE_S)
                rss_without = rss_mb()
                page = await context.new_page()
                await page.goto(base + "/login" + service.login_link().split("/login", 1)[1])
                await page.wait_for_selector("body[data-ready='1']")

                loads = []
                for _ in range(LOADS):
                    start = time.monotonic()
                    await page.goto(base + "/")
                    await page.wait_for_selector("body[data-ready='1']")
                    loads.append({"wall": time.monotonic() - start,
                                  "page": await page.evaluate("window.readyAt") / 1000})
                await asyncio.sleep(IDLE_S)
                rss_with = rss_mb()

                on_page, at_claw = [], []
                for n in range(CHANGES):
                    value = round(15 + n * 0.1, 1)
                    sent = time.time()
                    small.ha.set_state(ENTITY, "heat", {"current_temperature": value})
                    await page.wait_for_function(f"window.seen['{value}'] !== undefined", polling=5)
                    on_page.append(await page.evaluate(f"window.seen['{value}']") / 1000 - sent)
                    at_claw.append(reached[str(value)] - sent)
                await browser.close()
            follow.cancel()
    return {"on_page": on_page, "at_claw": at_claw, "loads": loads,
            "rss_without": rss_without, "rss_with": rss_with}


def main() -> None:
    r = asyncio.run(run())
    page, claw, loads = r["on_page"], r["at_claw"], r["loads"]
    ms = lambda s: s * 1000  # noqa: E731
    print(f"{CHANGES} changes inside the emulated Home Assistant; {LOADS} page loads; small home")
    print(f"{'':<44}{'p50':>10}{'p99':>10}{'target':>10}")
    print(f"{'change -> Claw Home (baseline), ms':<44}{ms(pct(claw, 50)):>10.1f}{ms(pct(claw, 99)):>10.1f}")
    print(f"{'change -> visible on the page, ms':<44}{ms(pct(page, 50)):>10.1f}{ms(pct(page, 99)):>10.1f}"
          f"{'<= 1000':>10}")
    added = [p - c for p, c in zip(page, claw)]
    print(f"{'added by SSE + browser, ms':<44}{ms(pct(added, 50)):>10.1f}{ms(pct(added, 99)):>10.1f}")
    print(f"{'page/baseline ratio (p50)':<44}{pct(page, 50) / pct(claw, 50):>10.1f}")
    ready = [l["page"] for l in loads]
    wall = [l["wall"] for l in loads]
    print(f"{'load to interactive (page clock), ms':<44}{ms(pct(ready, 50)):>10.1f}{ms(pct(ready, 99)):>10.1f}"
          f"{'<= 1000':>10}")
    print(f"{'load to interactive (bench clock), ms':<44}{ms(pct(wall, 50)):>10.1f}{ms(pct(wall, 99)):>10.1f}")
    print(f"{'RSS of the service process, idle, no page (MB)':<44}{r['rss_without']:>10.1f}")
    print(f"{'... with the page loaded and live (MB)':<44}{r['rss_with']:>10.1f}"
          f"{r['rss_with'] - r['rss_without']:>+10.1f}")
    print("(one process holds the service, the emulators and the Playwright client; chromium is its own)")


if __name__ == "__main__":
    main()
