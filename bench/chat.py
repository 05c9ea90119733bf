"""Telegram channel: the real python-telegram-bot against the loopback Bot API stand-in.

1. Device state change -> alert at the Bot API, median latency (a Home Assistant emulator
   pushes the change over its WebSocket; no model gate). Target <= 1 s. Also with a camera
   picture attached (snapshot from the camera emulator, sent with sendPhoto).
2. 100 messages from 10 chats, the model stand-in taking 50 ms a call: all answered, each chat
   in order, total time (lower bound: 10 turns x 50 ms in each chat, chats in parallel).
3. Heartbeat input tokens per beat on a 40-entity house with standing orders (target <= 2k),
   next to the context of one ordinary chat turn.
"""
from __future__ import annotations

import asyncio
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from claw.alerts import Rule  # noqa: E402
from claw.heartbeat import estimate_tokens  # noqa: E402
from claw.service import Claw  # noqa: E402
from devices.families.camera.driver import CameraDriver  # noqa: E402
from devices.families.camera.emulator import CameraEmulator  # noqa: E402
from devices.families.homeassistant.emulator import HomeAssistantEmulator  # noqa: E402
from devices.families.homeassistant.driver import HomeAssistantDriver  # noqa: E402
from devices.model import Device  # noqa: E402
from tests.anthropic_standin import text_reply  # noqa: E402
from tests.conftest import make_config  # noqa: E402
from tests.telegram_standin import EchoStandIn, TelegramStandIn  # noqa: E402

ALERTS = 30
CHATS, PER_CHAT, MODEL_DELAY = 10, 10, 0.05
OWNER = 1000
ORDERS = """
## Standing orders
- Tell me if the garage is open more than 10 minutes.
- When someone is in the driveway, send me a picture.
- Tell me when the front door is unlocked.
- If the spa is above 39 degrees at night, say so.
"""


def house() -> HomeAssistantEmulator:
    ha = HomeAssistantEmulator()
    ha.seed_demo()
    areas = ["Kitchen", "Living Room", "Study", "Hallway", "Bedroom", "Garden", "Bathroom", "Office"]
    for i in range(24):
        area = areas[i % len(areas)]
        ha.add_entity(f"light.{area.lower().replace(' ', '_')}_{i}", "on" if i % 3 == 0 else "off",
                      {"friendly_name": f"{area} Light {i}", "area": area, "brightness": 200})
    for name, state in (("Garage Door", "open"), ("Study Blinds", "open"), ("Gate", "closed")):
        ha.add_entity(f"cover.{name.lower().replace(' ', '_')}", state,
                      {"friendly_name": name, "device_class": "garage" if "Garage" in name else "blind",
                       "supported_features": 15})
    for i in range(4):
        ha.add_entity(f"switch.plug_{i}", "on" if i == 0 else "off", {"friendly_name": f"Plug {i}"})
    return ha


async def start(tmp: Path, model: EchoStandIn, tg: TelegramStandIn, ha: HomeAssistantEmulator,
                cam: CameraEmulator | None = None) -> tuple[Claw, asyncio.Task[None]]:
    config = make_config(tmp, model, TELEGRAM_BOT_TOKEN=tg.token, TELEGRAM_BASE_URL=tg.url)
    config.alerts.heartbeat_minutes = 0
    service = Claw(config)
    driver = HomeAssistantDriver(Device("ha", "home_assistant", "Home Assistant", ha.host, ha.port), ha.token)
    await service.home.add(driver)
    follow = asyncio.create_task(driver.follow(lambda e: service.home.entity_changed("ha", e)))
    if cam is not None:
        await service.home.add(CameraDriver(Device("cam", "camera", cam.name, cam.host, cam.port), area="Driveway"))
    await service.start()
    await asyncio.wait_for(service.channels.telegram.ready.wait(), 10)  # type: ignore[union-attr]
    await ha.wait_for_subscribers(1)
    return service, follow


async def stop(service: Claw, follow: asyncio.Task[None]) -> None:
    follow.cancel()
    await asyncio.gather(follow, return_exceptions=True)
    await service.stop()


async def join(service: Claw, tg: TelegramStandIn, user: int) -> None:
    code, _ = service.channels.pairing.new_code()
    tg.message(user, code, f"P{user}")
    await tg.wait_text(user, "Paired" if user == OWNER else "Code accepted")
    if user != OWNER:
        service.channels.pairing.decide(f"telegram:{user}", True, by="bench")
        await tg.wait_text(user, "You're in")


