"""The whole stack on the built-in demo house: emulators advertised over mDNS/SSDP, Claw
discovering them, commands through the HTTP API. Runs inside a network namespace the test
creates, so the multicast never touches a real network."""
from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from claw.demo import demo_app, demo_service
from devices.emulators.house import DEMO_HOME, EmulatedHouse
from tests import netns
from tests.anthropic_standin import AnthropicStandIn, text_reply, tool_reply
from tests.conftest import make_config, serve

MODULE = "tests.test_demo_house"


async def scenario_demo() -> dict:
    assert netns.only_loopback(), "refusing to multicast outside a test namespace"
    out: dict = {}
    standin = AnthropicStandIn()
    await standin.start()
    house = EmulatedHouse.from_file(DEMO_HOME)
    await house.start()
    with tempfile.TemporaryDirectory() as tmp:
        service = demo_service(make_config(Path(tmp), standin), house)
        async with serve(service, demo_app(service, house)) as api:
            start = time.monotonic()
            while len(service.home.entities) < len(house.spec.entities) and time.monotonic() - start < 20:
                await asyncio.sleep(0.05)
            out["discovered_s"] = time.monotonic() - start
            await asyncio.sleep(2)  # the announcement waits for a quiet moment
            out["notices"] = list(service.agent.owner_notices)
            devices = (await api.get("/api/devices")).json()
            out["entities"] = {e["entity_id"]: [e["name"], e["area"], e["state"]] for e in devices["entities"]}

            study = house.families["sonos"].speakers["media_player.study"]
            out["play"] = (await api.post("/api/tools/HassMediaUnpause", json={"area": "Study"})).json()
            out["after_play"] = study.state.transport
            # a sentence the fast path does not know goes to the model, which calls the tool
            standin.queue += [tool_reply("HassMediaPause", {"area": "Study"}), text_reply("Paused the study.")]
            out["chat"] = (await api.post("/api/chat", json={"text": "could you hush the study for a bit"})).json()
            out["after_chat"] = study.state.transport
            out["model_requests"] = len(standin.requests)
            await api.post("/api/tools/HassMediaUnpause", json={"area": "Study"})
            # the common phrasing needs no model at all
            out["fast"] = (await api.post("/api/chat", json={"text": "pause the music in the study"})).json()
            out["after_fast"] = study.state.transport
            out["model_requests_after_fast"] = len(standin.requests)
            devices = (await api.get("/api/devices")).json()
            out["api_state"] = {e["entity_id"]: e["state"] for e in devices["entities"]}.get(
                "media_player.study")

            # HA's sentence templates don't cover the first phrasing; the fast path still gets it
            for text in ("set the hallway to 21 degrees", "turn on the pool pump",
                         "what's the spa temperature?", "is the garage door open?"):
                out[text] = (await api.post("/api/chat", json={"text": text})).json()
            out["hallway_target"] = house.families["home_assistant"].server.states["climate.hallway"]["attributes"]["temperature"]
            out["pool_pump_on"] = house.families["shelly"].devices["switch.pool_pump"].output

            # the model looks at a camera picture (Claude vision): the JPEG goes back with the tool result
            house.families["camera"].cameras["camera.driveway_camera"].set_scene("truck")
            standin.queue += [tool_reply("CameraSnapshot", {"area": "Driveway"}),
                              text_reply("A delivery truck is in the driveway.")]
            out["look"] = (await api.post("/api/chat", json={"text": "anyone in the driveway?"})).json()
            result_blocks = standin.requests[-1]["messages"][-1]["content"][0]["content"]
            out["image_block"] = [b["type"] for b in result_blocks]
            out["image_media_type"] = result_blocks[-1].get("source", {}).get("media_type")

            lights = await api.post("/api/tools/HassTurnOn", json={"area": "Kitchen", "domain": ["light"]})
            out["lights"] = lights.json()
            out["hue_on"] = sorted(l.name for l in house.families["hue"].bridge.lights.values() if l.on)

            house.families["sonos"].speakers["media_player.living_room"].fail = "offline"
            t = time.monotonic()
            out["offline"] = (await api.post("/api/tools/HassMediaUnpause", json={"area": "Living Room"})).json()
            out["offline_s"] = time.monotonic() - t
            house.families["sonos"].speakers["media_player.living_room"].fail = None

            # a security action waits for the owner's answer; nothing happens before it
            unlock = asyncio.create_task(api.post("/api/tools/HassTurnOff", json={"name": "Front Door"}))
            pending: list = []
            for _ in range(100):
                pending = (await api.get("/api/confirmations")).json()["confirmations"]
                if pending:
                    break
                await asyncio.sleep(0.05)
            out["pending"] = pending
            out["lock_while_pending"] = house.families["home_assistant"].server.states["lock.front_door"]["state"]
            await api.post(f"/api/confirmations/{pending[0]['id']}", json={"approve": False})
            out["unlock"] = (await unlock).json()
            out["lock_state"] = house.families["home_assistant"].server.states["lock.front_door"]["state"]

            out["reset"] = (await api.post("/api/demo/reset", json={})).status_code
            out["after_reset"] = {
                "study": study.state.transport,
                "hue_on": sorted(l.name for l in house.families["hue"].bridge.lights.values() if l.on),
            }
    await house.stop()
    await standin.stop()
    return out


