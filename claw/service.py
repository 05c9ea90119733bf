"""The composition root: every long-lived part of one running Claw is built here, from its
configuration, and handed to the parts that use it (never patched in later)."""
from __future__ import annotations

import asyncio
import logging
import time

from claw import automation_tools, home_tools, house_tools, memory_tools, soul_tools
from claw.agent import Agent
from claw.alerts import Alerts
from claw.chats import Channels
from claw.config import Config
from claw.confirmations import Confirmations
from claw.executor import Executor
from claw.fastpath import FastPath
from claw.heartbeat import Heartbeat
from claw.local import LocalBackend
from claw.house import House
from claw.pairing import Pairing
from claw.reach import OwnerReach
from claw.router import Router
from claw.scheduler import Location, Scheduler, approved_at_creation
from claw.sessions import Sessions
from claw.soul import Soul
from claw.tools import ToolRegistry
from devices.home import Home
from memory.history import History
from memory.store import Store
from messaging.feeds import Feeds
from messaging.inbox import Inbox
from messaging.outbox import Outbox
from messaging.telegram import TelegramChannel

log = logging.getLogger(__name__)


class Claw:
    def __init__(self, config: Config):
        self.config = config
        config.home.mkdir(parents=True, exist_ok=True)
        self.store = Store(config.db_path)
        self.sessions = Sessions()
        self.soul = Soul(config.soul_path, self.store)
        self.home = Home(self.store, config.agent.device_timeout)
        # Messaging: the durable inbox and outbox, live feeds, and who the owner is.
        self.inbox = Inbox(self.store.db)
        self.outbox = Outbox(self.store.db)
        self.feeds = Feeds(self.outbox)
        self.pairing = Pairing(self.store, self.outbox)
        self.reach = OwnerReach(self.pairing, self.outbox, self.feeds)
        self.confirmations = Confirmations(self.store, self.reach, config.agent.confirm_timeout)
        self.registry = ToolRegistry()
        # Security actions ask the owner, except those an automation's run was approved for.
        self.executor = Executor(self.registry, self.home,
                                 approved_at_creation(self.store.db, self.confirmations.confirm))
        home_tools.register(self.registry, self.executor, self.home)
        memory_tools.register(self.registry, self.store, self.soul)
        soul_tools.register(self.registry, self.soul)
        self.cloud = None
        if config.anthropic.api_key:
            from claw.claude import ClaudeBackend  # the SDK takes ~1 s to import: only when used

            self.cloud = ClaudeBackend(config.anthropic)
        # A GGUF in this process, or an OpenAI-compatible server in the house.
        local = config.local.model_path or config.local.url
        self.local = LocalBackend(config.local, self.home) if local else None
        self.router = Router(self.cloud, self.local, local_in_house=self.local is None or self.local.in_house)
        self._warming: asyncio.Future[None] | None = None
        # The house's history and its automations (no model at run time).
        self.history = History(self.store.db, config.history.retention_days)
        self.home.listeners.append(self.history.record)
        where = config.location
        self.scheduler = Scheduler(
            self.store, self.home, self.executor, self.registry,
            # Alerts.tell (made below): in quiet hours the owner hears it silently; actions still run.
            lambda *told, **when: self.alerts.tell(*told, **when),
            Location(where.latitude, where.longitude, where.timezone) if where.known else None)
        fastpath = FastPath(self.home, self.executor, config.agent.language,
                            has_model=lambda: self.router.cloud is not None or self.router.local is not None)
        self.automation_chat = automation_tools.AutomationChat(
            self.scheduler, self.home, self.history, automation_tools.understand_with(fastpath),
            model_available=lambda: self.router.cloud is not None or self.router.local is not None)
        automation_tools.register(self.registry, self.automation_chat)
        self.agent = Agent(
            self.store, self.soul, self.home, self.registry, self.executor, self.router,
            max_iterations=config.agent.max_tool_iterations,
            fastpath=fastpath,
            images_stay_local=config.privacy.images_stay_local,
            automations=self.automation_chat,
        )
        self.house = House(self.home, self.store, self.notify, config.discovery.interfaces,
                           ssdp_interval=config.discovery.ssdp_interval,
                           ha_token=config.home_assistant.token, ha_url=config.home_assistant.url,
                           ha_ca_file=config.home_assistant.ca_file,
                           demo_house=config.discovery.demo_house, mqtt=config.mqtt)
        house_tools.register(self.registry, self.house)
        self.alerts = Alerts(self.store, self.home, self.reach, self.router, self.soul,
                             config.alerts.quiet_hours, config.alerts.camera_interval)
        self.alerts.register(self.registry)
        self.heartbeat = Heartbeat(self.store, self.home, self.soul, self.router, self.alerts,
                                   config.alerts.heartbeat_minutes, config.alerts.heartbeat_daily_tokens)
        arrived = asyncio.Event()  # a channel stored a message: the inbox worker looks
        self.telegram: TelegramChannel | None = None
        if config.telegram.token:
            self.telegram = TelegramChannel(config.telegram.token, config.telegram.base_url,
                                            self.store.db, self.inbox, self.outbox,
                                            self.pairing.admit, arrived.set)
        # The one message path every channel takes.
        self.channels = Channels(self.store, self.home, self.router, self.agent, self.inbox,
                                 self.outbox, self.feeds, self.pairing, self.confirmations,
                                 self.alerts, self.heartbeat, self.telegram, arrived)

    def login_link(self) -> str:
        """A one-time link that logs a browser in as the owner (the token stays out of URLs)."""
        host = "127.0.0.1" if self.config.http.host in ("0.0.0.0", "::") else self.config.http.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.config.http.port}/login?code={self.sessions.login_code()}"

    async def notify(self, text: str) -> None:
        """Tell the owner something unprompted (devices found, a problem to fix)."""
        log.info("notice for the owner: %s", text)
        self.store.add_event("notice", "owner", {"text": text})
        if not self.reach.tell(f"notice:{time.time_ns()}", text):
            self.agent.owner_notices.append(text)  # nowhere to say it now: in the owner's next reply

    def _watches_house(self) -> bool:
        """Whether there is anything to connect to: discovery, or a configured HA or broker."""
        return bool(self.config.discovery.enabled or self.config.home_assistant.url or self.config.mqtt.url)

    async def start(self) -> None:
        if self._watches_house():
            await self.house.start(discover=self.config.discovery.enabled)
        if self.local is not None:
            self._warming = asyncio.ensure_future(self.local.warm())
        await self.channels.start()
        await self.scheduler.start()
        log.info("Claw is up; data in %s", self.config.home)

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.channels.stop()
        if self._warming is not None:
            await self._warming  # a model load in a thread cannot be cancelled
        if self._watches_house():
            await self.house.stop()
        await self.home.settle()  # let read-backs finish before their sessions close
        for driver in list(self.home.drivers.values()):
            await driver.close()
        if self.cloud is not None:
            await self.cloud.close()
        self.store.close()