async def alert_latency(photo: bool) -> list[float]:
    async with TelegramStandIn() as tg:
        model = EchoStandIn()
        await model.start()
        ha = HomeAssistantEmulator()
        ha.add_entity("binary_sensor.driveway_motion", "off", {"friendly_name": "Driveway Motion",
                                                               "area": "Driveway", "device_class": "motion"})
        cam = CameraEmulator(name="Driveway Camera") if photo else None
        await ha.start()
        if cam is not None:
            await cam.start()
        with tempfile.TemporaryDirectory() as tmp:
            service, follow = await start(Path(tmp), model, tg, ha, cam)
            await join(service, tg, OWNER)
            service.channels.alerts.add(Rule(0, "state", "binary_sensor.driveway_motion", "on", cooldown=0,
                                             camera="camera.driveway_camera" if photo else ""))
            method = "sendPhoto" if photo else "sendMessage"
            latencies = []
            for i in range(ALERTS):
                before = len(tg.to(OWNER, method))
                t = time.monotonic()
                ha.set_state("binary_sensor.driveway_motion", "on")
                sent = await tg.wait_for(lambda s, n=before: s.method == method and
                                         len(tg.to(OWNER, method)) > n and s is tg.to(OWNER, method)[n])
                latencies.append(sent.at - t)
                ha.set_state("binary_sensor.driveway_motion", "off")
                await asyncio.sleep(0.05)
            await stop(service, follow)
        await ha.stop()
        if cam is not None:
            await cam.stop()
        await model.stop()
    return latencies


async def many_chats() -> dict[str, float]:
    async with TelegramStandIn() as tg:
        model = EchoStandIn()
        await model.start()
        ha = HomeAssistantEmulator()
        await ha.start()
        with tempfile.TemporaryDirectory() as tmp:
            service, follow = await start(Path(tmp), model, tg, ha)
            users = [OWNER + i for i in range(CHATS)]
            for user in users:
                await join(service, tg, user)
            model.echo_delay = MODEL_DELAY
            t = time.monotonic()
            for i in range(PER_CHAT):
                for user in users:
                    tg.message(user, f"message {i} from {user}")
            for user in users:
                await tg.wait_text(user, f"echo: message {PER_CHAT - 1} from {user}", timeout=120)
            total = time.monotonic() - t
            answered = in_order = 0
            for user in users:
                echoes = [s for s in tg.texts(user) if s.startswith("echo: ")]
                answered += len(echoes)
                in_order += echoes == [f"echo: message {i} from {user}" for i in range(PER_CHAT)]
            await stop(service, follow)
        await ha.stop()
        await model.stop()
    return {"answered": answered, "chats_in_order": in_order, "total_s": total}


async def heartbeat_tokens() -> dict[str, float]:
    async with TelegramStandIn() as tg:
        model = EchoStandIn()
        await model.start()
        ha = house()
        await ha.start()
        with tempfile.TemporaryDirectory() as tmp:
            service, follow = await start(Path(tmp), model, tg, ha)
            service.soul.update(service.soul.text().split("## Standing orders")[0] + ORDERS, source="bench")
            await join(service, tg, OWNER)
            model.queue.append(text_reply("The garage door has been open a while."))
            beats = []
            for i in range(5):
                model.queue.append(text_reply("NOTHING"))
                beat = await service.channels.heartbeat.beat()
                request = json.dumps(model.requests[-1])
                beats.append((beat.estimated_tokens, math.ceil(len(request) / 4)))
            prompt = service.agent.prompt(f"telegram:{OWNER}", "is the garage open?")
            turn = estimate_tokens(prompt) + math.ceil(len(json.dumps(prompt.tools)) / 4)
            entities = len(service.home.entities)
            await stop(service, follow)
        await ha.stop()
        await model.stop()
    return {"estimate": statistics.median(b[0] for b in beats),
            "request": statistics.median(b[1] for b in beats), "turn": turn, "entities": entities}


def main() -> None:
    text = asyncio.run(alert_latency(photo=False))
    photo = asyncio.run(alert_latency(photo=True))
    chats = asyncio.run(many_chats())
    beat = asyncio.run(heartbeat_tokens())
    floor = PER_CHAT * MODEL_DELAY
    rows = [
        ("state change -> alert at Bot API, p50 (ms)", f"{statistics.median(text) * 1e3:.1f}", "<= 1000"),
        ("state change -> alert at Bot API, max (ms)", f"{max(text) * 1e3:.1f}", ""),
        ("state change -> photo alert, p50 (ms)", f"{statistics.median(photo) * 1e3:.1f}", "<= 1000"),
        (f"{CHATS * PER_CHAT} messages / {CHATS} chats: answered", f"{chats['answered']:.0f}", f"{CHATS * PER_CHAT}"),
        ("chats answered in order", f"{chats['chats_in_order']:.0f}", f"{CHATS}"),
        (f"total time, model {MODEL_DELAY * 1e3:.0f} ms/call (s)", f"{chats['total_s']:.2f}", f"floor {floor:.2f}"),
        ("messages per second", f"{chats['answered'] / chats['total_s']:.1f}", ""),
        (f"heartbeat input tokens/beat, {beat['entities']} entities (est.)", f"{beat['estimate']:.0f}", "<= 2000"),
        ("heartbeat request body / 4 (tokens)", f"{beat['request']:.0f}", ""),
        ("one chat turn's context, same house (tokens)", f"{beat['turn']:.0f}", ""),
        ("heartbeat / chat turn", f"{beat['estimate'] / beat['turn']:.2f}", ""),
    ]
    print(f"{'measure':<58}{'value':>10}{'target':>12}")
    for label, value, target in rows:
        print(f"{label:<58}{value:>10}{target:>12}")


if __name__ == "__main__":
    main()
