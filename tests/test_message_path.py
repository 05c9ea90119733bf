"""One message path for every channel: stored in the inbox before it is answered, the chat's
lane, the agent, the outbox, delivered; owner notices, alerts and confirmation requests reach
every place the owner is (live feeds for the page and terminals). Over real HTTP, with a small
real home (a Hue bridge and a Home Assistant on loopback) and no model."""
from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import AsyncIterator

import httpx
import pytest
import uvicorn

from claw import demo, terminal
from claw.api import ApiServer, create_app
from claw.service import Claw
from messaging.feeds import Subscription
from messaging.inbox import Arrival
from messaging.outbox import OutItem
from tests.conftest import make_config, serve
from tests.home_fixtures import SmallHome, devices_in


@contextlib.asynccontextmanager
async def house(claw_home: Path, confirm_timeout: float = 10.0
                ) -> AsyncIterator[tuple[httpx.AsyncClient, SmallHome, Claw]]:
    config = make_config(claw_home)
    config.agent.confirm_timeout = confirm_timeout
    service = Claw(config)
    async with serve(service) as api, devices_in(service.home, service.executor) as small:
        yield api, small, service


async def next_item(feed: Subscription, timeout: float = 5.0) -> OutItem:
    return await asyncio.wait_for(anext(feed), timeout)


async def test_an_api_message_is_stored_answered_in_its_lane_and_queued(claw_home):
    async with house(claw_home) as (api, small, service):
        r = await api.post("/api/chat", json={"text": "turn on the desk lamp", "chat_id": "kitchen-tablet",
                                              "area": "Study"})
        assert r.status_code == 200 and r.json()["backend"] == "fast", r.json()
        assert small.light("Desk Lamp").on
        inbox = list(service.store.db["inbox"].rows)
        assert [(m["channel"], m["chat_id"], m["status"]) for m in inbox] == [("api", "kitchen-tablet", "done")]
        assert json.loads(inbox[0]["payload"])["area"] == "Study"
        replies = service.outbox.items()
        assert [(o["channel"], o["key"], o["status"]) for o in replies] == \
            [("api", f"reply:{inbox[0]['id']}:0", "sent")]  # delivered in the HTTP response
        assert replies[0]["text"] == r.json()["reply"]
        # the agent's history knows the chat by channel and chat id
        assert service.store.recent_messages("api:kitchen-tablet")[0]["text"] == "turn on the desk lamp"


async def test_commands_work_on_every_channel(claw_home):
    async with house(claw_home) as (api, small, service):
        help_text = (await api.post("/api/chat", json={"text": "/help"})).json()
        assert "Without a model" in help_text["reply"] and "/pair" in help_text["reply"]
        status = await service.channels.converse("terminal", "t1", "/status")
        assert status.reply.startswith("I'm up.")


async def test_the_page_feed_gets_its_replies_and_the_owners_notices(claw_home):
    async with house(claw_home) as (api, small, service):
        web, term = service.channels.subscribe("web"), service.channels.subscribe("terminal")
        result = await service.channels.converse("web", "page", "turn off the desk lamp", area="Study")
        reply = await next_item(web)
        assert (reply.chat_id, reply.text) == ("page", result.reply) and reply.key.startswith("reply:")
        await service.notify("I found a new speaker: Study Sonos.")
        for feed, channel in ((web, "web"), (term, "terminal")):
            notice = await next_item(feed)
            assert notice.text == "I found a new speaker: Study Sonos." and notice.key.endswith(f"@{channel}")
        assert service.agent.owner_notices == []  # told now, not held for the next reply
        sent = {o["key"]: o["status"] for o in service.outbox.items()}
        assert all(status == "sent" for status in sent.values()), sent
        web.close()
        term.close()
        assert service.feeds.live() == []
        await service.notify("Nobody is watching this one.")
        assert service.agent.owner_notices == ["Nobody is watching this one."]


async def test_a_confirmation_reaches_the_page_and_its_outcome_follows(claw_home):
    async with house(claw_home) as (api, small, service):
        web = service.channels.subscribe("web")
        call = asyncio.create_task(api.post("/api/tools/HassTurnOff", json={"name": "Front Door"}))
        ask = await next_item(web)
        assert ask.options["buttons"][0][0] == ["Confirm", f"cf:{ask.options['confirmation']}:y"]
        assert ask.text.startswith("Unlock the Front Door? Asked over the API.")
        r = await api.post(f"/api/confirmations/{ask.options['confirmation']}", json={"approve": True})
        assert r.status_code == 200
        outcome = await next_item(web)
        assert outcome.kind == "edit" and outcome.options["target"] == ask.key
        assert outcome.text == "Confirmed: Unlock the Front Door."
        assert (await call).json()["ok"] is True
        assert small.ha.states["lock.front_door"]["state"] == "unlocked"
        web.close()


