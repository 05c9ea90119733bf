"""Network namespaces for multicast tests: real mDNS/SSDP that never touches the host's LAN.

Python 3.11 has no os.setns, so code runs in a namespace as a subprocess
(`ip netns exec NS python -c RUNNER module function args`), which prints its JSON result
as the last line of stdout. Needs root and `ip` (iproute2).

Inside a fresh namespace only `lo` exists and it is down. Bringing it up is enough for
multicast on 127.0.0.1: the kernel accepts group joins on lo and loops the datagrams
back, as long as senders pick the interface with IP_MULTICAST_IF (zeroconf, our SSDP code
and soco's `interface_addr` all do), so no multicast route is needed.
"""
from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent

# Imports `module`, calls `function(*args)` (awaiting it if it is a coroutine), prints JSON.
RUNNER = """
import asyncio, importlib, inspect, json, sys
fn = getattr(importlib.import_module(sys.argv[1]), sys.argv[2])
result = fn(*json.loads(sys.argv[3]))
if inspect.isawaitable(result):
    result = asyncio.run(result)
print(json.dumps(result), flush=True)
"""


def ip(*args: str, ns: str | None = None) -> str:
    if shutil.which("ip") is None:
        raise RuntimeError("the `ip` command is missing: install iproute2")
    cmd = ["ip", *(["netns", "exec", ns, "ip"] if ns else []), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()}")
    return done.stdout


def namespaces() -> set[str]:
    return {line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()}


def only_loopback() -> bool:
    """True when this process's network namespace has no interface but `lo`, so multicast
    sent from here cannot reach any LAN. (/proc/1/ns/net is not readable in every container,
    so this does not compare namespaces.)"""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


CREATED: set[str] = set()  # namespaces this process made and has not deleted yet


@contextlib.contextmanager
def namespace() -> Iterator[str]:
    """A fresh namespace with loopback up; deleted afterwards, whatever happens."""
    name = f"claw-{uuid.uuid4().hex[:8]}"
    ip("netns", "add", name)
    CREATED.add(name)
    try:
        ip("link", "set", "lo", "up", ns=name)
        yield name
    finally:
        ip("netns", "delete", name)
        CREATED.discard(name)


def leftovers() -> set[str]:
    """This process's namespaces that still exist (other test workers make their own)."""
    return CREATED & namespaces()


def link(ns_a: str, addr_a: str, ns_b: str, addr_b: str) -> tuple[str, str]:
    """A veth cable between two namespaces ("two hosts on a LAN"); addrs like 10.77.0.1/24.

    Returns the interface names (in ns_a, in ns_b). The pair goes away with the namespaces.
    """
    tag = uuid.uuid4().hex[:6]
    a, b = f"va{tag}", f"vb{tag}"
    ip("link", "add", a, "netns", ns_a, "type", "veth", "peer", "name", b, "netns", ns_b)
    for ns, dev, addr in ((ns_a, a, addr_a), (ns_b, b, addr_b)):
        ip("addr", "add", addr, "dev", dev, ns=ns)
        ip("link", "set", dev, "up", ns=ns)
    return a, b


def python_argv(module: str, function: str, *args: Any) -> list[str]:
    """argv that runs `module.function(*args)` with this interpreter and prints JSON."""
    return [sys.executable, "-c", RUNNER, module, function, json.dumps(args)]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def run_in(ns: str, module: str, function: str, *args: Any, timeout: float = 20) -> Any:
    """Run `module.function(*args)` inside `ns` and return its JSON result."""
    done = subprocess.run(
        ["ip", "netns", "exec", ns, *python_argv(module, function, *args)],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=_env())
    if done.returncode != 0:
        raise RuntimeError(f"{module}.{function} failed in {ns}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def background_in(ns: str | None, module: str, function: str, *args: Any,
                  ready_timeout: float = 10) -> Iterator[subprocess.Popen[str]]:
    """Start `module.function(*args)` (in `ns`, or here if None) and wait for it to print a
    first line (its "ready"); killed when the block ends."""
    argv = python_argv(module, function, *args)
    proc = subprocess.Popen(["ip", "netns", "exec", ns, *argv] if ns else argv,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=_env())
    try:
        wait_ready(proc, ready_timeout)
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)
        assert proc.stdout and proc.stderr
        proc.stdout.close()
        proc.stderr.close()


def wait_ready(proc: subprocess.Popen[str], timeout: float) -> None:
    """Block until `proc` prints a line, within `timeout` seconds."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout) or not proc.stdout.readline():
            proc.kill()
            _, err = proc.communicate(timeout=10)
            raise RuntimeError(f"background process was not ready in {timeout} s:\n{err[-3000:]}")
