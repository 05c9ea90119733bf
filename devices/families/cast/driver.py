"""Google Cast devices through pychromecast: one `media_player` entity per device.

pychromecast (14.0) is what Home Assistant's cast integration uses; it speaks Cast v2 (TLS,
protobuf frames, JSON namespaces) on its own socket thread, and is well kept by HA's people.
We use its controllers and none of its discovery: Claw's own mDNS browser finds the device,
and the driver connects to the host and port of that sighting (a `CastInfo` built from the
TXT records, as pychromecast's `CastBrowser` builds it, with a `HostServiceInfo`, so no
zeroconf is needed).

Threads: pychromecast's calls block, so each runs on the device's own one-thread pool under
`asyncio.timeout` (commands keep their order, a slow device holds up only itself), and each
waits for the device's answer at most `timeout` seconds itself, so a thread never outlives its
call by much. (pychromecast writes to its TLS socket from the calling thread while its own
thread reads it, as it does in HA; see the emulator's note on answer latency.) The connection
is made on first use with `tries=1`: when the device drops it, pychromecast tries once to
reconnect and then stops; the next read or command connects anew, and so does `follow`, with
backoff. So an offline device costs one failed connect per poll or backoff step, and is back
as soon as it answers again.

State: every refresh asks the device (receiver and media GET_STATUS), so a device that went
silent is found out within `timeout`. Between polls the device pushes its changes, which
`follow` reports. States as HA's cast integration has them: off (no app), idle (an app, no
media), playing, paused. `media_play` with nothing loaded plays again the last media this
driver saw (a Cast device forgets it once stopped).

The cast type comes from pychromecast's own model table (`md` in TXT); a model it doesn't
know is a group on a port other than 8009 (pychromecast's rule), or else is asked
(`dial.get_cast_type`: /setup/eureka_info over HTTPS on port 8443), as HA does.
A Cast group (a speaker group made in the Google Home app) is advertised as a device of its
own on its own port, and is driven like one; its speakers (`group_members`, entity ids as
this driver names them) are read at each refresh through pychromecast's multizone
controller. Not covered: a speaker showing what its group plays (HA's MultizoneManager), and
making or changing groups (Cast has no API for that).
"""
from __future__ import annotations

import asyncio
import logging
import mimetypes
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Awaitable, Callable, Mapping, TypeVar
from uuid import UUID, uuid5, NAMESPACE_URL

import pychromecast
from pychromecast import dial
from pychromecast.const import CAST_TYPE_GROUP, CAST_TYPES
from pychromecast.controllers.media import MediaStatus, MediaStatusListener
from pychromecast.controllers.multizone import MultizoneController
from pychromecast.controllers.receiver import CastStatus, CastStatusListener
from pychromecast.error import PyChromecastError, RequestFailed, RequestTimeout
from pychromecast.models import CastInfo, HostServiceInfo
from pychromecast.socket_client import (CONNECTION_STATUS_DISCONNECTED, CONNECTION_STATUS_FAILED,
                                        ConnectionStatus, ConnectionStatusListener)

from devices.home import MAX_NAME
from devices.model import Device, DeviceError, DeviceRefused, Entity
from devices.names import slug

log = logging.getLogger(__name__)
T = TypeVar("T")
OnChange = Callable[[Entity], Awaitable[None] | None]

SERVICES = frozenset({
    "media_play", "media_pause", "media_stop", "volume_set", "volume_mute", "play_media", "turn_off",
})
DOING = {
    "refresh": "report its state", "media_play": "play", "media_pause": "pause",
    "media_stop": "stop", "volume_set": "change its volume",
    "volume_mute": "change its mute", "play_media": "play that", "turn_off": "stop casting",
}
# Media player states as Home Assistant's cast integration reports them.
STATES = {"PLAYING": "playing", "BUFFERING": "playing", "PAUSED": "paused", "IDLE": "idle"}
# Why a Default Media Receiver could not load something (pychromecast's table of codes).
LOAD_ERRORS = {104: "it can't play that kind of source", 103: "it couldn't fetch it",
               102: "it couldn't decode it"}


class _QuietFailedConnects(logging.Filter):
    """pychromecast logs each failed connect at ERROR, twice; with `tries=1` that is every poll
    of a device that is switched off. The driver's error and the home registry's one line
    ("... is unavailable: ...") say it instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("[%s(%s):%s] Failed to connect")


logging.getLogger("pychromecast.socket_client").addFilter(_QuietFailedConnects())


class _Reply:
    """Waits for the answer to one request (pychromecast calls back on its socket thread)."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self.sent = False
        self.response: dict | None = None

    def __call__(self, sent: bool, response: dict | None) -> None:
        self.sent, self.response = sent, response
        self._done.set()

    def wait(self, timeout: float) -> dict:
        if not self._done.wait(timeout):
            raise RequestTimeout("request", timeout)
        if not self.sent and not self.response:
            raise RequestFailed("request")
        return self.response or {}


