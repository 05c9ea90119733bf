"""The owner's web page at `/`: server-rendered templates, one small script and stylesheet from
the package (no build step, no CDN), kept live by one Server-Sent Events stream.

The page changes the house only through the same endpoints every API caller uses (the tool
endpoints, confirmations, entities), so the executor and its policy apply unchanged. The guard
has checked the owner before any route here runs.
"""
from __future__ import annotations

import asyncio
import base64
import json
import time
from importlib import resources
from typing import Any, AsyncIterator

import jinja2
from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from claw.service import Claw
from devices.model import DeviceError, Entity
from messaging.outbox import OutItem

PAGE_CHAT = "page"  # the owner's conversation on the page: one, whichever browser shows it
HISTORY = 20  # messages of it shown when the page opens
KEEPALIVE = 15.0  # seconds between SSE comments, so a dead connection is noticed and closed
QUEUE_LIMIT = 1000  # events a slow page may fall behind before its stream is closed (it reconnects)
STATIC = {"page.js": "text/javascript", "page.css": "text/css"}
FEED_KINDS = ("alert", "alert_undelivered", "notice")  # events the page lists when it opens

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("claw", "web/templates"),
    autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined,
)
_templates.filters["clock"] = lambda t: time.strftime(
    "%H:%M" if time.time() - t < 86_400 else "%d %b %H:%M", time.localtime(t))


class PageChat(BaseModel):
    text: str = Field(min_length=1, max_length=8000)
    room: str | None = Field(default=None, max_length=100)


def summary(e: Entity) -> str:
    """The entity's state in a few words, as its tile shows it."""
    a = e.attributes
    if e.state == "unavailable":
        return "not answering"
    bits = [e.state if not (e.domain == "sensor" and a.get("unit_of_measurement"))
            else f"{e.state} {a['unit_of_measurement']}"]
    if e.domain == "light" and e.state == "on" and a.get("brightness") is not None:
        bits.append(f"{round(a['brightness'] / 255 * 100)}%")
    if e.domain == "media_player":
        if a.get("media_title"):
            bits.append(str(a["media_title"]) + (f" by {a['media_artist']}" if a.get("media_artist") else ""))
        if a.get("volume_level") is not None:
            bits.append(f"volume {round(a['volume_level'] * 100)}%")
    if a.get("current_temperature") is not None:
        bits.append(f"now {a['current_temperature']}°")
    if e.domain == "cover" and a.get("current_position") is not None:
        bits.append(f"at {a['current_position']}%")
    return ", ".join(bits)


_templates.globals["summary"] = summary


def entity_event(e: Entity) -> dict[str, Any]:
    return {**e.as_dict(), "summary": summary(e)}


def house(service: Claw) -> list[tuple[str, list[tuple[str, list[Entity]]]]]:
    """Entities grouped by floor, then area; unplaced ones last."""
    floors: dict[str, dict[str, list[Entity]]] = {}
    for e in sorted(service.home.entities.values(), key=lambda e: (e.floor or "~", e.area or "~", e.name)):
        floors.setdefault(e.floor or ("No floor set" if e.area else "No area"), {}) \
              .setdefault(e.area or "Not in a room", []).append(e)
    return [(floor, list(areas.items())) for floor, areas in floors.items()]


def _feed_item(item: OutItem) -> dict[str, Any]:
    """An outbox item for the web channel as the page shows it."""
    photo = f"data:image/jpeg;base64,{base64.b64encode(item.photo).decode()}" if item.photo else None
    return {"key": item.key, "kind": item.kind, "text": item.text, "chat_id": item.chat_id,
            "photo": photo, "time": time.time()}


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def router(service: Claw) -> APIRouter:
    page = APIRouter()
    home = service.home

    def render(name: str, **context: Any) -> str:
        return _templates.get_template(name).render(**context)

    @page.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        models = service.router
        return HTMLResponse(render(
            "index.html", house=house(service), areas=sorted(home.areas), devices=_devices(),
            entities=home.entities, history=service.store.recent_messages(f"web:{PAGE_CHAT}", limit=HISTORY),
            feed=_recent_feed(), cloud=models.cloud is not None, local=models.local is not None,
            cloud_skipped=models.cloud_skipped()))

    @page.get("/page/house", include_in_schema=False)
    async def house_fragment() -> HTMLResponse:
        """The house section alone: the page swaps it in when entities appear, move or are renamed."""
        return HTMLResponse(render("house.html", house=house(service)))

    @page.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in STATIC:
            raise HTTPException(404, f"No file {name}.")
        body = resources.files("claw").joinpath("web/static", name).read_bytes()
        return Response(body, media_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    @page.get("/api/events", include_in_schema=False)
    async def events() -> StreamingResponse:
        """Server-Sent Events: `entity` (an entity's new state) on every change, `feed` (an alert,
        notice, confirmation request or outcome for the owner)."""
        return StreamingResponse(_stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def _stream() -> AsyncIterator[str]:
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        behind = False  # the page fell behind: its stream ends; it reconnects and reloads

        def changed(old: Entity | None, new: Entity) -> None:
            nonlocal behind
            behind = behind or queue.full()
            if not behind:
                queue.put_nowait(("entity", entity_event(new)))

        async def feed() -> None:
            async for item in service.channels.subscribe("web"):
                await queue.put(("feed", _feed_item(item)))
            await queue.put(("end", None))  # the feed ends when the service stops: so does this

        home.listeners.append(changed)
        feeding = asyncio.create_task(feed())
        try:
            yield "retry: 1000\n\n"
            while not behind:
                try:
                    async with asyncio.timeout(KEEPALIVE):
                        event, data = await queue.get()
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if event == "end":
                    return
                yield _sse(event, data)
        finally:
            home.listeners.remove(changed)
            feeding.cancel()

    @page.post("/api/page/chat")
    async def chat(body: PageChat) -> dict[str, Any]:
        """Say something to the house from the page, with the room the owner is in."""
        result = await service.channels.converse("web", PAGE_CHAT, body.text, area=body.room or None)
        return result.as_dict()

    @page.get("/api/cameras/{entity_id}/snapshot")
    async def snapshot(entity_id: str) -> Response:
        """The camera's picture now (JPEG)."""
        entity = home.entities.get(entity_id)
        if entity is None or entity.domain != "camera":
            raise HTTPException(404, f"No camera {entity_id}; GET /api/devices lists them.")
        try:
            jpeg = await home.snapshot(entity)
        except DeviceError as e:
            raise HTTPException(503, str(e)) from None
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    def _devices() -> list[dict[str, Any]]:
        seen = {d["device_id"]: d["last_seen"] for d in service.store.devices()}
        return [{"device_id": d.device.device_id, "family": d.device.family, "name": d.device.name,
                 "host": d.device.host, "port": d.device.port, "available": d.device.available,
                 "last_seen": seen.get(d.device.device_id, d.device.last_seen),
                 "entities": sorted(e.entity_id for e in home.entities.values()
                                    if e.device_id == d.device.device_id)}
                for d in home.drivers.values()]

    def _recent_feed() -> list[dict[str, Any]]:
        rows = [r for kind in FEED_KINDS for r in service.store.events(kind, limit=20)]
        return sorted(rows, key=lambda r: r["created"], reverse=True)[:20]

    return page
