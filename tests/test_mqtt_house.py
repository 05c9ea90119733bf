"""The owner's broker at [mqtt] url, as claw.house connects it: found, told, followed, and what
the owner hears when it is down or refuses the credentials (a real mosquitto on loopback)."""
from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from claw.config import MqttConfig
from claw.house import House
from devices.discovery import Found
from devices.families.mqtt.emulator import Zigbee2MqttBridge, ZigbeeDevice
from devices.families.mqtt.mosquitto import Mosquitto
from devices.home import Home
from memory.store import Store


class OwnerHouse(House):
    notices: list[str]


@pytest.fixture
async def make_house(tmp_path) -> AsyncIterator[Callable[[MqttConfig], OwnerHouse]]:
    made: list[OwnerHouse] = []

    def make(mqtt: MqttConfig) -> OwnerHouse:
        notices: list[str] = []

        async def notify(text: str) -> None:
            notices.append(text)

        store = Store(tmp_path / f"claw{len(made)}.db")
        house = OwnerHouse(Home(store, device_timeout=2.0), store, notify, ["127.0.0.1"], mqtt=mqtt)
        house.notices = notices
        made.append(house)
        return house

    yield make
    for house in made:
        await house.stop()
        for driver in list(house.home.drivers.values()):
            await driver.close()


async def eventually(ok: Callable[[], bool], within: float = 6.0) -> None:
    async with asyncio.timeout(within):
        while not ok():
            await asyncio.sleep(0.02)


async def test_the_configured_broker_joins_the_house_and_pushes(make_house) -> None:
    broker = Mosquitto()
    await broker.start()
    bridge = Zigbee2MqttBridge(broker.host, broker.port, [ZigbeeDevice("Porch/Porch Light", "light", "0x01")])
    await bridge.start()
    house = make_house(MqttConfig(url=f"mqtt://127.0.0.1:{broker.port}"))
    try:
        await house._connect_mqtt()  # what House.start does for [mqtt] url
        await eventually(lambda: house.home.entities.get("light.porch_light") is not None
                         and house.home.entities["light.porch_light"].state == "off")
        light = house.home.entities["light.porch_light"]
        assert (light.name, light.area, light.device_id) == ("Porch Light", "Porch", f"mqtt:127.0.0.1:{broker.port}")
        await eventually(lambda: bool(house.notices))
        assert house.notices == ["I found an MQTT broker."]
        await bridge.report("Porch/Porch Light", state="ON", brightness=127)  # pressed at the wall
        await eventually(lambda: house.home.entities["light.porch_light"].state == "on")
        # Another broker announced on the LAN is not joined: the owner named theirs.
        await house._found(Found("mqtt:Rogue", "mqtt", "127.0.0.1", broker.port, "Rogue MQTT", {}))
        assert list(house.home.drivers) == [f"mqtt:127.0.0.1:{broker.port}"]
    finally:
        await bridge.stop()
        await broker.close()


async def test_owner_hears_once_that_the_broker_is_down_and_again_when_it_is_back(make_house) -> None:
    broker = Mosquitto()  # not started yet
    house = make_house(MqttConfig(url=f"mqtt://127.0.0.1:{broker.port}"))
    bridge = Zigbee2MqttBridge(broker.host, broker.port, [ZigbeeDevice("Hall Plug", "switch", "0x02")])
    try:
        await house._connect_mqtt()
        where = f"the MQTT broker at 127.0.0.1:{broker.port}"
        assert house.notices == [f"I can't reach {where}: nothing accepts connections there. "
                                 "Is the broker running? I'll keep trying."]
        await asyncio.sleep(1.0)  # it retries meanwhile, quietly
        assert len(house.notices) == 1
        await broker.start()
        await bridge.start()
        await eventually(lambda: "switch.hall_plug" in house.home.entities
                         and house.home.entities["switch.hall_plug"].state == "off", within=10)
        assert house.notices[1:] == [f"I'm connected to {where} again."]
    finally:
        await bridge.stop()
        await broker.close()


async def test_owner_hears_the_credentials_were_refused(make_house) -> None:
    broker = Mosquitto(users={"claw": "correct"})
    await broker.start()
    house = make_house(MqttConfig(url=f"mqtt://127.0.0.1:{broker.port}", username="claw", password="wrong"))
    try:
        await house._connect_mqtt()
        assert house.notices == [f"The MQTT broker at 127.0.0.1:{broker.port} refused my username and "
                                 "password; check username and password under [mqtt] in claw.toml. "
                                 "I'll keep trying."]
        assert not house.home.entities
    finally:
        await broker.close()


def certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it (openssl, as an owner would)."""
    ca_key, ca, key, csr, crt = (folder / n for n in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt"))
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Test House CA",
        "-keyout", str(ca_key), "-out", str(ca))
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(csr))
    ext = folder / "san.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-days", "2", "-extfile", str(ext), "-out", str(crt))
    return ca, crt, key


async def test_a_tls_broker_is_checked_against_the_owners_ca_file(make_house, tmp_path: Path) -> None:
    ca, crt, key = certificates(tmp_path)
    (tmp_path / "other").mkdir()
    other_ca, _, _ = certificates(tmp_path / "other")  # a CA that did not sign the broker's
    broker = Mosquitto(tls=(str(crt), str(key)))
    await broker.start()
    try:
        right = make_house(MqttConfig(url=broker.url, ca_file=str(ca)))
        await right._connect_mqtt()
        await eventually(lambda: bool(right.notices))
        assert right.notices == ["I found an MQTT broker."]
        wrong = make_house(MqttConfig(url=broker.url, ca_file=str(other_ca)))
        await wrong._connect_mqtt()
        [line] = wrong.notices
        assert line == (f"The MQTT broker at 127.0.0.1:{broker.port} failed the certificate check "
                        "(certificate verify failed: unable to get local issuer certificate); check "
                        "ca_file under [mqtt] in claw.toml. I'll keep trying."), line
    finally:
        await broker.close()
