"""A TP-Link Kasa device on loopback: the legacy ("IOT", XOR) protocol, as python-kasa speaks it.

Requests and answers are JSON, "encrypted" with TP-Link's XOR autokey cipher (key 171, each
byte's cipher text is the next key). Over TCP each message carries a 4-byte big-endian length
first; discovery is the same cipher without the length, over UDP, answered from the port it
was sent to. python-kasa fixes both at 9999 for these devices and takes another `port=` (the
emulator serves TCP and UDP on the same port number, so tests use any free one).

Kinds: a plug (HS110-like, with an energy meter), a strip (KP303-like, one relay per outlet)
and a colour bulb (KL130-like, the `smartlife.iot.smartbulb.lightingservice` service). The
answers follow python-kasa's recorded fixtures of those models; modules the emulator does not
have answer "module not support" as real devices do. Not covered: the newer protocols (KLAP
over HTTP on port 80, AES and the Tapo "smart" protocol, discovery on UDP 20002), which need
TP-Link cloud credentials, nor schedules, countdowns or cloud settings.

Fault for tests: `fail = "offline"` drops each connection and ignores discovery; `fail =
"slow"` takes requests and never answers.
"""
from __future__ import annotations

import asyncio
import json
import socket
import struct
from typing import Any, Self

XOR_KEY = 171
NOT_SUPPORTED = {"err_code": -1, "err_msg": "module not support"}
LIGHT_SERVICE = "smartlife.iot.smartbulb.lightingservice"


def encrypt(text: str) -> bytes:
    key, out = XOR_KEY, bytearray()
    for byte in text.encode():
        key ^= byte
        out.append(key)
    return bytes(out)


def decrypt(data: bytes) -> str:
    key, out = XOR_KEY, bytearray()
    for byte in data:
        out.append(key ^ byte)
        key = byte
    return out.decode()


