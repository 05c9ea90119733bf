"""How fast does Claw find a home of 10 devices? (target: all found within 2 s)

Run as root from the repo root: `.venv/bin/python bench/discovery.py [--runs N]`.
It makes its own network namespace (real multicast, never on the host's LAN), advertises
an emulated home there from one process (6 mDNS-only devices, 4 Sonos speakers over SSDP, 2
of them also over mDNS, plus 2 devices that are not ours), and times, each in a fresh
process, `Discovery.start()` until all 10 are reported. Baseline: `soco.discover()` (Sonos
only) in the same namespace, against minimal speaker stand-ins.
"""
from __future__ import annotations

import argparse
import asyncio
import http.server
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devices.advertise import Advertiser  # noqa: E402
from devices.discovery import Discovery, Found  # noqa: E402
from tests import netns  # noqa: E402

ZONEPLAYER = "urn:schemas-upnp-org:device:ZonePlayer:1"
SPEAKERS = ["127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.24"]
HOME: dict[str, list[list[Any]]] = {
    "mdns": [
        ["_hue._tcp.local.", "Hall bridge", "127.0.0.31", 80, {"bridgeid": "001788fffe23bf47"}],
        ["_shelly._tcp.local.", "shellyplus1-a8032ab1", "127.0.0.41", 80,
         {"id": "shellyplus1-a8032ab1", "gen": "2"}],
        ["_http._tcp.local.", "shellyplug-s-C8C9A3", "127.0.0.42", 80, {}],
        ["_wled._tcp.local.", "Desk strip", "127.0.0.51", 80, {"mac": "a8032ab1c2d3"}],
        ["_home-assistant._tcp.local.", "Home", "127.0.0.61", 8123, {"uuid": "0a1b2c"}],
        ["_claw-camera._tcp.local.", "Porch camera", "127.0.0.71", 8080, {"id": "porch"}],
        ["_sonos._tcp.local.", "Sonos-Study", SPEAKERS[0], 1400, {}],
        ["_sonos._tcp.local.", "Sonos-Kitchen", SPEAKERS[1], 1400, {}],
        ["_http._tcp.local.", "Printer", "127.0.0.81", 80, {}],  # not ours
    ],
    "ssdp": [
        *([ZONEPLAYER, f"uuid:RINCON_BENCH{i}01400::{ZONEPLAYER}",
           f"http://{host}:1400/xml/device_description.xml",
           {"SERVER": "Linux UPnP/1.0 Sonos/70.3-35220 (ZPS1)"}]
          for i, host in enumerate(SPEAKERS)),
        ["urn:schemas-upnp-org:device:MediaRenderer:1",  # not ours
         "uuid:tv::urn:schemas-upnp-org:device:MediaRenderer:1", "http://127.0.0.91:8060/", {}],
    ],
}
DEVICES = 10
TARGET_S = 2.0


def refuse_root_namespace() -> None:
    if not netns.only_loopback():
        sys.exit("refusing to multicast where a network interface other than lo exists: run "
                 "bench/discovery.py as a script, it makes its own namespace")


async def serve() -> None:
    """Advertise HOME on loopback (inside the namespace) until killed (at most 10 min)."""
    refuse_root_namespace()
    adv = Advertiser("127.0.0.1")
    await adv.start()
    await asyncio.gather(*(adv.add_mdns(*a) for a in HOME["mdns"]),
                         *(adv.add_ssdp(*a) for a in HOME["ssdp"]))
    print("ready", flush=True)
    await asyncio.sleep(600)


async def measure_claw() -> dict[str, Any]:
    """Seconds from start() to the first device and to all DEVICES, and what was found."""
    refuse_root_namespace()
    found: list[tuple[float, Found]] = []
    done = asyncio.Event()
    t0 = time.perf_counter()

    def on_found(f: Found) -> None:
        found.append((time.perf_counter() - t0, f))
        if len(found) == DEVICES:
            done.set()

    discovery = Discovery(["127.0.0.1"], on_found, lambda key: None)
    t0 = time.perf_counter()
    await discovery.start()
    await asyncio.wait_for(done.wait(), 10)
    await asyncio.sleep(0.5)  # anything reported late or twice would show in the count
    await discovery.stop()
    return {"first": found[0][0], "all": found[DEVICES - 1][0], "count": len(found),
            "first_mdns": min(t for t, f in found if f.source == "mdns"),
            "first_ssdp": min(t for t, f in found if f.source == "ssdp")}


def measure_soco() -> dict[str, Any]:
    """Seconds soco.discover takes to return the speakers, against speaker stand-ins."""
    refuse_root_namespace()
    import soco

    from tests.test_discovery import SonosStub

    servers = [http.server.ThreadingHTTPServer((host, 1400), SonosStub) for host in SPEAKERS]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    t0 = time.perf_counter()
    zones = soco.discover(interface_addr="127.0.0.1")  # default timeout: 5 s
    elapsed = time.perf_counter() - t0
    for server in servers:
        server.shutdown()
    return {"seconds": elapsed, "zones": len(zones or ())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with netns.namespace() as ns, netns.background_in(ns, "bench.discovery", "serve"):
        claw = []
        for _ in range(runs):
            time.sleep(3)  # after the announcements; responders answer a record at most once a second
            claw.append(netns.run_in(ns, "bench.discovery", "measure_claw"))
        base = [netns.run_in(ns, "bench.discovery", "measure_soco") for _ in range(runs)]

    print(f"\nDiscovery of an emulated home of {DEVICES} devices (6 over mDNS only, 4 Sonos over"
          " SSDP of which 2 also over mDNS, plus 2 devices not ours)\nin a private network "
          "namespace; each run is a fresh process\n")
    print(f"{'run':>4} | {'first mDNS':>10} | {'first SSDP':>10} | {'all found':>9} | reports")
    for i, r in enumerate(claw, 1):
        print(f"{i:>4} | {r['first_mdns']:>9.3f}s | {r['first_ssdp']:>9.3f}s | "
              f"{r['all']:>8.3f}s | {r['count']}")
    median_all = statistics.median(r["all"] for r in claw)
    median_soco = statistics.median(r["seconds"] for r in base)
    print(f"\n{'':34}{'median':>10}{'max':>10}")
    print(f"{'Claw Discovery, all 10 devices':34}{median_all:>9.3f}s"
          f"{max(r['all'] for r in claw):>9.3f}s")
    print(f"{'soco.discover(), Sonos only':34}{median_soco:>9.3f}s"
          f"{max(r['seconds'] for r in base):>9.3f}s   ({base[0]['zones']} zone per stand-in;"
          " it returns on the first answer)")
    print(f"{'soco.discover() timeout (no answer)':34}{5.0:>9.3f}s")
    verdict = "OK" if median_all <= TARGET_S and all(r["count"] == DEVICES for r in claw) \
        else "MISSED"
    print(f"\ntarget: all {DEVICES} found, each once, within {TARGET_S:.0f} s -> {verdict}")


if __name__ == "__main__":
    main()
