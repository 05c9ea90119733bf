"""Core overhead: one chat turn through the HTTP API with a zero-latency model stand-in (the
stand-in's own round trip, measured with the raw SDK in the same run, subtracted), with and
without the fast path's attempt first (a sentence it does not know costs two hassil passes);
time from `claw run` to ready; idle RSS of the service.

Targets: turn overhead median <= 5 ms; start to ready <= 2 s; idle RSS <= 120 MB.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anthropic
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from claw.service import Claw  # noqa: E402
from tests.anthropic_standin import AnthropicStandIn, text_reply  # noqa: E402
from tests.conftest import make_config, serve  # noqa: E402

TURNS = 300


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


async def turn_overhead(fastpath: bool) -> dict[str, float]:
    standin = AnthropicStandIn()
    await standin.start()
    standin.default = text_reply("ok")
    with tempfile.TemporaryDirectory() as tmp:
        service = Claw(make_config(Path(tmp), standin))
        if not fastpath:
            service.agent.fastpath = None
        raw = anthropic.AsyncAnthropic(api_key="x", base_url=standin.url, max_retries=0)
        async with serve(service) as client:
            for _ in range(20):  # warm both paths
                await client.post("/api/chat", json={"text": "hello", "chat_id": "bench"})
                await raw.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
            prompt = service.agent.prompt("bench", "hello")
            turn, sdk = [], []
            for i in range(TURNS):
                t = time.perf_counter()
                r = await client.post("/api/chat", json={"text": "hello", "chat_id": "bench"})
                turn.append(time.perf_counter() - t)
                assert r.status_code == 200
                t = time.perf_counter()
                await raw.messages.create(model="m", max_tokens=1024, system=prompt.stable,
                                          tools=prompt.tools, messages=prompt.messages)
                sdk.append(time.perf_counter() - t)
    await standin.stop()
    return {"turn_p50": pct(turn, 50) * 1e3, "turn_p99": pct(turn, 99) * 1e3,
            "sdk_p50": pct(sdk, 50) * 1e3, "sdk_p99": pct(sdk, 99) * 1e3}


def start_and_rss(with_key: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CLAW_HOME": tmp, "CLAW_HTTP_PORT": "18765", "CLAW_DISCOVERY": "false"}
        env.pop("ANTHROPIC_API_KEY", None)
        if with_key:  # the SDK is imported only when a key is configured
            env["ANTHROPIC_API_KEY"] = "bench-key"
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "claw.cli", "run"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            ready = None
            while time.perf_counter() - t < 30:
                try:
                    if httpx.get("http://127.0.0.1:18765/api/health", timeout=0.5).status_code == 200:
                        ready = time.perf_counter() - t
                        break
                except httpx.HTTPError:
                    time.sleep(0.01)
            time.sleep(3)  # idle
            rss_kb = next(int(line.split()[1]) for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                          if line.startswith("VmRSS"))
        finally:
            proc.terminate()
            proc.wait(10)
    return {"ready_s": ready if ready is not None else float("nan"), "rss_mb": rss_kb / 1024}


def main() -> None:
    o = asyncio.run(turn_overhead(fastpath=True))
    no_fast = asyncio.run(turn_overhead(fastpath=False))
    bare, keyed = start_and_rss(False), start_and_rss(True)
    overhead = o["turn_p50"] - o["sdk_p50"]
    print(f"{'measure':<40}{'value':>12}{'target':>12}")
    print(f"{'chat turn via HTTP API, p50 (ms)':<40}{o['turn_p50']:>12.2f}")
    print(f"{'chat turn via HTTP API, p99 (ms)':<40}{o['turn_p99']:>12.2f}")
    print(f"{'raw SDK call to the stand-in, p50 (ms)':<40}{o['sdk_p50']:>12.2f}")
    print(f"{'turn overhead, p50 (ms)':<40}{overhead:>12.2f}{'<= 5':>12}")
    print(f"{'turn / raw SDK ratio, p50':<40}{o['turn_p50'] / o['sdk_p50']:>12.2f}")
    print(f"{'turn overhead without the fast path (ms)':<40}{no_fast['turn_p50'] - no_fast['sdk_p50']:>12.2f}")
    for label, s in (("no key", bare), ("with API key", keyed)):
        print(f"{'claw run -> ready, ' + label + ' (s)':<40}{s['ready_s']:>12.2f}{'<= 2':>12}")
        print(f"{'idle RSS, ' + label + ' (MB)':<40}{s['rss_mb']:>12.1f}{'<= 120':>12}")


if __name__ == "__main__":
    main()
