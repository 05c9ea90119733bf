"""The contract every device family with an emulation passes, whatever it is.

For each family: an emulated house holding one entity of each domain the family serves (of
those below) is found over real mDNS/SSDP inside a network namespace; its entities carry the
names the home file gave them; every service each entity offers runs, and the ones whose effect
is visible read back changed; when the device stops answering, a command fails within the
device timeout with a sentence naming the device, and the entity is unavailable; when it
answers again, a refresh brings it back and commands work.
"""
from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from claw.house import House
from devices import homefile
from devices.emulators.house import EmulatedHouse
from devices.families import FAMILIES
from devices.home import Home
from devices.model import DeviceError, Entity
from memory.store import Store
from tests import netns

MODULE = "tests.test_family_contract"
DOMAINS = ("light", "switch", "cover", "media_player", "camera", "lock", "climate", "fan", "valve")
DEVICE_TIMEOUT = 2.0

# Arguments for services that need some, and what each leaves visible: (state, or None for
# any) and attributes that must read back.
ARGS: dict[str, dict[str, Any]] = {
    "set_cover_position": {"position": 40}, "set_valve_position": {"position": 40},
    "volume_set": {"volume_level": 0.3}, "volume_mute": {"is_volume_muted": True},
    "set_temperature": {"temperature": 19}, "set_hvac_mode": {"hvac_mode": "off"},
    "set_percentage": {"percentage": 50}, "play_media": {
        "media_content_id": "http://127.0.0.1/radio.mp3", "media_content_type": "music"},
}
EXPECT: dict[str, tuple[set[str] | None, dict[str, Any]]] = {
    "turn_on": ({"on", "idle"}, {}), "turn_off": ({"off"}, {}),  # a media player on is idle
    "open_cover": ({"open", "opening"}, {}), "close_cover": ({"closed", "closing"}, {}),
    "set_cover_position": (None, {"current_position": 40}),
    "open_valve": ({"open", "opening"}, {}), "close_valve": ({"closed", "closing"}, {}),
    "set_valve_position": (None, {"current_position": 40}),
    "lock": ({"locked", "locking"}, {}), "unlock": ({"unlocked", "unlocking"}, {}),
    "media_play": ({"playing"}, {}), "media_pause": ({"paused"}, {}), "media_stop": ({"idle", "off"}, {}),
    "volume_set": (None, {"volume_level": 0.3}), "volume_mute": (None, {"is_volume_muted": True}),
    "set_temperature": (None, {"temperature": 19}), "set_percentage": (None, {"percentage": 50}),
}
# Services run in this order where an entity has them (the rest after, by name), so each
# visible effect is a change: on before off, pause after play, and so on.
ORDER = ("turn_off", "turn_on", "toggle", "close_cover", "open_cover", "set_cover_position",
         "stop_cover", "close_valve", "open_valve", "set_valve_position", "unlock", "lock", "play_media", "media_stop", "media_play", "media_pause", "volume_set", "volume_mute")
# Services that group speakers or need another entity: covered by the family's own tests.
OWN_TESTS = {"join", "unjoin", "play_favorite", "media_next_track", "media_previous_track"}
JPEG = "ffd8"


async def run(home: Home, entity: Entity, service: str) -> bytes | None:
    """One service through the home registry, as the executor runs it (a picture for snapshot)."""
    if service == "snapshot":
        return await home.snapshot(entity)
    await home.call(entity, service, dict(ARGS.get(service, {})))
    return None


def contract_home(family: str) -> str:
    served = [d for d in DOMAINS if d in next(f.serves for f in FAMILIES if f.name == family)]
    lines = ["name: Contract House", "entities:"]
    for domain in served:
        name = "Lab Speaker" if family == "sonos" else f"Lab {domain.replace('_', ' ').title()}"
        lines.append(f"  - {{domain: {domain}, name: {name}, area: Lab, via: {family}}}")
    return "\n".join(lines) + "\n"


