"""Discovery beside another mDNS program on the same host (the emulated house in `claw demo`,
avahi): every device is found on the first question, and a resolve that goes unanswered is
asked again. In a network namespace made here, as every multicast test.

A unicast answer to port 5353 reaches only one of the sockets bound to it (SO_REUSEPORT picks
one by a hash of the addresses, fixed per namespace). Extra sockets in that group stand for
"another program": with answers by unicast, Claw would get them in only 1 of 9 namespaces.
"""
from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

from zeroconf import DNSIncoming

from devices import discovery
from devices.advertise import Advertiser
from devices.discovery import Discovery, Found
from tests import netns

MODULE = "tests.test_discovery_shared_port"
TYPE = "_wled._tcp.local."
DEVICES = 5
OTHER_PROGRAM_SOCKETS = 7


def _bound_to_mdns(addr: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((addr, 5353))
    return sock


class QueryLog(asyncio.DatagramProtocol):
    """When each mDNS question for TYPE went out (as seen on the group)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        msg = DNSIncoming(data)
        if msg.is_query() and any(q.name == TYPE for q in msg.questions):
            self.times.append(time.monotonic())


async def scenario_shared_port(slow_devices: int, failing_resolves: int) -> dict[str, Any]:
    assert netns.only_loopback()
    others = [_bound_to_mdns("127.0.0.1") for _ in range(OTHER_PROGRAM_SOCKETS)]
    sniffer = _bound_to_mdns("224.0.0.251")
    sniffer.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                       socket.inet_aton("224.0.0.251") + socket.inet_aton("127.0.0.1"))
    sniffer.setblocking(False)
    queries = QueryLog()
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(lambda: queries, sock=sniffer)
    advertiser = Advertiser("127.0.0.1")
    await advertiser.start()
    await asyncio.gather(*(advertiser.add_mdns(TYPE, f"Strip {n}", "127.0.0.1", 8000 + n,
                                               {"mac": f"aabbccddee{n:02x}"}) for n in range(DEVICES)))
    await asyncio.sleep(2)  # past the registrations' own announcements: only answers count

    refused: dict[str, int] = {}
    real = discovery.AsyncServiceInfo

    slow = {f"Strip {n}.{TYPE}" for n in range(slow_devices)}

    class Unanswered(real):  # type: ignore[misc, valid-type]
        """The first `failing_resolves` tries of a slow device time out (busy at boot)."""

        async def async_request(self, *args: Any, **kwargs: Any) -> bool:
            refused[self.name] = refused.get(self.name, 0) + 1
            if self.name in slow and refused[self.name] <= failing_resolves:
                return False
            return await super().async_request(*args, **kwargs)

    discovery.AsyncServiceInfo = Unanswered
    found: dict[str, float] = {}  # instance name -> when

    def on_found(f: Found) -> None:
        found[f.name] = time.monotonic()

    finder = Discovery(["127.0.0.1"], on_found, lambda key: None, ssdp_interval=60)
    started = time.monotonic()
    await finder.start()
    deadline = time.monotonic() + 10
    while len(found) < DEVICES and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await finder.stop()
    await advertiser.stop()
    transport.close()
    for sock in others:
        sock.close()
    prompt = [t for name, t in found.items() if name.removeprefix("Strip ").isdigit()
              and int(name.removeprefix("Strip ")) >= slow_devices]
    last_prompt = max(prompt, default=None)
    return {"found": len(found),
            # questions for the type sent until the last device that answers at once was found
            "questions": sum(started < t < last_prompt for t in queries.times) if last_prompt else None,
            "tries": {name.removesuffix("." + TYPE): n for name, n in sorted(refused.items())}}


def test_every_device_is_found_on_the_first_question_and_a_slow_one_is_asked_again():
    # Fresh namespaces: each hashes the addresses differently. Strips 0 and 1 do not answer the
    # first resolve (busy at boot); the others answer at once.
    for _ in range(2):
        with netns.namespace() as ns:
            r = netns.run_in(ns, MODULE, "scenario_shared_port", 2, 1, timeout=30)
        assert r["found"] == DEVICES, r
        assert r["questions"] == 1, r  # found on the first question, not rescued by the second
        assert r["tries"] == {"Strip 0": 2, "Strip 1": 2, "Strip 2": 1, "Strip 3": 1, "Strip 4": 1}, r