async def test_an_alert_reaches_an_open_page_and_is_recorded_when_nobody_is_there(claw_home):
    async with house(claw_home) as (api, small, service):
        assert not service.alerts.tell("", "", "alert:test:1", "The garage door is open.")
        assert service.store.events("alert_undelivered", limit=1)[0]["data"]["text"] == "The garage door is open."
        web = service.channels.subscribe("web")
        assert service.alerts.tell("", "", "alert:test:2", "The garage door is still open.")
        item = await next_item(web)
        assert item.text == "The garage door is still open." and item.chat_id == "owner"
        web.close()


async def test_a_message_stored_before_a_crash_is_answered_after_the_restart(claw_home):
    config = make_config(claw_home)
    first = Claw(config)
    first.inbox.put(Arrival("web", 0, "page", "owner", text="/devices", role="owner"))
    first.store.close()  # gone before it was answered
    service = Claw(make_config(claw_home))
    async with serve(service):
        web = service.channels.subscribe("web")
        item = await next_item(web)
        assert item.key.startswith("reply:") and "haven't found any devices" in item.text
        web.close()


async def test_the_terminal_feed_over_http(claw_home):
    async with house(claw_home) as (api, small, service):
        async with api.stream("GET", "/api/feed/terminal") as r:
            lines = r.aiter_lines()
            assert await anext(lines) == ": connected"
            await service.notify("The hallway thermostat came back.")
            while not (line := await anext(lines)).startswith("data: "):
                pass
            item = json.loads(line.removeprefix("data: "))
            assert item["text"] == "The hallway thermostat came back." and item["chat_id"] == "owner"
            assert terminal.Asks().take(item["key"], item["kind"], item["text"], item["options"],
                                        item["photo"]) == item["text"]
        assert (await api.get("/api/feed/telegram")).status_code == 422  # not a feed: it has its own delivery


async def test_the_demo_terminal_chats_confirms_at_the_prompt_and_starts_over(claw_home, monkeypatch, capsys):
    async with house(claw_home) as (api, small, service):
        monkeypatch.setattr(sys, "stdin", io.StringIO(
            "turn on the desk lamp\n/help\n/new\nunlock the front door\nyes\n"))
        await asyncio.wait_for(demo._chat(service), 20)
        out = capsys.readouterr().out
        assert small.light("Desk Lamp").on
        assert "Without a model" in out and terminal.NEW in out
        assert out.count("Unlock the Front Door? Type yes to confirm") == 1
        assert "Confirmed: Unlock the Front Door." in out
        assert small.ha.states["lock.front_door"]["state"] == "unlocked"
        chats = {row["chat_id"] for row in service.store.db["inbox"].rows}
        assert len(chats) == 2 and all(c.startswith("terminal-") for c in chats)  # /new: a new chat


async def test_claw_chat_sessions_get_notices_live_and_each_has_its_own_chat(claw_home):
    async with house(claw_home) as (api, small, service):
        env = {**os.environ, "CLAW_HTTP_PORT": str(api.base_url.port), "PYTHONPATH": str(Path.cwd())}
        env.pop("CLAW_HOME", None)
        chats = [await asyncio.create_subprocess_exec(
            sys.executable, "-m", "claw.cli", "--data-dir", str(claw_home), "chat",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env) for _ in range(2)]
        for chat in chats:  # the first prompt comes once the terminal's feed is live
            seen = b""
            while b"you> " not in seen:
                seen += await asyncio.wait_for(chat.stdout.read(100), 30)
        await service.notify("The garage door has been open for 10 minutes.")
        outs = await asyncio.gather(*(asyncio.wait_for(chat.communicate(
            b"turn on the desk lamp\n/help\n"), 60) for chat in chats))
        for out, err in outs:
            text = out.decode()
            assert text.count("claw> The garage door has been open for 10 minutes.") == 1, (text, err)
            assert "Without a model" in text
        assert small.light("Desk Lamp").on
        ids = {(row["channel"], row["chat_id"]) for row in service.store.db["inbox"].rows}
        assert len(ids) == 2 and all(c == "terminal" and i.startswith("terminal-") for c, i in ids)


@pytest.mark.parametrize("path, first", [("/api/feed/terminal", ": connected"),
                                         ("/api/events", "retry: 1000")])
async def test_the_server_stops_at_once_with_a_feed_open(claw_home, path, first):
    service = Claw(make_config(claw_home))
    server = ApiServer(service, uvicorn.Config(create_app(service), host="127.0.0.1", port=0,
                                               log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    headers = {"Authorization": f"Bearer {service.config.http.token}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=None) as c, \
            c.stream("GET", path) as feed:
        lines = feed.aiter_lines()
        assert await anext(lines) == first
        server.should_exit = True  # what Ctrl-C does
        t = time.monotonic()
        await asyncio.wait_for(serving, 5)  # uvicorn would wait for the stream to end
        assert time.monotonic() - t < 1.5  # not ApiServer's 3 s last resort
        assert [line async for line in lines] == [""]
