"""The Google Cast family: real pychromecast 14 against the emulated Cast device on loopback.

First pychromecast alone (the library-acceptance test: what Home Assistant's cast
integration does with a device), then Claw's driver and the home registry on top of it.
"""
from __future__ import annotations

import asyncio
import random
import threading
import time
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

import pychromecast
import pytest
from pychromecast import dial
from pychromecast.controllers.media import MediaStatus, MediaStatusListener
from pychromecast.models import CastInfo, HostServiceInfo

from devices.families.cast import FAMILY
from devices.families.cast.driver import SERVICES, CastDriver
from devices.families.cast.emulator import CAST_PORT, INFO_PORT, CastEmulator
from devices.home import Home
from devices.advertise import Advertiser
from devices.model import Device, DeviceError, DeviceRefused, Entity
from memory.store import Store
from tests import netns

MODULE = "tests.test_cast"
URL = "http://media.example.net/jazz/take_five.mp3"
MakeCast = Callable[..., Awaitable[CastEmulator]]
MakeDriver = Callable[..., CastDriver]


@pytest.fixture
async def cast() -> AsyncIterator[MakeCast]:
    started: list[CastEmulator] = []

    async def make(name: str = "Kitchen Speaker", **kwargs: object) -> CastEmulator:
        kwargs.setdefault("info_port", 0)
        emu = CastEmulator("127.0.0.1", 0, name=name, **kwargs)  # type: ignore[arg-type]
        started.append(await emu.start())
        return emu

    yield make
    for emu in started:
        await emu.stop()


@pytest.fixture
async def driver() -> AsyncIterator[MakeDriver]:
    made: list[CastDriver] = []

    def make(emu: CastEmulator, timeout: float = 2.0) -> CastDriver:
        device = Device(f"cast:{emu.device_id}", "cast", emu.instance, emu.host, emu.port)
        made.append(CastDriver(device, emu.txt(), timeout=timeout, area="Kitchen"))
        return made[-1]

    yield make
    for d in made:
        await d.close()


def _chromecast(emu: CastEmulator) -> pychromecast.Chromecast:
    """What pychromecast makes of a device found at host:port (HA's path, without zeroconf)."""
    return pychromecast.get_chromecast_from_host(
        (emu.host, emu.port, emu.uuid, emu.model, emu.name), tries=1, timeout=3)


