"""An emulated Sonos speaker (ZonePlayer) speaking UPnP SOAP, enough for real soco 0.32.

Each speaker is its own aiohttp server on `host:port` (a distinct 127.0.0.x per speaker, as on
a LAN). It answers:

- SOAP on `/MediaRenderer/AVTransport/Control` (play, pause, stop, next, previous, play a URI,
  join a group with an `x-rincon:<uid>` URI, leave it, a small queue),
  `/MediaRenderer/RenderingControl/Control` (volume, mute),
  `/ZoneGroupTopology/Control`, `/DeviceProperties/Control` and
  `/MediaServer/ContentDirectory/Control` (Browse of `FV:2` favorites and the `Q:0` queue);
- the service descriptions `/xml/<Service>1.xml` (soco reads them before any call made with
  keyword arguments, and `soco.discover` makes such calls), generated from the same action
  table that dispatches the calls;
- `/xml/device_description.xml`.
Unknown actions get HTTP 500 with a UPnP fault (401 Invalid Action), as on a real speaker.

Speakers of one household share a `SonosHousehold`: its zone group topology is what every
member reports, so soco's `join`/`unjoin` and group views work across emulators.

Faults for tests: set `fail` to "offline" (connections dropped), "slow" (answers after
`slow_delay` seconds) or "error" (HTTP 500 with no UPnP fault to every request).
"""
from __future__ import annotations

import weakref
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Callable, Self
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web

from devices.emulators.base import Emulator

ZONEPLAYER = "urn:schemas-upnp-org:device:ZonePlayer:1"
SOFTWARE_VERSION = "79.1-56030"
SERVER_HEADER = f"Linux UPnP/1.0 Sonos/{SOFTWARE_VERSION} (ZPS18)"

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
DIDL_NS = {
    "didl": "urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "upnp": "urn:schemas-upnp-org:metadata-1-0/upnp/",
    "r": "urn:schemas-rinconnetworks-com:metadata-1-0/",
}
DIDL_OPEN = (
    '<DIDL-Lite xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:upnp="urn:schemas-upnp-org:metadata-1-0/upnp/" '
    'xmlns:r="urn:schemas-rinconnetworks-com:metadata-1-0/" '
    'xmlns="urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/">'
)


@dataclass
class Track:
    title: str
    artist: str
    uri: str
    album: str = ""
    duration: str = "0:00:00"  # what Sonos reports for a radio stream

    @property
    def is_stream(self) -> bool:
        return self.duration == "0:00:00"


DEFAULT_QUEUE = [
    Track("Clair de Lune", "Claude Debussy", "x-file-cifs://nas/music/debussy/clair_de_lune.flac",
          "Suite bergamasque", "0:05:02"),
    Track("Gymnopédie No. 1", "Erik Satie", "x-file-cifs://nas/music/satie/gymnopedie_1.flac",
          "Gymnopédies", "0:03:05"),
    Track("The Entertainer", "Scott Joplin", "x-file-cifs://nas/music/joplin/the_entertainer.flac",
          "Piano Rags", "0:04:11"),
]
DEFAULT_FAVORITES = [
    ("Morning Jazz", "x-rincon-mp3radio://radio.example.net/jazz"),
    ("Rain Sounds", "x-rincon-mp3radio://radio.example.net/rain"),
]


@dataclass
class SpeakerState:
    """What the speaker is doing; tests read and set these directly."""

    transport: str = "STOPPED"  # PLAYING | PAUSED_PLAYBACK | STOPPED
    volume: int = 20  # 0..100
    mute: bool = False
    queue: list[Track] = field(default_factory=list)
    queue_index: int = 0
    stream: Track | None = None  # set while playing a URI directly instead of the queue
    uri: str = ""  # AVTransport CurrentURI: the queue, a stream, or x-rincon:<coordinator uid>
    uri_metadata: str = ""

    @property
    def track(self) -> Track | None:
        if self.stream is not None:
            return self.stream
        return self.queue[self.queue_index] if self.queue else None


class UPnPError(Exception):
    def __init__(self, code: int, description: str = "") -> None:
        super().__init__(f"UPnP error {code} {description}")
        self.code = code
        self.description = description


