"""`claw demo`: an emulated house on loopback, Claw discovering it, and a chat in the terminal."""
from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from claw import startup, terminal
from claw.api import ApiServer, create_app
from claw.config import TOKEN_FILE, Config
from claw.service import Claw
from devices import homefile
from devices.emulators.house import DEMO_HOME, EmulatedHouse
from devices.family import HouseError
from messaging.feeds import Subscription

log = logging.getLogger(__name__)

SETTLE_TIMEOUT = 15.0


def run_demo(config: Config, home_file: Path | None, chat: bool) -> int:
    try:
        spec = homefile.load(home_file or DEMO_HOME)
    except homefile.HomeFileError as e:
        print(f"claw: {e}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_demo(config, spec, chat))
    except KeyboardInterrupt:  # Ctrl-C: _demo has stopped the house and the service already
        print("\nclaw: demo stopped", file=sys.stderr)
        return 0


def demo_service(config: Config, house: EmulatedHouse) -> Claw:
    """A Claw that finds the emulated house over loopback discovery, as it would a real one."""
    # Discovery stays on loopback: the demo must never multicast on the real network.
    config.discovery.enabled = True
    config.discovery.interfaces = ["127.0.0.1"]
    config.discovery.ssdp_interval = 5.0
    ha = house.families["home_assistant"]
    config.home_assistant.token = ha.token
    config.home_assistant.url = ha.server.url  # the token goes only to the instance it is for
    if not config.location.known:  # the demo house stands in Zurich: sunrise and sunset work
        config.location.latitude, config.location.longitude = 47.37, 8.54
    service = Claw(config)
    for area in house.spec.areas:  # the owner's floor plan, as they would tell it once
        service.home.set_area(area.name, floor=area.floor, aliases=area.aliases)
    for entity in house.spec.entities:  # and the nicknames they use for things
        if entity.aliases:
            service.home.save_settings(entity.entity_id, aliases=entity.aliases)
    return service


def demo_app(service: Claw, house: EmulatedHouse) -> FastAPI:
    app = create_app(service)

    @app.post("/api/demo/reset", tags=["demo"])
    async def reset() -> dict[str, int]:
        """Put every emulated entity back to the home file's initial state."""
        house.reset_states()
        await service.home.refresh_all()
        return {"entities": len(house.spec.entities)}

    return app


async def _demo(config: Config, spec: homefile.HomeSpec, chat: bool) -> int:
    try:
        api = startup.api_socket(config)
        house = EmulatedHouse(spec, "127.0.0.1")
    except (startup.StartError, HouseError) as e:
        print(f"claw: {e}", file=sys.stderr)
        return 1
    try:
        await house.start()
    except HouseError as e:
        print(f"claw: {e}", file=sys.stderr)
        await house.stop()
        api.close()
        return 1
    config.discovery.demo_house = house.house_id  # this house only, not another demo's
    service = demo_service(config, house)
    app = demo_app(service, house)
    # log_config=None: uvicorn's lines go to the demo's log file too, not into the chat.
    server = ApiServer(service, uvicorn.Config(app, log_level="warning", log_config=None))
    serving = asyncio.create_task(server.serve(sockets=[api]))
    log_file = config.home / startup.LOG_FILE
    try:
        while not server.started:
            if serving.done():
                print(f"claw: the service did not start; {log_file} says why", file=sys.stderr)
                return 1
            await asyncio.sleep(0.05)
        print(f"Demo house '{spec.name}' is up, on loopback only.")
        # The demo's data is CLAW_HOME/demo; the owner's token is CLAW_HOME's own.
        for line in startup.summary(config, service.login_link(), config.home.parent / TOKEN_FILE):
            print(line)
        print(f"Logs:      {log_file}")
        await _settle(service, len(spec.entities))
        if chat:
            await _chat(service)
        else:
            await serving
    finally:
        server.should_exit = True
        await asyncio.gather(serving, return_exceptions=True)
        await house.stop()
    return 0


async def _settle(service: Claw, expected: int) -> None:
    """Wait until discovery has found the whole house (or a timeout), then say what is there."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < SETTLE_TIMEOUT and len(service.home.entities) < expected:
        await asyncio.sleep(0.1)
    found = len(service.home.entities)
    print(f"Discovered {found} of {expected} entities in {loop.time() - start:.1f} s.")
    announced = loop.time() + 3  # the owner is told about a batch once discovery goes quiet
    while not service.agent.owner_notices and loop.time() < announced:
        await asyncio.sleep(0.1)
    for notice in service.agent.owner_notices:
        print(f"claw> {notice}")
    service.agent.owner_notices.clear()


async def _chat(service: Claw) -> None:
    print("Say things like: turn on the kitchen lights | pause the music in the study | "
          "set the hallway to 21 degrees | is the garage door open? | unlock the front door\n"
          + terminal.HELP)
    chat_id = terminal.new_chat_id()
    asks = terminal.Asks()
    asked = asyncio.Event()
    feed = service.channels.subscribe("terminal")
    showing = asyncio.create_task(_show(feed, asks, asked))
    try:
        while (line := await _read()) is not None:
            text = line.strip()
            if (request := asks.next()) is not None:  # the line answers what was asked
                _confirm(service, request, text)
            elif text == "/new":
                chat_id = terminal.new_chat_id()
                print(f"claw> {terminal.NEW}")
            elif text:
                turn = asyncio.create_task(service.channels.converse("terminal", chat_id, text))
                while not turn.done():
                    # The terminal is the owner here: security actions are confirmed at the prompt.
                    if (request := asks.next()) is not None:
                        _confirm(service, request, await _read(prompt=False) or "")
                        continue
                    asked.clear()
                    waiting = asyncio.create_task(asked.wait())
                    await asyncio.wait([turn, waiting], return_when=asyncio.FIRST_COMPLETED)
                    waiting.cancel()
                print(f"claw> {turn.result().reply}")
        print()
    finally:
        showing.cancel()
        feed.close()


async def _read(prompt: bool = True) -> str | None:
    if prompt:
        print("you> ", end="", flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)
    return line or None


async def _show(feed: Subscription, asks: terminal.Asks, asked: asyncio.Event) -> None:
    """Notices, alerts and confirmation requests as they arrive."""
    async for item in feed:
        line = asks.take(item.key, item.kind, item.text, item.options, item.photo is not None)
        if line is not None:
            print(f"\nclaw> {line}\nyou> ", end="", flush=True)
            asked.set()


def _confirm(service: Claw, request_id: str, answer: str) -> None:
    print(f"claw> {service.channels.confirmations.answer(request_id, terminal.is_yes(answer), by='terminal')}")
