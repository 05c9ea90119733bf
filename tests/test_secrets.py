"""Secrets go only where the owner sent them (issue 11, item 3).

Anything on the LAN can announce itself as Home Assistant or claim a Hue bridge's id. The rogue
devices here are the real emulators, which keep every credential a client sends them
(`credentials_seen`, `requests`): none of them may ever hold the owner's token or Claw's Hue
username, and the owner is told what to do. The mDNS test runs Claw's discovery and the
announcements inside a network namespace made here; the others hand findings to the House.
"""
from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import ssl
import subprocess
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from aiohttp import web

from claw.house import House
from claw.house_tools import register as register_house_tools
from claw.tools import ToolError, ToolRegistry
from devices.advertise import Advertiser
from devices.discovery import Found
from devices.families.homeassistant.emulator import HomeAssistantEmulator
from devices.families.hue.emulator import HueBridgeEmulator
from devices.home import Home
from devices.families.homeassistant.driver import make_driver
from devices.model import Device, DeviceError
from memory.store import Store
from tests import netns

TOKEN = "owner-long-lived-token-" + "t" * 40
HA_TYPE = "_home-assistant._tcp.local."
MODULE = "tests.test_secrets"


def holds_token(emulator: HomeAssistantEmulator) -> bool:
    return any(TOKEN in seen for seen in emulator.credentials_seen)


class Owner:
    """What the owner is told, and the tools they use."""

    def __init__(self) -> None:
        self.notices: list[str] = []

    async def notify(self, text: str) -> None:
        self.notices.append(text)

    def told(self, words: str) -> list[str]:
        return [n for n in self.notices if words in n]


def make_house(store: Store, owner: Owner, **kwargs: Any) -> House:
    return House(Home(store, device_timeout=1.0), store, owner.notify, ["127.0.0.1"],
                 pair_retry=0.1, **kwargs)


def connect_tool(house: House) -> Any:
    registry = ToolRegistry()
    register_house_tools(registry, house)
    return registry.get("ConnectHomeAssistant").fn


async def until(predicate: Any, timeout: float = 10.0) -> bool:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    if not await until(predicate, timeout):
        raise AssertionError("condition not met in time")


async def close(house: House) -> None:
    await house.stop()
    for driver in list(house.home.drivers.values()):
        await driver.close()


def found_ha(emu: HomeAssistantEmulator, name: str = "Home") -> Found:
    return Found(f"home_assistant:{emu.uuid}", "home_assistant", emu.host, emu.port, name,
                 emu.zeroconf_properties())


# --- runs inside the test's network namespace ------------------------------------------------

async def scenario_rogue_on_mdns(data_dir: str) -> dict[str, Any]:
    """The owner connects their Home Assistant; a rogue one is announced; Claw restarts with
    both on the network. Returns what each server was sent and what the owner was told."""
    logs = io.StringIO()
    handler = logging.StreamHandler(logs)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.DEBUG)
    genuine = HomeAssistantEmulator("127.0.0.1", token=TOKEN)
    rogue = HomeAssistantEmulator("127.0.0.66", token="rogue-accepts-nothing-but-keeps-all")
    for emu in (genuine, rogue):
        emu.seed_demo()
        await emu.start()
    adv = Advertiser("127.0.0.1")
    await adv.start()
    await adv.add_mdns(HA_TYPE, "Home", genuine.host, genuine.port, genuine.zeroconf_properties())
    store, owner = Store(Path(data_dir) / "claw.db"), Owner()

    house = make_house(store, owner)
    await house.start()
    await wait_for(lambda: owner.told("long-lived access token"))
    connected = await connect_tool(house)(None, token=TOKEN)
    await adv.add_mdns(HA_TYPE, "Home Assistant", rogue.host, rogue.port, rogue.zeroconf_properties())
    # Found and judged within a second or two; then room for anything else it might be sent.
    await until(lambda: owner.told(f"claims to be at {rogue.host}:{rogue.port}") or rogue.credentials_seen)
    await asyncio.sleep(1.0)
    await close(house)
    first = {"connected": connected, "notices": owner.notices}

    owner.notices = []
    restarted = make_house(store, owner)
    await restarted.start()
    await wait_for(lambda: "lock.front_door" in restarted.home.entities)
    await until(lambda: owner.told(f"claims to be at {rogue.host}:{rogue.port}"), timeout=3)
    await asyncio.sleep(1.0)
    lock = restarted.home.entities["lock.front_door"]
    await restarted.home.call(lock, "unlock", {})  # the owner's Home Assistant still does what it's told
    await close(restarted)
    await adv.stop()
    result = {"first": first, "restart_notices": owner.notices,
              "lock": genuine.states["lock.front_door"]["state"],
              "rogue_held_token": holds_token(rogue), "rogue_was_sent": len(rogue.credentials_seen),
              "genuine_held_token": holds_token(genuine), "token_in_logs": TOKEN in logs.getvalue()}
    for emu in (genuine, rogue):
        await emu.stop()
    return result