class SonosHousehold:
    """Speakers that see each other: one zone group topology shared by their emulators.

    A string household id names a shared instance (`SonosHousehold.named`), so emulators built
    from a config file with the same id end up in the same household.
    """

    _named: weakref.WeakValueDictionary[str, SonosHousehold] = weakref.WeakValueDictionary()

    def __init__(self, household_id: str) -> None:
        self.household_id = household_id
        self.speakers: dict[str, SonosEmulator] = {}  # uid -> running emulator
        self.coordinator_of: dict[str, str] = {}  # uid -> the uid of its group's coordinator

    @classmethod
    def named(cls, household_id: str) -> SonosHousehold:
        household = cls._named.get(household_id)
        if household is None:
            household = cls._named[household_id] = cls(household_id)
        return household

    def add(self, speaker: SonosEmulator) -> None:
        self.speakers[speaker.uid] = speaker
        self.coordinator_of[speaker.uid] = speaker.uid

    def remove(self, speaker: SonosEmulator) -> None:
        self.leave(speaker.uid)
        self.speakers.pop(speaker.uid, None)
        self.coordinator_of.pop(speaker.uid, None)

    def members(self, coordinator: str) -> list[SonosEmulator]:
        """The group led by `coordinator`, coordinator first."""
        rest = [s for uid, s in self.speakers.items()
                if self.coordinator_of[uid] == coordinator and uid != coordinator]
        return [self.speakers[coordinator], *rest]

    def join(self, uid: str, target: str) -> None:
        """Move `uid` into the group `target` belongs to."""
        if target not in self.speakers:
            raise UPnPError(402, "Invalid Args")
        leader = self.coordinator_of[target]
        if leader == uid:
            return
        self.leave(uid)
        self.coordinator_of[uid] = leader

    def leave(self, uid: str) -> str:
        """Make `uid` a group of its own; returns who now leads the group it left ('' if none)."""
        leader = self.coordinator_of.get(uid, uid)
        rest = [u for u, c in self.coordinator_of.items() if c == leader and u != uid]
        self.coordinator_of[uid] = uid
        if not rest:
            return ""
        if leader == uid:  # the coordinator leaves: the next member takes over
            for u in rest:
                self.coordinator_of[u] = rest[0]
            return rest[0]
        return leader

    def zone_group_state(self) -> str:
        groups = []
        for leader in dict.fromkeys(self.coordinator_of[u] for u in self.speakers):
            members = "".join(s.zone_group_member() for s in self.members(leader))
            groups.append(f'<ZoneGroup Coordinator="{leader}" ID="{leader}:1">{members}</ZoneGroup>')
        return f"<ZoneGroupState><ZoneGroups>{''.join(groups)}</ZoneGroups><VanishedDevices/></ZoneGroupState>"


# -- the action table: dispatch and service descriptions come from it ----------------------

@dataclass(frozen=True)
class Action:
    name: str
    ins: tuple[str, ...]
    outs: tuple[str, ...]
    handler: Callable[..., dict[str, Any]]  # (emulator, args) -> out arguments


@dataclass(frozen=True)
class Service:
    name: str
    control: str
    actions: dict[str, Action] = field(default_factory=dict)


SERVICES = {
    s.name: s for s in (
        Service("AVTransport", "/MediaRenderer/AVTransport/Control"),
        Service("RenderingControl", "/MediaRenderer/RenderingControl/Control"),
        Service("ZoneGroupTopology", "/ZoneGroupTopology/Control"),
        Service("DeviceProperties", "/DeviceProperties/Control"),
        Service("ContentDirectory", "/MediaServer/ContentDirectory/Control"),
    )
}
# UPnP data types of arguments that are not strings (for the service descriptions).
ARG_TYPES = {"InstanceID": "ui4", "DesiredVolume": "ui2", "CurrentVolume": "ui2", "NewVolume": "ui2",
             "Adjustment": "i4", "DesiredMute": "boolean", "CurrentMute": "boolean",
             "StartingIndex": "ui4", "RequestedCount": "ui4", "NumberReturned": "ui4",
             "TotalMatches": "ui4", "UpdateID": "ui4", "Track": "ui4", "NrTracks": "ui4",
             "DesiredFirstTrackNumberEnqueued": "ui4", "EnqueueAsNext": "boolean",
             "FirstTrackNumberEnqueued": "ui4", "NumTracksAdded": "ui4", "NewQueueLength": "ui4"}


