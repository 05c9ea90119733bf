"""`claw demo`: an emulated house on loopback, Claw discovering it, and a chat in the terminal."""
from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from claw.api import create_app
from claw.config import Config
from claw.service import Claw
from claw.tools import Caller
from devices import homefile
from devices.emulators.house import DEMO_HOME, EmulatedHouse

log = logging.getLogger(__name__)

SETTLE_TIMEOUT = 15.0


def run_demo(config: Config, home_file: Path | None, chat: bool) -> int:
    try:
        spec = homefile.load(home_file or DEMO_HOME)
    except homefile.HomeFileError as e:
        print(f"claw: {e}", file=sys.stderr)
        return 2
    return asyncio.run(_demo(config, spec, chat))


def demo_service(config: Config, house: EmulatedHouse) -> Claw:
    """A Claw that finds the emulated house over loopback discovery, as it would a real one."""
    # Discovery stays on loopback: the demo must never multicast on the real network.
    config.discovery.enabled = True
    config.discovery.interfaces = ["127.0.0.1"]
    config.discovery.ssdp_interval = 5.0
    config.home_assistant.token = house.ha_token
    config.home_assistant.url = house.ha.url  # the token goes only to the instance it is for
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
    house = EmulatedHouse(spec, "127.0.0.1")
    await house.start()
    service = demo_service(config, house)
    app = demo_app(service, house)
    server = uvicorn.Server(uvicorn.Config(app, host=config.http.host, port=config.http.port,
                                           log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                print(f"claw: could not start the API on {config.http.host}:{config.http.port} "
                      "(is another Claw running? set CLAW_HTTP_PORT)", file=sys.stderr)
                return 1
            await asyncio.sleep(0.05)
        print(f"Demo house '{spec.name}' is up; Claw's API is on "
              f"http://{config.http.host}:{config.http.port}. Docs in a browser on this machine "
              f"(the link works once, for 10 minutes): {service.login_link()}")
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
          "Ctrl-D to leave.")
    caller = Caller(role="owner", chat_id="terminal", channel="terminal")
    while True:
        print("you> ", end="", flush=True)
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            print()
            return
        text = line.strip()
        if not text:
            continue
        turn = asyncio.create_task(service.agent.handle(text, caller))
        while not turn.done():
            # The terminal is the owner here: security actions are confirmed at the prompt.
            for request in service.channels.confirmations.pending():
                print(f"claw> {request['what']}? Type yes to confirm; anything else cancels.\nyou> ",
                      end="", flush=True)
                answer = (await asyncio.to_thread(sys.stdin.readline)).strip().lower()
                service.channels.confirmations.answer(request["id"], answer in ("y", "yes"), by="terminal")
            await asyncio.wait([turn], timeout=0.1)
        print(f"claw> {turn.result().reply}")