# --- Home Assistant --------------------------------------------------------------------------

def test_a_rogue_home_assistant_on_mdns_gets_no_token_and_the_owner_is_asked(tmp_path: Path) -> None:
    with netns.namespace() as ns:
        out = netns.run_in(ns, MODULE, "scenario_rogue_on_mdns", str(tmp_path), timeout=90)
    assert out["rogue_held_token"] is False, "the rogue Home Assistant was sent the owner's token"
    assert out["first"]["connected"].startswith("Connected to Home Assistant at 127.0.0.1:")
    asked = [n for n in out["first"]["notices"] if "claims to be at 127.0.0.66:" in n]
    assert len(asked) == 1 and "I haven't sent it your token" in asked[0]
    assert "send me the token again" in asked[0]
    # After a restart the owner's instance is connected without asking; the rogue is asked about once.
    [asked_again] = [n for n in out["restart_notices"] if n != "I found a Home Assistant."]
    assert "claims to be at 127.0.0.66:" in asked_again
    assert out["lock"] == "unlocked" and out["genuine_held_token"]
    assert out["token_in_logs"] is False


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    yield Store(tmp_path / "claw.db")


@contextlib.asynccontextmanager
async def home_assistant(host: str = "127.0.0.1", token: str = TOKEN, port: int = 0,
                         instance_uuid: str = "") -> AsyncIterator[HomeAssistantEmulator]:
    emu = HomeAssistantEmulator(host, port=port, token=token, instance_uuid=instance_uuid)
    emu.seed_demo()
    async with emu:
        yield emu


async def test_a_new_uuid_at_the_owners_address_is_another_instance(store: Store) -> None:
    owner = Owner()
    house = make_house(store, owner)
    try:
        async with home_assistant() as genuine:
            await house._found(found_ha(genuine))
            await connect_tool(house)(None, token=TOKEN)
            port = genuine.port
        await close(house)
        # Same host and port, another uuid (an impostor, or a reinstall): fail closed.
        restarted = make_house(store, owner)
        async with home_assistant(port=port, token="impostor") as impostor:
            await restarted._found(found_ha(impostor))
            await asyncio.sleep(0.2)
            assert impostor.credentials_seen == []
            assert owner.told(f"claims to be at 127.0.0.1:{port}")
            assert "lock.front_door" not in restarted.home.entities
        await close(restarted)
    finally:
        await close(house)


async def test_a_clone_of_the_owners_uuid_elsewhere_gets_no_token(store: Store) -> None:
    owner = Owner()
    house = make_house(store, owner)
    async with home_assistant() as genuine:
        await house._found(found_ha(genuine))
        await connect_tool(house)(None, token=TOKEN)
        uuid = genuine.uuid
    await close(house)
    restarted = make_house(store, owner)
    try:
        async with home_assistant("127.0.0.67", token="clone", instance_uuid=uuid) as clone:
            await restarted._found(found_ha(clone))  # the owner's instance is off; the clone answers
            await asyncio.sleep(0.2)
            assert clone.credentials_seen == []
            assert owner.told(f"claims to be at 127.0.0.67:{clone.port}")
    finally:
        await close(restarted)


async def test_a_token_sent_while_two_instances_wait_goes_to_the_one_named(store: Store) -> None:
    owner = Owner()
    house = make_house(store, owner)
    connect = connect_tool(house)
    try:
        async with home_assistant() as genuine, home_assistant("127.0.0.68", token="rogue") as rogue:
            await house._found(found_ha(rogue, "Rogue"))
            await house._found(found_ha(genuine))
            with pytest.raises(ToolError, match=r"127\.0\.0\.68:\d+ and at 127\.0\.0\.1:\d+.*Which one is yours"):
                await connect(None, token=TOKEN)
            assert rogue.credentials_seen == [] and genuine.credentials_seen == []
            done = await connect(None, token=TOKEN, address=f"127.0.0.1:{genuine.port}")
            assert done.startswith(f"Connected to Home Assistant at 127.0.0.1:{genuine.port}")
            assert "lock.front_door" in house.home.entities
            await asyncio.sleep(0.2)
            assert rogue.credentials_seen == []
    finally:
        await close(house)


