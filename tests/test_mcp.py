"""The house as an MCP server, driven by the `mcp` SDK's own client: over streamable HTTP at
POST /api/mcp and over stdio through `claw mcp`, against a real Claw with a small real home (a
Hue bridge and a Home Assistant on loopback)."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import AsyncIterator

import httpx
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from claw.service import Claw
from devices.families.camera.driver import CameraDriver
from devices.families.camera.emulator import CameraEmulator
from devices.model import Device
from tests.conftest import make_config, serve
from tests.home_fixtures import SmallHome, devices_in

HA_NAMES = {"HassTurnOn", "HassTurnOff", "HassLightSet", "HassMediaPause", "HassClimateSetTemperature",
            "GetLiveContext", "GetDateTime", "HassGetState"}
NOT_OFFERED = {"SetRiskTier", "RenameDevice", "update_soul", "read_soul", "ConnectHomeAssistant", "remember",
               "create_automation"}  # a draft waits for a "yes" in the chat, which MCP has not


@contextlib.asynccontextmanager
async def house(claw_home: Path, confirm_timeout: float = 10.0
                ) -> AsyncIterator[tuple[httpx.AsyncClient, SmallHome, Claw]]:
    config = make_config(claw_home)  # no model: MCP clients bring their own
    config.agent.confirm_timeout = confirm_timeout
    service = Claw(config)
    async with serve(service) as api, devices_in(service.home, service.executor) as small:
        yield api, small, service


@contextlib.asynccontextmanager
async def over_http(api: httpx.AsyncClient, token: str) -> AsyncIterator[Client]:
    """The SDK's client over streamable HTTP, with the 2025 handshake Claude Code uses."""
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http, \
            Client(streamable_http_client(f"{api.base_url}/api/mcp", http_client=http),
                   mode="legacy") as client:
        yield client


async def test_tools_prompt_and_resource_over_streamable_http(claw_home):
    async with house(claw_home) as (api, small, service):
        async with over_http(api, service.config.http.token) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert HA_NAMES <= names and "CameraSnapshot" in names
            assert not names & NOT_OFFERED
            turn_on = next(t for t in (await client.list_tools()).tools if t.name == "HassTurnOn")
            assert {"name", "area", "floor", "domain"} <= set(turn_on.input_schema["properties"])

            result = await client.call_tool("HassTurnOn", {"name": "Desk Lamp"})
            assert not result.is_error, result.content
            assert small.light("Desk Lamp").on
            live = await client.call_tool("GetLiveContext", {"area": "Study"})
            assert "Desk Lamp" in live.content[0].text and "on" in live.content[0].text
            asked = await client.call_tool("HassGetState", {"name": "Front Door", "state": "locked"})
            assert asked.content[0].text.startswith("Yes")
            when = json.loads((await client.call_tool("GetDateTime", {})).content[0].text)
            assert set(when) == {"date", "time", "timezone", "weekday"}

            wrong = await client.call_tool("HassTurnOn", {"name": "Bathroom Heater"})
            assert wrong.is_error and "Bathroom Heater" in wrong.content[0].text
            assert "Traceback" not in wrong.content[0].text

            prompt = await client.get_prompt("Assist")
            text = prompt.messages[0].content.text
            assert "Kitchen Ceiling" in text and "security tier" in text
            resources = (await client.list_resources()).resources
            snapshot = await client.read_resource(resources[0].uri)
            assert "Desk Lamp" in snapshot.contents[0].text


async def test_a_camera_picture_comes_back_as_an_image(claw_home):
    async with house(claw_home) as (api, small, service), \
            CameraEmulator(name="Driveway Camera", size=(320, 180)) as cam:
        await service.home.add(CameraDriver(Device("cam", "camera", cam.name, cam.host, cam.port),
                                            area="Driveway"))
        async with over_http(api, service.config.http.token) as client:
            result = await client.call_tool("CameraSnapshot", {"area": "Driveway"})
            assert not result.is_error, result.content
            text, image = result.content
            assert "Driveway Camera" in text.text
            assert image.mime_type == "image/jpeg" and base64.b64decode(image.data)[:2] == b"\xff\xd8"