async def scenario(family: str) -> dict[str, Any]:
    assert netns.only_loopback(), "refusing to multicast outside a test namespace"
    out: dict[str, Any] = {"calls": {}, "unchecked": []}
    house = EmulatedHouse(homefile.parse(contract_home(family)))
    await house.start()
    notices: list[str] = []

    async def notify(text: str) -> None:
        notices.append(text)

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "claw.db")
        home = Home(store, DEVICE_TIMEOUT)
        ha = house.families["home_assistant"]
        configured = family == "home_assistant"
        claw_house = House(home, store, notify, ["127.0.0.1"], ssdp_interval=2,
                           poll_interval=3600, pair_retry=0.2, demo_house=house.house_id,
                           ha_token=ha.token if configured else "",
                           ha_url=ha.server.url if configured else "")
        await claw_house.start()
        start = time.monotonic()
        wanted = {e.entity_id for e in house.spec.entities}
        while not wanted <= set(home.entities) and time.monotonic() - start < 20:
            await asyncio.sleep(0.05)
        out["discovered_s"] = round(time.monotonic() - start, 2)
        out["names"] = {e.entity_id: home.entities[e.entity_id].name
                        for e in house.spec.entities if e.entity_id in home.entities}
        out["expected_names"] = {e.entity_id: e.name for e in house.spec.entities}

        for spec in house.spec.entities:
            entity = home.entities[spec.entity_id]
            services = sorted(entity.services - OWN_TESTS,
                              key=lambda s: (ORDER.index(s) if s in ORDER else len(ORDER), s))
            for service in services:
                picture = await run(home, entity, service)
                await home.settle()
                if picture is not None:
                    out["calls"][f"{spec.entity_id} {service}"] = [picture[:2].hex(), {}]
                    continue
                if service not in EXPECT:
                    out["unchecked"].append(f"{spec.entity_id} {service}")
                    continue
                states, attributes = EXPECT[service]
                now = await _read_back(home, spec.entity_id, states, attributes)
                out["calls"][f"{spec.entity_id} {service}"] = [now.state, {
                    k: now.attributes.get(k) for k in attributes}]

        target = house.spec.entities[0]
        for emu in house.emulators():
            emu.fail = "offline"
        entity = home.entities[target.entity_id]
        service = sorted(entity.services - OWN_TESTS)[0]
        began = time.monotonic()
        try:
            await run(home, entity, service)
            out["offline_error"] = None
        except DeviceError as e:
            out["offline_error"] = str(e)
        out["offline_s"] = round(time.monotonic() - began, 2)
        out["offline_state"] = home.entities[target.entity_id].state
        out["device_name"] = home.drivers[home.entities[target.entity_id].device_id].device.name

        for emu in house.emulators():
            emu.fail = None
        await home.refresh_device(home.entities[target.entity_id].device_id)
        out["back_state"] = home.entities[target.entity_id].state
        await run(home, home.entities[target.entity_id], service)
        out["back_call_ok"] = True
        await claw_house.stop()
        for device_id in list(home.drivers):
            await home.remove(device_id)
    await house.stop()
    return out


async def _read_back(home: Home, entity_id: str, states: set[str] | None, attributes: dict[str, Any]):
    """The entity once it shows the effect, or as it is after 3 s (covers move, HA pushes)."""
    deadline = time.monotonic() + 3
    while True:
        now = home.entities[entity_id]
        if ((states is None or now.state in states)
                and all(now.attributes.get(k) == v for k, v in attributes.items())):
            return now
        if time.monotonic() > deadline:
            return now
        await home.refresh_device(now.device_id)
        await asyncio.sleep(0.05)


EMULATED = [f.name for f in FAMILIES if f.emulation is not None]


@pytest.mark.parametrize("family", EMULATED)
def test_family_contract(family: str) -> None:
    with netns.namespace() as ns:
        out = netns.run_in(ns, MODULE, "scenario", family, timeout=90)
    assert out["names"] == out["expected_names"], out
    assert out["discovered_s"] < 15, out
    for call, (state, attributes) in out["calls"].items():
        service = call.split()[1]
        if service == "snapshot":
            assert state == JPEG, (call, state)
            continue
        states, expected = EXPECT[service]
        assert states is None or state in states, (call, state)
        assert attributes == expected, (call, attributes)
    assert out["calls"], f"no service of {family} has a visible effect to check: {out['unchecked']}"
    assert out["offline_error"], out
    assert out["device_name"] in out["offline_error"], out["offline_error"]
    assert "Traceback" not in out["offline_error"] and "Errno" not in out["offline_error"], out["offline_error"]
    assert out["offline_s"] <= DEVICE_TIMEOUT + 1, out
    assert out["offline_state"] == "unavailable", out
    assert out["back_state"] != "unavailable", out
    assert out["back_call_ok"]
