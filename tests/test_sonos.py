"""The Sonos driver and emulator: real soco 0.32 against emulated speakers on loopback.

soco keeps one SoCo object per (ip, port) and caches each household's topology for 5 s, so
every test gets fresh 127.0.2.x addresses and its own household.
"""
from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

import pytest
import soco
from soco.exceptions import SoCoUPnPException

from devices.families.sonos.emulator import SonosEmulator, SonosHousehold
from devices.home import Home
from devices.model import Device, DeviceError
from devices.families.sonos.driver import SERVICES, SonosDriver
from memory.store import Store

_hosts = itertools.count(1)

MakeSpeaker = Callable[..., Awaitable[SonosEmulator]]
MakeDriver = Callable[..., SonosDriver]


@pytest.fixture
async def speaker() -> AsyncIterator[MakeSpeaker]:
    """Starts emulated speakers, all in one fresh household, on fresh loopback addresses."""
    household = SonosHousehold(f"Sonos_{uuid.uuid4().hex[:12]}")
    started: list[SonosEmulator] = []

    async def make(room: str, **kwargs: object) -> SonosEmulator:
        emu = SonosEmulator(f"127.0.2.{next(_hosts)}", room, household=household, **kwargs)  # type: ignore[arg-type]
        started.append(await emu.start())
        return emu

    yield make
    for emu in started:
        await emu.stop()


@pytest.fixture
async def driver() -> AsyncIterator[MakeDriver]:
    made: list[SonosDriver] = []

    def make(emu: SonosEmulator, timeout: float = 3.0) -> SonosDriver:
        device = Device(f"sonos:{emu.uid}", "sonos", emu.uid, emu.host, emu.port, model=emu.model_name)
        made.append(SonosDriver(device, timeout=timeout))
        return made[-1]

    yield make
    for d in made:
        await d.close()


async def test_refresh_reports_the_room_its_state_and_favorites(speaker: MakeSpeaker, driver: MakeDriver) -> None:
    emu = await speaker("Living Room")
    [entity] = await driver(emu).refresh()
    assert entity.entity_id == "media_player.living_room"
    assert (entity.name, entity.aliases, entity.area) == ("Living Room Speaker", ["Living Room Sonos"], "Living Room")
    assert entity.services == set(SERVICES) and "join" in entity.services
    assert entity.state == "idle"
    attrs = entity.attributes
    assert attrs["volume_level"] == 0.2 and attrs["is_volume_muted"] is False
    assert (attrs["media_title"], attrs["media_artist"]) == ("Clair de Lune", "Claude Debussy")
    assert attrs["favorites"] == ["Morning Jazz", "Rain Sounds"]
    assert attrs["group_members"] == ["media_player.living_room"]


async def test_transport_volume_and_mute_reach_the_speaker(speaker: MakeSpeaker, driver: MakeDriver) -> None:
    emu = await speaker("Study")
    study = driver(emu)
    await study.refresh()
    await study.call("media_player.study", "media_play", {})
    assert emu.state.transport == "PLAYING"
    await study.call("media_player.study", "media_next_track", {})
    assert emu.state.track is not None and emu.state.track.title == "Gymnopédie No. 1"
    await study.call("media_player.study", "media_pause", {})
    [entity] = await study.refresh()
    assert (entity.state, entity.attributes["media_title"]) == ("paused", "Gymnopédie No. 1")
    await study.call("media_player.study", "media_previous_track", {})
    assert emu.state.queue_index == 0
    await study.call("media_player.study", "media_stop", {})
    assert emu.state.transport == "STOPPED"

    await study.call("media_player.study", "volume_set", {"volume_level": 0.45})
    await study.call("media_player.study", "volume_mute", {"is_volume_muted": True})
    assert (emu.state.volume, emu.state.mute) == (45, True)
    [entity] = await study.refresh()
    assert (entity.attributes["volume_level"], entity.attributes["is_volume_muted"]) == (0.45, True)


