"""The local model cannot hurt the house: what each turn offers it and what is done with what it
proposes. The engine here is a scripted stand-in for the model (the backend's own interface:
`complete(system, messages, tools) -> LocalReply`), so each rule is checked exactly; the real
tiny model goes through the same rules in test_local_path.py.

The house is real: a Hue bridge and a Home Assistant on loopback (tests/home_fixtures.py), and
a 1,000-entity Home Assistant for the prompt-size check, tokenized with the test model's own
vocabulary.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from llama_cpp import Llama

from claw.agent import house_tool_specs
from claw.config import LocalModelConfig
from claw.local import LocalBackend, to_local_messages
from claw.models import LOCAL_NOTE, Prompt
from claw.tools import ToolRegistry
from devices.families.homeassistant.driver import HomeAssistantDriver
from devices.families.homeassistant.emulator import HomeAssistantEmulator
from devices.home import Home
from devices.model import Device
from local_llm import LocalReply, ToolCall, default_model_path
from local_llm.guard import echoes, is_question, repeats_itself
from local_llm.prompt import ChatPrompt
from memory.store import Store
from tests.home_fixtures import small_home


class ScriptedModel:
    """Answers with the given reply and records what each turn offered."""

    def __init__(self, text: str = "", calls: list[ToolCall] | None = None):
        self.text, self.calls = text, calls or []
        self.seen: list[tuple[str, list[dict], list[dict]]] = []

    def complete(self, system: str, messages: list[dict], tools: list[dict]) -> LocalReply:
        self.seen.append((system, messages, tools))
        return LocalReply(self.text, list(self.calls), 100, 10, 5)


@pytest.fixture
async def house(tmp_path: Path):
    async with small_home(tmp_path) as h:
        registry = h.executor.registry
        h.backend = LocalBackend(LocalModelConfig(model_path="unused.gguf"), h.home)  # type: ignore[attr-defined]
        h.specs = house_tool_specs(registry, h.home)  # type: ignore[attr-defined]
        yield h


def _prompt(house, said: str, area: str | None = None, history: list[dict] | None = None) -> Prompt:
    messages = [*(history or []), {"role": "user", "content": said}]
    return Prompt("STABLE with every device", "Now: Monday.", messages, house.specs,
                  persona="You are Claw.", said=said, area=area)


async def _answer(house, said: str, model: ScriptedModel, area: str | None = None, history=None):
    house.backend._engine = model
    return await house.backend.complete(_prompt(house, said, area, history))


@pytest.mark.parametrize("text", [
    "is anything on in the kitchen?", "what's the temperature in the hallway", "are the lights on",
    "how warm is it in the hallway", "can you tell me if the desk lamp is on", "the garage door is open?",
    "anything playing in the study"])
def test_questions_are_recognised(text: str) -> None:
    assert is_question(text)


@pytest.mark.parametrize("text", [
    "turn on the kitchen lights", "could you get the desk lamp going", "please dim the floor lamp",
    "turn of the kitchen ceiling", "set the hallway to 21 degrees"])
def test_commands_are_not_questions(text: str) -> None:
    assert not is_question(text)


async def test_a_question_is_offered_read_only_tools_and_a_write_never_comes_back(house) -> None:
    # Even a model that wanted to switch things on gets no tool that could.
    model = ScriptedModel("The kitchen ceiling is on.")
    reply = await _answer(house, "is anything on in the kitchen?", model)
    offered = {tool["name"] for tool in model.seen[0][2]}
    assert offered == {"GetLiveContext"}  # of the small profile's tools, the one that reads the house
    assert reply.tool_uses == []
    command = ScriptedModel("ok")
    await _answer(house, "turn on the kitchen ceiling", command)
    assert {"HassTurnOn", "HassTurnOff", "HassLightSet"} <= {t["name"] for t in command.seen[0][2]}


@pytest.mark.parametrize("said, call, area, acts", [
    # named in the sentence: done
    ("turn on the kitchen ceiling", ToolCall("HassTurnOn", {"name": "Kitchen Ceiling"}), None, True),
    ("pause the music in the study", ToolCall("HassTurnOff", {"area": "Study"}), None, False),  # "off" unsaid
    ("turn off the lights in the kitchen", ToolCall("HassTurnOff", {"area": "Kitchen", "domain": "light"}), None, True),
    # a device the sentence never named: ask
    ("turn on the light", ToolCall("HassTurnOn", {"name": "Desk Lamp"}), None, False),
    # ... unless it is in the speaker's room
    ("turn on the light", ToolCall("HassTurnOn", {"name": "Desk Lamp"}), "Study", True),
    # the typo'd "off" proposed as on: ask
    ("turn of the kitchen ceiling", ToolCall("HassTurnOn", {"name": "Kitchen Ceiling"}), None, False),
    # every light in the house, when nobody said all: ask; when they did: done
    ("turn off the lights", ToolCall("HassTurnOff", {"domain": "light"}), None, False),
    ("turn off all the lights", ToolCall("HassTurnOff", {"domain": "light"}), None, True),
    # words that fit no part of the tool: ask
    ("make it cosy", ToolCall("HassLightSet", {"name": "Floor Lamp", "brightness": 30}), None, False),
    # a number nobody said (copied from the catalog's example): ask
    ("could you get the desk lamp going", ToolCall("HassLightSet", {"name": "Desk Lamp", "brightness": 20}), None, False),
    ("dim the desk lamp", ToolCall("HassLightSet", {"name": "Desk Lamp", "brightness": 20}), None, False),
    ("dim the desk lamp to 30%", ToolCall("HassLightSet", {"name": "Desk Lamp", "brightness": 30}), None, True),
])
async def test_a_write_acts_only_when_the_sentence_grounds_it(house, said, call, area, acts) -> None:
    reply = await _answer(house, said, ScriptedModel("", [call]), area)
    if acts:
        assert [use.name for use in reply.tool_uses] == [call.name], reply.text
    else:
        assert reply.tool_uses == []
        assert reply.text.startswith("Should I ") and "I haven't" in reply.text, reply.text


async def test_a_write_without_a_target_acts_in_the_speakers_room(house) -> None:
    reply = await _answer(house, "turn off the lights", ScriptedModel("", [ToolCall("HassTurnOff", {"domain": "light"})]),
                          area="Kitchen")
    assert [(use.name, use.input) for use in reply.tool_uses] == [("HassTurnOff", {"domain": "light", "area": "Kitchen"})]


@pytest.mark.parametrize("text", [
    "pause the music in the study",  # the user's words back
    "(pause the music in the study, and then continue with the task)",
    "switch on the porch light",  # the catalog's example
    "Done. Done. Done. Done. Done. Done.",
    "the light is on the light is on the light is on",
    "The floor lamp is a detail, but it's not a device. It's a detail, but it's a detail.",
    ""])
async def test_an_echoed_looping_or_empty_reply_is_not_sent(house, text) -> None:
    reply = await _answer(house, "pause the music in the study", ScriptedModel(text))
    assert reply.text != text
    assert "Name the device or room" in reply.text


async def test_after_a_tool_an_echo_is_replaced_by_the_tools_result(house) -> None:
    house.backend._engine = ScriptedModel("pause the music in the study")
    prompt = _prompt(house, "pause the music in the study")
    prompt.messages += [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "HassMediaPause",
                                           "input": {"area": "Study"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                      "content": [{"type": "text", "text": "Paused the Study Speaker."}]}]}]
    reply = await house.backend.complete(prompt)
    assert reply.text == "Paused the Study Speaker."


async def test_after_a_tool_a_reply_ignoring_its_result_is_replaced_by_it(house) -> None:
    house.backend._engine = ScriptedModel("The user is not allowed to ask for a response.")
    prompt = _prompt(house, "is anything on in the kitchen?")
    prompt.messages += [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "GetLiveContext",
                                           "input": {"area": "Kitchen"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                      "content": [{"type": "text", "text": "Kitchen Ceiling (Kitchen): off"}]}]}]
    assert (await house.backend.complete(prompt)).text == "Kitchen Ceiling (Kitchen): off"
    house.backend._engine = ScriptedModel("The kitchen ceiling is off.")
    assert (await house.backend.complete(prompt)).text == "The kitchen ceiling is off."


async def test_a_reply_claiming_a_change_no_tool_made_is_not_sent(house) -> None:
    reply = await _answer(house, "make the study cosy", ScriptedModel("The Study Blinds turned on at 20% brightness."))
    assert "turned on" not in reply.text and "Name the device or room" in reply.text


async def test_quotes_around_a_reply_are_taken_off(house) -> None:
    reply = await _answer(house, "is the desk lamp on?", ScriptedModel('"The desk lamp is off."'))
    assert reply.text == "The desk lamp is off."


def test_good_replies_are_not_taken_for_echoes() -> None:
    assert not echoes("Good morning! How can I help?", ["good morning!"])
    assert not echoes("The desk lamp is on at 40%.", ["is the desk lamp on?"])
    assert not repeats_itself("The kitchen ceiling and the kitchen pendant are on.")


def test_each_local_turn_gets_a_short_clean_history() -> None:
    history = []
    for i in range(6):
        history += [{"role": "user", "content": f"question {i}"},
                    {"role": "assistant", "content": f"answer {i} {LOCAL_NOTE}"}]
    history[-1]["content"] = "on on on on on on on on on"  # the last reply looped
    history += [{"role": "user", "content": "x" * 1000}, {"role": "assistant", "content": "long one"}]
    prompt = Prompt("S", "Now.", history + [{"role": "user", "content": "turn on the desk lamp"}], [])
    messages = to_local_messages(prompt, "Devices: Desk Lamp")
    texts = [m["content"] for m in messages]
    # two exchanges: the looping one is dropped with its question, the long one is cut
    assert texts == ["question 4", "answer 4", "x" * 300, "long one", "Now.\n\nDevices: Desk Lamp",
                     "turn on the desk lamp"]
    assert not any(LOCAL_NOTE in t for t in texts)


async def test_the_local_prompt_lists_only_the_devices_the_sentence_names(house) -> None:
    model = ScriptedModel("ok")
    await _answer(house, "dim the desk lamp", model)
    system, messages, tools = model.seen[0]
    assert "Desk Lamp" in messages[-2]["content"] and "Kitchen Pendant" not in messages[-2]["content"]
    assert "Desk Lamp" not in system  # the stable prefix holds no device
    light_set = next(t for t in tools if t["name"] == "HassLightSet")
    assert "Kitchen Ceiling" not in light_set["input_schema"]["properties"]["name"]["enum"]


def test_tools_are_only_those_the_house_can_use() -> None:
    registry = ToolRegistry()
    from claw import home_tools
    from claw.executor import Executor

    home = Home(Store(":memory:"))
    home_tools.register(registry, Executor(registry, home), home)
    names = {spec["name"] for spec in house_tool_specs(registry, home)}
    assert "HassLawnMowerStartMowing" not in names and "HassLightSet" not in names
    assert "HassTurnOn" not in names  # nothing in an empty house turns on
    assert {"GetLiveContext", "GetDateTime"} <= names


@pytest.fixture(scope="module")
def vocab() -> Llama:
    return Llama(model_path=default_model_path(), vocab_only=True, verbose=False)


@pytest.mark.parametrize("size", [10, 1000])
async def test_a_thousand_entity_house_fits_the_local_context(tmp_path: Path, vocab, size) -> None:
    ha = HomeAssistantEmulator(token="t" * 40)
    for i in range(size):
        ha.add_entity(f"light.lamp_{i}", "off", {"friendly_name": f"Lamp {i}", "area": f"Room {i // 10}"})
    ha.add_entity("light.desk_lamp", "off", {"friendly_name": "Desk Lamp", "area": "Study"})
    await ha.start()
    home = Home(Store(tmp_path / "claw.db"), device_timeout=5.0)
    driver = HomeAssistantDriver(Device("ha:1", "home_assistant", "HA", ha.host, ha.port), "t" * 40, timeout=5.0)
    try:
        await home.add(driver)
        assert len(home.entities) == size + 1
        registry = ToolRegistry()
        from claw import home_tools
        from claw.executor import Executor

        home_tools.register(registry, Executor(registry, home), home)
        backend = LocalBackend(LocalModelConfig(model_path="unused.gguf"), home)
        model = backend._engine = ScriptedModel("ok")
        said = "turn on the desk lamp in the study"
        await backend.complete(Prompt("S", "Now.", [{"role": "user", "content": said}],
                                      house_tool_specs(registry, home), persona="You are Claw.", said=said))
        system, messages, tools = model.seen[0]
        tokens = len(ChatPrompt(vocab, None).tokens(system, messages))
        assert tokens < 4096 - 256, tokens
        listed = messages[-2]["content"]
        assert "Desk Lamp" in listed and listed.count("\n  - ") <= 40
    finally:
        await driver.close()
        await ha.stop()


def test_a_server_answer_that_breaks_the_schema_is_refused() -> None:
    # A server may ignore response_format; what it sends is checked before anything acts on it.
    from local_llm.remote import _misfit

    schema = {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "enum": ["Desk Lamp"]}, "brightness": {"type": "integer"}}}
    assert _misfit(schema, {"name": "Desk Lamp", "brightness": 30}) == ""
    assert "not one of the choices" in _misfit(schema, {"name": "Garage Door"})
    assert "missing name" in _misfit(schema, {"brightness": 30})
    assert "unknown code" in _misfit(schema, {"name": "Desk Lamp", "code": "1234"})
    assert "brightness is not of type integer" in _misfit(schema, {"name": "Desk Lamp", "brightness": True})
    assert _misfit(schema, ["Desk Lamp"]) == "not a JSON object"