class _Watcher(CastStatusListener, MediaStatusListener, ConnectionStatusListener):
    """pychromecast's listeners for one connection: wakes `connect` and reports pushes."""

    def __init__(self, driver: CastDriver) -> None:
        self.driver = driver
        self.settled = threading.Event()  # first status, or the connection failed
        self.failed = False

    def new_cast_status(self, status: CastStatus) -> None:
        self.settled.set()
        self.driver._pushed()

    def new_media_status(self, status: MediaStatus) -> None:
        self.driver._pushed()

    def load_media_failed(self, queue_item_id: int, error_code: int) -> None:
        pass  # the LOAD's own answer says so

    def new_connection_status(self, status: ConnectionStatus) -> None:
        if status.status in (CONNECTION_STATUS_FAILED, CONNECTION_STATUS_DISCONNECTED):
            self.failed = True
            self.settled.set()
        if status.status == CONNECTION_STATUS_DISCONNECTED:  # its thread is done: no more pushes
            self.driver._lost()


class CastDriver:
    def __init__(self, device: Device, props: Mapping[str, str] | None = None, timeout: float = 3.0,
                 area: str | None = None) -> None:
        props = props or {}
        self.device = device
        self.timeout = timeout
        self.area = area
        self.name = (props.get("fn") or device.name)[:MAX_NAME]  # as named in the Google Home app
        device.name = self.name
        device.model = props.get("md") or device.model
        self.uuid = _uuid(props.get("id"), device)
        self._cast: pychromecast.Chromecast | None = None  # touched on the pool only
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"cast-{device.host}")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changes: asyncio.Queue[Entity | None] | None = None  # while followed; None: connection gone
        self._closed = False
        self._reported: Entity | None = None
        self._last_media: tuple[str, str, str | None] | None = None  # (url, MIME type, title) last seen
        self._multizone: MultizoneController | None = None  # a group's, with the connection
        self._members: list[str] = []  # a group's speakers' entity ids, as last read

    @property
    def entity_id(self) -> str:
        return f"media_player.{slug(self.name, fallback='cast')}"

    async def refresh(self) -> list[Entity]:
        entity = await self._run("refresh", self._read)
        self._reported = entity
        return [entity]

    async def call(self, entity_id: str, service: str, data: dict[str, Any]) -> None:
        if entity_id != self.entity_id:
            raise DeviceRefused(f"{entity_id} is not on {self._where()}")
        if service not in SERVICES:
            raise DeviceRefused(f"The {self.name} is a media player: it can't {service.replace('_', ' ')}")
        await self._run(service, self._command(service, data))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._changes is not None:
            _offer(self._changes, None)  # wakes `follow`, which then ends
        self._pool.submit(self._disconnect)
        self._pool.shutdown(wait=False, cancel_futures=False)

    async def follow(self, on_change: OnChange, min_backoff: float = 0.5, max_backoff: float = 5.0) -> None:
        """Report the changes the device pushes (someone else's phone pausing it, a track
        ending) until cancelled or closed. When the connection is gone for good, connect
        again (backing off from min to max_backoff), so that pushes resume after a reboot
        without waiting for the next poll."""
        self._loop = asyncio.get_running_loop()
        self._changes = asyncio.Queue(maxsize=100)
        try:
            while not self._closed:
                entity = await self._changes.get()
                if entity is None:
                    entity = await self._reconnect(min_backoff, max_backoff)
                if entity is not None and entity != self._reported:
                    self._reported = entity
                    result = on_change(entity)
                    if result is not None:
                        await result
        finally:
            self._changes = None

    async def _reconnect(self, min_backoff: float, max_backoff: float) -> Entity | None:
        """Connect until it works (the entity then) or is not needed (None)."""
        delay = min_backoff
        while not self._closed and not self._live():
            try:
                return await self._run("refresh", self._read)  # not refresh(): follow reports it
            except DeviceError as e:
                log.info("%s; trying again in %g s", e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_backoff)
        return None

    # -- connecting ---------------------------------------------------------------------------

    def _connection(self) -> pychromecast.Chromecast:
        """The live connection, made now if there is none (on the pool)."""
        if self._live():
            return self._cast
        self._disconnect()  # also one still trying to reconnect by itself: we try now instead
        info = CastInfo({HostServiceInfo(self.device.host, self.device.port)}, self.uuid,
                        self.device.model or None, self.name, self.device.host, self.device.port,
                        *self._cast_type())
        if info.cast_type is None:
            info = dial.get_cast_type(info, timeout=self.timeout)
        cast = pychromecast.Chromecast(info, tries=1, timeout=self.timeout)
        watcher = _Watcher(self)
        cast.register_status_listener(watcher)
        cast.media_controller.register_status_listener(watcher)
        cast.register_connection_listener(watcher)
        self._multizone = None
        if CAST_TYPES.get(self.device.model.lower(), (None,))[0] == CAST_TYPE_GROUP:
            # Only a group by its model: a device that is one only by pychromecast's port rule
            # may not answer the multizone namespace, and a refresh would wait for it in vain.
            self._multizone = MultizoneController(self.uuid)
            cast.register_handler(self._multizone)
        self._cast = cast
        cast.socket_client.start()
        if not watcher.settled.wait(self.timeout):
            raise RequestTimeout("connect", self.timeout)
        if watcher.failed and cast.status is None:
            self._disconnect()
            raise DeviceError(f"I can't reach {self._where()}: it did not accept a Cast connection")
        return cast

    def _cast_type(self) -> tuple[str | None, str | None]:
        """(cast type, manufacturer) as pychromecast's discovery finds them: by model first, so
        that a speaker on a port other than 8009 (an emulator) is still a speaker."""
        known = CAST_TYPES.get(self.device.model.lower())
        if known:
            return known
        if self.device.port != 8009:
            return CAST_TYPE_GROUP, "Google Inc."
        return None, None

    def _disconnect(self) -> None:
        if self._cast is not None:
            # Not Chromecast.disconnect(timeout=0): it raises TimeoutError while the socket
            # thread winds down. Stopping is enough: the thread ends by itself.
            self._cast.socket_client.disconnect()
            self._cast = None

    # -- reading ------------------------------------------------------------------------------

    def _read(self) -> Entity:
        """Ask the device for its state and report it (on the pool)."""
        cast = self._connection()
        reply = _Reply()
        cast.socket_client.receiver_controller.update_status(callback_function=reply)
        reply.wait(self.timeout)
        media = cast.media_controller
        if media.is_active:
            reply = _Reply()
            media.update_status(callback_function=reply)
            reply.wait(self.timeout)
        if self._multizone is not None:
            reply = _Reply()
            self._multizone.send_message({"type": "GET_STATUS"}, callback_function=reply)
            devices = reply.wait(self.timeout).get("status", {}).get("devices", [])
            self._members = [f"media_player.{slug(str(d.get('name', '')), fallback='cast')}" for d in devices]
        return self._entity(cast)

    def _entity(self, cast: pychromecast.Chromecast) -> Entity:
        """The entity from pychromecast's view of the device (any thread)."""
        status = cast.status
        media = cast.media_controller.status
        has_media = cast.media_controller.is_active and media.media_session_id is not None
        if has_media and media.content_id:
            self._last_media = (media.content_id, media.content_type or "", media.title)
        if has_media and media.player_state in STATES:
            state = STATES[media.player_state]
        elif status is not None and status.app_id is not None and status.app_id != pychromecast.IDLE_APP_ID:
            state = "idle"
        else:
            state = "off"
        attributes: dict[str, Any] = {
            "volume_level": round(status.volume_level, 3) if status else None,
            "is_volume_muted": status.volume_muted if status else None,
            "app_name": status.display_name if status and status.app_id else None,
            "media_title": media.title if has_media else None,
            "media_artist": media.artist if has_media else None,
            "media_album_name": media.album_name if has_media else None,
            "media_content_id": media.content_id if has_media else None,
            "media_content_type": media.content_type if has_media else None,
            "media_duration": media.duration if has_media else None,
            "media_position": round(media.current_time, 1) if has_media else None,
            "model": self.device.model or None,
        }
        if cast.cast_type == CAST_TYPE_GROUP:
            attributes["cast_group"] = True
            attributes["group_members"] = list(self._members)
        return Entity(
            entity_id=self.entity_id, name=self.name, device_id=self.device.device_id,
            area=self.area, state=state, services=set(SERVICES), attributes=attributes)

    def _live(self) -> bool:
        cast = self._cast
        return cast is not None and cast.socket_client.is_connected and not cast.socket_client.is_stopped

    def _lost(self) -> None:
        """A connection's thread ended (on that thread): `follow` connects again."""
        loop, changes = self._loop, self._changes
        if loop is not None and changes is not None and not self._closed:
            loop.call_soon_threadsafe(_offer, changes, None)

    def _pushed(self) -> None:
        """A status the device pushed (on pychromecast's socket thread)."""
        loop, changes, cast = self._loop, self._changes, self._cast
        if loop is None or changes is None or cast is None:
            return
        entity = self._entity(cast)
        loop.call_soon_threadsafe(_offer, changes, entity)

    # -- commands -----------------------------------------------------------------------------

    def _command(self, service: str, data: dict[str, Any]) -> Callable[[], object]:
        """Check the data here (on the event loop) and return the work for the pool."""
        if service == "volume_set":
            level = data.get("volume_level")
            if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 <= level <= 1:
                raise DeviceRefused(f"A volume level is a number from 0 to 1, not {level!r}")
            return lambda: self._connection().set_volume(float(level), timeout=self.timeout)
        if service == "volume_mute":
            muted = data.get("is_volume_muted")
            if not isinstance(muted, bool):
                raise DeviceRefused(f"is_volume_muted must be true or false, not {muted!r}")
            return lambda: self._connection().set_volume_muted(muted, timeout=self.timeout)
        if service == "play_media":
            url = data.get("media_content_id")
            if not isinstance(url, str) or not url.strip():
                raise DeviceRefused("Say what to play: media_content_id needs a URL")
            kind = data.get("media_content_type")
            title = data.get("media_title")
            return lambda: self._play(url.strip(), kind if isinstance(kind, str) else "",
                                      title if isinstance(title, str) else None)
        if service == "turn_off":
            return lambda: self._connection().quit_app(timeout=self.timeout)
        return lambda: self._transport(service)

    def _transport(self, service: str) -> None:
        """Play, pause or stop the media session; play with none brings back the last one."""
        media = self._connection().media_controller
        loaded = media.is_active and media.status.media_session_id is not None and not media.status.player_is_idle
        if not loaded and service == "media_play" and self._last_media is not None:
            self._play(*self._last_media)  # a Cast device forgets it once stopped; we don't
            return
        if not loaded:
            raise DeviceRefused(f"Nothing is playing on the {self.name}, so it can't {DOING[service]}; "
                                "say what to play first")
        {"media_play": media.play, "media_pause": media.pause, "media_stop": media.stop}[service](timeout=self.timeout)

    def _play(self, url: str, kind: str, title: str | None) -> None:
        """LOAD the URL on the Default Media Receiver (launched first if needed), as HA does."""
        # HA passes a MIME type or a kind ("music"); a receiver wants a MIME type.
        mime = kind if "/" in kind else (mimetypes.guess_type(url)[0] or "audio/mpeg")
        cast = self._connection()
        reply = _Reply()
        cast.media_controller.play_media(url, mime, title=title, callback_function=reply)
        answer = reply.wait(self.timeout)
        if answer.get("type") == "LOAD_FAILED":
            why = LOAD_ERRORS.get(answer.get("detailedErrorCode"), "it failed to load it")
            raise DeviceRefused(f"The {self.name} couldn't play {url}: {why}")
        if answer.get("type") in ("LAUNCH_ERROR", "INVALID_REQUEST"):
            raise DeviceRefused(f"The {self.name} refused to play that ({answer.get('reason', 'no reason given')})")
        if not reply.sent:
            raise RequestFailed("play media")

    # -- running pychromecast -----------------------------------------------------------------

    async def _run(self, service: str, work: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.timeout):
                return await loop.run_in_executor(self._pool, work)
        except (TimeoutError, RequestTimeout):
            self._pool.submit(self._disconnect)  # a silent device: connect afresh next time
            raise DeviceError(f"I can't reach {self._where()} (no answer within {self.timeout:g} s)") from None
        except RequestFailed:
            self._pool.submit(self._disconnect)
            raise DeviceError(f"I can't reach {self._where()}: it dropped the connection when asked to "
                              f"{DOING[service]}") from None
        except PyChromecastError as e:  # not connected, stopped: the connection is gone
            self._pool.submit(self._disconnect)
            raise DeviceError(f"I can't reach {self._where()} ({e})") from None
        except OSError as e:  # the device-info request of an unknown model
            raise DeviceError(f"I can't reach {self._where()} ({e.strerror or e})") from None

    def _where(self) -> str:
        return f"the {self.name} at {self.device.host}:{self.device.port}"


def _offer(changes: asyncio.Queue[Entity | None], entity: Entity | None) -> None:
    if changes.full():
        changes.get_nowait()  # only the latest state matters
    changes.put_nowait(entity)


def _uuid(text: str | None, device: Device) -> UUID:
    """The device's Cast UUID (its `id` TXT record); one made from its address if it has none."""
    try:
        return UUID(text or "")
    except ValueError:
        return uuid5(NAMESPACE_URL, f"cast://{device.host}:{device.port}")