class KasaEmulator:
    def __init__(self, kind: str = "plug", alias: str = "Pool Pump", host: str = "127.0.0.1",
                 port: int = 0, mac: str = "50:C7:BF:00:00:01", outlets: tuple[str, ...] = (),
                 power_w: float = 120.0, broadcast: str | None = None,
                 marks: dict[str, str] | None = None) -> None:
        if kind not in ("plug", "strip", "bulb"):
            raise ValueError(f"kind is plug, strip or bulb, not {kind!r}")
        self.kind, self.alias, self.host, self.port, self.mac = kind, alias, host, port, mac
        self.power_w = power_w  # what the plug draws while on
        self.relay_state = 0
        self.outlets = [{"id": f"{mac.replace(':', '')}{i:02d}", "alias": name, "state": 0, "on_time": 0,
                         "next_action": {"type": -1}} for i, name in enumerate(outlets or ("Outlet 1", "Outlet 2"))]
        self.light = {"on_off": 0, "mode": "normal", "hue": 0, "saturation": 0, "color_temp": 2700,
                      "brightness": 100}
        # Where it also hears discovery broadcasts (many devices share that address and port),
        # when `host` is an address of its own rather than the wildcard.
        self.broadcast = broadcast
        self.marks = dict(marks or {})  # extra system info keys (an emulated house's id, area)
        self.fail: str | None = None
        self.requests: list[dict[str, Any]] = []  # every request, for tests
        self._server: asyncio.Server | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._heard: asyncio.DatagramTransport | None = None  # the broadcast listener
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()  # one per open connection

    # -- what it says ----------------------------------------------------------------------
    def sysinfo(self) -> dict[str, Any]:
        common = {**self.marks, "alias": self.alias, "deviceId": "8006" + self.mac.replace(":", "") * 3, "err_code": 0,
                  "hwId": "0" * 32, "oemId": "0" * 32, "hw_ver": "1.0", "rssi": -60, "latitude_i": 0,
                  "longitude_i": 0, "updating": 0, "led_off": 0}
        if self.kind == "plug":
            return {**common, "type": "IOT.SMARTPLUGSWITCH", "model": "HS110(EU)", "mac": self.mac,
                    "dev_name": "Wi-Fi Smart Plug With Energy Monitoring", "feature": "TIM:ENE",
                    "sw_ver": "1.2.5 Build 171213 Rel.101523", "relay_state": self.relay_state,
                    "on_time": 0, "active_mode": "none", "icon_hash": ""}
        if self.kind == "strip":
            return {**common, "mic_type": "IOT.SMARTPLUGSWITCH", "model": "KP303(UK)", "mac": self.mac,
                    "feature": "TIM", "sw_ver": "1.0.3 Build 191105 Rel.113122", "status": "new",
                    "child_num": len(self.outlets), "children": [dict(o) for o in self.outlets],
                    "ntc_state": 0}
        light_state = dict(self.light)
        if not light_state["on_off"]:  # an off bulb reports the state it will turn on to
            light_state = {"on_off": 0, "dft_on_state": {k: v for k, v in self.light.items() if k != "on_off"}}
        return {**common, "mic_type": "IOT.SMARTBULB", "model": "KL130(EU)", "mic_mac": self.mac.replace(":", ""),
                "description": "Smart Wi-Fi LED Bulb with Color Changing", "sw_ver": "1.8.8 Build 190613 Rel.123436",
                "is_color": 1, "is_dimmable": 1, "is_variable_color_temp": 1, "is_factory": False,
                "dev_state": "normal", "active_mode": "none", "disco_ver": "1.0",
                "ctrl_protocols": {"name": "Linkie", "version": "1.0"}, "light_state": light_state,
                "preferred_state": [], "heapsize": 308144}

    def _realtime(self) -> dict[str, Any]:
        if self.kind == "bulb":
            return {"power_mw": 10800 if self.light["on_off"] else 0, "err_code": 0}
        power = self.power_w if self.relay_state else 0.0
        return {"current": round(power / 230, 6), "voltage": 230.1, "power": power, "total": 1.25, "err_code": 0}

    # -- answering -------------------------------------------------------------------------
    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        children = (request.get("context") or {}).get("child_ids") or []
        reply: dict[str, Any] = {}
        for module, methods in request.items():
            if module == "context":
                continue
            if not isinstance(methods, dict):
                reply[module] = NOT_SUPPORTED
                continue
            answers = {method: self._method(module, method, params or {}, children)
                       for method, params in methods.items()}
            if any(a is None for a in answers.values()):
                reply[module] = NOT_SUPPORTED
            else:
                reply[module] = answers
        return reply

    def _method(self, module: str, method: str, params: dict[str, Any],
                children: list[str]) -> dict[str, Any] | None:
        ok = {"err_code": 0}
        if module == "system" and method == "get_sysinfo":
            return self.sysinfo()
        if module == "system" and method == "set_relay_state" and self.kind != "bulb":
            state = 1 if params.get("state") else 0
            if self.kind == "plug":
                self.relay_state = state
            else:
                targets = [o for o in self.outlets if o["id"] in children or not children]
                if children and not targets:
                    return {"err_code": -14, "err_msg": "entry not exist"}
                for outlet in targets:
                    outlet["state"] = state
            return ok
        if module == "system" and method == "set_dev_alias":
            self.alias = str(params.get("alias", self.alias))
            return ok
        time_module = "smartlife.iot.common.timesetting" if self.kind == "bulb" else "time"
        if module == time_module:
            if method == "get_time":
                return {"year": 2026, "month": 12, "mday": 1, "hour": 12, "min": 0, "sec": 0, "err_code": 0}
            if method == "get_timezone":
                return {"index": 39, "err_code": 0}
        if module == ("smartlife.iot.common.emeter" if self.kind == "bulb" else "emeter") and self.kind != "strip":
            if method == "get_realtime":
                return self._realtime()
            if method == "get_daystat":
                return {"day_list": [], "err_code": 0}
            if method == "get_monthstat":
                return {"month_list": [], "err_code": 0}
        if module == LIGHT_SERVICE and self.kind == "bulb":
            if method == "get_light_state":
                return {**self.light, "err_code": 0}
            if method == "transition_light_state":
                for key in ("on_off", "brightness", "hue", "saturation", "color_temp"):
                    if key in params:
                        self.light[key] = int(params[key])
                if params.get("hue") is not None or params.get("saturation") is not None:
                    self.light["color_temp"] = 0  # a colour replaces the white tone
                return {**self.sysinfo()["light_state"], "err_code": 0}
            if method == "get_light_details":
                return {"wattage": 10, "max_lumens": 800, "color_rendering_index": 80, "err_code": 0,
                        "lamp_beam_angle": 150, "incandescent_equivalent": 60}
        return None

    # -- serving ---------------------------------------------------------------------------
    async def start(self) -> Self:
        self._server = await asyncio.start_server(self._serve_tcp, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        self._udp, _ = await loop.create_datagram_endpoint(
            lambda: _Discovery(self), local_addr=(self.host, self.port))
        if self.broadcast:
            listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # each device hears it
            listener.bind((self.broadcast, self.port))
            self._heard, _ = await loop.create_datagram_endpoint(
                lambda: _Discovery(self, reply=self._udp), sock=listener)
        return self

    async def stop(self) -> None:
        for transport in (self._udp, self._heard):
            if transport is not None:
                transport.close()
        self._udp = self._heard = None
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            while self.fail != "offline":
                (length,) = struct.unpack(">I", await reader.readexactly(4))
                request = json.loads(decrypt(await reader.readexactly(length)))
                if self.fail == "slow":
                    continue
                if self.fail == "offline":
                    break
                payload = encrypt(json.dumps(self.answer(request)))
                writer.write(struct.pack(">I", len(payload)) + payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass  # the client left, or sent something that is not the protocol
        finally:
            self._writers.discard(writer)
            self._handlers.discard(handler)
            writer.transport.abort()


class _Discovery(asyncio.DatagramProtocol):
    def __init__(self, device: KasaEmulator, reply: asyncio.DatagramTransport | None = None) -> None:
        self.device = device
        self.transport: asyncio.DatagramTransport | None = None
        # A broadcast is answered from the device's own address (the asker learns it from
        # the answer's source), not from the shared broadcast socket.
        self.reply = reply

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.device.fail or self.transport is None:
            return
        try:
            request = json.loads(decrypt(data))
        except (UnicodeDecodeError, ValueError):
            return  # not a legacy discovery query (e.g. the newer protocol's probe)
        if isinstance(request, dict) and "system" in request:
            (self.reply or self.transport).sendto(encrypt(json.dumps(self.device.answer(request))), addr)
