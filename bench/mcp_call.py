"""An MCP tool call (the SDK's client over streamable HTTP, POST /api/mcp) against the same call
through the typed REST endpoint (POST /api/tools/<name>), the baseline, measured in the same run
on the same Claw, interleaved (alternating which goes first) so machine noise hits both alike.

Calls: GetDateTime (no device: what each protocol costs) and HassTurnOn on a Hue light of the
small test home (a real device call to the Hue emulator on loopback). Prints p50 and p99 per
path and the MCP/REST ratio of the p50s.
"""
from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import httpx2  # noqa: E402
from mcp import Client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from claw.service import Claw  # noqa: E402
from tests.conftest import make_config, serve  # noqa: E402
from tests.home_fixtures import devices_in  # noqa: E402

ROUNDS = 200
WARMUP = 20
CALLS = {"GetDateTime": {}, "HassTurnOn": {"name": "Desk Lamp"}}


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        service = Claw(make_config(Path(tmp)))
        token = service.config.http.token
        async with serve(service) as rest, devices_in(service.home, service.executor), \
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http, \
                Client(streamable_http_client(f"{rest.base_url}/api/mcp", http_client=http),
                       mode="legacy") as mcp:
            print(f"{'call':12} {'MCP p50':>9} {'MCP p99':>9} {'REST p50':>9} {'REST p99':>9} {'ratio':>6}")
            for name, args in CALLS.items():
                times: dict[str, list[float]] = {"mcp": [], "rest": []}
                for i in range(ROUNDS + WARMUP):
                    # alternate who goes first: a device call leaves a read-back running after it
                    for path in ("mcp", "rest") if i % 2 else ("rest", "mcp"):
                        t = time.perf_counter()
                        if path == "mcp":
                            result = await mcp.call_tool(name, args)
                            assert not result.is_error, result.content
                        else:
                            r = await rest.post(f"/api/tools/{name}", json=args)
                            assert r.json()["ok"], r.text
                        if i >= WARMUP:
                            times[path].append(time.perf_counter() - t)
                m50, m99 = pct(times["mcp"], 50) * 1e3, pct(times["mcp"], 99) * 1e3
                r50, r99 = pct(times["rest"], 50) * 1e3, pct(times["rest"], 99) * 1e3
                print(f"{name:12} {m50:7.2f}ms {m99:7.2f}ms {r50:7.2f}ms {r99:7.2f}ms {m50 / r50:6.2f}")


if __name__ == "__main__":
    asyncio.run(main())