Handler = Callable[..., dict[str, Any]]


def upnp(service: str, name: str, ins: str = "", outs: str = "") -> Callable[[Handler], Handler]:
    """Register an emulator method as the handler of one UPnP action."""
    def register(fn: Handler) -> Handler:
        SERVICES[service].actions[name] = Action(name, tuple(ins.split()), tuple(outs.split()), fn)
        return fn
    return register


def scpd(service: Service) -> str:
    actions, variables = [], {}
    for action in service.actions.values():
        args = []
        for direction, names in (("in", action.ins), ("out", action.outs)):
            for arg in names:
                variables[f"A_ARG_TYPE_{arg}"] = ARG_TYPES.get(arg, "string")
                args.append(f"<argument><name>{arg}</name><direction>{direction}</direction>"
                            f"<relatedStateVariable>A_ARG_TYPE_{arg}</relatedStateVariable></argument>")
        actions.append(f"<action><name>{action.name}</name><argumentList>{''.join(args)}"
                       "</argumentList></action>")
    table = "".join(f'<stateVariable sendEvents="no"><name>{n}</name><dataType>{t}</dataType>'
                    "</stateVariable>" for n, t in variables.items())
    return ('<?xml version="1.0" encoding="utf-8"?><scpd xmlns="urn:schemas-upnp-org:service-1-0">'
            "<specVersion><major>1</major><minor>0</minor></specVersion>"
            f"<actionList>{''.join(actions)}</actionList>"
            f"<serviceStateTable>{table}</serviceStateTable></scpd>")


def soap_envelope(inner: str) -> str:
    return ('<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">'
            f"<s:Body>{inner}</s:Body></s:Envelope>")


def upnp_fault(code: int, description: str) -> web.Response:
    body = soap_envelope(
        "<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>"
        f'<UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>{code}</errorCode>'
        f"<errorDescription>{escape(description)}</errorDescription></UPnPError></detail></s:Fault>")
    return web.Response(status=500, text=body, content_type="text/xml", charset="utf-8")


# -- DIDL-Lite ------------------------------------------------------------------------------

def track_didl(track: Track, item_id: str, parent_id: str) -> str:
    """One track as a DIDL-Lite <item> (a queue track, or a stream with its title)."""
    if track.is_stream:
        stream_content = f"{track.artist} - {track.title}" if track.artist else ""
        return (f'<item id="{item_id}" parentID="{parent_id}" restricted="true">'
                f'<res protocolInfo="x-rincon-mp3radio:*:*:*">{escape(track.uri)}</res>'
                f"<r:streamContent>{escape(stream_content)}</r:streamContent>"
                f"<dc:title>{escape(track.title)}</dc:title>"
                "<upnp:class>object.item.audioItem.audioBroadcast</upnp:class></item>")
    return (f'<item id="{item_id}" parentID="{parent_id}" restricted="true">'
            f'<res protocolInfo="x-file-cifs:*:audio/flac:*" duration="{track.duration}">'
            f"{escape(track.uri)}</res><dc:title>{escape(track.title)}</dc:title>"
            "<upnp:class>object.item.audioItem.musicTrack</upnp:class>"
            f"<dc:creator>{escape(track.artist)}</dc:creator>"
            f"<upnp:album>{escape(track.album)}</upnp:album></item>")


def favorite_didl(title: str, uri: str, number: int) -> str:
    """A Sonos favorite: the item soco lists, with the playable item's metadata in r:resMD."""
    reference = (DIDL_OPEN + '<item id="R:0/0/0" parentID="R:0/0" restricted="true">'
                 f"<dc:title>{escape(title)}</dc:title>"
                 "<upnp:class>object.item.audioItem.audioBroadcast</upnp:class>"
                 '<desc id="cdudn" nameSpace="urn:schemas-rinconnetworks-com:metadata-1-0/">'
                 "SA_RINCON65031_</desc></item></DIDL-Lite>")
    return (f'<item id="FV:2/{number}" parentID="FV:2" restricted="false">'
            f"<dc:title>{escape(title)}</dc:title>"
            "<upnp:class>object.itemobject.item.sonos-favorite</upnp:class>"
            f"<r:ordinal>{number}</r:ordinal>"
            f'<res protocolInfo="x-rincon-mp3radio:*:*:*">{escape(uri)}</res>'
            "<r:type>instantPlay</r:type><r:description>Radio station</r:description>"
            f"<r:resMD>{escape(reference)}</r:resMD></item>")


