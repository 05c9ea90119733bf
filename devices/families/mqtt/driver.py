"""An MQTT broker as one Claw device: every entity announced on it, kept current by push.

Two ways devices announce themselves on a broker are read: Home Assistant MQTT discovery
(`homeassistant/<component>/.../config`, see hass.py) and Zigbee2MQTT's `bridge/devices` list
(see z2m.py). One connection subscribes to both, then to the state and availability topics of
every entity found, and keeps each entity's state from the messages that arrive; `follow()`
hands every change to the home as it happens. A command is one or two publishes (QoS 1: the
broker has it when the call returns); the new state arrives when the device reports it.

The client is aiomqtt 2.5 (on paho-mqtt 2): a small, maintained asyncio client, the one the
Home Assistant community's asyncio MQTT tools build on; paho is the reference Python client.

A broker that is down, refuses the credentials or drops the connection: one owner-facing line
(`on_problem`, and the DeviceError every refresh and command raises meanwhile), entities
unavailable, reconnects with backoff (doubling up to `max_backoff`). Discovery payloads that are
malformed or larger than the bounds are ignored with a log line. An entity whose device goes
offline, or whose config is withdrawn, becomes unavailable and is not deleted.
"""
from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import socket
import ssl
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt

from devices.model import Device, DeviceError, DeviceRefused, Entity

from . import z2m
from .hass import BadDiscovery, Component, Publish, component, from_config, parse_topic
from .tasks import cancel_and_wait

log = logging.getLogger(__name__)

OnChange = Callable[[Entity], Awaitable[None] | None]
OnProblem = Callable[[str], Awaitable[None]]

MAX_CONFIG = 64 * 1024  # bytes in one discovery config (Zigbee2MQTT's biggest are a few kB)
MAX_DEVICE_LIST = 8 * 1024 * 1024  # bytes in bridge/devices (about 2,000 Zigbee devices)
MAX_STATE = 64 * 1024  # bytes in one state message
MAX_ENTITIES = 5000  # per broker
SYNC_ROUNDS = 4  # discovery, then states, then a margin: each round is one round trip
CONNECT_REFUSED = {4, 5, 134, 135}  # bad username or password / not authorized (MQTT 3.1.1 and 5)


