"""An emulated Google Cast device, speaking Cast v2 well enough for real pychromecast 14.

The Cast channel is TLS on `port` (8009 on a real device; 0 picks a free one) with a
self-signed certificate made at start (senders do not check it, as pychromecast doesn't).
Each frame is a 4-byte big-endian length and a protobuf `CastMessage` (pychromecast's own
generated `cast_channel_pb2`) whose `payload_utf8` is JSON. Namespaces served:

- `tp.connection`: CONNECT / CLOSE of a sender's virtual connection to `receiver-0` or to an
  app's transport id; status broadcasts go to the connections that opened that destination.
- `tp.heartbeat`: PING -> PONG.
- `receiver` (on `receiver-0`): GET_STATUS, LAUNCH (only the Default Media Receiver,
  CC1AD845; others get LAUNCH_ERROR NOT_FOUND), STOP, SET_VOLUME (level and/or muted).
- `media` (on the app's transport id): GET_STATUS, LOAD (http(s) URLs; anything else gets
  LOAD_FAILED, as a receiver that can't fetch it), PLAY, PAUSE, STOP, SEEK. A command for
  another media session gets INVALID_REQUEST INVALID_MEDIA_SESSION_ID, as on a device.

Every change is also broadcast (requestId 0), as devices push to every connected sender.
The device-info endpoint pychromecast reads (`dial.get_cast_type`, `get_device_info`) is
`/setup/eureka_info` over HTTPS on `info_port` (8443 on a real device; None: not served).
Media is never fetched: the emulator believes the URL and plays it in its head, the position
advancing on `clock`.

A Cast group (`members` given) also answers the `multizone` namespace's GET_STATUS with its
speakers (MULTIZONE_STATUS), and `set_members` pushes a change.

Not covered: device authentication (`tp.deviceauth`, which pychromecast does not use), the
multizone namespace's pushes of single members (DEVICE_ADDED, ...) and the groups a speaker
is in (seen from the speaker), queues (QUEUE_* commands get INVALID_REQUEST), apps
other than the Default Media Receiver, the Backdrop idle app of devices with a display.

Each answer comes `latency` seconds after the request (2 ms), as from a device on a LAN:
pychromecast writes to its TLS socket from the caller's thread while its own thread reads
it, and an answer that arrives before the writing thread is done with OpenSSL can corrupt
the next record ("bad record mac"; seen on loopback about one run in five without it).

`cast()` and `press()` do what another sender (someone's phone) would, pushed to every
connected sender. TLS is 1.2 only, as on Cast devices (see `_self_signed_context`).

Faults for tests: `fail = "offline"` drops every connection as soon as it is used or made
(a device that lost power); `fail = "slow"` makes every answer wait `slow_delay` seconds.
"""
from __future__ import annotations

import asyncio
import datetime
import json
import ssl
import struct
import tempfile
import time
import uuid as uuidlib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Self

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pychromecast.generated.cast_channel_pb2 import CastMessage

CAST_PORT = 8009
INFO_PORT = 8443
MEDIA_RECEIVER = "CC1AD845"
RECEIVER = "receiver-0"
NS_CONNECTION = "urn:x-cast:com.google.cast.tp.connection"
NS_HEARTBEAT = "urn:x-cast:com.google.cast.tp.heartbeat"
NS_RECEIVER = "urn:x-cast:com.google.cast.receiver"
NS_MEDIA = "urn:x-cast:com.google.cast.media"
NS_MULTIZONE = "urn:x-cast:com.google.cast.multizone"
APP_NAMESPACES = ["urn:x-cast:com.google.cast.cac", "urn:x-cast:com.google.cast.debugoverlay",
                  "urn:x-cast:com.google.cast.broadcast", NS_MEDIA]
SUPPORTED_MEDIA_COMMANDS = 12303  # pause, seek, stream volume and mute, tracks, playback rate
MAX_FRAME = 64 * 1024  # a device closes a connection that sends more in one message


@dataclass
class Media:
    """The media session of the Default Media Receiver."""

    session_id: int
    content_id: str
    content_type: str
    stream_type: str
    metadata: dict[str, Any]
    duration: float | None
    player_state: str = "PLAYING"  # PLAYING | PAUSED | IDLE
    position: float = 0.0  # at `since` (while playing) or now (otherwise)
    since: float = 0.0
    idle_reason: str | None = None


