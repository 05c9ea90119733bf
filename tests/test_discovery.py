"""Discovery over real mDNS and SSDP multicast, only inside network namespaces made here.

Each test makes a namespace (tests/netns.py), runs one of the `scenario_*` coroutines below
inside it as a subprocess, and checks the events it returns. Advertised devices come from
`devices.advertise` (python-zeroconf and our SSDP responder); one test checks our responder
against real `soco.discover`.
"""
from __future__ import annotations

import asyncio
import http.server
import threading
import time
from dataclasses import asdict
from typing import Any, Callable
from xml.sax.saxutils import escape

import pytest

from devices import manifest
from devices.advertise import Advertiser
from devices.discovery import Discovery, Found, parse_ssdp
from tests import netns

ZONEPLAYER = "urn:schemas-upnp-org:device:ZonePlayer:1"
SONOS_SERVER = "Linux UPnP/1.0 Sonos/70.3-35220 (ZPS1)"
MODULE = "tests.test_discovery"


def sonos_ssdp(uid: str, host: str, port: int = 1400) -> list[Any]:
    """add_ssdp arguments for a Sonos speaker."""
    return [ZONEPLAYER, f"uuid:{uid}::{ZONEPLAYER}",
            f"http://{host}:{port}/xml/device_description.xml", {"SERVER": SONOS_SERVER}]


# --- code that runs inside the namespaces ------------------------------------------------

