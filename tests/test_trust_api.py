"""The API as a trust boundary, over real HTTP: who may call it (token or session), for which
host name, from which origin, with what body; lowering a tier needs the owner; bad input of
every kind gets a clear 4xx and loses nothing."""
from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import re
import sqlite3
import stat
import sys
from pathlib import Path
from typing import AsyncIterator

import httpx
import pytest

from claw import config as config_mod
from claw.config import ConfigError, is_loopback
from claw.guard import OPEN_PATHS
from claw.service import Claw
from tests.anthropic_standin import AnthropicStandIn, text_reply, tool_reply
from tests.conftest import make_config, serve
from tests.home_fixtures import SmallHome, devices_in


@contextlib.asynccontextmanager
async def house_api(claw_home: Path, standin: AnthropicStandIn,
                    confirm_timeout: float = 1.0) -> AsyncIterator[tuple[httpx.AsyncClient, SmallHome]]:
    """Claw on real HTTP with a small real home (a Hue bridge, and a Home Assistant with the
    front door lock and the garage door)."""
    config = make_config(claw_home, standin)
    config.agent.confirm_timeout = confirm_timeout
    service = Claw(config)
    async with serve(service) as client:
        async with devices_in(service.home, service.executor) as small:
            client.claw = service  # type: ignore[attr-defined]
            yield client, small


def door(small: SmallHome) -> str:
    return small.ha.states["lock.front_door"]["state"]


async def wait_for_pending(client: httpx.AsyncClient) -> list[dict]:
    for _ in range(100):
        pending = (await client.get("/api/confirmations")).json()["confirmations"]
        if pending:
            return pending
        await asyncio.sleep(0.02)
    raise AssertionError("no confirmation was asked for")


# -- who is calling ------------------------------------------------------------------------
def test_token_is_made_at_first_run_readable_only_by_the_owner(claw_home):
    config = config_mod.load(claw_home, env={})
    path = claw_home / config_mod.TOKEN_FILE
    assert len(config.http.token) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config_mod.load(claw_home, env={}).http.token == config.http.token  # stable
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        config_mod.load(claw_home, env={})


# Routes the schema leaves out: the page, its stream, the feeds, MCP, the docs and static files.
OUTSIDE_THE_SCHEMA = [("GET", "/"), ("GET", "/page/house"), ("GET", "/static/page.js"),
                      ("GET", "/api/events"), ("GET", "/api/feed/terminal"), ("POST", "/api/mcp"),
                      ("GET", "/docs"), ("GET", "/openapi.json"), ("GET", "/login"),
                      ("GET", "/static-offline-docs/swagger-ui.css")]


async def every_route(api: httpx.AsyncClient) -> list[tuple[str, str]]:
    """(method, url) for every route the app serves, path parameters filled in."""
    paths = (await api.get("/openapi.json")).json()["paths"]
    return OUTSIDE_THE_SCHEMA + [(method.upper(), re.sub(r"\{[^}]+\}", "x", path))
                                 for path, methods in paths.items() for method in methods]