def parse_didl_item(metadata: str, uri: str) -> Track:
    """The title and artist a controller put in CurrentURIMetaData (empty when it sent none)."""
    if not metadata.strip():
        return Track("", "", uri)
    try:
        item = ET.fromstring(metadata).find("didl:item", DIDL_NS)
    except ET.ParseError:
        raise UPnPError(402, "Invalid Args") from None
    if item is None:
        return Track("", "", uri)
    return Track(item.findtext("dc:title", "", DIDL_NS), item.findtext("dc:creator", "", DIDL_NS), uri)


class SonosEmulator(Emulator):
    model_name = "Sonos One"
    model_number = "S18"

    def __init__(
        self, host: str, room: str, port: int = 1400, uid: str | None = None,
        household: SonosHousehold | str | None = None,
        favorites: list[tuple[str, str]] | None = None,
        queue: list[Track] | None = None, slow_delay: float = 10.0,
    ) -> None:
        super().__init__(host, port, slow_delay)
        self.room = room
        # A fake MAC from the address keeps ids stable and distinct per speaker.
        self.mac = "000E58" + "".join(f"{int(o):02X}" for o in host.split(".")[1:])
        self.uid = uid or f"RINCON_{self.mac}0{port}"
        if isinstance(household, SonosHousehold):
            self.household = household
        else:
            self.household = SonosHousehold.named(household or f"Sonos_{self.uid}")
        self.favorites = list(DEFAULT_FAVORITES if favorites is None else favorites)
        self.state = SpeakerState(queue=list(DEFAULT_QUEUE if queue is None else queue))
        self.state.uri = self.queue_uri
        self.boot_seq = 42

    # -- what an advertiser needs ---------------------------------------------------------
    @property
    def description_url(self) -> str:
        return f"{self.url}/xml/device_description.xml"

    @property
    def queue_uri(self) -> str:
        return f"x-rincon-queue:{self.uid}#0"

    @property
    def ssdp_usn(self) -> str:
        return f"uuid:{self.uid}::{ZONEPLAYER}"

    @property
    def ssdp_headers(self) -> dict[str, str]:
        return {"SERVER": SERVER_HEADER, "X-RINCON-HOUSEHOLD": self.household.household_id,
                "X-RINCON-BOOTSEQ": str(self.boot_seq)}

    @property
    def mdns_name(self) -> str:
        return f"{self.uid}@{self.room}"

    @property
    def mdns_properties(self) -> dict[str, str]:
        return {"info": f"/api/v1/players/{self.uid}/info", "vers": "3", "protovers": "1.24.1",
                "bootseq": str(self.boot_seq), "hhid": self.household.household_id,
                "location": self.description_url, "model": self.model_name}

    # -- lifecycle ------------------------------------------------------------------------
    def routes(self, app: web.Application) -> None:
        for service in SERVICES.values():
            app.router.add_post(service.control, self._control)
            app.router.add_get(f"/xml/{service.name}1.xml", self._scpd)
        app.router.add_get("/xml/device_description.xml", self._description)
        app.middlewares.append(self._server_header)

    async def start(self) -> Self:
        await super().start()
        self.household.add(self)
        return self

    async def stop(self) -> None:
        self.household.remove(self)
        await super().stop()

    @property
    def coordinator(self) -> SonosEmulator:
        return self.household.speakers[self.household.coordinator_of[self.uid]]

    @property
    def is_coordinator(self) -> bool:
        return self.coordinator is self

    # -- HTTP -----------------------------------------------------------------------------
    @web.middleware
    async def _server_header(self, request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        response.headers["Server"] = SERVER_HEADER
        return response

    async def _control(self, request: web.Request) -> web.Response:
        service = next(s for s in SERVICES.values() if s.control == request.path)
        name = request.headers.get("SOAPACTION", "").strip('"').rpartition("#")[2]
        action = service.actions.get(name)
        if action is None:
            return upnp_fault(401, "Invalid Action")
        try:
            body = ET.fromstring(await request.read()).find(f"{{{SOAP_NS}}}Body")
        except ET.ParseError:
            return upnp_fault(402, "Invalid Args")
        call = body[0] if body is not None and len(body) else []
        args = {child.tag: child.text or "" for child in call}
        try:
            result = action.handler(self, args)
        except UPnPError as e:
            return upnp_fault(e.code, e.description)
        outs = "".join(f"<{k}>{escape(str(result[k]))}</{k}>" for k in action.outs)
        text = soap_envelope(f'<u:{name}Response xmlns:u="urn:schemas-upnp-org:service:'
                             f'{service.name}:1">{outs}</u:{name}Response>')
        return web.Response(text=text, content_type="text/xml", charset="utf-8")

    async def _scpd(self, request: web.Request) -> web.Response:
        service = SERVICES[request.path.removeprefix("/xml/").removesuffix("1.xml")]
        return web.Response(text=scpd(service), content_type="text/xml", charset="utf-8")

    async def _description(self, request: web.Request) -> web.Response:
        return web.Response(text=self.device_description(), content_type="text/xml", charset="utf-8")

    def device_description(self) -> str:
        """Like a real ZonePlayer's: the renderer and media server services sit in embedded
        devices, the rest on the root device."""
        def embedded_in(service: Service) -> str:
            top = service.control.split("/")[1]
            return top if top in ("MediaServer", "MediaRenderer") else ""

        def service_list(part: str) -> str:  # part: "MediaServer", "MediaRenderer" or "" (root)
            return "<serviceList>" + "".join(
                f"<service><serviceType>urn:schemas-upnp-org:service:{s.name}:1</serviceType>"
                f"<serviceId>urn:upnp-org:serviceId:{s.name}</serviceId>"
                f"<controlURL>{s.control}</controlURL>"
                f"<eventSubURL>{s.control.removesuffix('/Control')}/Event</eventSubURL>"
                f"<SCPDURL>/xml/{s.name}1.xml</SCPDURL></service>"
                for s in SERVICES.values() if embedded_in(s) == part) + "</serviceList>"

        embedded = "".join(
            f"<device><deviceType>urn:schemas-upnp-org:device:{part}:1</deviceType>"
            f"<friendlyName>{escape(self.room)} - {self.model_name} {part}</friendlyName>"
            f"<manufacturer>Sonos, Inc.</manufacturer><modelName>{self.model_name}</modelName>"
            f"<UDN>uuid:{self.uid}_{suffix}</UDN>{service_list(part)}</device>"
            for part, suffix in (("MediaServer", "MS"), ("MediaRenderer", "MR")))
        return (
            '<?xml version="1.0" encoding="utf-8"?><root xmlns="urn:schemas-upnp-org:device-1-0">'
            "<specVersion><major>1</major><minor>0</minor></specVersion><device>"
            f"<deviceType>{ZONEPLAYER}</deviceType>"
            f"<friendlyName>{self.host} - {self.model_name} - {self.uid}</friendlyName>"
            "<manufacturer>Sonos, Inc.</manufacturer>"
            "<manufacturerURL>http://www.sonos.com</manufacturerURL>"
            f"<modelNumber>{self.model_number}</modelNumber>"
            f"<modelDescription>Sonos {self.model_name}</modelDescription>"
            f"<modelName>{self.model_name}</modelName>"
            f"<softwareVersion>{SOFTWARE_VERSION}</softwareVersion><swGen>2</swGen>"
            "<hardwareVersion>1.21.1.8-2.0</hardwareVersion>"
            f"<serialNum>{'-'.join(self.mac[i:i + 2] for i in range(0, 12, 2))}:E</serialNum>"
            f"<UDN>uuid:{self.uid}</UDN>"
            f"<roomName>{escape(self.room)}</roomName><displayName>One</displayName>"
            "<zoneType>25</zoneType><feature1>0x00000000</feature1>"
            f"<householdControlID>{self.household.household_id}</householdControlID>"
            "<iconList><icon><id>0</id><mimetype>image/png</mimetype><width>48</width>"
            "<height>48</height><depth>24</depth><url>/img/icon-S18.png</url></icon></iconList>"
            f"{service_list('')}<deviceList>{embedded}</deviceList></device></root>")

    def zone_group_member(self) -> str:
        return (f'<ZoneGroupMember UUID="{self.uid}" Location="{self.description_url}" '
                f'ZoneName={quoteattr(self.room)} Icon="x-rincon-roomicon:living" '
                f'Configuration="1" SoftwareVersion="{SOFTWARE_VERSION}" SWGen="2" '
                f'MinCompatibleVersion="78.0-00000" LegacyCompatibleVersion="58.0-00000" '
                f'BootSeq="{self.boot_seq}" TVConfigurationError="0" HdmiCecAvailable="0" '
                f'WirelessMode="0" WirelessLeafOnly="0" ChannelFreq="2437" BehindWifiExtender="0" '
                f'WifiEnabled="1" EthLink="1" Orientation="0" RoomCalibrationState="4" '
                f'SecureRegState="3" VoiceConfigState="0" MicEnabled="0" AirPlayEnabled="1" '
                f'IdleState="1" MoreInfo=""/>')

    # -- AVTransport ----------------------------------------------------------------------
    def _lead_only(self) -> None:
        if not self.is_coordinator:  # a group member's transport follows its coordinator
            raise UPnPError(701, "Transition not available")

    @upnp("AVTransport", "SetAVTransportURI", "InstanceID CurrentURI CurrentURIMetaData")
    def _set_uri(self, args: dict[str, str]) -> dict[str, Any]:
        uri, metadata = args.get("CurrentURI", ""), args.get("CurrentURIMetaData", "")
        if uri.startswith("x-rincon:"):
            self.household.join(self.uid, uri.removeprefix("x-rincon:"))
            self.state.transport = self.coordinator.state.transport
        else:
            if not self.is_coordinator:  # a member that is given its own music leaves the group
                self.household.leave(self.uid)
            self.state.transport = "STOPPED"
            self.state.stream = None if uri.startswith("x-rincon-queue:") else parse_didl_item(metadata, uri)
        self.state.uri, self.state.uri_metadata = uri, metadata
        return {}

    @upnp("AVTransport", "Play", "InstanceID Speed")
    def _play(self, args: dict[str, str]) -> dict[str, Any]:
        self._lead_only()
        if self.state.track is None:
            raise UPnPError(701, "Transition not available")
        self.state.transport = "PLAYING"
        return {}

    @upnp("AVTransport", "Pause", "InstanceID")
    def _pause(self, args: dict[str, str]) -> dict[str, Any]:
        self._lead_only()
        if self.state.transport == "STOPPED":
            raise UPnPError(701, "Transition not available")
        self.state.transport = "PAUSED_PLAYBACK"
        return {}

    @upnp("AVTransport", "Stop", "InstanceID")
    def _stop(self, args: dict[str, str]) -> dict[str, Any]:
        self._lead_only()
        self.state.transport = "STOPPED"
        return {}

    def _skip(self, step: int) -> dict[str, Any]:
        self._lead_only()
        target = self.state.queue_index + step
        if self.state.stream is not None or not 0 <= target < len(self.state.queue):
            raise UPnPError(711, "Illegal seek target")
        self.state.queue_index = target
        return {}

    @upnp("AVTransport", "Next", "InstanceID")
    def _next(self, args: dict[str, str]) -> dict[str, Any]:
        return self._skip(1)

    @upnp("AVTransport", "Previous", "InstanceID")
    def _previous(self, args: dict[str, str]) -> dict[str, Any]:
        return self._skip(-1)

    @upnp("AVTransport", "Seek", "InstanceID Unit Target")
    def _seek(self, args: dict[str, str]) -> dict[str, Any]:
        self._lead_only()
        if args.get("Unit") == "TRACK_NR":
            target = int(args.get("Target", "0")) - 1
            if self.state.stream is not None or not 0 <= target < len(self.state.queue):
                raise UPnPError(711, "Illegal seek target")
            self.state.queue_index = target
        return {}

    @upnp("AVTransport", "GetTransportInfo", "InstanceID",
          "CurrentTransportState CurrentTransportStatus CurrentSpeed")
    def _transport_info(self, args: dict[str, str]) -> dict[str, Any]:
        return {"CurrentTransportState": self.state.transport, "CurrentTransportStatus": "OK",
                "CurrentSpeed": "1"}

    @upnp("AVTransport", "GetPositionInfo", "InstanceID",
          "Track TrackDuration TrackMetaData TrackURI RelTime AbsTime RelCount AbsCount")
    def _position_info(self, args: dict[str, str]) -> dict[str, Any]:
        track = self.state.track
        number = 0 if track is None else 1 if self.state.stream else self.state.queue_index + 1
        return {"Track": number, "TrackDuration": track.duration if track else "0:00:00",
                "TrackMetaData": (DIDL_OPEN + track_didl(track, "-1", "-1") + "</DIDL-Lite>") if track else "",
                "TrackURI": track.uri if track else "", "RelTime": "0:00:00",
                "AbsTime": "NOT_IMPLEMENTED", "RelCount": "2147483647", "AbsCount": "2147483647"}

    @upnp("AVTransport", "GetMediaInfo", "InstanceID",
          "NrTracks MediaDuration CurrentURI CurrentURIMetaData NextURI NextURIMetaData "
          "PlayMedium RecordMedium WriteStatus")
    def _media_info(self, args: dict[str, str]) -> dict[str, Any]:
        return {"NrTracks": 1 if self.state.stream else len(self.state.queue),
                "MediaDuration": "NOT_IMPLEMENTED", "CurrentURI": self.state.uri,
                "CurrentURIMetaData": self.state.uri_metadata, "NextURI": "", "NextURIMetaData": "",
                "PlayMedium": "NETWORK", "RecordMedium": "NOT_IMPLEMENTED",
                "WriteStatus": "NOT_IMPLEMENTED"}

    @upnp("AVTransport", "BecomeCoordinatorOfStandaloneGroup", "InstanceID",
          "DelegatedGroupCoordinatorID NewGroupID")
    def _standalone(self, args: dict[str, str]) -> dict[str, Any]:
        was_member = not self.is_coordinator
        delegated = self.household.leave(self.uid)
        if was_member:  # it stops playing the group's music
            self.state.transport, self.state.uri, self.state.stream = "STOPPED", self.queue_uri, None
        return {"DelegatedGroupCoordinatorID": delegated, "NewGroupID": f"{self.uid}:1"}

    @upnp("AVTransport", "AddURIToQueue",
          "InstanceID EnqueuedURI EnqueuedURIMetaData DesiredFirstTrackNumberEnqueued EnqueueAsNext",
          "FirstTrackNumberEnqueued NumTracksAdded NewQueueLength")
    def _add_to_queue(self, args: dict[str, str]) -> dict[str, Any]:
        parsed = parse_didl_item(args.get("EnqueuedURIMetaData", ""), args.get("EnqueuedURI", ""))
        track = Track(parsed.title, parsed.artist, parsed.uri, duration="0:03:00")
        wanted = int(args.get("DesiredFirstTrackNumberEnqueued") or 0)
        position = wanted - 1 if 0 < wanted <= len(self.state.queue) else len(self.state.queue)
        self.state.queue.insert(position, track)
        return {"FirstTrackNumberEnqueued": position + 1, "NumTracksAdded": 1,
                "NewQueueLength": len(self.state.queue)}

    @upnp("AVTransport", "RemoveAllTracksFromQueue", "InstanceID")
    def _clear_queue(self, args: dict[str, str]) -> dict[str, Any]:
        self.state.queue.clear()
        self.state.queue_index = 0
        if self.state.stream is None:
            self.state.transport = "STOPPED"
        return {}

    # -- RenderingControl -----------------------------------------------------------------
    @upnp("RenderingControl", "GetVolume", "InstanceID Channel", "CurrentVolume")
    def _get_volume(self, args: dict[str, str]) -> dict[str, Any]:
        return {"CurrentVolume": self.state.volume}

    @upnp("RenderingControl", "SetVolume", "InstanceID Channel DesiredVolume")
    def _set_volume(self, args: dict[str, str]) -> dict[str, Any]:
        volume = _int_arg(args, "DesiredVolume")
        if not 0 <= volume <= 100:
            raise UPnPError(601, "Argument Value Out of Range")
        self.state.volume = volume
        return {}

    @upnp("RenderingControl", "SetRelativeVolume", "InstanceID Channel Adjustment", "NewVolume")
    def _relative_volume(self, args: dict[str, str]) -> dict[str, Any]:
        self.state.volume = max(0, min(100, self.state.volume + _int_arg(args, "Adjustment")))
        return {"NewVolume": self.state.volume}

    @upnp("RenderingControl", "GetMute", "InstanceID Channel", "CurrentMute")
    def _get_mute(self, args: dict[str, str]) -> dict[str, Any]:
        return {"CurrentMute": int(self.state.mute)}

    @upnp("RenderingControl", "SetMute", "InstanceID Channel DesiredMute")
    def _set_mute(self, args: dict[str, str]) -> dict[str, Any]:
        self.state.mute = args.get("DesiredMute", "0").lower() in ("1", "true")
        return {}

    # -- ZoneGroupTopology and DeviceProperties -------------------------------------------
    @upnp("ZoneGroupTopology", "GetZoneGroupState", "", "ZoneGroupState")
    def _zone_group_state(self, args: dict[str, str]) -> dict[str, Any]:
        return {"ZoneGroupState": self.household.zone_group_state()}

    @upnp("ZoneGroupTopology", "GetZoneGroupAttributes", "",
          "CurrentZoneGroupName CurrentZoneGroupID CurrentZonePlayerUUIDsInGroup "
          "CurrentMuseHouseholdId")
    def _zone_group_attributes(self, args: dict[str, str]) -> dict[str, Any]:
        leader = self.coordinator
        return {"CurrentZoneGroupName": leader.room, "CurrentZoneGroupID": f"{leader.uid}:1",
                "CurrentZonePlayerUUIDsInGroup": ",".join(s.uid for s in self.household.members(leader.uid)),
                "CurrentMuseHouseholdId": self.household.household_id}

    @upnp("DeviceProperties", "GetHouseholdID", "", "CurrentHouseholdID")
    def _household_id(self, args: dict[str, str]) -> dict[str, Any]:
        return {"CurrentHouseholdID": self.household.household_id}

    @upnp("DeviceProperties", "GetZoneAttributes", "",
          "CurrentZoneName CurrentIcon CurrentConfiguration CurrentTargetRoomName")
    def _zone_attributes(self, args: dict[str, str]) -> dict[str, Any]:
        return {"CurrentZoneName": self.room, "CurrentIcon": "x-rincon-roomicon:living",
                "CurrentConfiguration": "1", "CurrentTargetRoomName": self.room}

    # -- ContentDirectory -----------------------------------------------------------------
    @upnp("ContentDirectory", "Browse",
          "ObjectID BrowseFlag Filter StartingIndex RequestedCount SortCriteria",
          "Result NumberReturned TotalMatches UpdateID")
    def _browse(self, args: dict[str, str]) -> dict[str, Any]:
        object_id = args.get("ObjectID", "")
        if object_id == "FV:2":
            items = [favorite_didl(t, u, n) for n, (t, u) in enumerate(self.favorites, start=1)]
        elif object_id == "Q:0":
            items = [track_didl(t, f"Q:0/{n}", "Q:0") for n, t in enumerate(self.state.queue, start=1)]
        else:
            raise UPnPError(701, "No such object")
        start = _int_arg(args, "StartingIndex")
        count = _int_arg(args, "RequestedCount") or len(items)
        page = items[start:start + count]
        return {"Result": DIDL_OPEN + "".join(page) + "</DIDL-Lite>", "NumberReturned": len(page),
                "TotalMatches": len(items), "UpdateID": 1}


def _int_arg(args: dict[str, str], name: str) -> int:
    try:
        return int(args.get(name) or 0)
    except ValueError:
        raise UPnPError(402, "Invalid Args") from None
