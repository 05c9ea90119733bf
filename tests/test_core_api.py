"""The service core over real HTTP with the real anthropic SDK against a loopback stand-in."""
from __future__ import annotations

import asyncio
import subprocess
import sys

from claw.service import Claw
from tests.anthropic_standin import AnthropicStandIn, text_reply, tool_reply
from tests.conftest import make_config, serve


async def test_health_and_openapi(api):
    r = await api.get("/api/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["models"]["cloud"] is True
    docs = await api.get("/openapi.json")
    assert "/api/chat" in docs.json()["paths"]


async def test_chat_returns_model_text(api, standin: AnthropicStandIn):
    standin.queue.append(text_reply("Hello from the house."))
    r = await api.post("/api/chat", json={"text": "hi"})
    assert r.status_code == 200
    assert r.json() == {"reply": "Hello from the house.", "actions": [], "backend": "claude"}
    sent = standin.requests[0]
    assert sent["messages"][-1] == {"role": "user", "content": "hi"}
    # the stable prefix is marked for prompt caching; the volatile part follows it
    assert sent["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert "Claw" in sent["system"][0]["text"]
    assert sent["system"][1]["text"].startswith("Now:")
    assert standin.headers[0].get("authorization") == "Bearer test-key" or \
        standin.headers[0].get("x-api-key") == "test-key"


async def test_tool_use_turn_then_text_turn(api, standin: AnthropicStandIn):
    standin.queue += [tool_reply("remember", {"fact": "The study is also called the office"}),
                      text_reply("Got it.")]
    r = await api.post("/api/chat", json={"text": "the study is also called the office", "chat_id": "c1"})
    body = r.json()
    assert body["reply"] == "Got it."
    assert body["actions"][0]["tool"] == "remember"
    assert body["actions"][0]["ok"] is True
    second = standin.requests[1]
    assert second["messages"][-2]["content"][0]["type"] == "tool_use"
    result = second["messages"][-1]["content"][0]
    assert result["type"] == "tool_result" and "Remembered" in result["content"][0]["text"]
    facts = (await api.get("/api/memory", params={"q": "office"})).json()["facts"]
    assert [f["text"] for f in facts] == ["The study is also called the office"]


async def test_unknown_tool_and_bad_args_go_back_to_the_model_as_text(api, standin):
    standin.queue += [tool_reply("NoSuchTool", {}), tool_reply("forget", {"fact_id": "x"}),
                      text_reply("Sorry.")]
    body = (await api.post("/api/chat", json={"text": "do it"})).json()
    assert [a["ok"] for a in body["actions"]] == [False, False]
    assert "no tool called NoSuchTool" in body["actions"][0]["result"]
    assert "whole number" in body["actions"][1]["result"]
    assert standin.requests[1]["messages"][-1]["content"][0]["is_error"] is True


async def test_tool_iterations_are_bounded(claw_home, standin):
    config = make_config(claw_home, standin)
    config.agent.max_tool_iterations = 3
    standin.default = tool_reply("recall", {"query": "anything"})
    async with serve(Claw(config)) as client:
        body = (await client.post("/api/chat", json={"text": "loop forever"})).json()
    assert len(standin.requests) == 3
    assert "stopped after 3 steps" in body["reply"]


async def test_api_errors_give_a_clear_reply_and_the_service_keeps_serving(api, standin):
    standin.queue += [("status", 500), ("status", 529), ("sleep", 5), ("raw", "{not json"),
                      ("status", 429), text_reply("Back again.")]
    replies = []
    for _ in range(5):
        r = await api.post("/api/chat", json={"text": "lights?"})
        assert r.status_code == 200
        replies.append(r.json()["reply"])
    assert "failed (500)" in replies[0]
    assert "overloaded" in replies[1]
    assert "did not answer within" in replies[2]
    assert "malformed" in replies[3]
    assert "rate-limiting" in replies[4]
    assert all("Nothing in the house was changed" in r for r in replies)
    r = await api.post("/api/chat", json={"text": "hello?"})
    assert r.json()["reply"] == "Back again."


async def test_no_model_configured_still_answers(claw_home):
    service = Claw(make_config(claw_home))
    async with serve(service) as client:
        r = await client.post("/api/chat", json={"text": "hello"})
    assert r.status_code == 200
    assert "ANTHROPIC_API_KEY" in r.json()["reply"]


async def test_memory_is_used_in_a_later_turn(api, standin):
    standin.queue += [tool_reply("remember", {"fact": "I like jazz after 8pm"}), text_reply("Noted.")]
    await api.post("/api/chat", json={"text": "I like jazz after 8pm", "chat_id": "a"})
    await api.post("/api/chat", json={"text": "play some jazz in the study", "chat_id": "b"})
    later = standin.requests[-1]
    assert "I like jazz after 8pm" in later["system"][1]["text"]
    # unrelated facts are not put into the context
    await api.post("/api/chat", json={"text": "what time is it", "chat_id": "b"})
    assert "jazz" not in standin.requests[-1]["system"][1]["text"]


async def test_recent_window_is_bounded(api, standin):
    for i in range(30):
        await api.post("/api/chat", json={"text": f"message {i}", "chat_id": "long"})
    last = standin.requests[-1]["messages"]
    assert len(last) <= 12
    assert last[-1]["content"] == "message 29"


async def test_per_chat_lanes_keep_order_and_run_chats_concurrently(api, standin):
    standin.default = ("sleep", 0.3)
    # a slow chat does not hold up another chat
    standin.queue = []
    config = api.claw.config  # type: ignore[attr-defined]
    config.anthropic.timeout = 5
    a = [asyncio.create_task(api.post("/api/chat", json={"text": f"a{i}", "chat_id": "A"})) for i in range(3)]
    await asyncio.sleep(0.05)
    b = asyncio.create_task(api.post("/api/chat", json={"text": "b0", "chat_id": "B"}))
    await asyncio.gather(*a, b)
    texts = [r["messages"][-1]["content"] for r in standin.requests]
    assert [t for t in texts if t.startswith("a")] == ["a0", "a1", "a2"]
    assert texts.index("b0") < texts.index("a2")


async def test_api_requires_the_configured_token(claw_home, standin):
    config = make_config(claw_home, standin, CLAW_HTTP_TOKEN="s3cret-but-long-enough")
    service = Claw(config)
    async with serve(service) as client:
        assert (await client.get("/api/devices")).status_code == 200
        client.headers.pop("Authorization")
        assert (await client.get("/api/health")).status_code == 200  # health is open
        r = await client.get("/api/devices")
        assert r.status_code == 401
        assert "Bearer" in r.json()["detail"]


def test_bad_config_one_line_exit_2(claw_home):
    (claw_home / "claw.toml").write_text("[http]\nport = 'eighty'\n")
    p = subprocess.run([sys.executable, "-m", "claw.cli", "--data-dir", str(claw_home), "run"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0
    assert "http.port" in p.stderr and "Traceback" not in p.stderr


def test_config_errors_name_the_key(claw_home):
    from claw import config as config_mod
    from claw.config import ConfigError
    import pytest

    cases = {
        "[http]\nprot = 1\n": "unknown key http.prot",
        "[nope]\n": "unknown section [nope]",
        "[http\n": "not valid TOML",
        "[agent]\nmax_tool_iterations = 0\n": "agent.max_tool_iterations",
        "[local]\nmodel_path = '/no/such.gguf'\n": "local.model_path",
        "[agent]\nlanguage = 'xx'\n": "agent.language 'xx' has no command sentences",
    }
    for text, expected in cases.items():
        (claw_home / "claw.toml").write_text(text)
        with pytest.raises(ConfigError, match=expected.replace("[", r"\[")):
            config_mod.load(claw_home, env={})
    (claw_home / "claw.toml").write_text("")
    with pytest.raises(ConfigError, match="http.token is too short"):
        config_mod.load(claw_home, env={"CLAW_HTTP_TOKEN": "s3cret"})


async def test_every_tool_has_a_typed_endpoint_and_the_generic_route_serves_later_ones(api):
    schema = (await api.get("/openapi.json")).json()
    turn_on = schema["paths"]["/api/tools/HassTurnOn"]["post"]
    ref = turn_on["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    arguments = schema["components"]["schemas"][ref]
    assert {"name", "area", "floor", "domain", "device_class"} <= set(arguments["properties"])
    assert arguments["additionalProperties"] is False
    assert "Turns on" in turn_on["description"]
    assert all(f"/api/tools/{name}" in schema["paths"] for name in api.claw.registry.tools)  # type: ignore[attr-defined]

    r = await api.post("/api/tools/GetLiveContext", json={"domain": "light"})  # one kind is a list of one
    assert r.status_code == 200 and r.json()["ok"] is False  # no devices in this house
    r = await api.post("/api/tools/HassTurnOn", json={"nmae": "Desk Lamp"})
    assert r.status_code == 422 and "nmae" in r.text
    r = await api.post("/api/tools/forget", json={"fact_id": "5"})  # not a number here either
    assert r.status_code == 422
    assert (await api.post("/api/tools/GetDateTime", json={})).json()["ok"] is True

    async def Echo(ctx, text: str) -> str:
        """Says the text back."""
        return text

    api.claw.registry.add(Echo)  # type: ignore[attr-defined]
    r = await api.post("/api/tools/Echo", json={"text": "hi"})
    assert r.json() == {"tool": "Echo", "args": {"text": "hi"}, "result": "hi", "ok": True}
