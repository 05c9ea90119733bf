"""The owner's web page in a real browser (Playwright driving Debian's chromium), inside a
network namespace the test creates.

One scenario: a visit without a session gets the login hint; the one-time link logs in; a tile
turns a light on in the emulated bridge; a change made inside the emulated Home Assistant shows
on the page without a reload; an unlock asked in the chat is approved on the page; an edited
soul.md is in the next turn's system prompt; a page on another origin cannot use the page's own
state-changing routes; logging out ends the session. Screenshots go to /tmp/claw-page-*.png.
"""
from __future__ import annotations

import asyncio
import html
import json
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Page, async_playwright

from claw.page import _templates
from claw.service import Claw
from devices.families.camera.driver import CameraDriver
from devices.families.camera.emulator import CameraEmulator
from devices.families.homeassistant.driver import HomeAssistantDriver
from devices.model import Device, Entity
from tests import netns
from tests.anthropic_standin import AnthropicStandIn, text_reply, tool_reply
from tests.conftest import make_config, serve
from tests.home_fixtures import devices_in
from tests.test_browser_attacks import ATTACKER, CHROMIUM, _attacker_site

MODULE = "tests.test_page"
SHOTS = Path("/tmp")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SOUL = "You are Claw, the house's agent. Answer like a pirate and end every reply with PINEAPPLE.\n"

# A page on another origin tries the routes the page added (the others: test_browser_attacks).
FOREIGN_PAGE = """<!doctype html><html><body><script>
(async () => {
  const results = {};
  const A = "API";
  const tries = {
    "chat as text/plain": () => fetch(A + "/api/page/chat", {method: "POST", mode: "no-cors", credentials: "include",
        headers: {"Content-Type": "text/plain"}, body: JSON.stringify({text: "unlock the front door"})}),
    "chat as JSON": () => fetch(A + "/api/page/chat", {method: "POST", credentials: "include",
        headers: {"Content-Type": "application/json"}, body: JSON.stringify({text: "unlock the front door"})}),
    "restore soul": () => fetch(A + "/api/soul/versions/1/restore", {method: "POST", mode: "no-cors", credentials: "include",
        body: new Blob([JSON.stringify({version: 1})])}),
    "read events": () => fetch(A + "/api/events", {credentials: "include"}),
    "read soul versions": () => fetch(A + "/api/soul/versions", {credentials: "include"}),
  };
  for (const [name, fn] of Object.entries(tries)) {
    try { const r = await fn(); results[name] = r.type === "opaque" ? "opaque" : r.status + " " + await r.text(); }
    catch (e) { results[name] = "blocked: " + e.message; }
  }
  await fetch("/report", {method: "POST", body: JSON.stringify(results)});
})();
</script></body></html>"""


# Controls without an accessible name (aria-label, a <label>, or their own text).
UNNAMED_CONTROLS = """[...document.querySelectorAll("button, input, select, textarea")].filter((c) =>
  !(c.getAttribute("aria-label") || (c.labels && c.labels.length) || c.textContent.trim())).map((c) => c.outerHTML)"""