async def test_a_refused_command_is_a_clear_error(speaker: MakeSpeaker, driver: MakeDriver) -> None:
    emu = await speaker("Study")
    study = driver(emu)
    await study.refresh()
    with pytest.raises(DeviceError, match=r"The Study speaker refused to go back a track: "
                                          r"Illegal seek target \(UPnP error 711\)"):
        await study.call("media_player.study", "media_previous_track", {})
    with pytest.raises(DeviceError, match="volume level is a number from 0 to 1"):
        await study.call("media_player.study", "volume_set", {"volume_level": 45})
    with pytest.raises(DeviceError, match="can't turn_on"):
        await study.call("media_player.study", "turn_on", {})
    with pytest.raises(DeviceError, match="media_player.kitchen is not on the Study speaker"):
        await study.call("media_player.kitchen", "media_play", {})
    assert (emu.state.volume, emu.state.transport) == (20, "STOPPED")


async def test_a_refused_command_leaves_the_speaker_available(
        speaker: MakeSpeaker, driver: MakeDriver, tmp_path: Path) -> None:
    """A UPnP fault answers that one command: the speaker is there and takes the next one.
    Only a speaker that can't be reached becomes unavailable."""
    emu = await speaker("Study")
    home = Home(Store(tmp_path / "claw.db"))
    await home.add(driver(emu))

    def study() -> str:
        return home.entities["media_player.study"].state

    for service, data, refusal in [
        ("media_previous_track", {}, r"refused to go back a track: Illegal seek target \(UPnP error 711\)"),
        ("media_pause", {}, r"refused to pause: Transition not available \(UPnP error 701\)"),
        ("volume_set", {"volume_level": 45}, "A volume level is a number from 0 to 1, not 45"),
    ]:
        with pytest.raises(DeviceError, match=refusal):
            await home.call(home.entities["media_player.study"], service, data)
        assert study() == "idle" and home.drivers[f"sonos:{emu.uid}"].device.available
    await home.call(home.entities["media_player.study"], "media_play", {})
    await home.settle()
    assert emu.state.transport == "PLAYING" and study() == "playing"

    emu.fail = "offline"
    with pytest.raises(DeviceError, match="I can't reach the Study speaker"):
        await home.call(home.entities["media_player.study"], "media_pause", {})
    assert study() == "unavailable" and not home.drivers[f"sonos:{emu.uid}"].device.available


async def test_play_media_and_favorites(speaker: MakeSpeaker, driver: MakeDriver) -> None:
    emu = await speaker("Kitchen", favorites=[("Morning Jazz", "x-rincon-mp3radio://radio.example.net/jazz"),
                                              ("Rain Sounds", "x-rincon-mp3radio://radio.example.net/rain")])
    kitchen = driver(emu)
    await kitchen.refresh()
    await kitchen.call("media_player.kitchen", "play_media",
                       {"media_content_id": "http://music.example.net/news.mp3", "media_title": "The News"})
    assert emu.state.transport == "PLAYING" and emu.state.track is not None
    assert (emu.state.track.uri, emu.state.track.title) == ("http://music.example.net/news.mp3", "The News")

    await kitchen.call("media_player.kitchen", "play_favorite", {"favorite": "rain sounds"})
    assert (emu.state.track.uri, emu.state.track.title) == ("x-rincon-mp3radio://radio.example.net/rain", "Rain Sounds")
    [entity] = await kitchen.refresh()
    assert (entity.state, entity.attributes["media_title"]) == ("playing", "Rain Sounds")

    with pytest.raises(DeviceError, match=r"no favorite called 'Polka Hour' \(it has: Morning Jazz, Rain Sounds\)"):
        await kitchen.call("media_player.kitchen", "play_favorite", {"favorite": "Polka Hour"})
    assert emu.state.track.title == "Rain Sounds"


