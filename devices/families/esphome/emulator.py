"""An ESPHome node on loopback: the native API in plaintext, as aioesphomeapi speaks it.

The wire format is ESPHome's: over TCP, each frame is a zero byte, the payload length and the
message type (both varints), then the protobuf payload. The message classes and type numbers
are aioesphomeapi's own (`api_pb2`, `core.MESSAGE_TYPE_TO_PROTO`), so a field the library
expects cannot drift from what this node sends.

Covered: Hello, DeviceInfo, ListEntities (lights, switches, sensors, binary sensors, covers),
SubscribeStates (every state on subscribe, then each change, to every subscribed connection),
Light/Switch/CoverCommand, Ping and Disconnect. Not covered: encryption (the Noise protocol a
node with an `api: encryption: key:` speaks; such a node answers plaintext with the 0x01
preamble), password login (deprecated by ESPHome), and every other entity kind.

Faults for tests: `fail = "offline"` drops every connection and refuses new ones (a node that
lost power), `fail = "slow"` accepts connections and never answers (a hung node).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Self

from aioesphomeapi import api_pb2 as pb
from aioesphomeapi.core import MESSAGE_TYPE_TO_PROTO
from google.protobuf.message import Message

TYPE_OF = {cls: number for number, cls in MESSAGE_TYPE_TO_PROTO.items()}
API_VERSION = (1, 13)  # ESPHome 2025.x; from 1.14 a node may leave object_id out


@dataclass
class NodeEntity:
    info: Message  # its ListEntities*Response
    state: Message  # its *StateResponse, changed in place by commands


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def frame(message: Message) -> bytes:
    payload = message.SerializeToString()
    return b"\0" + _varint(len(payload)) + _varint(TYPE_OF[type(message)]) + payload


class FrameReader:
    """Splits a byte stream into (type, payload) frames."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    async def _varint(self) -> int:
        value, shift = 0, 0
        for _ in range(4):  # aioesphomeapi's bound too: lengths fit in 16 bits
            byte = (await self._reader.readexactly(1))[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
        raise ValueError("varint longer than 4 bytes")

    async def next(self) -> tuple[int, bytes]:
        preamble = (await self._reader.readexactly(1))[0]
        if preamble != 0:
            raise ValueError(f"preamble 0x{preamble:02x}: not the plaintext API")
        length = await self._varint()
        kind = await self._varint()
        return kind, await self._reader.readexactly(length)


class EsphomeNode:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, name: str = "desk-node",
                 friendly_name: str = "Desk Node", mac: str = "AA:BB:CC:00:00:01") -> None:
        self.host, self.port = host, port
        self.name, self.friendly_name, self.mac = name, friendly_name, mac
        self.entities: dict[int, NodeEntity] = {}  # key -> entity
        self._fail: str | None = None
        self.commands: list[Message] = []  # every command received, for tests
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()  # one per open connection
        self._subscribed: set[asyncio.StreamWriter] = set()

    # -- what the node has -------------------------------------------------------------------
    def _add(self, info: Message, state: Message) -> int:
        key = len(self.entities) + 1
        info.key = state.key = key  # type: ignore[attr-defined]
        self.entities[key] = NodeEntity(info, state)
        return key

    def add_light(self, object_id: str, name: str, *, color: bool = True, on: bool = False,
                  brightness: float = 1.0) -> int:
        modes = [pb.COLOR_MODE_RGB, pb.COLOR_MODE_COLOR_TEMPERATURE] if color else [pb.COLOR_MODE_BRIGHTNESS]
        info = pb.ListEntitiesLightResponse(object_id=object_id, name=name, supported_color_modes=modes,
                                            min_mireds=153, max_mireds=500)
        state = pb.LightStateResponse(state=on, brightness=brightness, color_mode=modes[0],
                                      color_brightness=1.0, red=1.0, green=1.0, blue=1.0,
                                      color_temperature=370)
        return self._add(info, state)

    def add_switch(self, object_id: str, name: str, *, on: bool = False) -> int:
        return self._add(pb.ListEntitiesSwitchResponse(object_id=object_id, name=name, device_class="outlet"),
                         pb.SwitchStateResponse(state=on))

    def add_sensor(self, object_id: str, name: str, value: float, *, unit: str = "°C",
                   device_class: str = "temperature") -> int:
        info = pb.ListEntitiesSensorResponse(object_id=object_id, name=name, unit_of_measurement=unit,
                                             accuracy_decimals=1, device_class=device_class,
                                             state_class=pb.STATE_CLASS_MEASUREMENT)
        return self._add(info, pb.SensorStateResponse(state=value))

    def add_binary_sensor(self, object_id: str, name: str, *, on: bool = False,
                          device_class: str = "motion") -> int:
        return self._add(pb.ListEntitiesBinarySensorResponse(object_id=object_id, name=name,
                                                             device_class=device_class),
                         pb.BinarySensorStateResponse(state=on))

    def add_cover(self, object_id: str, name: str, *, position: float = 0.0,
                  device_class: str = "shade") -> int:
        info = pb.ListEntitiesCoverResponse(object_id=object_id, name=name, supports_position=True,
                                            supports_stop=True, device_class=device_class)
        return self._add(info, pb.CoverStateResponse(position=position,
                                                     current_operation=pb.COVER_OPERATION_IDLE))

    def key_of(self, object_id: str) -> int:
        return next(k for k, e in self.entities.items() if e.info.object_id == object_id)  # type: ignore[attr-defined]

    def state(self, object_id: str) -> Message:
        return self.entities[self.key_of(object_id)].state

    def publish(self, object_id: str, **fields: Any) -> None:
        """The node's own change (a sensor reading, a button pressed on the device): pushed."""
        state = self.state(object_id)
        for name, value in fields.items():
            setattr(state, name, value)
        self._push(state)

    # -- serving ---------------------------------------------------------------------------
    async def start(self) -> Self:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._drop_all()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()

    @property
    def connections(self) -> int:
        """How many clients are connected now."""
        return len(self._writers)

    @property
    def fail(self) -> str | None:
        return self._fail

    @fail.setter
    def fail(self, value: str | None) -> None:
        self._fail = value
        if value == "offline":
            self._drop_all()  # as power lost: the open connections go too

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.fail == "offline":
            writer.transport.abort()
            return
        self._writers.add(writer)
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        frames = FrameReader(reader)
        try:
            while True:
                kind, payload = await frames.next()
                if self.fail == "slow":
                    continue  # a hung node: reads, never answers
                message = MESSAGE_TYPE_TO_PROTO[kind]()
                message.ParseFromString(payload)
                if not self._answer(message, writer):
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass  # the client left, or spoke something else: close as a node does
        finally:
            self._writers.discard(writer)
            self._handlers.discard(handler)
            self._subscribed.discard(writer)
            writer.transport.abort()

    def _answer(self, message: Message, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection should close."""
        send = lambda *messages: writer.write(b"".join(frame(m) for m in messages))  # noqa: E731
        if isinstance(message, pb.HelloRequest):
            send(pb.HelloResponse(api_version_major=API_VERSION[0], api_version_minor=API_VERSION[1],
                                  server_info=f"{self.name} (esphome v2025.10.0)", name=self.name))
        elif isinstance(message, pb.DeviceInfoRequest):
            send(pb.DeviceInfoResponse(name=self.name, friendly_name=self.friendly_name,
                                       mac_address=self.mac, esphome_version="2025.10.0",
                                       compilation_time="Oct  1 2025, 12:00:00",
                                       model="esp32dev", manufacturer="Espressif"))
        elif isinstance(message, pb.ListEntitiesRequest):
            send(*(e.info for e in self.entities.values()), pb.ListEntitiesDoneResponse())
        elif isinstance(message, pb.SubscribeStatesRequest):
            self._subscribed.add(writer)
            send(*(e.state for e in self.entities.values()))
        elif isinstance(message, pb.PingRequest):
            send(pb.PingResponse())
        elif isinstance(message, pb.DisconnectRequest):
            send(pb.DisconnectResponse())
            return False
        elif isinstance(message, (pb.SwitchCommandRequest, pb.LightCommandRequest, pb.CoverCommandRequest)):
            self.commands.append(message)
            self._command(message)
        return True

    def _command(self, command: Any) -> None:
        entity = self.entities.get(command.key)
        if entity is None:
            return  # a node ignores commands for keys it does not have
        state: Any = entity.state
        if isinstance(command, pb.SwitchCommandRequest):
            state.state = command.state
        elif isinstance(command, pb.LightCommandRequest):
            if command.has_state:
                state.state = command.state
            if command.has_brightness:
                state.brightness = command.brightness
            if command.has_rgb:
                state.red, state.green, state.blue = command.red, command.green, command.blue
                state.color_mode = pb.COLOR_MODE_RGB
            if command.has_color_temperature:
                state.color_temperature = command.color_temperature
                state.color_mode = pb.COLOR_MODE_COLOR_TEMPERATURE
            if command.has_color_mode:
                state.color_mode = command.color_mode
        else:  # cover: it moves at once, so the state goes straight to idle at the target
            if command.has_position:
                state.position = command.position
            elif command.has_legacy_command:
                if command.legacy_command != pb.LEGACY_COVER_COMMAND_STOP:
                    state.position = 1.0 if command.legacy_command == pb.LEGACY_COVER_COMMAND_OPEN else 0.0
            state.current_operation = pb.COVER_OPERATION_IDLE
        self._push(state)

    def _push(self, state: Message) -> None:
        data = frame(state)
        for writer in list(self._subscribed):
            writer.write(data)