async def test_the_token_in_claw_toml_goes_only_to_the_url_beside_it(store: Store) -> None:
    owner = Owner()
    async with home_assistant() as genuine, home_assistant("127.0.0.69", token="rogue") as rogue:
        # A token with no URL is not given to whatever announces itself first.
        unpinned = make_house(store, owner, ha_token=TOKEN)
        await unpinned._found(found_ha(rogue))
        await unpinned._found(found_ha(genuine))
        await until(lambda: len(owner.notices) == 2, timeout=2)
        assert rogue.credentials_seen == [] and genuine.credentials_seen == []
        assert len(owner.told(f"add url = \"http://127.0.0.1:{genuine.port}\" under [home_assistant]")) == 1
        await close(unpinned)

        configured = make_house(store, owner, ha_token=TOKEN, ha_url=genuine.url + "/")
        before = len(owner.notices)
        try:
            await configured._connect_configured()
            await configured._found(found_ha(genuine))  # announced too: the same one, not asked about
            await configured._found(found_ha(rogue))
            await genuine.wait_for_subscribers(1)
            assert "lock.front_door" in configured.home.entities
            assert rogue.credentials_seen == []
            assert not [n for n in owner.notices[before:] if f"127.0.0.1:{genuine.port}" in n]
            assert holds_token(genuine)
        finally:
            await close(configured)


async def test_home_assistant_token_given_in_chat_before_any_instance_is_found(store: Store) -> None:
    owner = Owner()
    house = make_house(store, owner)
    try:
        said = await connect_tool(house)(None, token=TOKEN)
        assert "I'll ask you before I send it the token" in said
        async with home_assistant("127.0.0.70", token="rogue") as rogue:
            await house._found(found_ha(rogue))
            await asyncio.sleep(0.2)
            assert rogue.credentials_seen == []
            assert owner.told("if it is yours, send me the token again")
    finally:
        await close(house)


# --- https -----------------------------------------------------------------------------------

def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA of the test's own and a certificate it signed for 127.0.0.1."""
    d = tmp_path_factory.mktemp("tls")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"),
             "-days", "2", "-subj", "/CN=Claw test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _openssl("req", *ec, "-keyout", str(d / "ha.key"), "-out", str(d / "ha.csr"),
             "-subj", "/CN=127.0.0.1")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                               "extendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", str(d / "ha.csr"), "-CA", str(d / "ca.pem"),
             "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-out", str(d / "ha.pem"),
             "-days", "2", "-extfile", str(d / "ext.cnf"))
    return {"ca": d / "ca.pem", "cert": d / "ha.pem", "key": d / "ha.key"}


@contextlib.asynccontextmanager
async def tls_home_assistant(certificates: dict[str, Path]) -> AsyncIterator[tuple[HomeAssistantEmulator, str]]:
    """The Home Assistant emulator's routes served over TLS, as HA with `ssl_certificate` does."""
    emu = HomeAssistantEmulator(token=TOKEN)
    emu.seed_demo()
    app = web.Application()
    emu.routes(app)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates["cert"], certificates["key"])
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
    try:
        yield emu, f"https://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await emu.drop_websockets()
        await runner.cleanup()


async def test_https_home_assistant_with_the_owners_ca(store: Store, certificates: dict[str, Path]) -> None:
    owner = Owner()
    async with tls_home_assistant(certificates) as (emu, url):
        house = make_house(store, owner, ha_token=TOKEN, ha_url=url, ha_ca_file=str(certificates["ca"]))
        try:
            await house._connect_configured()
            assert "lock.front_door" in house.home.entities, owner.notices
            await emu.wait_for_subscribers(1)  # the WebSocket runs over TLS too
            await house.home.call(house.home.entities["lock.front_door"], "unlock", {})
            assert emu.states["lock.front_door"]["state"] == "unlocked"
        finally:
            await close(house)


