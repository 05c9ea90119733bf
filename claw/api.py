"""The house as an HTTP API (FastAPI; OpenAPI at /docs, served from the package so it works
offline). Every tool is also an endpoint. Every route but health and login is the owner's:
claw.guard checks the caller before any of them runs."""
from __future__ import annotations

import json
import socket
from contextlib import asynccontextmanager
from typing import Annotated, Any, AsyncIterator, Literal

import uvicorn
from fastapi import Body, FastAPI, HTTPException, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field

import claw
from claw import automations_api, channels_api, mcp_server, page, soul_api, tools_api
from claw.guard import Guard
from claw.service import Claw
from claw.sessions import SESSION_COOKIE, SESSION_TTL
from claw.soul import SoulError
from claw.tools import Caller, ToolContext, ToolError
from memory.store import StoreError


SHUTDOWN_GRACE = 3  # seconds


class ChatRequest(BaseModel):
    text: str = Field(min_length=1, max_length=8000)
    chat_id: str = Field(default="api", min_length=1, max_length=200)
    private: bool = False
    area: str | None = Field(default=None, max_length=200, description="The room the speaker is in")
    channel: Literal["api", "terminal"] = Field(
        default="api", description="terminal: a terminal chat (`claw chat`), whose replies, alerts and "
                                   "notices also go to GET /api/feed/terminal")


class SoulBody(BaseModel):
    text: str


class EntityUpdate(BaseModel):
    name: str | None = None
    area: str | None = None
    aliases: list[str] | None = None
    tier: str | None = None


class ApiServer(uvicorn.Server):
    """uvicorn waits for every open response before it stops, and an event stream (the page,
    `claw chat`) never ends on its own: end the live feeds first, so Ctrl-C stops at once, and
    give any other response still open at most SHUTDOWN_GRACE seconds."""

    def __init__(self, service: Claw, config: uvicorn.Config):
        if config.timeout_graceful_shutdown is None:
            config.timeout_graceful_shutdown = SHUTDOWN_GRACE
        super().__init__(config)
        self.service = service

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.service.feeds.end()
        await super().shutdown(sockets)


def create_app(service: Claw) -> FastAPI:
    mcp = mcp_server.build(service)
    # Stateless JSON like Home Assistant's; its route is added at the exact path (a mount would
    # answer POST /api/mcp with a redirect to /api/mcp/).
    mcp_app = mcp.streamable_http_app(streamable_http_path=mcp_server.PATH, stateless_http=True,
                                      json_response=True,
                                      transport_security=mcp_server.transport_security(service))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with mcp.session_manager.run():
            await service.start()
            yield
            await service.stop()

    app = FastAPIOffline(title="Claw", version=claw.__version__, lifespan=lifespan, redoc_url=None)
    app.add_middleware(Guard, config=service.config, sessions=service.sessions)
    app.state.claw = service

    @app.exception_handler(StoreError)
    async def store_unavailable(request: Request, error: StoreError) -> JSONResponse:
        """The database is locked or broken: say so (the message says what to do), not a 500."""
        return JSONResponse({"detail": str(error)}, status_code=503)

    api_caller = Caller(role="owner", chat_id="api", channel="api")

    @app.get("/login", include_in_schema=False)
    async def login(code: str = "") -> RedirectResponse:
        """Trade a one-time login link for a session cookie, then show the page."""
        session = service.sessions.open(code)
        if session is None:
            raise HTTPException(403, "That login link was used already or is too old; "
                                     "`claw login` prints a new one.")
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, session, max_age=int(SESSION_TTL), httponly=True,
                            samesite="strict", path="/")
        return response

    @app.post("/api/login-link")
    async def login_link() -> dict[str, str]:
        """A one-time link (10 minutes) that logs a browser in as the owner."""
        return {"url": service.login_link()}

    @app.post("/api/logout")
    async def logout(request: Request) -> dict[str, bool]:
        service.sessions.close(request.cookies.get(SESSION_COOKIE, ""))
        return {"logged_out": True}

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
        """One message to the house, answered on the same path as every other channel."""
        result = await service.channels.converse(body.channel, body.chat_id, body.text,
                                                 area=body.area, private=body.private)
        return result.as_dict()

    # Not in the schema: a stream never ends, so /docs' "try it" and schema-driven clients hang.
    @app.get("/api/feed/{channel}", include_in_schema=False)
    async def feed(channel: Literal["terminal", "web"]) -> StreamingResponse:
        """Server-Sent Events: every message queued for this channel (replies, owner notices,
        alerts, confirmation requests and their outcomes), one `message` event each."""
        subscription = service.channels.subscribe(channel)

        async def events() -> AsyncIterator[str]:
            try:
                yield ": connected\n\n"  # the subscription is live from here on
                async for item in subscription:
                    data = {"key": item.key, "chat_id": item.chat_id, "kind": item.kind,
                            "text": item.text, "photo": item.photo is not None, "options": item.options}
                    yield f"event: message\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
            finally:
                subscription.close()

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

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
        """Rename, move, alias or re-tier an entity. Lowering a security entity's tier waits for
        the owner's confirmation, like any other security action."""
        entity = service.home.entities.get(entity_id)
        if entity is None:
            raise HTTPException(404, f"No entity {entity_id}; GET /api/devices lists them.")
        try:
            if body.tier is not None:
                entity = await service.executor.set_tier(ToolContext(api_caller), entity, body.tier)
            if body.name is not None or body.area is not None or body.aliases is not None:
                entity = await service.home.customize(
                    entity_id, name=body.name, area=body.area, aliases=body.aliases)
        except ToolError as e:
            raise HTTPException(403, str(e)) from None
        except ValueError as e:
            raise HTTPException(422, str(e)) from None
        return entity.as_dict()

    @app.get("/api/tools")
    async def tools() -> list[dict[str, Any]]:
        return service.registry.specs()

    # Each tool's own typed endpoint first; the generic route below serves any tool by name
    # (also one registered after the app was built).
    app.include_router(tools_api.router(service.registry, service.executor, api_caller))

    @app.post("/api/tools/{name}")
    async def run_tool(name: str, args: dict[str, Any] = Body(default_factory=dict)) -> dict[str, Any]:
        """Run any tool by name with its arguments as a JSON object."""
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
    async def forget(fact_id: Annotated[int, Path(ge=1, le=2**53)]) -> dict[str, Any]:
        fact = service.store.forget(fact_id)
        if fact is None:
            raise HTTPException(404, f"No fact #{fact_id}.")
        return {"forgotten": fact.text}

    app.router.routes.extend(mcp_app.routes)  # POST /api/mcp, behind the guard like the rest
    app.include_router(channels_api.router(service.channels))
    app.include_router(page.router(service))
    app.include_router(soul_api.router(service.soul))
    app.include_router(automations_api.router(service.scheduler, api_caller))
    return app
