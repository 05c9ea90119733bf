"""Two `claw demo` on one machine: each finds and drives only its own emulated house (own
speakers' addresses too), a third on a port in use says so in one line, and Ctrl-C stops a
demo without a traceback. Real processes in a network namespace made here."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from devices import homefile
from devices.emulators.house import DEMO_HOME
from tests import netns

DEMO_ENTITIES = len(homefile.load(DEMO_HOME).entities)

def _demo(ns: str, home: Path, port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(netns.ROOT), "CLAW_HOME": str(home),
           "CLAW_HTTP_PORT": str(port)}
    for key in ("ANTHROPIC_API_KEY", "TELEGRAM_BOT_TOKEN", "CLAW_LOCAL_MODEL"):
        env.pop(key, None)
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", "claw.cli", "demo", "--serve"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=netns.ROOT, env=env)


def _in_ns(ns: str, *code_lines: str) -> Any:
    """Talk to the demos from inside the namespace (their loopback is not ours)."""
    done = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", "\n".join(code_lines)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


CLIENT = """
import httpx, json, sys, time
def api(home, port):
    token = open(f"{home}/api-token").read().strip()
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10,
                        headers={"Authorization": f"Bearer {token}"})
"""


def test_two_demos_on_one_machine_keep_to_their_own_houses(tmp_path: Path) -> None:
    with netns.namespace() as ns:
        a, b = _demo(ns, tmp_path / "a", 8801), _demo(ns, tmp_path / "b", 8802)
        try:
            # Both up, each with its whole house and nothing of the other's.
            seen = _in_ns(ns, CLIENT, f"""
deadline = time.monotonic() + 40
out = {{}}
for name, port in (("a", 8801), ("b", 8802)):
    while time.monotonic() < deadline:
        try:
            d = api("{tmp_path}/" + name, port).get("/api/devices").json()
        except (httpx.HTTPError, FileNotFoundError):
            d = {{"entities": []}}
        if len(d["entities"]) >= {DEMO_ENTITIES}:
            break
        time.sleep(0.3)
    time.sleep(1)  # anything of the other house would have been adopted by now
    d = api("{tmp_path}/" + name, port).get("/api/devices").json()
    out[name] = {{"entities": len(d["entities"]), "devices": len(d["devices"]),
                 "sonos": sorted(x["host"] for x in d["devices"] if x["family"] == "sonos")}}
a = api("{tmp_path}/a", 8801)
r = a.post("/api/tools/HassTurnOn", json={{"name": "Desk Lamp"}}).json()
out["turned_on"] = r["ok"]
state = lambda name, port: next(e["state"] for e in api("{tmp_path}/" + name, port).get("/api/devices").json()["entities"]
                                if e["name"] == "Desk Lamp")
time.sleep(0.5)
out["desk_lamp"] = [state("a", 8801), state("b", 8802)]
print(json.dumps(out))
""")
            assert seen["a"]["entities"] == seen["b"]["entities"] == DEMO_ENTITIES, seen
            assert seen["a"]["devices"] == seen["b"]["devices"] == 14, seen
            assert not set(seen["a"]["sonos"]) & set(seen["b"]["sonos"]), seen
            assert seen["turned_on"] and seen["desk_lamp"] == ["on", "off"], seen

            # A third on a port in use: one line, before its house comes up.
            c = _demo(ns, tmp_path / "c", 8801)
            out, err = c.communicate(timeout=30)
            assert c.returncode == 1
            assert err.strip().splitlines() == [
                "claw: can't serve the API on 127.0.0.1:8801 (Address already in use): is another "
                "Claw running? Stop it, or set CLAW_HTTP_PORT (or [http] port in claw.toml) to another port"]

            # Ctrl-C: a clean stop, no traceback; the chat's terminal never saw a log line.
            a.send_signal(signal.SIGINT)
            out, err = a.communicate(timeout=30)
            assert a.returncode == 0, err
            assert "Traceback" not in out + err, err
            assert out.splitlines()[0] == "Demo house 'Demo House' is up, on loopback only."
            assert "Models:    none: common commands work without a model" in out
            assert "Telegram:  off" in out and "Discovery: mDNS and SSDP on 127.0.0.1" in out
            assert "INFO" not in out
            assert "claw.service: Claw is up" in (tmp_path / "a" / "demo" / "claw.log").read_text()
        finally:
            for p in (a, b):
                if p.poll() is None:
                    p.kill()
                    p.communicate(timeout=10)