async def test_https_home_assistant_whose_certificate_fails_gets_no_token(
        store: Store, certificates: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    owner = Owner()
    async with tls_home_assistant(certificates) as (emu, url):
        # Signed by a CA the system does not trust, and the owner gave none.
        house = make_house(store, owner, ha_token=TOKEN, ha_url=url)
        try:
            await house._connect_configured()
            assert emu.credentials_seen == []
            assert "lock.front_door" not in house.home.entities
            [notice] = owner.told("can't connect to your Home Assistant")
            assert "certificate is not one I can trust" in notice and "I'll keep trying" in notice
        finally:
            await close(house)
        driver = make_driver(Device("ha", "home_assistant", "HA", "127.0.0.1", 1), TOKEN, url=url)
        try:
            with pytest.raises(DeviceError, match="certificate is not one I can trust") as info:
                await driver.refresh()
            assert TOKEN not in str(info.value)
        finally:
            await driver.close()
    assert TOKEN not in caplog.text and TOKEN not in " ".join(owner.notices)


# --- Hue -------------------------------------------------------------------------------------

def paths_with(bridge: HueBridgeEmulator, username: str) -> list[str]:
    return [path for _, path, _ in bridge.requests if username in path]


async def test_a_spoofed_hue_bridge_id_at_another_address_gets_no_username(store: Store) -> None:
    owner = Owner()
    genuine = HueBridgeEmulator(name="Hall bridge")
    genuine.add_light("Desk Lamp", "Study")
    await genuine.start()
    house = make_house(store, owner)
    try:
        genuine.press_link_button()
        await house._found(Found(f"hue:{genuine.bridge_id}", "hue", genuine.host, genuine.port, "Hall bridge", {}))
        await wait_for(lambda: "light.desk_lamp" in house.home.entities)
        username = store.get_setting(f"hue:hue:{genuine.bridge_id}:username")
        assert username
        await close(house)

        # Claw restarts; a device at another address claims the bridge's id first.
        spoof = HueBridgeEmulator("127.0.0.77", bridge_id=genuine.bridge_id, name="Hall bridge")
        spoof.add_light("Desk Lamp", "Study")
        await spoof.start()
        house = make_house(store, owner)
        try:
            key = f"hue:{genuine.bridge_id}"
            await house._found(Found(key, "hue", spoof.host, spoof.port, "Hall bridge", {}))
            await asyncio.sleep(0.3)  # pairing is retried meanwhile: with no username in it
            assert paths_with(spoof, username) == []
            await wait_for(lambda: owner.told(f"A Hue bridge at 127.0.0.77:{spoof.port}"))
            [asked] = owner.told("127.0.0.77")
            assert f"which I paired with before at 127.0.0.1:{genuine.port}" in asked
            assert "I haven't sent it my key" in asked and "press the round link button" in asked
            assert "light.desk_lamp" not in house.home.entities

            # The real bridge, where it was paired, is adopted with the stored username.
            asked_before = len(owner.notices)
            await house._found(Found(key, "hue", genuine.host, genuine.port, "Hall bridge", {}))
            await wait_for(lambda: "light.desk_lamp" in house.home.entities)
            await house.home.call(house.home.entities["light.desk_lamp"], "turn_on", {})
            assert genuine.lights["1"].on
            assert not [n for n in owner.notices[asked_before:] if "link button" in n]
            assert paths_with(spoof, username) == []
        finally:
            await spoof.stop()
    finally:
        await close(house)
        await genuine.stop()


async def test_a_hue_bridge_that_moved_is_paired_again_when_the_owner_presses_its_button(store: Store) -> None:
    owner = Owner()
    bridge = HueBridgeEmulator(name="Hall bridge")
    bridge.add_light("Desk Lamp", "Study")
    await bridge.start()
    house = make_house(store, owner)
    key = f"hue:{bridge.bridge_id}"
    try:
        bridge.press_link_button()
        await house._found(Found(key, "hue", bridge.host, bridge.port, "Hall bridge", {}))
        await wait_for(lambda: "light.desk_lamp" in house.home.entities)
        old = store.get_setting(f"hue:{key}:username")
        await bridge.stop()
        bridge.host, bridge._link_until = "127.0.0.78", 0.0  # a new DHCP lease
        await bridge.start()
        bridge.requests.clear()
        await house._found(Found(key, "hue", bridge.host, bridge.port, "Hall bridge", {}))
        await asyncio.sleep(0.3)
        assert paths_with(bridge, old) == []  # not even to the real bridge, until the owner acts
        await wait_for(lambda: owner.told(f"A Hue bridge at 127.0.0.78:{bridge.port}"))
        bridge.press_link_button()
        await wait_for(lambda: store.get_setting(f"hue:{key}:address") == f"127.0.0.78:{bridge.port}")
        await wait_for(lambda: house.home.drivers[key].device.host == "127.0.0.78")
        assert store.get_setting(f"hue:{key}:username") != old
    finally:
        await close(house)
        await bridge.stop()