async def _until(check, timeout: float = 5.0) -> float:
    """Seconds until `check()` is true; AssertionError after `timeout`."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


async def _text(page: Page, selector: str) -> str:
    return (await page.locator(selector).inner_text()).strip()


async def scenario_page() -> dict[str, Any]:
    assert netns.only_loopback(), "refusing to start a browser outside a test namespace"
    out: dict[str, Any] = {}
    standin = AnthropicStandIn()
    await standin.start()
    with tempfile.TemporaryDirectory() as tmp:
        config = make_config(Path(tmp), standin)
        config.agent.confirm_timeout = 15
        service = Claw(config)
        async with serve(service) as api, devices_in(service.home, service.executor) as small, \
                CameraEmulator(name="Driveway Camera", size=(320, 180)) as camera:
            await service.home.add(CameraDriver(Device("cam-1", "camera", camera.name, camera.host,
                                                      camera.port), area="Driveway"))
            service.store.remember("The spare key is under the blue pot")
            service.store.remember("The bins go out on Tuesday")
            ha_driver = service.home.drivers["ha:1"]
            assert isinstance(ha_driver, HomeAssistantDriver)
            follow = asyncio.create_task(ha_driver.follow(lambda e: service.home.entity_changed("ha:1", e)))
            await small.ha.wait_for_subscribers(1)
            base = str(api.base_url).rstrip("/")
            reports: list[dict[str, Any]] = []
            attacker = await _attacker_site(FOREIGN_PAGE.replace("API", base), reports)
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = await browser.new_page(viewport={"width": 1280, "height": 1000})
                # -- no session: a readable hint, no house data
                hint = await page.goto(base + "/")
                assert hint is not None
                out["hint_status"] = hint.status
                out["hint_text"] = await page.locator("body").inner_text()
                await page.screenshot(path=str(SHOTS / "claw-page-hint.png"))

                # -- told while no page was open: listed when it opens
                await service.notify("I found a new Hue light while you were away.")

                # -- log in with the one-time link
                link = service.login_link()
                await page.goto(base + "/login" + link.split("/login", 1)[1])
                out["after_login_url"] = page.url
                await page.wait_for_selector("body[data-ready='1']", timeout=10_000)
                out["live"] = await _text(page, "#live")
                out["unnamed"] = await page.evaluate(UNNAMED_CONTROLS)
                out["feed_on_open"] = await _text(page, "#feed")
                await service.notify("The Deck Strip stopped answering.")
                await page.wait_for_selector("#feed li:has-text('Deck Strip stopped')", timeout=1000)

                # -- a tile turns the light on in the emulated bridge
                switch = page.get_by_role("switch", name="Kitchen Ceiling on or off")
                await switch.click()
                out["toggle_s"] = await _until(lambda: small.light("Kitchen Ceiling").on)
                await page.wait_for_selector(
                    ".tile[data-entity='light.kitchen_ceiling'] [role=switch][aria-checked='true']", timeout=3000)
                brightness = page.get_by_label("Brightness of Kitchen Ceiling")
                await brightness.fill("40")  # a range input: fill sets it and fires change
                await _until(lambda: small.light("Kitchen Ceiling").bri == round(40 / 100 * 254), 3)
                out["bri"] = small.light("Kitchen Ceiling").bri

                # -- a change inside the emulator shows without a reload
                marker = await page.evaluate("window.marker = Math.random()")
                small.ha.set_state("climate.hallway", "heat", {"current_temperature": 23.5})
                changed = time.monotonic()
                await page.wait_for_function(
                    "document.querySelector(\".tile[data-entity='climate.hallway'] .state\")"
                    ".textContent.includes('23.5')", timeout=1000, polling="raf")
                out["pushed_s"] = time.monotonic() - changed
                out["same_document"] = await page.evaluate("window.marker") == marker
                await page.screenshot(path=str(SHOTS / "claw-page-house.png"), full_page=True)

                # -- an unlock asked in the chat, approved on the page
                standin.queue += [tool_reply("HassTurnOff", {"name": "Front Door"}),
                                  text_reply("The front door is unlocked.")]
                await page.get_by_label("The room you are in").select_option("Entrance")
                await page.get_by_label("Message").fill("please unlock the front door for the guests")
                await page.get_by_role("button", name="Send").click()
                approve = page.get_by_role("button", name="Approve: Unlock the Front Door")
                await approve.wait_for(timeout=5000)
                out["door_before"] = small.ha.states["lock.front_door"]["state"]
                await page.screenshot(path=str(SHOTS / "claw-page-confirm.png"))
                await approve.click()
                await page.wait_for_selector("#messages .backend", timeout=10_000)
                out["chat_reply"] = await _text(page, "#messages li.claw:last-child")
                out["door_after"] = small.ha.states["lock.front_door"]["state"]
                await page.wait_for_function(
                    "document.querySelector(\".tile[data-entity='lock.front_door'] .state\")"
                    ".textContent.includes('unlocked')", timeout=3000)

                # -- another caller's security action (over REST) is denied on the page
                garage = asyncio.create_task(api.post("/api/tools/HassTurnOn", json={"name": "Garage Door"}))
                deny = page.get_by_role("button", name="Deny: Open the Garage Door")
                await deny.wait_for(timeout=3000)  # pushed by the feed: the page asked nothing
                await deny.click()
                out["garage_action"] = (await garage).json()
                out["garage"] = small.ha.states["cover.garage_door"]["state"]

                # -- edit soul.md on the page; the next turn is told it
                await page.get_by_label("The persona Claw follows").fill(SOUL)
                await page.get_by_role("button", name="Save soul.md").click()
                await page.wait_for_selector("#soul-result:has-text('Saved')", timeout=3000)
                asked = len(standin.requests)
                standin.queue.append(text_reply("Arr, all shipshape. PINEAPPLE"))
                await page.get_by_label("Message").fill("how is the house doing?")
                await page.get_by_role("button", name="Send").click()
                await page.wait_for_function(
                    "document.querySelector('#messages li.claw:last-child .backend') !== null", timeout=10_000)
                out["soul_reply"] = await _text(page, "#messages li.claw:last-child .reply")
                out["soul_in_prompt"] = [SOUL.strip() in json.dumps(r.get("system", ""))
                                         for r in standin.requests[asked:]]
                await page.get_by_role("button", name="Diff version 1").click()
                await page.wait_for_selector("#soul-diff:not([hidden])")
                out["diff"] = await _text(page, "#soul-diff")
                await page.screenshot(path=str(SHOTS / "claw-page-soul.png"), full_page=True)
                await page.get_by_role("button", name="Restore version 1").click()
                await page.wait_for_selector("#soul-result:has-text('Version 1 is live again')", timeout=3000)
                out["restored"] = service.soul.text() == service.store.soul_versions()[0]["text"]
                versions = len(service.store.soul_versions())
                out["versions"] = versions

                # -- the camera's picture, a rename from what discovery found, facts, pairing
                picture = page.get_by_role("img", name="Latest picture from Driveway Camera")
                await page.get_by_role("button", name="Take a picture").click()
                await page.wait_for_function(
                    "document.querySelector(\"img[data-camera='camera.driveway_camera']\").naturalWidth > 0",
                    timeout=3000)
                out["picture_width"] = await picture.evaluate("img => img.naturalWidth")
                await page.locator("summary", has_text="Hue Bridge").click()
                edit = page.locator("form[data-entity='light.floor_lamp']")
                await edit.get_by_label("Name").fill("Reading Lamp")
                await edit.get_by_label("Add an alias").fill("the big lamp")
                await edit.get_by_role("button").click()
                await page.get_by_role("switch", name="Reading Lamp on or off").wait_for(timeout=3000)
                out["renamed"] = service.home.entities["light.floor_lamp"].as_dict()
                await page.get_by_label("Search", exact=True).fill("key")
                await page.get_by_role("button", name="Search facts").click()
                forget = page.get_by_role("button", name="Forget: The spare key is under the blue pot")
                await forget.click()
                await page.wait_for_selector("#facts:has-text('No fact matches')", timeout=3000)
                out["facts"] = [f.text for f in service.store.all_facts()]
                await page.get_by_role("button", name="New pairing code").click()
                await page.wait_for_selector("#pair-code:has-text('Code ')", timeout=3000)
                out["pair_code"] = await _text(page, "#pair-code")
                out["model"] = await _text(page, "#model")
                await page.screenshot(path=str(SHOTS / "claw-page-more.png"), full_page=True)

                # -- another origin, with this browser logged in, cannot use the page's routes
                chats_before = service.store.db["messages"].count
                foreign = await browser.new_page()
                await foreign.goto(f"http://{ATTACKER}:{attacker.port}/")
                await _until(lambda: bool(reports), 10)
                out["foreign"] = reports[0]
                await foreign.close()
                out["versions_unchanged"] = len(service.store.soul_versions()) == versions
                out["chats_unchanged"] = service.store.db["messages"].count == chats_before

                # -- on a phone
                await page.set_viewport_size({"width": 390, "height": 844})
                await page.evaluate("window.scrollTo(0, 0)")
                out["phone_overflow"] = await page.evaluate(
                    "document.documentElement.scrollWidth > window.innerWidth")
                await page.screenshot(path=str(SHOTS / "claw-page-phone.png"))

                # -- log out
                await page.get_by_role("button", name="Log out").click()
                await page.get_by_text("You are not logged in").wait_for(timeout=3000)  # the same URL
                out["after_logout"] = await page.locator("body").inner_text()
                out["after_logout_status"] = (await page.request.get(base + "/api/devices")).status
                await browser.close()
            await attacker.stop()
            follow.cancel()
            out["door_final"] = small.ha.states["lock.front_door"]["state"]
    await standin.stop()
    return out


def test_the_page_in_a_real_browser():
    assert shutil.which("ip"), "iproute2 is needed for the test namespace"
    with netns.namespace() as ns:
        out = netns.run_in(ns, MODULE, "scenario_page", timeout=90)
    shown = json.dumps(out, indent=1)
    assert out["hint_status"] == 401 and "claw login" in out["hint_text"], shown
    assert "Kitchen" not in out["hint_text"]  # no house data without a session
    assert out["after_login_url"].endswith("/") and out["live"] == "live", shown
    assert out["unnamed"] == [] and "new Hue light" in out["feed_on_open"], shown
    assert out["toggle_s"] < 2 and out["bri"] == round(40 / 100 * 254), shown
    assert out["pushed_s"] < 1.0 and out["same_document"], shown
    assert out["door_before"] == "locked" and out["door_after"] == "unlocked", shown
    assert "unlocked" in out["chat_reply"] and "HassTurnOff" in out["chat_reply"], shown
    assert out["garage"] == "closed" and not out["garage_action"]["ok"], shown
    assert out["soul_in_prompt"] and all(out["soul_in_prompt"]), shown
    assert "PINEAPPLE" in out["soul_reply"] and "+You are Claw" in out["diff"], shown
    assert out["restored"] and out["versions"] == 3, shown
    for name, result in out["foreign"].items():
        assert result.startswith(("blocked", "opaque")), (name, result)
    assert out["versions_unchanged"] and out["chats_unchanged"], shown
    assert out["picture_width"] == 320, shown
    assert out["renamed"]["name"] == "Reading Lamp" and "the big lamp" in out["renamed"]["aliases"], shown
    assert out["facts"] == ["The bins go out on Tuesday"], shown
    assert out["pair_code"].startswith("Code ") and out["model"] == "Claude", shown
    assert not out["phone_overflow"], shown
    assert "not logged in" in out["after_logout"] and out["after_logout_status"] == 401, shown


def test_every_tile_control_calls_a_tool_with_arguments_it_takes(claw_home):
    """Each domain's control names a registered tool and arguments its schema accepts."""
    service = Claw(make_config(claw_home))
    kinds = [
        Entity("light.desk", "Desk", area="Study", state="on", attributes={"brightness": 128},
               services={"turn_on", "turn_off"}),
        Entity("media_player.study", "Study Speaker", area="Study", state="playing",
               attributes={"volume_level": 0.3},
               services={"media_play", "media_pause", "media_next_track", "media_previous_track", "volume_set"}),
        Entity("climate.hall", "Hall", state="heat", attributes={"temperature": 20, "min_temp": 7, "max_temp": 30},
               services={"set_temperature"}),
        Entity("cover.blind", "Blind", area="Study", state="open", device_class="blind",
               attributes={"current_position": 60}, services={"open_cover", "close_cover", "set_cover_position"}),
        Entity("lock.door", "Door", state="locked", services={"lock", "unlock"}),
        Entity("alarm_control_panel.home", "Alarm", state="disarmed", services={"alarm_arm_away", "alarm_disarm"}),
        Entity("vacuum.robot", "Robot", state="docked", services={"start", "return_to_base"}),
        Entity("switch.fan", "Fan", state="off", services={"turn_on", "turn_off"}),
        Entity("camera.drive", "Drive", state="idle", services={"snapshot"}),
    ]
    tile = _templates.get_template("tile.html").module.tile
    calls = []
    for e in kinds:
        markup = str(tile(e))
        found = [(m["tool"], json.loads(html.unescape(m["args"])), m["value"])
                 for m in re.finditer(r'data-tool="(?P<tool>\w+)"(?:\s+data-value="(?P<value>\w+)")?\s+'
                                      r"data-args='(?P<args>[^']*)'", markup)]
        found += [(c["tool"], c["args"], None) for key in ("on", "off")
                  for c in [json.loads(html.unescape(m)) for m in re.findall(rf"data-{key}='([^']*)'", markup)]]
        assert found or e.domain == "camera", e.entity_id
        calls += [(e, *call) for call in found]
    for e, tool, args, value in calls:
        spec = service.registry.get(tool)
        assert spec is not None, tool
        if value:
            args = {**args, value: 50}
        service.registry.validate(spec, args)  # raises ToolError naming a wrong argument
    assert {tool for _, tool, _, _ in calls} >= {
        "HassTurnOn", "HassTurnOff", "HassLightSet", "HassSetVolume", "HassMediaPause", "HassMediaUnpause",
        "HassMediaNext", "HassMediaPrevious", "HassClimateSetTemperature", "HassSetPosition",
        "HassVacuumStart", "HassVacuumReturnToBase"}