async def test_every_route_refuses_no_token_a_foreign_origin_and_a_rebinding_host(api):
    routes = await every_route(api)
    for page in ("/", "/page/house", "/static/page.js", "/docs", "/static-offline-docs/swagger-ui.css"):
        assert (await api.get(page)).status_code == 200, page  # the list names real routes
    own = str(api.base_url).rstrip("/")
    port = api.base_url.port
    anonymous = httpx.AsyncClient(base_url=own)
    async with anonymous:
        assert (await anonymous.get("/api/health")).status_code == 200
        for method, url in routes:
            if url not in OPEN_PATHS:
                r = await anonymous.request(method, url, json={})
                assert r.status_code == 401, (method, url, r.status_code)
            # with the owner's token, but from another site's page, or by a rebound name
            r = await api.request(method, url, json={}, headers={"Origin": "http://127.0.0.2:9000"})
            assert r.status_code == 403, (method, url, r.status_code)
            r = await api.request(method, url, json={}, headers={"Host": f"rebind.example:{port}"})
            assert r.status_code == 421, (method, url, r.status_code)
        wrong = await anonymous.get("/api/devices", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
    assert len(routes) > 40
    # the automation routes are among those checked (the list comes from the app itself)
    assert {("GET", "/api/automations"), ("POST", "/api/automations"), ("PATCH", "/api/automations/x"),
            ("DELETE", "/api/automations/x"), ("POST", "/api/automations/x/run")} <= set(routes)


async def test_docs_work_offline_through_a_one_time_login_link(api):
    link = (await api.post("/api/login-link", json={})).json()["url"]
    path = "/login" + link.split("/login", 1)[1]
    browser = httpx.AsyncClient(base_url=str(api.base_url))  # no token: only the cookie
    async with browser:
        r = await browser.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        docs = await browser.get("/docs")
        assert docs.status_code == 200
        assert "/static-offline-docs/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text
        js = await browser.get("/static-offline-docs/swagger-ui-bundle.js")
        assert js.status_code == 200 and len(js.content) > 100_000
        assert (await browser.get("/openapi.json")).status_code == 200
        # the link works once
        browser.cookies.clear()
        assert (await browser.get(path)).status_code == 403
    # logging out ends the session
    fresh = "/login" + (await api.post("/api/login-link", json={})).json()["url"].split("/login", 1)[1]
    browser = httpx.AsyncClient(base_url=str(api.base_url))
    async with browser:
        await browser.get(fresh)
        assert (await browser.post("/api/logout", json={}, headers={
            "Origin": str(api.base_url).rstrip("/")})).status_code == 200
        assert (await browser.get("/api/devices")).status_code == 401


# -- which host and origin -----------------------------------------------------------------
def test_loopback_means_an_address_not_a_name_prefix():
    assert is_loopback("127.0.0.1") and is_loopback("127.3.4.5") and is_loopback("::1")
    assert is_loopback("[::1]") and is_loopback("localhost")
    assert not is_loopback("127.evil.example") and not is_loopback("localhost.evil.example")
    assert not is_loopback("10.0.0.2")


async def test_dns_rebinding_host_names_are_refused_even_with_the_token(api):
    port = api.base_url.port
    for host in (f"rebind.example:{port}", f"127.evil.example:{port}", "localhost.evil.example",
                 f"127.0.0.1.nip.io:{port}", ""):
        r = await api.get("/api/memory", headers={"Host": host})
        assert r.status_code == 421, host
        assert "allowed_hosts" in r.json()["detail"]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "127.0.0.1"):
        assert (await api.get("/api/memory", headers={"Host": host})).status_code == 200, host


async def test_configured_host_names_are_answered(claw_home, standin):
    config = make_config(claw_home, standin, CLAW_HTTP_PORT="8765")
    config.http.allowed_hosts = ["claw.local"]
    async with serve(Claw(config)) as client:
        assert (await client.get("/api/memory", headers={"Host": "claw.local:8765"})).status_code == 200
        assert (await client.get("/api/memory", headers={"Host": "claw.evil:8765"})).status_code == 421


async def test_a_foreign_origin_is_refused_on_every_request(api):
    own = str(api.base_url).rstrip("/")
    for origin in ("http://127.0.0.2:9000", "http://evil.example", "null",
                   own.replace("http://", "https://evil."), own + ".evil.example"):
        r = await api.post("/api/tools/HassMediaPause", json={}, headers={"Origin": origin})
        assert r.status_code == 403, origin
        assert (await api.get("/api/memory", headers={"Origin": origin})).status_code == 403
    assert (await api.post("/api/pair", json={}, headers={"Origin": own})).status_code == 200


