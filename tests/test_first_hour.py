"""What a new user meets in the first hour: devices named as people named them, `claw pair` and
`claw doctor` that say what to do, help pages with descriptions."""
from __future__ import annotations

import asyncio
import json
import socket
import uuid

import httpx
import pytest

from claw import doctor, startup
from claw.cli import main
from claw.service import Claw
from devices.families.homeassistant.emulator import HomeAssistantEmulator
from devices.families.sonos.emulator import SonosEmulator, SonosHousehold
from devices.families.shelly.emulator import ShellyEmulator
from devices.model import Device
from devices.families.shelly.driver import ShellyDriver
from devices.families.sonos.driver import SonosDriver
from tests.conftest import make_config, serve
from tests.telegram_standin import TelegramStandIn


async def test_a_shelly_is_named_by_its_own_name_not_its_id() -> None:
    async with ShellyEmulator(name="Pool Pump") as emu:
        driver = ShellyDriver(Device(emu.device_id, "shelly", emu.device_id, emu.host, emu.port))
        try:
            await driver.refresh()
            assert driver.device.name == "Pool Pump" and emu.device_id.startswith("shelly")
        finally:
            await driver.close()


async def test_a_sonos_is_named_by_its_zone_not_its_rincon_id() -> None:
    emu = SonosEmulator("127.0.9.1", "Study", household=SonosHousehold(f"Sonos_{uuid.uuid4().hex[:12]}"))
    await emu.start()
    driver = SonosDriver(Device(f"sonos:{emu.uid}", "sonos", emu.uid, emu.host, emu.port))
    try:
        await driver.refresh()
        assert emu.uid.startswith("RINCON_") and driver.device.name == "Study"
    finally:
        await driver.close()
        await emu.stop()


# -- claw pair, claw doctor, help pages ------------------------------------------------------

def test_pair_without_telegram_prints_no_code_and_says_how_to_configure_it(claw_home, monkeypatch, capsys):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert main(["--data-dir", str(claw_home), "pair"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "Telegram is not configured" in err and "@BotFather" in err and "TELEGRAM_BOT_TOKEN" in err


def test_doctor_alone_says_what_to_fix_in_plain_lines(claw_home, monkeypatch, capsys):
    for key in ("ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN", "CLAW_LOCAL_MODEL", "HOME_ASSISTANT_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CLAW_HTTP_PORT", str(_free_port()))
    assert main(["--data-dir", str(claw_home), "doctor"]) == 1  # no model at all
    lines = capsys.readouterr().out.splitlines()
    assert [line[:4] for line in lines] == ["OK  ", "OK  ", "FIX ", "--  ", "--  ", "--  "], lines
    assert lines[2] == ("FIX  no model: only common commands will work -> export ANTHROPIC_API_KEY=..., "
                        "or set [local] model_path in claw.toml")
    assert lines[-1].startswith("--   service not running at 127.0.0.1:")
    assert not any("{" in line for line in lines)  # no stray JSON


async def test_doctor_checks_each_part_against_real_servers(claw_home, standin):
    tg = TelegramStandIn()
    await tg.start()
    ha = HomeAssistantEmulator(token="ha-token-for-the-doctor")
    async with ha:
        config = make_config(claw_home, standin, TELEGRAM_BOT_TOKEN=tg.token, TELEGRAM_BASE_URL=tg.url)
        config.home_assistant.url, config.home_assistant.token = ha.url, "ha-token-for-the-doctor"
        service = Claw(config)
        try:
            async with serve(service) as api:
                with httpx.Client(base_url=str(api.base_url), headers=dict(api.headers)) as client:
                    good = await asyncio.to_thread(doctor.checks, config, client)
                config.telegram.token = "999:not-this-bot"
                config.home_assistant.token = "a-token-ha-does-not-know"
                with httpx.Client(base_url=str(api.base_url), headers={"Authorization": "Bearer wrong"}) as client:
                    bad = await asyncio.to_thread(doctor.checks, config, client)
        finally:
            await tg.stop()
    by_name = {c.name: c for c in good}
    assert [c.name for c in good] == ["config", "data_dir", "anthropic", "telegram", "home_assistant", "service"]
    assert all(c.status == "ok" for c in good), good
    assert by_name["anthropic"].detail.startswith(f"Claude endpoint {standin.url} answers")
    assert by_name["telegram"].detail == f"Telegram bot @{tg.username} answers"
    assert by_name["home_assistant"].detail.startswith(f"Home Assistant at {ha.url} answers")
    # the Home Assistant in claw.toml is connected even with discovery off
    assert "answers with the owner's token; it has found 1 device with 0 entities" in by_name["service"].detail
    bad_by_name = {c.name: c for c in bad}
    assert {n for n, c in bad_by_name.items() if c.status == "fix"} == {"telegram", "home_assistant", "service"}
    assert "999:not-this-bot" not in " ".join(c.line() for c in bad)  # a token is never printed
    assert bad_by_name["service"].todo.startswith("is it using another data directory")


def test_doctor_json_is_one_document(capsys):
    checks = [doctor.Check("config", "ok", "config: defaults"), doctor.Check("models", "fix", "no model", "add one")]
    assert doctor.report(checks, as_json=True) == 1
    data = json.loads(capsys.readouterr().out)
    assert data == {"ok": False, "checks": [
        {"name": "config", "status": "ok", "detail": "config: defaults", "todo": ""},
        {"name": "models", "status": "fix", "detail": "no model", "todo": "add one"}]}


@pytest.mark.parametrize("command", ["run", "chat", "login", "doctor", "mcp", "pair", "demo"])
def test_every_subcommand_help_page_has_a_description(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    page = capsys.readouterr().out
    description = page.split("\n\n")[1]
    assert not description.startswith(("options:", "positional")) and len(description) > 40, page
    if command == "chat":
        assert "--chat-id CHAT_ID  conversation to continue" in page


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_startup_summary_says_where_things_are_and_what_is_missing(claw_home):
    bare = make_config(claw_home)
    bare.discovery.enabled, bare.discovery.interfaces = True, ["192.168.1.20"]
    lines = startup.summary(bare, "http://127.0.0.1:8765/login?code=x", claw_home / "api-token")
    assert lines == [
        f"API:       http://127.0.0.1:8765; owner token in {claw_home / 'api-token'}",
        "Page:      http://127.0.0.1:8765/ - log in from a browser on this machine (once, within "
        "10 minutes): http://127.0.0.1:8765/login?code=x",
        "Models:    none: common commands work without a model; for anything else export "
        "ANTHROPIC_API_KEY, or set [local] model_path in claw.toml",
        "Telegram:  off (export TELEGRAM_BOT_TOKEN=... from @BotFather to chat from your phone)",
        "Discovery: mDNS and SSDP on 192.168.1.20",
    ]
    (claw_home / "qwen.gguf").write_bytes(b"GGUF")
    full = make_config(claw_home, ANTHROPIC_API_KEY="k", TELEGRAM_BOT_TOKEN="1:x",
                       CLAW_LOCAL_MODEL=str(claw_home / "qwen.gguf"), CLAW_HTTP_HOST="0.0.0.0")
    full.discovery.enabled = True
    api, _, models, telegram, discovery = startup.summary(full, "link", claw_home / "api-token")
    assert api.startswith("API:       http://127.0.0.1:8765 (listening on 0.0.0.0: the whole LAN)")
    assert models == "Models:    Claude (claude-sonnet-4-6) and local model qwen.gguf, Claude first"
    assert telegram == "Telegram:  on (`claw pair` prints a code to send to your bot)"
    assert discovery.startswith("Discovery: mDNS and SSDP on every interface (")