async def test_refresh_sees_changes_made_by_another_controller(speaker: MakeSpeaker, driver: MakeDriver) -> None:
    emu = await speaker("Bedroom")
    bedroom = driver(emu)
    await bedroom.refresh()

    def elsewhere() -> None:  # the Sonos app, say: real soco talking to the speaker directly
        player = soco.SoCo(emu.host, emu.port)
        player.volume = 70
        player.mute = True
        player.play_uri("x-rincon-mp3radio://radio.example.net/talk", title="Talk Radio")

    await asyncio.to_thread(elsewhere)
    [entity] = await bedroom.refresh()
    assert entity.state == "playing"
    assert entity.attributes["volume_level"] == 0.7 and entity.attributes["is_volume_muted"] is True
    assert entity.attributes["media_title"] == "Talk Radio"


async def test_join_groups_speakers_and_unjoin_splits_them(speaker: MakeSpeaker, driver: MakeDriver) -> None:
    study_emu, kitchen_emu, patio_emu = [await speaker(r) for r in ("Study", "Kitchen", "Patio")]
    study, kitchen = driver(study_emu), driver(kitchen_emu)
    await study.refresh()
    await kitchen.refresh()

    await study.call("media_player.study", "join",
                     {"group_members": ["media_player.kitchen", "media_player.patio"]})
    household = study_emu.household
    assert household.coordinator_of[kitchen_emu.uid] == study_emu.uid
    assert household.coordinator_of[patio_emu.uid] == study_emu.uid
    [entity] = await study.refresh()
    assert entity.attributes["group_members"] == ["media_player.study", "media_player.kitchen",
                                                  "media_player.patio"]

    # A member's transport commands go to its group's coordinator, and it reports the group's music.
    await kitchen.call("media_player.kitchen", "media_play", {})
    assert study_emu.state.transport == "PLAYING"
    [entity] = await kitchen.refresh()
    assert entity.state == "playing" and entity.attributes["group_members"][0] == "media_player.study"
    # Volume stays per speaker.
    await kitchen.call("media_player.kitchen", "volume_set", {"volume_level": 0.1})
    assert (kitchen_emu.state.volume, study_emu.state.volume) == (10, 20)
    # The group plays what its coordinator is given.
    await study.call("media_player.study", "play_favorite", {"favorite": "Morning Jazz"})
    assert household.coordinator_of[kitchen_emu.uid] == study_emu.uid
    [entity] = await kitchen.refresh()
    assert entity.attributes["media_title"] == "Morning Jazz"

    await kitchen.call("media_player.kitchen", "unjoin", {})
    assert household.coordinator_of[kitchen_emu.uid] == kitchen_emu.uid
    [entity] = await study.refresh()
    assert entity.attributes["group_members"] == ["media_player.study", "media_player.patio"]

    with pytest.raises(DeviceError, match="household has no media_player.garage"):
        await study.call("media_player.study", "join", {"group_members": ["media_player.garage"]})
    assert household.coordinator_of[kitchen_emu.uid] == kitchen_emu.uid


async def test_a_member_that_leads_a_new_group_leaves_its_old_one(speaker: MakeSpeaker, driver: MakeDriver) -> None:
    study_emu, kitchen_emu, patio_emu = [await speaker(r) for r in ("Study", "Kitchen", "Patio")]
    study, kitchen = driver(study_emu), driver(kitchen_emu)
    await study.refresh()
    await study.call("media_player.study", "join", {"group_members": ["media_player.kitchen"]})
    await kitchen.refresh()
    await kitchen.call("media_player.kitchen", "join", {"group_members": ["media_player.patio"]})
    household = study_emu.household
    assert household.coordinator_of[kitchen_emu.uid] == kitchen_emu.uid
    assert household.coordinator_of[patio_emu.uid] == kitchen_emu.uid
    [entity] = await study.refresh()
    assert entity.attributes["group_members"] == ["media_player.study"]


