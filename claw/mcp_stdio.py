"""`claw mcp`: the running Claw's MCP server on stdin/stdout, for clients that only launch
programs (Claude Desktop). It relays the SDK's stdio transport to the service's streamable HTTP
endpoint with the owner's token, message by message, so both ways serve the same server (one
executor, one policy, one house) and nothing here opens the database or the devices.
"""
from __future__ import annotations

import anyio
import httpx2
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from mcp.client.streamable_http import streamable_http_client
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage


async def bridge(url: str, token: str, confirm_timeout: float) -> None:
    """Relay until the client closes stdin."""
    # A security call holds its response until the owner answers (at most confirm_timeout).
    timeout = httpx2.Timeout(30.0, read=confirm_timeout + 30.0)
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=timeout) as http, \
            stdio_server() as (from_client, to_client), \
            streamable_http_client(url, http_client=http) as (from_claw, to_claw), \
            anyio.create_task_group() as relays:
        relays.start_soon(_relay, from_claw, to_client)
        await _relay(from_client, to_claw)  # stdin ended: the client is gone
        relays.cancel_scope.cancel()


async def _relay(source: ObjectReceiveStream[SessionMessage | Exception],
                 sink: ObjectSendStream[SessionMessage]) -> None:
    async for message in source:
        if isinstance(message, Exception):
            raise message  # a transport failure: `claw mcp` stops with the reason on stderr
        await sink.send(message)
