"""Shared fixtures: a data dir, the Anthropic stand-in, and the service on real HTTP."""
from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import AsyncIterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from claw import config as config_mod
from claw.api import create_app
from claw.config import Config
from claw.service import Claw
from tests.anthropic_standin import AnthropicStandIn


@pytest.fixture
def claw_home(tmp_path: Path) -> Path:
    home = tmp_path / "claw-home"
    home.mkdir()
    return home


@pytest.fixture
async def standin() -> AsyncIterator[AnthropicStandIn]:
    s = AnthropicStandIn()
    await s.start()
    yield s
    await s.stop()


def make_config(home: Path, standin: AnthropicStandIn | None = None, **env: str) -> Config:
    values = {"CLAW_HTTP_PORT": "8765", **env}
    if standin is not None:
        values.setdefault("ANTHROPIC_API_KEY", "test-key")
        values.setdefault("ANTHROPIC_BASE_URL", standin.url)
    config = config_mod.load(home, env=values)
    config.anthropic.timeout = 2.0
    config.discovery.enabled = False
    return config


@contextlib.asynccontextmanager
async def serve(service: Claw, app: FastAPI | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """The real FastAPI app on a real loopback port, and an HTTP client for it."""
    app = app or create_app(service)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started, "the API server did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    headers = {"Authorization": f"Bearer {service.config.http.token}"} if service.config.http.token else {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client:
        yield client
    server.should_exit = True
    await asyncio.wait_for(task, 10)


@pytest.fixture
async def api(claw_home: Path, standin: AnthropicStandIn):
    service = Claw(make_config(claw_home, standin))
    async with serve(service) as client:
        client.claw = service  # type: ignore[attr-defined]
        yield client