async def test_offline_speaker_fails_within_the_timeout(speaker: MakeSpeaker, driver: MakeDriver) -> None:
    emu = await speaker("Garage")
    garage = driver(emu, timeout=1.0)
    await garage.refresh()
    emu.fail = "offline"
    started = time.monotonic()
    with pytest.raises(DeviceError, match=rf"I can't reach the Garage speaker at {emu.host}:1400 "
                                          r"\(it dropped the connection\)"):
        await garage.call("media_player.garage", "media_play", {})
    assert time.monotonic() - started < 1.0 * 2
    assert emu.state.transport == "STOPPED"


async def test_speaker_that_is_not_there_fails_within_the_timeout(driver: MakeDriver) -> None:
    host = f"127.0.2.{next(_hosts)}"  # nothing listens here
    absent = driver(SonosEmulator(host, "Attic"), timeout=1.0)
    started = time.monotonic()
    with pytest.raises(DeviceError, match=rf"I can't reach the Sonos speaker at {host}:1400 \(connection refused\)"):
        await absent.refresh()
    assert time.monotonic() - started < 1.0 * 2


async def test_speaker_answering_http_500_is_an_error(speaker: MakeSpeaker, driver: MakeDriver) -> None:
    emu = await speaker("Hall")
    hall = driver(emu, timeout=1.0)
    await hall.refresh()
    emu.fail = "error"
    with pytest.raises(DeviceError, match=r"The Hall speaker failed to report its state \(HTTP 500"):
        await hall.refresh()
    with pytest.raises(DeviceError, match=r"The Hall speaker failed to pause \(HTTP 500"):
        await hall.call("media_player.hall", "media_pause", {})


async def test_slow_speaker_does_not_hold_up_another(speaker: MakeSpeaker, driver: MakeDriver) -> None:
    slow_emu, quick_emu = await speaker("Cellar"), await speaker("Office")
    slow, quick = driver(slow_emu, timeout=1.0), driver(quick_emu, timeout=1.0)
    await slow.refresh()
    await quick.refresh()
    slow_emu.fail = "slow"

    async def timed(d: SonosDriver, entity_id: str) -> tuple[float, BaseException | None]:
        started = time.monotonic()
        try:
            await d.call(entity_id, "media_play", {})
        except DeviceError as e:
            return time.monotonic() - started, e
        return time.monotonic() - started, None

    (slow_s, slow_err), (quick_s, quick_err) = await asyncio.gather(
        timed(slow, "media_player.cellar"), timed(quick, "media_player.office"))
    assert quick_err is None and quick_emu.state.transport == "PLAYING"
    assert isinstance(slow_err, DeviceError) and "timed out after 1 s" in str(slow_err)
    assert quick_s < slow_s / 3
    assert slow_s < 1.0 * 2

    # soco gave up on the slow request too, so the speaker's thread is free once it recovers.
    slow_emu.fail = None
    await slow.call("media_player.cellar", "media_play", {})
    assert slow_emu.state.transport == "PLAYING"


async def test_emulator_speaks_upnp_to_soco_directly(speaker: MakeSpeaker) -> None:
    emu = await speaker("Den")

    def talk() -> tuple[dict[str, str], dict[str, str], list[str]]:
        player = soco.SoCo(emu.host, emu.port)
        info = player.get_speaker_info(timeout=2)
        # Keyword arguments make soco read the service description first.
        volume = player.renderingControl.GetVolume(InstanceID=0, Channel="Master")
        queue = [item.title for item in player.get_queue()]
        with pytest.raises(SoCoUPnPException, match="UPnP Error 401"):
            player.avTransport.NoSuchAction([("InstanceID", 0)])
        return info, volume, queue

    info, volume, queue = await asyncio.to_thread(talk)
    assert (info["zone_name"], info["uid"], info["model_name"]) == ("Den", emu.uid, "Sonos One")
    assert volume == {"CurrentVolume": "20"}
    assert queue == ["Clair de Lune", "Gymnopédie No. 1", "The Entertainer"]
    assert emu.description_url == f"http://{emu.host}:1400/xml/device_description.xml"