class MqttDriver:
    def __init__(
        self, device: Device, username: str = "", password: str = "", ca_file: str = "",
        tls: bool = False, discovery_prefix: str = "homeassistant", z2m_base: str = "zigbee2mqtt",
        timeout: float = 3.0, min_backoff: float = 0.5, max_backoff: float = 30.0,
        on_problem: OnProblem | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.device = device
        self._username, self._password = username or None, password or None  # never logged
        self._tls = tls or bool(ca_file)
        self._ca_file = ca_file
        self.prefix, self.z2m_base = discovery_prefix, z2m_base
        self.timeout = timeout
        self.min_backoff, self.max_backoff = min_backoff, max_backoff
        self._on_problem = on_problem
        self._sleep = sleep  # tests give a clock of their own
        self._id = f"claw-{uuid.uuid4().hex[:10]}"
        self._sync_topic = f"claw/{self._id}/sync"
        self.components: dict[str, Component] = {}  # key ("light/node/obj", "z2m/<ieee>/light")
        self._entity_ids: dict[str, str] = {}  # key -> entity_id, stable for the driver's life
        self._keys: dict[str, str] = {}  # entity_id -> key
        self._by_topic: dict[str, list[str]] = {}  # topic -> keys of the components reading it
        self._subscribed: set[str] = set()
        self._wanted = asyncio.Event()  # topics wait to be subscribed
        self._z2m_keys: set[str] = set()
        self._client: aiomqtt.Client | None = None  # while connected
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()  # the first sync finished, or the first attempt failed
        self._echo: asyncio.Future[str] | None = None
        self.problem: str | None = None  # the owner-facing sentence while disconnected
        self._told: str | None = None
        self._on_change: OnChange | None = None
        self._warned: set[str] = set()  # topics whose bad payloads were logged (once each)
        self._asking: set[asyncio.Task[None]] = set()  # state requests to Zigbee2MQTT in flight

    # -- Driver protocol -----------------------------------------------------------------------
    async def refresh(self) -> list[Entity]:
        self._start()
        await self._ready.wait()  # the home bounds this with its device timeout
        if self._client is None:
            raise DeviceError(self.problem or f"I'm not connected to {self._where()} yet")
        return [self._entity(key) for key in self.components]

    async def refresh_entity(self, entity_id: str) -> Entity:
        """One entity as last reported (the home's read-back after a command: nothing to ask the
        broker, the device's report arrives by push)."""
        if self._client is None:
            raise DeviceError(self.problem or f"I'm not connected to {self._where()}")
        key = self._keys.get(entity_id)
        if key is None:
            raise DeviceRefused(f"{entity_id} is not one of the entities on {self._where()}")
        return self._entity(key)

    async def call(self, entity_id: str, service: str, data: dict[str, Any]) -> None:
        key = self._keys.get(entity_id)
        if key is None:
            raise DeviceRefused(f"{entity_id} is not one of the entities on {self._where()}")
        part = self.components[key]
        if part.removed:
            raise DeviceRefused(f"{part.name} is no longer announced on {self._where()}; "
                                "it may have been removed from its bridge")
        publishes = part.command(service, data)  # DeviceRefused for values it cannot take
        client = self._client
        if client is None:
            raise DeviceError(self.problem or f"I'm not connected to {self._where()}")
        try:
            for topic, payload in publishes:
                await client.publish(topic, payload, qos=1, retain=bool(part.config.get("retain")),
                                     timeout=self.timeout)
        except aiomqtt.MqttError as e:
            raise DeviceError(f"I lost the connection to {self._where()} while sending the command "
                              f"({e}); I'm reconnecting") from None

    async def follow(self, on_change: OnChange) -> None:
        """Hand every change to `on_change` until cancelled; the connection lives until close()."""
        self._on_change = on_change
        self._start()
        assert self._task is not None
        if self._client is not None:  # what changed between the first refresh and now
            for key in list(self.components):
                await self._push(key)
        await asyncio.shield(self._task)

    async def close(self) -> None:
        for task in [*self._asking, *([self._task] if self._task else [])]:
            await cancel_and_wait(task)
        self._task = None

    # -- the connection ------------------------------------------------------------------------
    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._ready.clear()
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        delay = self.min_backoff
        while True:
            problem = f"I lost the connection to {self._where()}; I'm reconnecting."
            try:
                async with self._client_for_broker() as client:
                    self._client = client
                    await self._session(client)
            except aiomqtt.MqttError as e:
                problem = self._explain(e, connected=self._client is not None)
                if self._client is not None:
                    delay = self.min_backoff  # it was up: start the backoff again
            finally:
                was_connected, self._client = self._client is not None, None
            await self._lost(problem, was_connected)
            await self._sleep(delay)
            delay = min(delay * 2, self.max_backoff)

    def _client_for_broker(self) -> aiomqtt.Client:
        tls = None
        if self._tls:
            try:
                tls = ssl.create_default_context(cafile=self._ca_file or None)
            except (OSError, ssl.SSLError) as e:  # said like any other failure, and tried again
                raise aiomqtt.MqttError(f"the CA file {self._ca_file} is not a usable PEM certificate: {e}")
        return aiomqtt.Client(
            self.device.host, self.device.port, username=self._username, password=self._password,
            identifier=self._id, timeout=self.timeout, keepalive=30, tls_context=tls,
            max_queued_incoming_messages=50_000,
            # Small messages, sent as they come: no waiting on Nagle for the broker's ACK.
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )

    async def _session(self, client: aiomqtt.Client) -> None:
        self._subscribed = set()
        base = [f"{self.prefix}/+/+/config", f"{self.prefix}/+/+/+/config",
                f"{self.z2m_base}/bridge/devices", self._sync_topic]
        await client.subscribe([(t, 0) for t in base], timeout=self.timeout)
        self._subscribed.update(base)
        if self.problem is not None:
            await self._recovered()
        self._wanted.set()  # a reconnect subscribes again to every known component's topics
        reader = asyncio.ensure_future(self._read(client))
        try:
            await self._sync(client, reader)
            self._ready.set()
            for key in list(self.components):  # after an outage: everything, as it is now
                await self._push(key)
            while True:  # subscribe to the topics of entities announced from now on
                await self._until(asyncio.ensure_future(self._wanted.wait()), reader)
                self._wanted.clear()
                await self._subscribe_wanted(client)
        finally:
            await cancel_and_wait(reader)

    async def _until(self, waiting: asyncio.Future[Any], reader: asyncio.Future[None]) -> Any:
        """`waiting`'s result, unless the connection ends first (then its MqttError)."""
        done, _ = await asyncio.wait({waiting, reader}, return_when=asyncio.FIRST_COMPLETED)
        if waiting not in done:
            waiting.cancel()
            reader.result()  # raises the MqttError that ended the reading
            raise aiomqtt.MqttError("the broker ended the session")
        return waiting.result()

    async def _sync(self, client: aiomqtt.Client, reader: asyncio.Future[None]) -> None:
        """Wait until the retained configs and states have arrived. Messages from one broker
        come in order, so a message of our own, sent after the subscriptions, comes after
        everything retained for them: a round per layer (configs, then their states)."""
        for _ in range(SYNC_ROUNDS):
            await self._subscribe_wanted(client)
            token = uuid.uuid4().hex
            self._echo = asyncio.get_running_loop().create_future()
            await client.publish(self._sync_topic, token, qos=0, timeout=self.timeout)
            try:
                async with asyncio.timeout(self.timeout):
                    await self._until(self._echo, reader)
            except TimeoutError:
                log.info("%s did not echo my sync message; going on with what has arrived", self._where())
                return
            if not self._unsubscribed():
                return

    def _unsubscribed(self) -> list[str]:
        return [t for t in self._by_topic if t not in self._subscribed]

    async def _subscribe_wanted(self, client: aiomqtt.Client) -> None:
        topics = self._unsubscribed()
        for start in range(0, len(topics), 200):  # a few SUBSCRIBE packets, not one per topic
            chunk = topics[start:start + 200]
            await client.subscribe([(t, 0) for t in chunk], timeout=self.timeout)
            self._subscribed.update(chunk)

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            await self._handle(client, message.topic.value, message.payload)

    # -- problems, said once -------------------------------------------------------------------
    def _explain(self, error: aiomqtt.MqttError, connected: bool) -> str:
        where = self._where()
        broker = "The" + where.removeprefix("the")  # where a sentence starts with it
        if isinstance(error, aiomqtt.MqttCodeError) and _code(error.rc) in CONNECT_REFUSED:
            return (f"{broker} refused my username and password; check username and password "
                    "under [mqtt] in claw.toml. I'll keep trying.")
        text = str(error)
        if "CERTIFICATE" in text.upper() or "SSL" in text.upper():
            reason = re.sub(r"^\[SSL: \w+\] | \(_ssl\.c:\d+\)$", "", text)  # OpenSSL's words only
            return (f"{broker} failed the certificate check ({reason}); check ca_file under [mqtt] "
                    "in claw.toml. I'll keep trying.")
        if connected:
            return f"I lost the connection to {where} ({text}); I'm reconnecting."
        if "refused" in text.lower():
            return f"I can't reach {where}: nothing accepts connections there. Is the broker running? I'll keep trying."
        return f"I can't connect to {where} ({text}). I'll keep trying."

    async def _lost(self, problem: str, was_connected: bool) -> None:
        self.problem = problem
        self._ready.set()  # refresh() answers now, with the problem
        if problem != self._told:  # once per outage and kind of failure, not once per retry
            self._told = problem
            log.warning("%s", problem)
            if self._on_problem is not None:
                await self._on_problem(problem)
        if was_connected:
            for key in list(self.components):
                await self._push(key)

    async def _recovered(self) -> None:
        self.problem = self._told = None
        line = f"I'm connected to {self._where()} again."
        log.warning("%s", line)
        if self._on_problem is not None:
            await self._on_problem(line)

    # -- messages --------------------------------------------------------------------------------
    async def _handle(self, client: aiomqtt.Client, topic: str, payload: Any) -> None:
        data = payload if isinstance(payload, bytes) else str(payload or "").encode()
        if topic == self._sync_topic:
            if self._echo is not None and not self._echo.done():
                self._echo.set_result(data.decode(errors="replace"))
            return
        found = parse_topic(topic, self.prefix)
        if found is not None:
            await self._discovered(found[0], found[1], topic, data)
        elif topic == f"{self.z2m_base}/bridge/devices":
            await self._z2m_devices(client, data)
        keys = self._by_topic.get(topic)
        if not keys:
            return
        if len(data) > MAX_STATE:
            self._warn_once(topic, f"ignored a {len(data):,}-byte message on {topic} (over {MAX_STATE:,})")
            return
        text = data.decode(errors="replace")
        for key in keys:
            if self.components[key].receive(topic, text):
                await self._push(key)

    async def _discovered(self, kind: str, key: str, topic: str, data: bytes) -> None:
        if not data:  # an empty retained config withdraws the entity
            await self._withdraw(key)
            return
        if len(data) > MAX_CONFIG:
            self._warn_once(topic, f"ignored the discovery config on {topic}: {len(data):,} bytes, "
                                   f"over the {MAX_CONFIG:,} I accept")
            return
        try:
            part = component(kind, key, data.decode(errors="replace"))
        except BadDiscovery as e:
            self._warn_once(topic, f"ignored the discovery config on {topic}: it {e}")
            return
        await self._adopt(part)

    async def _z2m_devices(self, client: aiomqtt.Client, data: bytes) -> None:
        topic = f"{self.z2m_base}/bridge/devices"
        if len(data) > MAX_DEVICE_LIST:
            self._warn_once(topic, f"ignored {topic}: {len(data):,} bytes, over the {MAX_DEVICE_LIST:,} I accept")
            return
        try:
            devices = json.loads(data)
            found = list(z2m.configs(self.z2m_base, devices))
        except ValueError as e:
            self._warn_once(topic, f"ignored {topic}: it is not a Zigbee2MQTT device list ({e})")
            return
        keys = set()
        for kind, key, config in found:
            try:
                part = from_config(kind, key, config)
            except BadDiscovery as e:
                log.info("skipped a Zigbee2MQTT entity (%s): it %s", key, e)
                continue
            keys.add(key)
            await self._adopt(part)
        for key in self._z2m_keys - keys:  # left the Zigbee network: unavailable, kept
            await self._withdraw(key)
        self._z2m_keys = keys
        asking = asyncio.ensure_future(self._ask_states(client, z2m.gets(self.z2m_base, devices)))
        self._asking.add(asking)
        asking.add_done_callback(self._asking.discard)

    async def _ask_states(self, client: aiomqtt.Client, requests: list[Publish]) -> None:
        try:
            await self._subscribe_wanted(client)  # the answers go to the state topics
            for topic, payload in requests:
                await client.publish(topic, payload, qos=0, timeout=self.timeout)
        except aiomqtt.MqttError as e:
            log.info("asking Zigbee2MQTT for states failed: %s", e)

    async def _adopt(self, part: Component) -> None:
        old = self.components.get(part.key)
        if old is not None and old.config == part.config and not old.removed:
            return  # announced again as it was (a bridge restart)
        if old is None and len(self.components) >= MAX_ENTITIES:
            self._warn_once("#limit", f"{self._where()} announces more than {MAX_ENTITIES:,} entities; "
                                      "ignoring the rest")
            return
        if old is not None:  # a changed config keeps what is known until the device reports again
            part.state, part.attributes = old.state, {**part.attributes, **old.attributes}
            self._unroute(old)
        self.components[part.key] = part
        self._name(part)
        for topic in part.topics():
            self._by_topic.setdefault(topic, []).append(part.key)
            if topic not in self._subscribed:
                self._wanted.set()
        await self._push(part.key)

    async def _withdraw(self, key: str) -> None:
        part = self.components.get(key)
        if part is not None and not part.removed:
            part.removed = True
            log.info("%s was withdrawn from %s; it stays, unavailable", part.name, self._where())
            await self._push(key)

    def _unroute(self, part: Component) -> None:
        for topic in part.topics():
            keys = self._by_topic.get(topic, [])
            if part.key in keys:
                keys.remove(part.key)
            if not keys:
                self._by_topic.pop(topic, None)

    def _name(self, part: Component) -> None:
        """A stable entity id: the announced object id, made unique on this broker."""
        if part.key in self._entity_ids:
            return
        stem = f"{part.domain}.{part.object_id}"
        candidate, n = stem, 1
        while candidate in self._keys and n <= len(self._keys) + 1:
            n += 1
            candidate = f"{stem}_{n}"
        self._entity_ids[part.key] = candidate
        self._keys[candidate] = part.key

    def _entity(self, key: str) -> Entity:
        entity = self.components[key].entity(self._entity_ids[key], self.device.device_id)
        if self._client is None:
            entity.state = "unavailable"
        return entity

    async def _push(self, key: str) -> None:
        if self._on_change is None or key not in self._entity_ids:
            return
        result = self._on_change(self._entity(key))
        if inspect.isawaitable(result):
            await result

    def _warn_once(self, topic: str, line: str) -> None:
        if topic not in self._warned:
            self._warned.add(topic)
            log.warning("%s: %s", self._where(), line)

    def _where(self) -> str:
        return f"the MQTT broker at {self.device.host}:{self.device.port}"


def _code(rc: Any) -> int | None:
    value = getattr(rc, "value", rc)
    return value if isinstance(value, int) else None