def test_demo_house_end_to_end():
    with netns.namespace() as ns:
        out = netns.run_in(ns, MODULE, "scenario_demo", timeout=90)
    entities = out["entities"]
    assert len(entities) == 25, sorted(entities)
    assert out["discovered_s"] < 10
    assert entities["media_player.study"][:2] == ["Study Speaker", "Study"]
    assert entities["light.kitchen_ceiling"][:2] == ["Kitchen Ceiling", "Kitchen"]
    assert entities["switch.pool_pump"][:2] == ["Pool Pump", "Garden"]
    assert entities["climate.hallway"][1:] == ["Hallway", "heat"]
    assert entities["cover.garage_door"][1] == "Garage"
    assert entities["camera.driveway_camera"][1] == "Driveway"
    assert any("two Sonos speakers" in n and "Hue bridge with 4 lights" in n for n in out["notices"]), out["notices"]

    assert out["play"]["ok"] and out["after_play"] == "PLAYING"
    # the owner hears about the found devices once, with their next reply
    assert out["chat"]["reply"].startswith("Paused the study.\n\nI found ")
    assert out["chat"]["actions"][0]["tool"] == "HassMediaPause" and out["chat"]["actions"][0]["ok"]
    assert out["after_chat"] == "PAUSED_PLAYBACK"
    assert out["fast"]["backend"] == "fast" and out["fast"]["actions"][0]["tool"] == "HassMediaPause"
    assert out["after_fast"] == "PAUSED_PLAYBACK"
    assert out["model_requests_after_fast"] == out["model_requests"] == 2
    assert out["api_state"] == "paused"

    assert out["hallway_target"] == 21
    assert out["set the hallway to 21 degrees"]["backend"] == "fast", out["set the hallway to 21 degrees"]
    assert out["pool_pump_on"] is True
    assert "37" in out["what's the spa temperature?"]["reply"], out["what's the spa temperature?"]
    assert out["is the garage door open?"]["reply"].startswith("No"), out["is the garage door open?"]

    assert out["look"]["reply"] == "A delivery truck is in the driveway."
    assert out["image_block"] == ["text", "image"] and out["image_media_type"] == "image/jpeg"

    assert out["lights"]["ok"], out["lights"]
    assert out["hue_on"] == ["Floor Lamp", "Kitchen Ceiling", "Kitchen Pendant"]

    assert not out["offline"]["ok"]
    assert "can't reach" in out["offline"]["result"] and "127.0.0.31" in out["offline"]["result"]
    assert out["offline_s"] < 8

    assert out["pending"][0]["what"] == "Unlock the Front Door"
    assert out["lock_while_pending"] == "locked"
    assert not out["unlock"]["ok"] and "not confirmed" in out["unlock"]["result"]
    assert out["lock_state"] == "locked"

    assert out["reset"] == 200
    assert out["after_reset"] == {"study": "PAUSED_PLAYBACK", "hue_on": ["Floor Lamp"]}