@dataclass
class App:
    app_id: str
    session_id: str
    display_name: str

    @property
    def transport_id(self) -> str:
        return self.session_id  # as on devices: a web app's transport id is its session id


@dataclass
class CastState:
    """What the device is doing; tests read and set these directly."""

    volume: float = 0.3  # 0..1
    muted: bool = False
    app: App | None = None
    media: Media | None = None
    loaded: list[str] = field(default_factory=list)  # every URL LOADed, oldest first


class _Sender:
    """One TLS connection from a sender, and the destinations it has connected to."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.connected: set[str] = set()  # "receiver-0", transport ids


class CastEmulator:
    def __init__(self, host: str = "127.0.0.1", port: int = CAST_PORT, *, name: str = "Kitchen Speaker",
                 model: str = "Google Nest Mini", manufacturer: str = "Google Inc.",
                 uuid: str | None = None, display: bool = False, info_port: int | None = INFO_PORT,
                 members: list[tuple[str, str]] | None = None,
                 latency: float = 0.002, slow_delay: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.host = host
        self.port = port
        self.info_port = info_port
        self.name = name
        self.model = model
        self.manufacturer = manufacturer
        self.uuid = uuidlib.UUID(uuid) if uuid else uuidlib.uuid4()
        self.display = display
        # A Cast group's speakers, (device id, name): its multizone status. None: not a group.
        self.members = members
        self.latency = latency
        self.slow_delay = slow_delay
        self.clock = clock
        self.fail: str | None = None
        self.state = CastState()
        # (namespace, payload) of the latest messages received, for tests; bounded for long demos
        self.messages: deque[tuple[str, dict[str, Any]]] = deque(maxlen=1000)
        self._senders: set[_Sender] = set()
        self._server: asyncio.Server | None = None
        self._info: web.AppRunner | None = None
        self._serving: set[asyncio.Task] = set()  # each connection's task
        self._stopping = asyncio.Event()
        self._next_media_session = 1

    # -- what it advertises -----------------------------------------------------------------

    @property
    def device_id(self) -> str:
        return self.uuid.hex  # the `id` TXT record: 32 hex digits, no dashes

    @property
    def instance(self) -> str:
        """Its mDNS instance name, as a real device makes it: model and id."""
        return f"{self.model.replace(' ', '-')}-{self.device_id}"

    def txt(self) -> dict[str, str]:
        """The TXT records of its `_googlecast._tcp` advert."""
        # ca: capabilities (bit 0 video out, 2 audio out, 5 multizone group): 4101 a Chromecast,
        # 2052 a speaker, as real devices advertise.
        capabilities = str((4101 if self.display else 2052) | (32 if self.members is not None else 0))
        return {"id": self.device_id, "cd": self.device_id[:32].upper(), "rm": "", "ve": "05",
                "md": self.model, "ic": "/setup/icon.png", "fn": self.name, "ca": capabilities,
                "st": "0", "bs": "FA8FCA000000", "nf": "1", "rs": ""}

    # -- what others do to it -----------------------------------------------------------------

    def reset(self, volume: float = 0.3, muted: bool = False) -> None:
        """Back to nothing running at this volume (a demo's reset): every connected sender is told."""
        self.state = CastState(volume=volume, muted=muted)
        self._broadcast(RECEIVER, NS_RECEIVER, self._receiver_status(), None)

    def cast(self, url: str, *, title: str = "", artist: str = "", content_type: str = "audio/mpeg",
             paused: bool = False) -> None:
        """Play `url` as if someone's phone had cast it: every connected sender is told."""
        if self.state.app is None:
            self._launch()
            self._broadcast(RECEIVER, NS_RECEIVER, self._receiver_status(), None)
        metadata = {"metadataType": 3, "title": title, "artist": artist}
        self._load({"media": {"contentId": url, "contentType": content_type, "streamType": "LIVE",
                              "metadata": metadata}, "autoplay": not paused})
        self._push_media()

    def press(self, kind: str) -> None:
        """PLAY, PAUSE or STOP from another sender (a phone): every connected sender is told."""
        media = self.state.media
        reply, _ = self._media({"type": kind, "mediaSessionId": media.session_id if media else None})
        if reply.get("type") == "INVALID_REQUEST":
            raise ValueError(f"{kind} with nothing loaded")
        self._push_media()

    def _push_media(self) -> None:
        if self.state.app is not None:
            self._broadcast(self.state.app.transport_id, NS_MEDIA, self._media_status(), None)
        if self.state.media is not None and self.state.media.idle_reason:
            self.state.media = None

    # -- serving ----------------------------------------------------------------------------

    async def start(self) -> Self:
        self._stopping.clear()
        tls = _self_signed_context(self.host)
        # Checked in the handshake: an offline device must not even finish one, or pychromecast
        # counts each attempt as a connection made (and retries at once, for ever).
        tls.sni_callback = lambda *_: ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE if self.fail == "offline" else None
        self._server = await asyncio.start_server(self._serve, self.host, self.port, ssl=tls,
                                                  ssl_handshake_timeout=5.0)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.info_port is not None:
            app = web.Application()
            app.router.add_get("/setup/eureka_info", self._eureka_info)
            self._info = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
            await self._info.setup()
            await web.TCPSite(self._info, self.host, self.info_port, ssl_context=tls).start()
            self.info_port = self._info.addresses[0][1]
        return self

    async def stop(self) -> None:
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.close()  # first: a sender that is dropped reconnects at once
        for sender in list(self._senders):
            sender.writer.transport.abort()
        await asyncio.gather(*self._serving, return_exceptions=True)  # their readers see the abort
        if server is not None:
            await server.wait_closed()
        if self._info is not None:
            await self._info.cleanup()
            self._info = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sender = _Sender(writer)
        self._senders.add(sender)
        self._serving.add(asyncio.current_task())
        try:
            while self.fail != "offline":
                header = await reader.readexactly(4)
                (length,) = struct.unpack(">I", header)
                if length > MAX_FRAME:
                    break
                frame = await reader.readexactly(length)
                if self.fail == "offline":
                    break
                try:
                    await asyncio.wait_for(self._stopping.wait(),
                                           self.slow_delay if self.fail == "slow" else self.latency)
                except TimeoutError:
                    pass
                message = CastMessage()
                message.ParseFromString(frame)
                self._receive(sender, message)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass  # the sender went away
        finally:
            self._serving.discard(asyncio.current_task())
            self._senders.discard(sender)
            writer.transport.abort()  # dropped, not closed politely: as a device that lost power

    def _send(self, sender: _Sender, source: str, destination: str, namespace: str,
              payload: dict[str, Any]) -> None:
        message = CastMessage()
        message.protocol_version = CastMessage.CASTV2_1_0
        message.source_id = source
        message.destination_id = destination
        message.namespace = namespace
        message.payload_type = CastMessage.STRING
        message.payload_utf8 = json.dumps(payload)
        data = message.SerializeToString()
        sender.writer.write(struct.pack(">I", len(data)) + data)

    def _broadcast(self, source: str, namespace: str, payload: dict[str, Any], but: _Sender | None) -> None:
        """Push a change to every other sender connected to `source`."""
        for sender in self._senders:
            if sender is not but and source in sender.connected:
                self._send(sender, source, "*", namespace, {**payload, "requestId": 0})

    # -- dispatch ---------------------------------------------------------------------------

    def _receive(self, sender: _Sender, message: CastMessage) -> None:
        if message.payload_type != CastMessage.STRING:
            return
        payload = json.loads(message.payload_utf8)
        if not isinstance(payload, dict):
            return
        self.messages.append((message.namespace, payload))
        kind = payload.get("type")
        to, back = message.destination_id, message.source_id
        if message.namespace == NS_CONNECTION:
            if kind == "CONNECT":
                sender.connected.add(to)
            elif kind == "CLOSE":
                sender.connected.discard(to)
            return
        if message.namespace == NS_HEARTBEAT:
            if kind == "PING":
                self._send(sender, to, back, NS_HEARTBEAT, {"type": "PONG"})
            return
        if message.namespace == NS_RECEIVER and to == RECEIVER:
            reply, changed = self._receiver(payload)
            self._send(sender, RECEIVER, back, NS_RECEIVER, {**reply, "requestId": payload.get("requestId", 0)})
            if changed:
                self._broadcast(RECEIVER, NS_RECEIVER, self._receiver_status(), sender)
            return
        if message.namespace == NS_MULTIZONE and to == RECEIVER and self.members is not None:
            reply = self._multizone_status() if kind == "GET_STATUS" else _invalid("INVALID_COMMAND")
            self._send(sender, RECEIVER, back, NS_MULTIZONE, {**reply, "requestId": payload.get("requestId", 0)})
            return
        app = self.state.app
        if message.namespace == NS_MEDIA and app is not None and to == app.transport_id:
            reply, changed = self._media(payload)
            self._send(sender, to, back, NS_MEDIA, {**reply, "requestId": payload.get("requestId", 0)})
            if changed:
                self._broadcast(to, NS_MEDIA, self._media_status(), sender)
            if self.state.media is not None and self.state.media.idle_reason:
                self.state.media = None  # a stopped session is reported once, then gone

    def set_members(self, members: list[tuple[str, str]]) -> None:
        """A group changed in the Google Home app: every connected sender is told."""
        self.members = members
        self._broadcast(RECEIVER, NS_MULTIZONE, self._multizone_status(), None)

    def _multizone_status(self) -> dict[str, Any]:
        devices = [{"deviceId": device_id, "name": name, "capabilities": 2052,
                    "volume": {"level": self.state.volume, "muted": self.state.muted}}
                   for device_id, name in self.members or []]
        return {"type": "MULTIZONE_STATUS", "status": {"devices": devices, "isMultichannel": False}}

    # -- the receiver: apps and volume ------------------------------------------------------

    def _receiver(self, payload: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        kind = payload.get("type")
        if kind == "GET_STATUS":
            return self._receiver_status(), False
        if kind == "LAUNCH":
            app_id = payload.get("appId")
            if app_id != MEDIA_RECEIVER:
                return {"type": "LAUNCH_ERROR", "reason": "NOT_FOUND"}, False
            if self.state.app is None or payload.get("forceLaunch"):
                self._launch()
            return self._receiver_status(), True
        if kind == "STOP":
            self.state.app = None
            self.state.media = None
            return self._receiver_status(), True
        if kind == "SET_VOLUME":
            volume = payload.get("volume")
            if not isinstance(volume, dict):
                return _invalid("INVALID_PARAMS"), False
            level, muted = volume.get("level"), volume.get("muted")
            if isinstance(level, (int, float)) and not isinstance(level, bool):
                self.state.volume = min(max(float(level), 0.0), 1.0)
            if isinstance(muted, bool):
                self.state.muted = muted
            return self._receiver_status(), True
        return _invalid("INVALID_COMMAND"), False

    def _launch(self) -> None:
        self.state.app = App(MEDIA_RECEIVER, str(uuidlib.uuid4()), "Default Media Receiver")
        self.state.media = None

    def _receiver_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "volume": {"controlType": "attenuation", "level": self.state.volume,
                       "muted": self.state.muted, "stepInterval": 0.05},
            "userEq": {},
        }
        app = self.state.app
        if app is not None:
            status["applications"] = [{
                "appId": app.app_id, "appType": "WEB", "displayName": app.display_name,
                "iconUrl": "", "isIdleScreen": False, "launchedFromCloud": False,
                "namespaces": [{"name": n} for n in APP_NAMESPACES], "sessionId": app.session_id,
                "statusText": app.display_name, "transportId": app.transport_id,
                "universalAppId": app.app_id,
            }]
        return {"type": "RECEIVER_STATUS", "status": status}

    # -- the Default Media Receiver ---------------------------------------------------------

    def _media(self, payload: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        kind = payload.get("type")
        if kind == "GET_STATUS":
            return self._media_status(), False
        if kind == "LOAD":
            return self._load(payload)
        media = self.state.media
        if kind in ("PLAY", "PAUSE", "STOP", "SEEK"):
            if media is None or payload.get("mediaSessionId") != media.session_id:
                return _invalid("INVALID_MEDIA_SESSION_ID"), False
            now = self.clock()
            media.position = self._position(media)
            media.since = now
            if kind == "PLAY":
                media.player_state = "PLAYING"
            elif kind == "PAUSE":
                media.player_state = "PAUSED"
            elif kind == "STOP":
                media.player_state, media.idle_reason = "IDLE", "CANCELLED"
            else:
                at = payload.get("currentTime")
                if not isinstance(at, (int, float)) or isinstance(at, bool) or at < 0:
                    return _invalid("INVALID_PARAMS"), False
                media.position = min(float(at), media.duration) if media.duration else float(at)
                resume = payload.get("resumeState")
                if resume == "PLAYBACK_START":
                    media.player_state = "PLAYING"
                elif resume == "PLAYBACK_PAUSE":
                    media.player_state = "PAUSED"
            return self._media_status(), True
        return _invalid("INVALID_COMMAND"), False

    def _load(self, payload: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        media = payload.get("media")
        if not isinstance(media, dict) or not isinstance(media.get("contentId"), str):
            return _invalid("INVALID_PARAMS"), False
        url = media["contentId"]
        if not url.startswith(("http://", "https://")):
            return {"type": "LOAD_FAILED", "itemId": 1, "detailedErrorCode": 104}, False  # MEDIA_SRC_NOT_SUPPORTED
        self.state.loaded.append(url)
        duration = media.get("duration")
        start = payload.get("currentTime")
        self.state.media = Media(
            session_id=self._next_media_session, content_id=url,
            content_type=str(media.get("contentType") or ""), stream_type=str(media.get("streamType") or "BUFFERED"),
            metadata=media.get("metadata") if isinstance(media.get("metadata"), dict) else {},
            duration=float(duration) if isinstance(duration, (int, float)) else None,
            player_state="PLAYING" if payload.get("autoplay", True) else "PAUSED",
            position=float(start) if isinstance(start, (int, float)) else 0.0, since=self.clock())
        self._next_media_session += 1
        return self._media_status(), True

    def _position(self, media: Media) -> float:
        if media.player_state != "PLAYING":
            return media.position
        position = media.position + (self.clock() - media.since)
        return min(position, media.duration) if media.duration else position

    def _media_status(self) -> dict[str, Any]:
        media = self.state.media
        if media is None:
            return {"type": "MEDIA_STATUS", "status": []}
        info: dict[str, Any] = {"contentId": media.content_id, "contentType": media.content_type,
                                "streamType": media.stream_type, "metadata": media.metadata}
        if media.duration is not None:
            info["duration"] = media.duration
        status: dict[str, Any] = {
            "mediaSessionId": media.session_id, "playbackRate": 1, "playerState": media.player_state,
            "currentTime": self._position(media), "supportedMediaCommands": SUPPORTED_MEDIA_COMMANDS,
            "volume": {"level": 1, "muted": False}, "media": info, "currentItemId": 1,
            "repeatMode": "REPEAT_OFF",
        }
        if media.idle_reason:
            status["idleReason"] = media.idle_reason
        return {"type": "MEDIA_STATUS", "status": [status]}

    # -- device info over HTTPS -------------------------------------------------------------

    async def _eureka_info(self, request: web.Request) -> web.Response:
        if self.fail == "offline" and request.transport is not None:
            request.transport.abort()
        udn = str(self.uuid)
        return web.json_response({
            "name": self.name, "ssdp_udn": udn,
            "device_info": {
                "name": self.name, "model_name": self.model, "manufacturer": self.manufacturer,
                "ssdp_udn": udn, "capabilities": {"display_supported": self.display,
                                                  "multizone_supported": True},
            },
        })


def _invalid(reason: str) -> dict[str, Any]:
    return {"type": "INVALID_REQUEST", "reason": reason}


def _self_signed_context(host: str) -> ssl.SSLContext:
    """A TLS server context with a fresh self-signed certificate (P-256: quick to make)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(key, hashes.SHA256()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # TLS 1.2, as Cast devices speak it. Under TLS 1.3 the session tickets sent after the
    # handshake race pychromecast, which writes from the caller's thread while its own thread
    # reads the same socket ("bad record mac").
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory() as folder:  # ssl loads a chain only from files
        cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        context.load_cert_chain(cert_file, key_file)
    return context