class Recorder:
    """Collects on_found/on_lost events; waits for conditions with a bound."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.t0 = time.monotonic()

    def found(self, f: Found) -> None:
        d = asdict(f)
        d.pop("properties")
        self.events.append({"event": "found", "t": time.monotonic() - self.t0, **d})

    async def found_async(self, f: Found) -> None:  # on_found may be a coroutine too
        await asyncio.sleep(0)
        self.found(f)

    def lost(self, key: str) -> None:
        self.events.append({"event": "lost", "t": time.monotonic() - self.t0, "key": key})

    def count(self, event: str) -> int:
        return sum(e["event"] == event for e in self.events)

    async def wait(self, condition: Callable[[], bool], timeout: float) -> None:
        for _ in range(int(timeout / 0.02)):
            if condition():
                return
            await asyncio.sleep(0.02)


async def advertise(adv: Advertiser, spec: dict[str, Any]) -> None:
    await asyncio.gather(*(adv.add_mdns(*a) for a in spec.get("mdns", [])),
                         *(adv.add_ssdp(*a) for a in spec.get("ssdp", [])))


async def serve_home(spec: dict[str, Any]) -> None:
    """Advertise `spec` on spec["interface"], print "ready", then stay up (bounded)."""
    adv = Advertiser(spec["interface"])
    await adv.start()
    await advertise(adv, spec)
    print("ready", flush=True)
    await asyncio.sleep(spec.get("seconds", 30))
    await adv.stop()


async def collect(interfaces: list[str], expect: int, timeout: float) -> list[dict[str, Any]]:
    """Run Discovery until `expect` devices are found (or `timeout`), plus a short grace
    period in which anything extra would be (wrongly) reported."""
    rec = Recorder()
    discovery = Discovery(interfaces, rec.found, rec.lost)
    await discovery.start()
    await rec.wait(lambda: rec.count("found") >= expect, timeout)
    await asyncio.sleep(0.5)
    await discovery.stop()
    return rec.events


async def scenario_mdns() -> list[dict[str, Any]]:
    adv = Advertiser("127.0.0.1")
    await adv.start()
    await advertise(adv, {"mdns": [
        ["_sonos._tcp.local.", "Sonos-Study", "127.0.0.21", 1400, {}],
        ["_hue._tcp.local.", "Hall bridge", "127.0.0.31", 8031,
         {"bridgeid": "001788fffe23bf47", "modelid": "BSB002"}],
        ["_http._tcp.local.", "shelly1-A8032AB1", "127.0.0.41", 8041, {}],
        ["_http._tcp.local.", "Printer web page", "127.0.0.51", 80, {}],  # not ours
        ["_ipp._tcp.local.", "Printer", "127.0.0.51", 631, {}],  # not ours
    ]})
    events = await collect(["127.0.0.1"], expect=3, timeout=5)
    await adv.stop()
    return events


async def scenario_ssdp() -> list[dict[str, Any]]:
    adv = Advertiser("127.0.0.1")
    await adv.start()
    await advertise(adv, {"ssdp": [
        sonos_ssdp("RINCON_000E58A0B1C201400", "127.0.0.22"),
        ["urn:schemas-upnp-org:device:MediaRenderer:1",  # not ours
         "uuid:tv-1::urn:schemas-upnp-org:device:MediaRenderer:1",
         "http://127.0.0.61:8060/dial.xml", {}],
    ]})
    events = await collect(["127.0.0.1"], expect=1, timeout=5)
    await adv.stop()
    return events


async def scenario_arrive_and_leave() -> list[dict[str, Any]]:
    """Devices that appear after discovery started, then leave politely."""
    rec = Recorder()
    # A long search interval: arrivals must be noticed from announcements, not searches.
    discovery = Discovery(["127.0.0.1"], rec.found_async, rec.lost, ssdp_interval=60)
    await discovery.start()
    adv = Advertiser("127.0.0.1")
    await adv.start()
    hue = await adv.add_mdns("_hue._tcp.local.", "Hall bridge", "127.0.0.31", 8031,
                             {"bridgeid": "001788fffe23bf47"})
    sonos = await adv.add_ssdp(*sonos_ssdp("RINCON_000E58A0B1C301400", "127.0.0.23"))
    await rec.wait(lambda: rec.count("found") >= 2, 5)
    rec.events.append({"event": "removing"})
    await adv.remove(hue)
    await adv.remove(sonos)
    await rec.wait(lambda: rec.count("lost") >= 2, 5)
    await discovery.stop()
    await adv.stop()
    return rec.events


async def scenario_both_protocols() -> list[dict[str, Any]]:
    """One speaker announced over mDNS and SSDP: found once, lost when both are gone."""
    adv = Advertiser("127.0.0.1")
    await adv.start()
    mdns = await adv.add_mdns("_sonos._tcp.local.", "Sonos-Kitchen", "127.0.0.24", 1400, {})
    ssdp = await adv.add_ssdp(*sonos_ssdp("RINCON_000E58A0B1C401400", "127.0.0.24"))
    rec = Recorder()
    discovery = Discovery(["127.0.0.1"], rec.found, rec.lost)
    await discovery.start()
    await rec.wait(lambda: rec.count("found") >= 1, 5)
    # The second sighting: mDNS answers a question by multicast, up to a second late when the
    # service was announced within the last second (RFC 6762 section 14).
    await asyncio.sleep(1.5)
    rec.events.append({"event": "removing mdns"})
    await adv.remove(mdns)
    await asyncio.sleep(0.5)
    rec.events.append({"event": "removing ssdp"})
    await adv.remove(ssdp)
    await rec.wait(lambda: rec.count("lost") >= 1, 5)
    await discovery.stop()
    await adv.stop()
    return rec.events


async def scenario_moved() -> list[dict[str, Any]]:
    """A speaker that comes back at another address is reported again, under the same key."""
    adv = Advertiser("127.0.0.1")
    await adv.start()
    rec = Recorder()
    discovery = Discovery(["127.0.0.1"], rec.found, rec.lost)
    await discovery.start()
    await adv.add_ssdp(*sonos_ssdp("RINCON_000E58A0B1C701400", "127.0.0.27"))
    await rec.wait(lambda: rec.count("found") >= 1, 5)
    await adv.add_ssdp(*sonos_ssdp("RINCON_000E58A0B1C701400", "127.0.0.28", 1401))
    await rec.wait(lambda: rec.count("found") >= 2, 5)
    await asyncio.sleep(0.3)
    await discovery.stop()
    await adv.stop()
    return rec.events


async def scenario_ssdp_silent() -> list[dict[str, Any]]:
    """A speaker whose process dies (no byebye) is lost after three silent search rounds."""
    rec = Recorder()
    discovery = Discovery(["127.0.0.1"], rec.found, rec.lost, ssdp_interval=0.3)
    await discovery.start()
    spec = {"interface": "127.0.0.1", "seconds": 20,
            "ssdp": [sonos_ssdp("RINCON_000E58A0B1C501400", "127.0.0.25")]}
    with netns.background_in(None, MODULE, "serve_home", spec):
        await rec.wait(lambda: rec.count("found") >= 1, 5)
        await asyncio.sleep(1.2)  # several more rounds answered: still there
        rec.events.append({"event": "killed", "t": time.monotonic() - rec.t0})
    await rec.wait(lambda: rec.count("lost") >= 1, 5)
    await discovery.stop()
    return rec.events


class SonosStub(http.server.BaseHTTPRequestHandler):
    """Just enough of a speaker for soco.discover: household id and zone group state
    (SOAP), and the service descriptions soco reads before calling them."""

    SCPD = {"/xml/DeviceProperties1.xml": ("GetHouseholdID", "CurrentHouseholdID"),
            "/xml/ZoneGroupTopology1.xml": ("GetZoneGroupState", "ZoneGroupState")}

    def do_GET(self) -> None:  # noqa: N802
        action, out = self.SCPD[self.path]
        self._reply(
            '<scpd xmlns="urn:schemas-upnp-org:service-1-0"><actionList><action>'
            f"<name>{action}</name><argumentList><argument><name>{out}</name>"
            "<direction>out</direction><relatedStateVariable>S</relatedStateVariable>"
            "</argument></argumentList></action></actionList><serviceStateTable>"
            '<stateVariable sendEvents="no"><name>S</name><dataType>string</dataType>'
            "</stateVariable></serviceStateTable></scpd>")

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers["Content-Length"]))
        action = self.headers["SOAPACTION"].strip('"').split("#")[1]
        host, port = self.server.server_address[:2]
        zgs = (f'<ZoneGroupState><ZoneGroups><ZoneGroup Coordinator="RINCON_STUB01400" '
               f'ID="RINCON_STUB01400:1"><ZoneGroupMember UUID="RINCON_STUB01400" '
               f'Location="http://{host}:{port}/xml/device_description.xml" ZoneName="Study" '
               f'BootSeq="3" Configuration="1" SoftwareVersion="70.3-35220"/></ZoneGroup>'
               f'</ZoneGroups><VanishedDevices/></ZoneGroupState>')
        result = {"GetHouseholdID": ("DeviceProperties", "<CurrentHouseholdID>Sonos_stub"
                                     "</CurrentHouseholdID>"),
                  "GetZoneGroupState": ("ZoneGroupTopology",
                                        f"<ZoneGroupState>{escape(zgs)}</ZoneGroupState>")}
        service, body = result[action]
        xml = ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
               's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
               f'<u:{action}Response xmlns:u="urn:schemas-upnp-org:service:{service}:1">'
               f'{body}</u:{action}Response></s:Body></s:Envelope>')
        self._reply(xml)

    def _reply(self, text: str) -> None:
        xml = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", 'text/xml; charset="utf-8"')
        self.send_header("Content-Length", str(len(xml)))
        self.end_headers()
        self.wfile.write(xml)

    def log_message(self, *args: Any) -> None:
        pass


async def scenario_soco() -> list[list[str]]:
    """Real soco.discover finds a speaker through our SSDP responder."""
    server = http.server.ThreadingHTTPServer(("127.0.0.26", 1400), SonosStub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    adv = Advertiser("127.0.0.1")
    await adv.start()
    await adv.add_ssdp(*sonos_ssdp("RINCON_STUB01400", "127.0.0.26"))

    def discover() -> list[list[str]]:
        import soco
        zones = soco.discover(timeout=3, interface_addr="127.0.0.1") or set()
        return [[z.ip_address, z.player_name] for z in zones]

    zones = await asyncio.to_thread(discover)
    await adv.stop()
    server.shutdown()
    return zones


# --- the tests ---------------------------------------------------------------------------

def found(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["key"]: e for e in events if e["event"] == "found"}


def test_manifest_matching() -> None:
    assert manifest.match_mdns("_hue._tcp.local.", "Hall bridge._hue._tcp.local.", {}) == "hue"
    assert manifest.match_mdns("_http._tcp.local.", "Shelly1-AB._http._tcp.local.", {}) == "shelly"
    assert manifest.match_mdns("_http._tcp.local.", "printer._http._tcp.local.", {}) is None
    assert manifest.match_mdns("_ipp._tcp.local.", "x._ipp._tcp.local.", {}) is None
    assert manifest.match_ssdp({"ST": ZONEPLAYER, "USN": "uuid:x"}) == "sonos"
    assert manifest.match_ssdp({"nt": ZONEPLAYER, "nts": "ssdp:alive"}) == "sonos"
    assert manifest.match_ssdp({"ST": "upnp:rootdevice"}) is None
    assert "_claw-camera._tcp.local." in manifest.mdns_types()
    assert manifest.ssdp_targets() == [ZONEPLAYER]


def test_parse_ssdp_accepts_both_line_endings() -> None:
    for eol in ("\r\n", "\n"):
        start, headers = parse_ssdp(eol.join(
            ["M-SEARCH * HTTP/1.1", "HOST: 239.255.255.250:1900", 'MAN: "ssdp:discover"',
             "MX: 1", f"ST: {ZONEPLAYER}", "", ""]).encode())
        assert start == "M-SEARCH * HTTP/1.1"
        assert headers == {"host": "239.255.255.250:1900", "man": '"ssdp:discover"',
                           "mx": "1", "st": ZONEPLAYER}


def test_mdns_services_found_and_others_ignored() -> None:
    with netns.namespace() as ns:
        events = netns.run_in(ns, MODULE, "scenario_mdns")
    devices = found(events)
    assert {k: (d["family"], d["host"], d["port"], d["source"]) for k, d in devices.items()} == {
        "sonos:Sonos-Study": ("sonos", "127.0.0.21", 1400, "mdns"),
        "hue:001788fffe23bf47": ("hue", "127.0.0.31", 8031, "mdns"),
        "shelly:shelly1-A8032AB1": ("shelly", "127.0.0.41", 8041, "mdns"),
    }
    assert len(events) == 3, events  # each once, nothing lost, the printer never reported


def test_ssdp_search_finds_zoneplayer() -> None:
    with netns.namespace() as ns:
        events = netns.run_in(ns, MODULE, "scenario_ssdp")
    assert [(e["event"], e["key"], e["family"], e["host"], e["port"], e["source"], e["name"])
            for e in events] == [("found", "sonos:RINCON_000E58A0B1C201400", "sonos",
                                  "127.0.0.22", 1400, "ssdp", "RINCON_000E58A0B1C201400")]


def test_new_devices_appear_and_leave() -> None:
    with netns.namespace() as ns:
        events = netns.run_in(ns, MODULE, "scenario_arrive_and_leave")
    keys = {"hue:001788fffe23bf47", "sonos:RINCON_000E58A0B1C301400"}
    assert [e["event"] for e in events] == ["found", "found", "removing", "lost", "lost"], events
    assert {e["key"] for e in events[:2]} == keys and {e["key"] for e in events[3:]} == keys


def test_device_seen_by_mdns_and_ssdp_reported_once() -> None:
    with netns.namespace() as ns:
        events = netns.run_in(ns, MODULE, "scenario_both_protocols")
    kinds = [e["event"] for e in events]
    # Found once; still there after the mDNS goodbye; lost only after the SSDP byebye.
    assert kinds == ["found", "removing mdns", "removing ssdp", "lost"], events
    assert events[0]["host"] == "127.0.0.24" and events[0]["port"] == 1400
    assert events[3]["key"] == events[0]["key"]


def test_device_at_a_new_address_is_reported_again() -> None:
    with netns.namespace() as ns:
        events = netns.run_in(ns, MODULE, "scenario_moved")
    assert [(e["event"], e["key"], e["host"], e["port"]) for e in events] == [
        ("found", "sonos:RINCON_000E58A0B1C701400", "127.0.0.27", 1400),
        ("found", "sonos:RINCON_000E58A0B1C701400", "127.0.0.28", 1401)]


def test_silent_ssdp_device_is_lost_after_three_intervals() -> None:
    with netns.namespace() as ns:
        events = netns.run_in(ns, MODULE, "scenario_ssdp_silent")
    assert [e["event"] for e in events] == ["found", "killed", "lost"], events
    assert events[2]["key"] == "sonos:RINCON_000E58A0B1C501400"
    # Not after the first missed round (0.3 s) but after three (0.9 s, checked every 0.3 s).
    assert events[2]["t"] - events[1]["t"] > 0.6


def test_soco_discover_finds_our_ssdp_responder() -> None:
    with netns.namespace() as ns:
        zones = netns.run_in(ns, MODULE, "scenario_soco")
    assert zones == [["127.0.0.26", "Study"]]


def test_two_hosts_over_veth() -> None:
    spec = {"interface": "10.77.0.1", "seconds": 20,
            "mdns": [["_hue._tcp.local.", "Hall bridge", "10.77.0.1", 80,
                      {"bridgeid": "001788fffe23bf48"}]],
            "ssdp": [sonos_ssdp("RINCON_000E58A0B1C601400", "10.77.0.1")]}
    with netns.namespace() as home, netns.namespace() as claw:
        _, claw_if = netns.link(home, "10.77.0.1/24", claw, "10.77.0.2/24")
        with netns.background_in(home, MODULE, "serve_home", spec):
            # By interface name: discovery resolves it to 10.77.0.2.
            events = netns.run_in(claw, MODULE, "collect", [claw_if], 2, 5)
    assert {(e["key"], e["host"], e["port"]) for e in events} == {
        ("hue:001788fffe23bf48", "10.77.0.1", 80),
        ("sonos:RINCON_000E58A0B1C601400", "10.77.0.1", 1400)}
    assert len(events) == 2


@pytest.fixture(autouse=True)
def _no_leftover_namespaces():
    yield
    assert not netns.leftovers()