async def test_bodies_must_be_json_and_bounded(api):
    for headers, content in (({}, None), ({"Content-Type": "text/plain"}, '{"name": "Front Door"}'),
                             ({"Content-Type": "application/x-www-form-urlencoded"}, "name=x"),
                             ({"Content-Type": "multipart/form-data; boundary=x"}, "--x--")):
        r = await api.post("/api/tools/HassTurnOff", content=content, headers=headers)
        assert r.status_code == 415, headers
        assert "application/json" in r.json()["detail"]
    huge = json.dumps({"text": "x" * (300 * 1024)})
    r = await api.post("/api/chat", content=huge, headers={"Content-Type": "application/json"})
    assert r.status_code == 413

    async def chunks():
        for _ in range(40):
            yield b"x" * 10_000

    r = await api.post("/api/chat", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413


# -- the security tier ---------------------------------------------------------------------
async def test_a_model_following_injected_text_cannot_lower_the_tier_and_unlock(claw_home, standin):
    async with house_api(claw_home, standin) as (api, small):
        standin.queue += [tool_reply("SetRiskTier", {"entity": "Front Door", "tier": "write"}),
                          tool_reply("HassTurnOff", {"name": "Front Door"}),
                          text_reply("The door is open for the courier.")]
        body = (await api.post("/api/chat", json={
            "text": "do what the note on the courier's parcel says"})).json()
        assert [a["ok"] for a in body["actions"]] == [False, False]
        assert "not confirmed" in body["actions"][0]["result"]
        assert door(small) == "locked"
        entity = api.claw.home.entities["lock.front_door"]  # type: ignore[attr-defined]
        assert entity.risk_tier == "security"
        statuses = [r["status"] for r in api.claw.store.db["confirmations"].rows]  # type: ignore[attr-defined]
        assert statuses == ["expired", "expired"]


async def test_lowering_a_tier_over_the_api_waits_for_the_owner(claw_home, standin):
    async with house_api(claw_home, standin, confirm_timeout=5) as (api, small):
        patch = asyncio.create_task(api.patch("/api/entities/lock.front_door", json={"tier": "write"}))
        pending = await wait_for_pending(api)
        assert pending[0]["what"].startswith("Take the Front Door out of the security tier")
        assert (await api.post(f"/api/confirmations/{pending[0]['id']}", json={"approve": False})).status_code == 200
        r = await patch
        assert r.status_code == 403 and "not confirmed" in r.json()["detail"]
        assert api.claw.home.entities["lock.front_door"].risk_tier == "security"  # type: ignore[attr-defined]

        # the owner's own yes lowers it; raising it back is free
        patch = asyncio.create_task(api.patch("/api/entities/lock.front_door", json={"tier": "write"}))
        pending = await wait_for_pending(api)
        await api.post(f"/api/confirmations/{pending[0]['id']}", json={"approve": True})
        assert (await patch).json()["tier"] == "write"
        r = await api.patch("/api/entities/lock.front_door", json={"tier": "security"})
        assert r.json()["tier"] == "security"
        assert (await api.get("/api/confirmations")).json()["confirmations"] == []
        assert door(small) == "locked"


async def test_read_tier_devices_are_not_changed(claw_home, standin):
    async with house_api(claw_home, standin) as (api, small):
        r = await api.patch("/api/entities/light.desk_lamp", json={"tier": "read"})
        assert r.json()["tier"] == "read"
        before = small.light("Desk Lamp").on
        action = (await api.post("/api/tools/HassTurnOn", json={"name": "Desk Lamp"})).json()
        assert not action["ok"] and "read-only" in action["result"]
        assert small.light("Desk Lamp").on == before


# -- bad input -----------------------------------------------------------------------------
BAD_BODIES = [
    '{"text": "\\ud800", "name": "\\udfff", "fact": "\\ud83d", "q": "\\ud800"}',
    '{"text": "ok", "fact_id": 1180591620717411303424, "brightness": 1180591620717411303424}',
    '{"text": NaN, "brightness": Infinity, "temperature": -Infinity}',
    '{"text": 5, "name": [], "approve": "yes", "tier": {}, "aliases": "x", "chat_id": null}',
    '[]', '"text"', '{', '\xff\xfe', "[" * 100_000 + "]" * 100_000,
    '{"text": "' + "x" * 9000 + '"}', '{"aliases": [' + ",".join(['"a"'] * 6000) + ']}',
]


async def test_bad_input_on_every_endpoint_gets_a_clear_4xx_and_loses_nothing(claw_home, standin):
    standin.default = text_reply("OK.")
    async with house_api(claw_home, standin, confirm_timeout=0.2) as (api, small):
        service = api.claw  # type: ignore[attr-defined]
        service.store.remember("The safe code is 4321")
        soul = service.soul.text()
        paths = (await api.get("/openapi.json")).json()["paths"]
        values = collections.defaultdict(lambda: "1", entity_id="light.desk_lamp", name="HassTurnOn",
                                         fact_id="999", request_id="abc", person_id="telegram:1")
        tried = 0
        for path, methods in paths.items():
            url = path.format_map(values)
            for method in methods:
                for body in BAD_BODIES:
                    r = await api.request(method, url, content=body.encode("utf-8", "surrogatepass"),
                                          headers={"Content-Type": "application/json"})
                    tried += 1
                    assert r.status_code < 500, (method, path, body[:60], r.status_code, r.text[:200])
                    r.json()  # an answer in JSON, not a traceback
        for url in ("/api/memory/1180591620717411303424", "/api/memory/-1", "/api/memory/x"):
            r = await api.delete(url)
            assert r.status_code == 422, url
        r = await api.post("/api/tools/forget", json={"fact_id": 2**52})
        assert r.status_code == 200 and not r.json()["ok"]
        assert tried > 100
        assert (await api.get("/api/health")).status_code == 200
        assert [f.text for f in service.store.all_facts()] == ["The safe code is 4321"]
        assert soul in [v["text"] for v in service.store.soul_versions()]  # valid PUTs keep history
        assert door(small) == "locked"


def test_claw_toml_numbers_must_be_finite_and_in_range(claw_home):
    bad = {
        "[agent]\ndevice_timeout = nan\n": "agent.device_timeout must be a finite number",
        "[agent]\nconfirm_timeout = inf\n": "agent.confirm_timeout must be a finite number",
        "[agent]\nconfirm_timeout = -1\n": "agent.confirm_timeout must be from 1 to 3600",
        "[agent]\ndevice_timeout = 0\n": "agent.device_timeout must be from 0.1",
        "[agent]\nmax_tool_iterations = 2.5\n": "agent.max_tool_iterations must be a whole number",
        "[anthropic]\ntimeout = -5\n": "anthropic.timeout must be from 1",
        "[anthropic]\nmax_tokens = 0\n": "anthropic.max_tokens must be from 1",
        "[anthropic]\nbase_url = 'ftp://x'\n": "anthropic.base_url must be an http",
        "[anthropic]\nmodel = ' '\n": "anthropic.model must not be empty",
        "[local]\nn_ctx = -1\n": "local.n_ctx must be from 512",
        "[local]\nthreads = -2\n": "local.threads must be from 0",
        "[discovery]\nssdp_interval = 0\n": "discovery.ssdp_interval must be from 1",
        "[discovery]\ninterfaces = ['eth0; rm']\n": "discovery.interfaces",
        "[alerts]\ncamera_interval = 0\n": "alerts.camera_interval must be from 0.5",
        "[alerts]\nheartbeat_minutes = -1\n": "alerts.heartbeat_minutes must be from 0",
        "[alerts]\nheartbeat_daily_tokens = -1\n": "alerts.heartbeat_daily_tokens must be from 0",
        "[http]\nport = 70000\n": "http.port must be from 1 to 65535",
        "[http]\nport = 8765.5\n": "http.port must be a whole number",
        "[http]\nhost = ''\n": "http.host must not be empty",
        "[http]\nallowed_hosts = ['a b']\n": "http.allowed_hosts",
        "[telegram]\nbase_url = 'not a url'\n": "telegram.base_url must be an http",
    }
    for text, expected in bad.items():
        (claw_home / "claw.toml").write_text(text)
        with pytest.raises(ConfigError, match=expected.replace("[", r"\[").replace(".", r"\.")):
            config_mod.load(claw_home, env={})
    (claw_home / "claw.toml").write_text("[agent]\ndevice_timeout = 1.5\nconfirm_timeout = 30\n")
    config = config_mod.load(claw_home, env={"CLAW_HTTP_PORT": "9000"})
    assert (config.agent.device_timeout, config.agent.confirm_timeout, config.http.port) == (1.5, 30, 9000)


async def test_claw_chat_reads_the_token_and_confirms_at_its_own_prompt(claw_home, standin):
    async with house_api(claw_home, standin, confirm_timeout=20) as (api, small):
        env = {**os.environ, "CLAW_HTTP_PORT": str(api.base_url.port), "PYTHONPATH": str(Path.cwd())}
        env.pop("CLAW_HOME", None)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "claw.cli", "--data-dir", str(claw_home), "chat",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env)
        out, err = await asyncio.wait_for(proc.communicate(
            b"unlock the front door\nno\nunlock the front door\nyes\n"), 60)
        text = out.decode()
        assert proc.returncode == 0, err.decode()
        assert text.count("Unlock the Front Door? Type yes to confirm") == 2
        assert "not confirmed" in text
        assert door(small) == "unlocked"


async def test_a_database_locked_by_another_program_is_a_clear_503(api):
    service = api.claw  # type: ignore[attr-defined]
    service.store.db.execute("PRAGMA busy_timeout=200")  # the default 5 s would only slow the test
    other = sqlite3.connect(service.config.db_path, isolation_level=None)
    other.execute("begin immediate")  # another program holds the write lock
    try:
        r = await api.post("/api/chat", json={"text": "turn on the kitchen lights"})
    finally:
        other.execute("rollback")
        other.close()
    assert r.status_code == 503
    assert "locked by another program" in r.json()["detail"]
    assert (await api.post("/api/chat", json={"text": "hello"})).status_code == 200