def _until(check: Callable[[], bool], timeout: float = 3.0) -> None:
    """Wait (on a thread) for pychromecast's socket thread to have processed a push."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


# -- pychromecast alone ------------------------------------------------------------------------

async def test_pychromecast_connects_and_drives_the_emulator(cast: MakeCast) -> None:
    emu = await cast()

    def session() -> None:
        cc = _chromecast(emu)
        cc.wait(timeout=3)
        assert cc.status is not None and cc.status.volume_level == pytest.approx(0.3)
        assert cc.is_idle and cc.app_id is None
        cc.set_volume(0.55)
        cc.set_volume_muted(True)
        media = cc.media_controller
        media.play_media(URL, "audio/mpeg", title="Take Five")  # launches the Default Media Receiver
        media.block_until_active(timeout=3)
        _until(lambda: media.status.player_state == "PLAYING")
        assert cc.app_id == "CC1AD845" and media.status.title == "Take Five"
        assert media.status.content_id == URL and media.status.supports_pause and media.status.supports_seek
        media.pause()
        _until(lambda: media.status.player_is_paused)
        media.seek(42)
        media.play()
        _until(lambda: media.status.player_is_playing)
        assert media.status.current_time >= 42
        media.stop()
        _until(lambda: media.status.player_is_idle)
        cc.quit_app()
        _until(lambda: cc.app_id is None)
        cc.disconnect(timeout=3)

    await asyncio.to_thread(session)
    assert (emu.state.volume, emu.state.muted, emu.state.app, emu.state.media) == (0.55, True, None, None)
    assert emu.state.loaded == [URL]
    kinds = [p["type"] for ns, p in emu.messages if ns.endswith(".media")]
    assert kinds[:1] == ["GET_STATUS"] and {"LOAD", "PAUSE", "SEEK", "PLAY", "STOP"} <= set(kinds)
    assert any(p["type"] == "PING" for ns, p in emu.messages if ns.endswith("heartbeat"))


async def test_a_second_sender_is_told_of_changes_made_by_the_first(cast: MakeCast) -> None:
    """A device pushes every change to every connected sender (requestId 0)."""
    emu = await cast()

    class Seen(MediaStatusListener):
        def __init__(self) -> None:
            self.states: list[str] = []
            self.changed = threading.Event()

        def new_media_status(self, status: MediaStatus) -> None:
            self.states.append(status.player_state)
            self.changed.set()

        def load_media_failed(self, queue_item_id: int, error_code: int) -> None:
            pass

    def session() -> list[str]:
        phone, watcher = _chromecast(emu), _chromecast(emu)
        phone.wait(timeout=3)
        watcher.wait(timeout=3)
        seen = Seen()
        watcher.media_controller.register_status_listener(seen)
        phone.media_controller.play_media(URL, "audio/mpeg")
        phone.media_controller.block_until_active(timeout=3)
        _until(lambda: "PLAYING" in seen.states)
        phone.media_controller.pause()
        _until(lambda: "PAUSED" in seen.states)
        _until(lambda: watcher.status is not None and watcher.status.app_id == "CC1AD845")
        states = list(seen.states)  # before disconnecting, which resets pychromecast's view
        for cc in (phone, watcher):
            cc.disconnect(timeout=3)
        return states

    states = await asyncio.to_thread(session)
    assert states[-1] == "PAUSED"


def _random_loopback() -> str:
    return f"127.{random.randint(100, 250)}.{random.randint(1, 250)}.{random.randint(1, 250)}"


async def test_device_info_endpoint_is_what_pychromecast_reads(cast: MakeCast) -> None:
    """`dial` reads /setup/eureka_info over HTTPS on 8443 of a device at 8009 (fixed ports)."""
    for _ in range(5):  # a random address, in case another test holds one
        host = _random_loopback()
        try:
            emu = await CastEmulator(host, CAST_PORT, info_port=INFO_PORT, name="Study Display",
                                     model="Claw Test Display", display=True).start()
            break
        except OSError:
            continue
    else:
        pytest.fail("no loopback address had ports 8009 and 8443 free")
    try:
        status = await asyncio.to_thread(dial.get_device_info, host, timeout=3)
        assert status is not None
        assert (status.friendly_name, status.model_name, status.uuid, status.cast_type) == (
            "Study Display", "Claw Test Display", emu.uuid, "cast")
        info = CastInfo({HostServiceInfo(host, CAST_PORT)}, emu.uuid, emu.model, emu.name, host, CAST_PORT,
                        None, None)
        typed = await asyncio.to_thread(dial.get_cast_type, info, timeout=3)
        assert typed.cast_type == "cast"
        # The driver asks it too, for a model pychromecast's table doesn't know.
        device = Device(f"cast:{emu.device_id}", "cast", emu.instance, host, CAST_PORT)
        study = CastDriver(device, emu.txt(), timeout=2.0)
        [entity] = await study.refresh()
        assert entity.attributes["model"] == "Claw Test Display" and "cast_group" not in entity.attributes
        await study.close()
    finally:
        await emu.stop()


# -- Claw's driver -----------------------------------------------------------------------------

async def test_driver_reads_the_device_named_as_in_the_google_home_app(cast: MakeCast, driver: MakeDriver) -> None:
    emu = await cast("Kitchen Speaker")
    kitchen = driver(emu)
    assert kitchen.device.name == "Kitchen Speaker"  # not its mDNS instance name
    [entity] = await kitchen.refresh()
    assert entity.entity_id == "media_player.kitchen_speaker" and entity.name == "Kitchen Speaker"
    assert entity.area == "Kitchen" and entity.state == "off" and entity.services == set(SERVICES)
    assert entity.attributes["volume_level"] == 0.3 and entity.attributes["is_volume_muted"] is False
    assert entity.attributes["media_title"] is None and entity.attributes["model"] == "Google Nest Mini"


async def test_driver_plays_a_url_and_controls_it(cast: MakeCast, driver: MakeDriver) -> None:
    emu = await cast()
    kitchen = driver(emu)
    await kitchen.refresh()
    eid = kitchen.entity_id

    async def now() -> Entity:
        return (await kitchen.refresh())[0]

    await kitchen.call(eid, "play_media", {"media_content_id": URL, "media_content_type": "music",
                                           "media_title": "Take Five"})
    entity = await now()
    assert entity.state == "playing" and entity.attributes["media_title"] == "Take Five"
    assert entity.attributes["media_content_id"] == URL and entity.attributes["app_name"] == "Default Media Receiver"
    assert emu.state.media is not None and emu.state.media.content_type == "audio/mpeg"  # guessed from .mp3

    await kitchen.call(eid, "media_pause", {})
    assert (await now()).state == "paused" and emu.state.media.player_state == "PAUSED"
    await kitchen.call(eid, "media_play", {})
    assert (await now()).state == "playing"
    await kitchen.call(eid, "volume_set", {"volume_level": 0.65})
    await kitchen.call(eid, "volume_mute", {"is_volume_muted": True})
    entity = await now()
    assert (entity.attributes["volume_level"], entity.attributes["is_volume_muted"]) == (0.65, True)
    assert (emu.state.volume, emu.state.muted) == (0.65, True)
    await kitchen.call(eid, "media_stop", {})
    assert (await now()).state == "idle" and emu.state.media is None
    await kitchen.call(eid, "turn_off", {})
    assert (await now()).state == "off" and emu.state.app is None
    await kitchen.call(eid, "media_play", {})  # the device forgot what it played; the driver didn't
    entity = await now()
    assert entity.state == "playing" and entity.attributes["media_title"] == "Take Five"
    assert emu.state.loaded == [URL, URL]


async def test_what_someone_else_cast_is_what_it_reports(cast: MakeCast, driver: MakeDriver) -> None:
    emu = await cast()
    emu.cast("http://radio.example.net/fip", title="Fip", artist="Radio France", paused=True)
    [entity] = await driver(emu).refresh()
    assert entity.state == "paused"
    assert (entity.attributes["media_title"], entity.attributes["media_artist"]) == ("Fip", "Radio France")


async def test_driver_refuses_what_the_device_would_not_do(cast: MakeCast, driver: MakeDriver) -> None:
    emu = await cast()
    kitchen = driver(emu)
    eid = kitchen.entity_id
    with pytest.raises(DeviceRefused, match="Nothing is playing on the Kitchen Speaker, so it can't pause"):
        await kitchen.call(eid, "media_pause", {})
    with pytest.raises(DeviceRefused, match=r"The Kitchen Speaker couldn't play ftp://nas/a.mp3: "
                                            r"it can't play that kind of source"):
        await kitchen.call(eid, "play_media", {"media_content_id": "ftp://nas/a.mp3"})
    with pytest.raises(DeviceRefused, match=r"A volume level is a number from 0 to 1, not 40"):
        await kitchen.call(eid, "volume_set", {"volume_level": 40})
    with pytest.raises(DeviceRefused, match="it can't turn on"):
        await kitchen.call(eid, "turn_on", {})
    with pytest.raises(DeviceRefused, match="media_player.garage is not on the Kitchen Speaker"):
        await kitchen.call("media_player.garage", "media_play", {})
    assert emu.state.volume == 0.3 and emu.state.media is None
    assert (await kitchen.refresh())[0].state == "idle"  # the refused LOAD launched the receiver


async def test_offline_device_is_a_clear_error_in_bounded_time_and_recovers(
        cast: MakeCast, driver: MakeDriver, tmp_path: Path) -> None:
    emu = await cast()
    home = Home(Store(tmp_path / "claw.db"), device_timeout=2.0)
    kitchen = driver(emu, timeout=1.0)
    [entity] = await home.add(kitchen)
    emu.fail = "offline"
    for _ in range(2):  # the live connection is dropped; then each new one is
        started = time.monotonic()
        with pytest.raises(DeviceError, match=rf"I can't reach the Kitchen Speaker at 127.0.0.1:{emu.port}"):
            await home.call(home.entity(entity.entity_id), "volume_set", {"volume_level": 0.9})
        assert time.monotonic() - started < 2.0
    assert home.entity(entity.entity_id).state == "unavailable"
    with pytest.raises(DeviceError, match="I can't reach the Kitchen Speaker"):
        await home.refresh_device(kitchen.device.device_id)

    emu.fail = None
    [back] = await home.refresh_device(kitchen.device.device_id)
    assert back.state == "off" and kitchen.device.available
    await home.call(back, "volume_set", {"volume_level": 0.2})
    assert emu.state.volume == 0.2


async def test_silent_device_times_out_and_recovers(cast: MakeCast, driver: MakeDriver) -> None:
    emu = await cast(slow_delay=5.0)
    kitchen = driver(emu, timeout=0.5)
    await kitchen.refresh()
    emu.fail = "slow"
    started = time.monotonic()
    with pytest.raises(DeviceError, match=r"I can't reach the Kitchen Speaker at .* \(no answer within 0.5 s\)"):
        await kitchen.refresh()
    assert time.monotonic() - started < 1.5
    emu.fail = None
    for _ in range(10):  # the stale thread finishes its wait; a fresh connection follows
        try:
            [entity] = await kitchen.refresh()
            break
        except DeviceError:
            await asyncio.sleep(0.2)
    assert entity.state == "off"


async def test_device_that_is_not_there_fails_fast(driver: MakeDriver) -> None:
    absent = CastEmulator("127.0.0.1", 9, name="Attic Speaker")  # nothing listens on port 9
    attic = driver(absent, timeout=2.0)
    started = time.monotonic()
    with pytest.raises(DeviceError, match=r"I can't reach the Attic Speaker at 127.0.0.1:9: "
                                          r"it did not accept a Cast connection"):
        await attic.refresh()
    assert time.monotonic() - started < 1.0


async def test_follow_reports_what_another_sender_did(cast: MakeCast, driver: MakeDriver) -> None:
    emu = await cast()
    kitchen = driver(emu)
    await kitchen.refresh()
    changes: asyncio.Queue[Entity] = asyncio.Queue()
    follower = asyncio.create_task(kitchen.follow(changes.put_nowait))
    try:
        await asyncio.sleep(0)  # let it subscribe
        emu.cast(URL, title="Take Five", artist="Dave Brubeck")
        async with asyncio.timeout(3):
            while (entity := await changes.get()).state != "playing":
                pass
        assert entity.attributes["media_artist"] == "Dave Brubeck"
        emu.press("PAUSE")  # someone's phone, no poll in between
        async with asyncio.timeout(3):
            while (entity := await changes.get()).state != "paused":
                pass
    finally:
        follower.cancel()


async def test_follow_connects_again_after_the_device_restarts(cast: MakeCast, driver: MakeDriver) -> None:
    """No poll needed: once pychromecast gives up on a dropped connection, `follow` connects
    again (with backoff) and pushes resume."""
    emu = await cast()
    kitchen = driver(emu, timeout=1.0)
    await kitchen.refresh()
    changes: asyncio.Queue[Entity] = asyncio.Queue()
    follower = asyncio.create_task(kitchen.follow(changes.put_nowait, min_backoff=0.1, max_backoff=0.4))
    try:
        await asyncio.sleep(0)
        await emu.stop()  # a reboot: every connection dropped, nothing listening for a while
        await asyncio.sleep(0.5)
        emu.state.volume = 0.8  # it comes back with another volume than it had
        await emu.start()
        async with asyncio.timeout(5):
            while (entity := await changes.get()).attributes["volume_level"] != 0.8:
                pass
        emu.cast(URL, title="After the reboot")
        async with asyncio.timeout(3):
            while (entity := await changes.get()).attributes["media_title"] != "After the reboot":
                pass
    finally:
        await kitchen.close()
        async with asyncio.timeout(2):
            await follower  # close() ends it


async def test_a_reset_is_pushed_to_the_driver(cast: MakeCast, driver: MakeDriver) -> None:
    emu = await cast()
    emu.cast(URL, title="Take Five")
    kitchen = driver(emu)
    assert (await kitchen.refresh())[0].state == "playing"
    changes: asyncio.Queue[Entity] = asyncio.Queue()
    follower = asyncio.create_task(kitchen.follow(changes.put_nowait))
    try:
        await asyncio.sleep(0)
        emu.reset(volume=0.1)
        async with asyncio.timeout(3):
            while (entity := await changes.get()).state != "off" or entity.attributes["volume_level"] != 0.1:
                pass
    finally:
        follower.cancel()


async def test_odd_txt_records_are_cut_or_replaced_not_fatal(cast: MakeCast) -> None:
    """A name of 5,000 characters is cut to what a prompt can carry; an `id` that is no UUID
    gets one made from the address (pychromecast needs one)."""
    emu = await cast()
    txt = {**emu.txt(), "fn": "Kitchen " + "x" * 5000, "id": "not-a-uuid", "md": ""}
    device = Device("cast:odd", "cast", "odd", emu.host, emu.port)
    odd = CastDriver(device, txt, timeout=2.0)
    try:
        [entity] = await odd.refresh()
    finally:
        await odd.close()
    assert len(entity.name) == 100 and device.name == entity.name
    assert entity.state == "off" and entity.attributes["cast_group"] is True  # an unknown model off 8009


async def test_a_cast_group_is_a_player_of_its_own(cast: MakeCast, driver: MakeDriver) -> None:
    """A speaker group made in the Google Home app is advertised like a device (on a port of
    its own, model "Google Cast Group"); it plays and sets its volume like one."""
    kitchen, lounge = await cast("Kitchen Speaker"), await cast("Lounge Speaker")
    group = await cast("Downstairs", model="Google Cast Group",
                       members=[(kitchen.device_id, kitchen.name), (lounge.device_id, lounge.name)])
    downstairs = driver(group)
    await downstairs.call("media_player.downstairs", "play_media", {"media_content_id": URL})
    await downstairs.call("media_player.downstairs", "volume_set", {"volume_level": 0.5})
    [entity] = await downstairs.refresh()
    assert entity.attributes["cast_group"] is True and entity.state == "playing"
    assert entity.attributes["group_members"] == ["media_player.kitchen_speaker", "media_player.lounge_speaker"]
    assert (group.state.volume, group.state.loaded) == (0.5, [URL])
    assert group.txt()["ca"] == "2084"  # audio out and the multizone-group bit
    group.set_members([(kitchen.device_id, kitchen.name)])  # changed in the Google Home app
    [entity] = await downstairs.refresh()
    assert entity.attributes["group_members"] == ["media_player.kitchen_speaker"]
    [speaker] = await driver(kitchen).refresh()
    assert "group_members" not in speaker.attributes


async def scenario_pychromecast_discovery() -> dict:
    """pychromecast's own mDNS browser (HA's discovery) finds the emulator as we advertise it
    and connects to it: the TXT records are what it reads (in a namespace: it multicasts)."""
    import zeroconf

    assert netns.only_loopback(), "refusing to multicast outside a test namespace"
    emu = await CastEmulator("127.0.0.1", 0, name="Hall Speaker", info_port=None).start()
    advertiser = Advertiser("127.0.0.1")
    await advertiser.start()
    await advertiser.add_mdns("_googlecast._tcp.local.", emu.instance, "127.0.0.1", emu.port, emu.txt())
    zconf = zeroconf.Zeroconf(interfaces=["127.0.0.1"])
    found = threading.Event()
    browser = pychromecast.CastBrowser(pychromecast.SimpleCastListener(lambda uuid, service: found.set()), zconf)
    browser.start_discovery()

    def session() -> dict:
        assert found.wait(10), "pychromecast found no Cast device"
        [info] = browser.devices.values()
        cc = pychromecast.get_chromecast_from_cast_info(info, zconf, tries=1, timeout=3)
        cc.wait(timeout=5)
        volume = cc.status.volume_level
        cc.disconnect(timeout=3)
        return {"uuid": str(info.uuid), "name": info.friendly_name, "model": info.model_name,
                "port": info.port, "host": info.host, "volume": volume}

    try:
        out = await asyncio.to_thread(session)
    finally:
        browser.stop_discovery()
        zconf.close()
        await advertiser.stop()
        await emu.stop()
    out["expected"] = [str(emu.uuid), emu.name, emu.model, emu.port]
    return out


def test_pychromecast_discovers_the_advert() -> None:
    with netns.namespace() as ns:
        out = netns.run_in(ns, MODULE, "scenario_pychromecast_discovery", timeout=60)
    assert [out["uuid"], out["name"], out["model"], out["port"]] == out["expected"], out
    assert out["host"] == "127.0.0.1" and out["volume"] == 0.3, out


def test_family_declares_its_mdns_type_and_uid() -> None:
    [match] = FAMILY.mdns
    assert (match.type, match.uid) == ("_googlecast._tcp.local.", "id")
    assert FAMILY.name == "cast" and "media_player" in FAMILY.serves
