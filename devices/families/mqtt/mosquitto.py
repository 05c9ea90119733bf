"""Debian's mosquitto broker on a loopback port, for the demo house, tests and benches.

A small config in a temporary folder (`listener <port> <host>`, anonymous or a password file
made by `mosquitto_passwd`), run as a child process and stopped by its PID. `stop()` then
`start()` restarts it on the same port: the broker going down and coming back. `fail =
"offline"` freezes it (SIGSTOP: connections stay open, nothing answers, like a hung host) until
`fail = None`.
"""
from __future__ import annotations

import asyncio
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

BINARY = "/usr/sbin/mosquitto"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def installed() -> bool:
    return os.access(BINARY, os.X_OK)


def _die_with_parent() -> None:
    """The broker ends when the process that started it does, even one killed outright."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # even if frozen


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Mosquitto:
    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 users: dict[str, str] | None = None, tcp_nodelay: bool = True,
                 tls: tuple[str, str] | None = None) -> None:
        if not installed():
            raise RuntimeError(f"mosquitto is not installed ({BINARY}); run: apt-get install mosquitto")
        self.host = host
        self.port = port or free_port(host)
        self.users = users  # None: anonymous clients allowed
        # mosquitto's default (false) holds a small message back until the client ACKs the last
        # one: a command's PUBACK, then the device's report 40 ms later (delayed ACK).
        self.tcp_nodelay = tcp_nodelay
        self.tls = tls  # (certificate, key) PEM files: the listener speaks TLS (mqtts://)
        self._dir = Path(tempfile.mkdtemp(prefix="claw-mosquitto-"))
        self._process: subprocess.Popen[bytes] | None = None
        self._fail: str | None = None
        self._write_config()

    @property
    def fail(self) -> str | None:
        return self._fail

    @fail.setter
    def fail(self, mode: str | None) -> None:
        if mode not in (None, "offline"):
            raise ValueError(f"a broker can fail only 'offline', not {mode!r}")
        if self._process is not None and mode != self._fail:
            self._process.send_signal(signal.SIGSTOP if mode else signal.SIGCONT)
        self._fail = mode

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def _write_config(self) -> None:
        # Run as this user (as root it would switch to `mosquitto`, which drops the death signal
        # below and cannot read this folder).
        lines = [f"user {pwd.getpwuid(os.geteuid()).pw_name}",
                 f"listener {self.port} {self.host}", "persistence false",
                 f"log_dest file {self._dir / 'mosquitto.log'}",
                 f"set_tcp_nodelay {'true' if self.tcp_nodelay else 'false'}"]
        if self.tls is not None:
            for name, source in zip(("server.crt", "server.key"), self.tls):
                shutil.copyfile(source, self._dir / name)  # where the broker's user can read it
            lines += [f"certfile {self._dir / 'server.crt'}", f"keyfile {self._dir / 'server.key'}"]
        if self.users is None:
            lines.append("allow_anonymous true")
        else:
            passwords = self._dir / "passwords"
            passwords.touch(mode=0o600)
            for user, password in self.users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, password], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        (self._dir / "mosquitto.conf").write_text("\n".join(lines) + "\n")

    async def start(self, within: float = 5.0) -> None:
        """Start the broker and wait (at most `within` seconds) until it accepts connections."""
        self._process = subprocess.Popen([BINARY, "-c", str(self._dir / "mosquitto.conf")],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         preexec_fn=_die_with_parent)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited at start (port {self.port} in use?); "
                                   f"see {self._dir / 'mosquitto.log'}")
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            writer.close()
            await writer.wait_closed()
            return
        raise RuntimeError(f"mosquitto did not listen on {self.host}:{self.port} within {within:g} s")

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if self._fail:
            process.send_signal(signal.SIGCONT)  # a frozen process cannot act on its TERM
            self._fail = None
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 5)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)

    async def close(self) -> None:
        await self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)
