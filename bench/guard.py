"""What the API's trust boundary (claw/guard.py) costs per request: the same app, the same
requests over real loopback HTTP, with the guard and with it taken out (the baseline, measured
in the same run, interleaved so machine noise hits both alike).

Requests: an open GET (Host and Origin checks only), an owner GET (plus the token check), a
small tool call (plus the JSON body checks) and a 64 KiB chat body (the body is parsed twice:
once by the guard, once by FastAPI). Target: guard overhead p50 <= 0.3 ms on small requests.
"""
from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from claw.api import create_app  # noqa: E402
from claw.guard import Guard  # noqa: E402
from claw.service import Claw  # noqa: E402
from tests.anthropic_standin import AnthropicStandIn, text_reply  # noqa: E402
from tests.conftest import make_config, serve  # noqa: E402

ROUNDS = 300
BIG_TEXT = "lights " * (64 * 1024 // 7)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


async def main() -> None:
    standin = AnthropicStandIn()
    await standin.start()
    standin.default = text_reply("ok")
    with tempfile.TemporaryDirectory() as tmp_a, tempfile.TemporaryDirectory() as tmp_b:
        guarded = Claw(make_config(Path(tmp_a), standin))
        service = Claw(make_config(Path(tmp_b), standin))
        bare = create_app(service)
        bare.user_middleware = [m for m in bare.user_middleware if m.cls is not Guard]
        requests = {
            "open GET /api/health": ("GET", "/api/health", None),
            "owner GET /api/tools": ("GET", "/api/tools", None),
            "tool call (small JSON)": ("POST", "/api/tools/recall", {"query": "garage"}),
            "chat with a 64 KiB body": ("POST", "/api/chat", {"text": BIG_TEXT[:7900], "chat_id": "b",
                                                              "padding": BIG_TEXT}),
        }
        print(f"{'request':28} {'guard p50':>10} {'bare p50':>10} {'overhead':>9} {'ratio':>6}")
        async with serve(guarded) as with_guard, serve(service, bare) as without:
            for name, (method, path, body) in requests.items():
                content = json.dumps(body).encode() if body is not None else None
                times: dict[int, list[float]] = {0: [], 1: []}
                for i in range(ROUNDS + 20):
                    for which, client in enumerate((with_guard, without)):
                        t = time.perf_counter()
                        r = await client.request(method, path, content=content,
                                                 headers={"Content-Type": "application/json"})
                        elapsed = time.perf_counter() - t
                        if i >= 20:  # the first rounds warm both
                            times[which].append(elapsed)
                        assert r.status_code < 500, (name, r.status_code)
                g, b = pct(times[0], 50) * 1e3, pct(times[1], 50) * 1e3
                print(f"{name:28} {g:9.3f}ms {b:9.3f}ms {g - b:8.3f}ms {g / b:6.2f}")
    await standin.stop()


if __name__ == "__main__":
    asyncio.run(main())
