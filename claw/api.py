"""The house as an HTTP API (FastAPI; OpenAPI at /docs). Every tool is also an endpoint."""
from __future__ import annotations

import secrets
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Body, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

import claw
from claw import channels_api
from claw.service import Claw
from claw.soul import SoulError
from claw.tools import Caller


class ChatRequest(BaseModel):
    text: str = Field(min_length=1, max_length=8000)
    chat_id: str = Field(default="api", min_length=1, max_length=200)
    private: bool = False


class SoulBody(BaseModel):
    text: str


class EntityUpdate(BaseModel):
    name: str | None = None
    area: str | None = None
    aliases: list[str] | None = None
    tier: str | None = None


def create_app(service: Claw) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await service.start()
        yield
        await service.stop()

    token = service.config.http.token

    def authorize(request: Request) -> None:
        if not token:
            return  # loopback only: the config refuses other hosts without a token
        given = request.headers.get("authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise HTTPException(401, "Send 'Authorization: Bearer <http.token from claw.toml>'.")

    app = FastAPI(title="Claw", version=claw.__version__, lifespan=lifespan,
                  dependencies=[Depends(authorize)])
    app.state.claw = service
    api_caller = Caller(role="owner", chat_id="api", channel="api")

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        router = service.router
        return {
            "status": "ok",
            "version": claw.__version__,
            "entities": len(service.home.entities),
            "models": {"cloud": router.cloud is not None, "local": router.local is not None,
                       "cloud_skipped": router.cloud_skipped()},
        }

    @app.post("/api/chat")
    async def chat(body: ChatRequest) -> dict[str, Any]:
        caller = Caller(role="owner", chat_id=body.chat_id, channel="api")
        result = await service.agent.handle(body.text, caller, private=body.private)
        return result.as_dict()

    @app.get("/api/devices")
    async def devices() -> dict[str, Any]:
        home = service.home
        await home.settle()
        return {
            "devices": [
                {"device_id": d.device.device_id, "family": d.device.family, "name": d.device.name,
                 "host": d.device.host, "port": d.device.port, "available": d.device.available}
                for d in home.drivers.values()
            ],
            "entities": [e.as_dict() for e in sorted(home.entities.values(), key=lambda e: e.entity_id)],
        }

    @app.patch("/api/entities/{entity_id}")
    async def update_entity(entity_id: str, body: EntityUpdate) -> dict[str, Any]:
        if entity_id not in service.home.entities:
            raise HTTPException(404, f"No entity {entity_id}; GET /api/devices lists them.")
        try:
            entity = await service.home.customize(
                entity_id, name=body.name, area=body.area, aliases=body.aliases, tier=body.tier)
        except ValueError as e:
            raise HTTPException(422, str(e)) from None
        return entity.as_dict()

    @app.get("/api/tools")
    async def tools() -> list[dict[str, Any]]:
        return service.registry.specs()

    @app.post("/api/tools/{name}")
    async def run_tool(name: str, args: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        if service.registry.get(name) is None:
            raise HTTPException(404, f"No tool {name}; GET /api/tools lists them.")
        action = await service.executor.run(name, args, api_caller)
        return action.as_dict()

    @app.get("/api/soul")
    async def get_soul() -> dict[str, Any]:
        return {"text": service.soul.text(), "versions": len(service.store.soul_versions())}

    @app.put("/api/soul")
    async def put_soul(body: SoulBody) -> dict[str, Any]:
        try:
            service.soul.update(body.text, source="api")
        except SoulError as e:
            raise HTTPException(422, str(e)) from None
        return {"text": service.soul.text(), "versions": len(service.store.soul_versions())}

    @app.get("/api/memory")
    async def memory(q: str = "") -> dict[str, Any]:
        facts = service.store.recall(q, limit=50) if q else service.store.all_facts()
        return {"facts": [{"id": f.id, "text": f.text, "created": f.created} for f in facts]}

    @app.delete("/api/memory/{fact_id}")
    async def forget(fact_id: int) -> dict[str, Any]:
        fact = service.store.forget(fact_id)
        if fact is None:
            raise HTTPException(404, f"No fact #{fact_id}.")
        return {"forgotten": fact.text}

    app.include_router(channels_api.router(service.channels))
    return app
