"""An ESPHome node on loopback: the native API, plaintext or encrypted, as aioesphomeapi speaks it.

The wire format is ESPHome's: over TCP, each frame is a zero byte, the payload length and the
message type (both varints), then the protobuf payload. The message classes and type numbers
are aioesphomeapi's own (`api_pb2`, `core.MESSAGE_TYPE_TO_PROTO`), so a field the library
expects cannot drift from what this node sends.

Covered: Hello, DeviceInfo, ListEntities (lights, switches, sensors, binary sensors, covers),
SubscribeStates (every state on subscribe, then each change, to every subscribed connection),
Light/Switch/CoverCommand, Ping and Disconnect; with an `encryption_key` (a node's
`api: encryption: key:`) the Noise transport instead of plaintext: the NNpsk0 handshake after
the server hello (name and MAC), then each frame encrypted. Not covered: password login
(deprecated by ESPHome), and every other entity kind.

Faults for tests: `fail = "offline"` drops every connection and refuses new ones (a node that
lost power), `fail = "slow"` accepts connections and never answers (a hung node).
"""
from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from typing import Any, Self

from aioesphomeapi import api_pb2 as pb
from aioesphomeapi.core import MESSAGE_TYPE_TO_PROTO
from cryptography.exceptions import InvalidTag
from google.protobuf.message import Message
from noise.connection import NoiseConnection

TYPE_OF = {cls: number for number, cls in MESSAGE_TYPE_TO_PROTO.items()}
NOISE_PROTOCOL_NAME = b"Noise_NNpsk0_25519_ChaChaPoly_SHA256"
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


class PlainChannel:
    """One client connection in plaintext: zero byte, length and type varints, payload."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def open(self) -> bool:
        return True

    async def _varint(self) -> int:
        value, shift = 0, 0
        for _ in range(4):  # aioesphomeapi's bound too: lengths fit in 16 bits
            byte = (await self.reader.readexactly(1))[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
        raise ValueError("varint longer than 4 bytes")

    async def receive(self) -> tuple[int, bytes]:
        preamble = (await self.reader.readexactly(1))[0]
        if preamble != 0:
            # What a plaintext node answers to a client that starts the Noise handshake.
            self.writer.write(b"\x00Bad indicator byte")
            await self.writer.drain()
            raise ValueError(f"preamble 0x{preamble:02x}: not the plaintext API")
        length = await self._varint()
        kind = await self._varint()
        return kind, await self.reader.readexactly(length)

    def send(self, *messages: Message) -> None:
        self.writer.write(b"".join(frame(m) for m in messages))


class NoiseChannel(PlainChannel):
    """One client connection over ESPHome's Noise transport (Noise_NNpsk0_25519_ChaChaPoly_SHA256
    with the node's key): frames are 0x01, a 16-bit length and the (encrypted) payload."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, psk: bytes,
                 name: str, mac: str) -> None:
        super().__init__(reader, writer)
        self.noise = NoiseConnection.from_name(NOISE_PROTOCOL_NAME)
        self.noise.set_as_responder()
        self.noise.set_psks(psk)
        self.noise.set_prologue(b"NoiseAPIInit\x00\x00")
        self.hello = b"\x01" + name.encode() + b"\0" + mac.replace(":", "").lower().encode() + b"\0"

    async def _frame(self) -> bytes:
        header = await self.reader.readexactly(3)
        if header[0] != 0x01:
            raise ValueError(f"preamble 0x{header[0]:02x}: not the Noise transport")
        return await self.reader.readexactly((header[1] << 8) | header[2])

    def _write(self, data: bytes) -> None:
        self.writer.write(b"\x01" + len(data).to_bytes(2, "big") + data)

    async def open(self) -> bool:
        """The handshake; False when the client has no key, or not the node's."""
        if (await self.reader.readexactly(1))[0] != 0x01:  # a plaintext client: refuse as a node does
            self._write(b"\x01Bad indicator byte")
            return False
        await self.reader.readexactly(2)  # the client's hello is an empty frame
        handshake = await self._frame()
        self._write(self.hello)
        self.noise.start_handshake()
        try:
            self.noise.read_message(handshake[1:])
        except InvalidTag:
            self._write(b"\x01Handshake MAC failure")  # what a node says to a wrong key
            return False
        self._write(b"\x00" + self.noise.write_message())
        return True

    async def receive(self) -> tuple[int, bytes]:
        plain = self.noise.decrypt(await self._frame())
        return (plain[0] << 8) | plain[1], plain[4:]

    def send(self, *messages: Message) -> None:
        for message in messages:
            payload = message.SerializeToString()
            kind = TYPE_OF[type(message)]
            self._write(self.noise.encrypt(kind.to_bytes(2, "big") + len(payload).to_bytes(2, "big") + payload))


class EsphomeNode:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, name: str = "desk-node",
                 friendly_name: str = "Desk Node", mac: str = "AA:BB:CC:00:00:01",
                 encryption_key: str | None = None) -> None:
        self.host, self.port = host, port
        # base64 of 32 bytes, as in a node's `api: encryption: key:`; None: plaintext
        self.encryption_key = encryption_key
        self.name, self.friendly_name, self.mac = name, friendly_name, mac
        self.entities: dict[int, NodeEntity] = {}  # key -> entity
        self._fail: str | None = None
        self.commands: list[Message] = []  # every command received, for tests
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()  # one per open connection
        self._subscribed: set[PlainChannel] = set()

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
        channel = (PlainChannel(reader, writer) if self.encryption_key is None else
                   NoiseChannel(reader, writer, base64.b64decode(self.encryption_key), self.name, self.mac))
        try:
            if not await channel.open():
                await writer.drain()
                return
            while True:
                kind, payload = await channel.receive()
                if self.fail == "slow":
                    continue  # a hung node: reads, never answers
                message = MESSAGE_TYPE_TO_PROTO[kind]()
                message.ParseFromString(payload)
                if not self._answer(message, channel):
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, InvalidTag):
            pass  # the client left, or spoke something else: close as a node does
        finally:
            self._writers.discard(writer)
            self._handlers.discard(handler)
            self._subscribed.discard(channel)
            writer.transport.abort()

    def _answer(self, message: Message, channel: PlainChannel) -> bool:
        """Answer one request; False when the connection should close."""
        send = channel.send
        if isinstance(message, pb.HelloRequest):
            send(pb.HelloResponse(api_version_major=API_VERSION[0], api_version_minor=API_VERSION[1],
                                  server_info=f"{self.name} (esphome v2025.10.0)", name=self.name))
        elif isinstance(message, pb.DeviceInfoRequest):
            send(pb.DeviceInfoResponse(name=self.name, friendly_name=self.friendly_name,
                                       mac_address=self.mac, esphome_version="2025.10.0",
                                       compilation_time="Oct  1 2025, 12:00:00",
                                       model="esp32dev", manufacturer="Espressif",
                                       api_encryption_supported=self.encryption_key is not None))
        elif isinstance(message, pb.ListEntitiesRequest):
            send(*(e.info for e in self.entities.values()), pb.ListEntitiesDoneResponse())
        elif isinstance(message, pb.SubscribeStatesRequest):
            self._subscribed.add(channel)
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
        for channel in list(self._subscribed):
            channel.send(state)
