"""The fast path through POST /api/chat on an emulated house (Hue bridge and Home Assistant
emulators, real drivers), with no model unless a test adds the Anthropic stand-in: the room the
speaker is in, compound commands, "which one?" answered without a model, questions about the
house, names said with typos, and a new message cancelling a confirmation still waiting."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from claw.service import Claw
from tests.anthropic_standin import AnthropicStandIn, text_reply
from tests.conftest import make_config, serve
from tests.home_fixtures import SmallHome, devices_in


class Chat:
    def __init__(self, api: Any, service: Claw, house: SmallHome):
        self.api = api
        self.service = service
        self.house = house

    async def say(self, text: str, chat_id: str = "fast", **body: Any) -> dict[str, Any]:
        r = await self.api.post("/api/chat", json={"text": text, "chat_id": chat_id, **body})
        assert r.status_code == 200, r.text
        await self.service.home.settle()
        return r.json()

    def on(self, name: str) -> bool:
        return self.house.light(name).on


async def _chat(claw_home: Path, standin: AnthropicStandIn | None = None) -> AsyncIterator[Chat]:
    service = Claw(make_config(claw_home, standin))
    async with devices_in(service.home, service.executor) as house:
        async with serve(service) as api:
            yield Chat(api, service, house)


@pytest.fixture
async def chat(claw_home: Path) -> AsyncIterator[Chat]:
    async for c in _chat(claw_home):
        yield c


@pytest.fixture
async def chat_with_model(claw_home: Path, standin: AnthropicStandIn) -> AsyncIterator[Chat]:
    async for c in _chat(claw_home, standin):
        yield c


async def test_the_room_comes_from_the_request_or_from_saying_it(chat: Chat) -> None:
    r = await chat.say("turn on the lights", area="Kitchen")
    assert r["backend"] == "fast"
    assert chat.on("Kitchen Ceiling") and chat.on("Kitchen Pendant") and not chat.on("Desk Lamp")

    r = await chat.say("I'm in the study", chat_id="upstairs")
    assert r["reply"] == "OK, you're in the Study: when you don't say where, I'll use the Study."
    r = await chat.say("turn on the light", chat_id="upstairs")
    assert [a["args"] for a in r["actions"]] == [{"area": "Study", "domain": ["light"]}]
    assert chat.on("Desk Lamp") and not chat.on("Floor Lamp")

    r = await chat.say("where am I?", chat_id="upstairs")
    assert r["reply"] == "As far as I know you're in the Study."
    # another chat has no room: it is asked, and nothing changes
    r = await chat.say("turn off the light", chat_id="elsewhere")
    assert r["reply"].startswith("Which room:") and r["actions"] == []
    assert chat.on("Desk Lamp")


async def test_a_compound_command_does_each_part(chat: Chat) -> None:
    r = await chat.say("turn on the desk lamp and the floor lamp, then turn off the desk lamp")
    assert r["backend"] == "fast"
    assert [(a["tool"], a["args"]["name"], a["ok"]) for a in r["actions"]] == [
        ("HassTurnOn", "Desk Lamp", True), ("HassTurnOn", "Floor Lamp", True), ("HassTurnOff", "Desk Lamp", True)]
    assert chat.on("Floor Lamp") and not chat.on("Desk Lamp")

    r = await chat.say("turn on the kitchen and study lights")
    assert chat.on("Kitchen Ceiling") and chat.on("Kitchen Pendant") and chat.on("Desk Lamp")


async def test_without_a_model_the_part_not_understood_is_named(chat: Chat) -> None:
    r = await chat.say("turn on the desk lamp and order a pizza")
    assert r["reply"] == ("Turned on the Desk Lamp. I didn't understand 'order a pizza', "
                          "so I haven't done anything about it.")
    assert chat.on("Desk Lamp")


async def test_with_a_model_a_half_understood_sentence_goes_to_it(chat_with_model: Chat,
                                                                   standin: AnthropicStandIn) -> None:
    standin.queue.append(text_reply("Done, and no pizza place is open."))
    r = await chat_with_model.say("turn on the desk lamp and order a pizza")
    assert r["backend"] == "claude" and len(standin.requests) == 1
    assert not chat_with_model.on("Desk Lamp")  # the stand-in called no tool
    r = await chat_with_model.say("turn on the dsek lamp")  # a typo of a real name: still fast
    assert r["backend"] == "fast" and chat_with_model.on("Desk Lamp") and len(standin.requests) == 1


async def test_which_one_is_asked_and_the_answer_needs_no_model(chat: Chat) -> None:
    await chat.service.home.customize("light.desk_lamp", aliases=["lamp"])
    await chat.service.home.customize("light.floor_lamp", aliases=["lamp"])
    r = await chat.say("turn on the lamp")
    assert r["reply"] == "Which one: Desk Lamp (Study) or Floor Lamp (Living Room)?"
    assert not chat.on("Desk Lamp") and not chat.on("Floor Lamp")
    r = await chat.say("the living room one")
    assert r["reply"] == "Turned on the Floor Lamp." and r["backend"] == "fast"
    assert chat.on("Floor Lamp") and not chat.on("Desk Lamp")
    # an answer only answers the question just asked
    r = await chat.say("the study one")
    assert r["backend"] == "none" and not chat.on("Desk Lamp")
    await chat.say("turn on the lamp")
    r = await chat.say("never mind")
    assert r["reply"] == "OK, I've left it as it is." and not chat.on("Desk Lamp")


async def test_questions_about_the_house_are_answered_from_it(chat: Chat) -> None:
    r = await chat.say("where is the desk lamp?")
    assert r["reply"] == "The Desk Lamp is in the Study, on the First Floor."
    r = await chat.say("what's in the kitchen?")
    assert r["reply"].startswith("In the Kitchen: ") and "Kitchen Pendant (light, off)" in r["reply"]
    r = await chat.say("what can you do?")
    assert '"turn on the' in r["reply"] and "I'm in the kitchen" in r["reply"]
    r = await chat.say("which rooms do you know?")
    assert "Study (First Floor)" in r["reply"] and "Kitchen (Ground Floor)" in r["reply"]
    assert all(not a["ok"] or a["tool"] != "HassTurnOn" for a in r["actions"])


async def test_a_new_message_cancels_the_confirmation_waiting_and_is_answered(chat: Chat) -> None:
    unlock = asyncio.create_task(chat.say("unlock the front door"))
    for _ in range(200):
        if chat.service.confirmations.pending():
            break
        await asyncio.sleep(0.02)
    assert len(chat.service.confirmations.pending()) == 1
    r = await asyncio.wait_for(chat.say("turn on the desk lamp"), 10)
    assert r["reply"].startswith("I cancelled what was waiting for confirmation (Unlock the Front Door)")
    assert r["reply"].endswith("Turned on the light") and chat.on("Desk Lamp")
    first = await asyncio.wait_for(unlock, 5)
    assert "a newer message in this chat cancelled the request" in first["reply"], first["reply"]
    assert chat.house.ha.states["lock.front_door"]["state"] == "locked"
    assert chat.service.confirmations.pending() == []