async def test_a_security_action_waits_for_the_owner(claw_home):
    async with house(claw_home) as (api, small, service):
        async with over_http(api, service.config.http.token) as client:
            call = asyncio.create_task(client.call_tool("HassTurnOff", {"name": "Front Door"}))
            pending = await _pending(api)
            assert pending[0]["what"] == "Unlock the Front Door"
            assert pending[0]["asked_by"] == "mcp:mcp (owner)"
            assert small.ha.states["lock.front_door"]["state"] == "locked"
            r = await api.post(f"/api/confirmations/{pending[0]['id']}", json={"approve": True})
            assert r.status_code == 200
            result = await asyncio.wait_for(call, 10)
            assert not result.is_error, result.content
            assert small.ha.states["lock.front_door"]["state"] == "unlocked"

            call = asyncio.create_task(client.call_tool("HassTurnOn", {"name": "Garage Door"}))
            pending = await _pending(api)
            await api.post(f"/api/confirmations/{pending[0]['id']}", json={"approve": False})
            declined = await asyncio.wait_for(call, 10)
            assert declined.is_error and "the owner declined" in declined.content[0].text
            assert small.ha.states["cover.garage_door"]["state"] == "closed"


async def test_an_unanswered_confirmation_ends_the_call_in_time(claw_home):
    async with house(claw_home, confirm_timeout=1.0) as (api, small, service):
        async with over_http(api, service.config.http.token) as client:
            result = await asyncio.wait_for(client.call_tool("HassTurnOff", {"name": "Front Door"}), 10)
            assert result.is_error and "not confirmed in time" in result.content[0].text
            assert small.ha.states["lock.front_door"]["state"] == "locked"


async def test_mcp_needs_the_owner_token_and_takes_posts_at_the_exact_path(claw_home):
    async with house(claw_home) as (api, small, service):
        hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "curl", "version": "1"}}}
        accept = {"Accept": "application/json, text/event-stream"}
        bare = httpx.AsyncClient(base_url=str(api.base_url), headers=accept)
        r = await bare.post("/api/mcp", json=hello)
        assert r.status_code == 401 and "Bearer" in r.json()["detail"]
        r = await bare.post("/api/mcp", json=hello, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
        r = await api.post("/api/mcp", json=hello, headers=accept)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        assert r.json()["result"]["serverInfo"]["name"] == "Claw"
        r = await api.post("/api/mcp", json=hello, headers={**accept, "Host": "evil.example"})
        assert r.status_code == 421
        assert small.ha.states["lock.front_door"]["state"] == "locked"
        await bare.aclose()


async def test_claw_mcp_serves_the_same_over_stdio(claw_home):
    async with house(claw_home) as (api, small, service):
        env = {**os.environ, "CLAW_HTTP_PORT": str(api.base_url.port), "PYTHONPATH": str(Path.cwd())}
        env.pop("CLAW_HOME", None)
        params = StdioServerParameters(command=sys.executable, env=env,
                                       args=["-m", "claw.cli", "--data-dir", str(claw_home), "mcp"])
        async with Client(params, mode="legacy") as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert HA_NAMES <= names and not names & NOT_OFFERED
            result = await client.call_tool("HassTurnOn", {"area": "Kitchen", "domain": ["light"]})
            assert not result.is_error, result.content
            assert small.light("Kitchen Ceiling").on and small.light("Kitchen Pendant").on
            live = await client.call_tool("GetLiveContext", {})
            assert "Kitchen Pendant" in live.content[0].text

            call = asyncio.create_task(client.call_tool("HassTurnOff", {"name": "Front Door"}))
            pending = await _pending(api)
            await api.post(f"/api/confirmations/{pending[0]['id']}", json={"approve": True})
            assert not (await asyncio.wait_for(call, 10)).is_error
            assert small.ha.states["lock.front_door"]["state"] == "unlocked"


def test_claw_mcp_says_why_when_the_service_is_not_there(claw_home):
    env = {**os.environ, "CLAW_HTTP_PORT": "9", "PYTHONPATH": str(Path.cwd())}
    p = subprocess.run([sys.executable, "-m", "claw.cli", "--data-dir", str(claw_home), "mcp"],
                       input="", capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 1 and p.stdout == ""
    assert "claw run" in p.stderr and "Traceback" not in p.stderr


async def _pending(api: httpx.AsyncClient) -> list[dict]:
    for _ in range(200):
        pending = (await api.get("/api/confirmations")).json()["confirmations"]
        if pending:
            return pending
        await asyncio.sleep(0.02)
    raise AssertionError("no confirmation was asked for")
