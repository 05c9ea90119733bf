"""The API's trust boundary, checked before any route runs (an ASGI middleware).

A request gets through only if it is addressed to a name this house answers to (no DNS
rebinding), does not come from another site's page (Origin), proves it is the owner (the API
token, or the session cookie a one-time login link gave), and, when it may change something,
carries a bounded JSON body (a page on another site cannot send `application/json` without a
preflight, which this API never grants).
"""
from __future__ import annotations

import html
import json
import secrets
from typing import Any, Awaitable, Callable

import ifaddr

from claw.config import Config, is_loopback
from claw.sessions import SESSION_COOKIE, Sessions

MAX_BODY = 256 * 1024  # bytes; soul.md and the largest tool call fit many times over
MAX_JSON_INT = 2**53  # what every JSON client (and SQLite) keeps exactly
OPEN_PATHS = {"/api/health", "/login"}  # reachable without the token (still Host/Origin checked)
BODY_METHODS = {"POST", "PUT", "PATCH"}

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class Refused(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def allowed_hosts(config: Config) -> set[str]:
    """Host names the API answers to besides loopback addresses."""
    hosts = {"localhost", *(h.lower().strip("[]") for h in config.http.allowed_hosts)}
    bind = config.http.host.lower().strip("[]")
    if bind in ("0.0.0.0", "::"):  # reachable on every address of this machine
        hosts |= {str(ip.ip[0] if isinstance(ip.ip, tuple) else ip.ip).lower()
                  for adapter in ifaddr.get_adapters() for ip in adapter.ips}
    else:
        hosts.add(bind)
    return hosts


def host_name(host_header: str) -> str:
    """`example:8765` -> `example`, `[::1]:8765` -> `::1`, lower case, no trailing dot."""
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


class Guard:
    def __init__(self, app: App, config: Config, sessions: Sessions):
        self.app = app
        self.token = config.http.token
        self.hosts = allowed_hosts(config)
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)  # lifespan
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            self._check_host(headers.get("host", ""))
            self._check_origin(headers)
            if scope["path"] not in OPEN_PATHS:
                self._check_owner(headers)
            if scope["type"] == "http" and scope["method"] in BODY_METHODS:
                _check_json_type(headers.get("content-type", ""))
                body = await _read_body(headers, receive)
                _check_json(body)
                receive = _replay(body, receive)
        except Refused as e:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": e.detail[:120]})
            else:
                await _refuse(send, e, page="text/html" in headers.get("accept", ""))
            return
        await self.app(scope, receive, send)

    def _check_host(self, host_header: str) -> None:
        host = host_name(host_header)
        if not (is_loopback(host) or host in self.hosts):
            raise Refused(421, f"This Claw does not answer to the name {host or '(none)'!r}; the "
                               "owner can add it to http.allowed_hosts in claw.toml.")

    def _check_origin(self, headers: dict[str, str]) -> None:
        origin = headers.get("origin")
        if origin is None:
            return  # not sent by a browser page (or a same-origin GET)
        host = headers.get("host", "")
        if origin.lower() not in (f"http://{host}".lower(), f"https://{host}".lower()):
            raise Refused(403, "Requests from other web sites are refused.")

    def _check_owner(self, headers: dict[str, str]) -> None:
        given = headers.get("authorization", "")
        if given and secrets.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
            return
        if self.sessions.valid(_cookie(headers.get("cookie", ""), SESSION_COOKIE)):
            return
        raise Refused(401, "Send 'Authorization: Bearer <token>' (the token is in CLAW_HOME/api-token, "
                           "or http.token in claw.toml), or log in with the link `claw login` prints.")


def _check_json_type(content_type: str) -> None:
    if content_type.partition(";")[0].strip().lower() != "application/json":
        raise Refused(415, "Send a JSON body with 'Content-Type: application/json' "
                           "(send {} when there is nothing to say).")


async def _read_body(headers: dict[str, str], receive: Receive) -> bytes:
    declared = headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY:
        raise Refused(413, f"The body is larger than {MAX_BODY // 1024} KiB.")
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > MAX_BODY:
            raise Refused(413, f"The body is larger than {MAX_BODY // 1024} KiB.")
    return body


def _check_json(body: bytes) -> None:
    """Refuse what JSON allows but nothing downstream can store or compare: lone surrogates
    (unencodable text), NaN and infinities, and integers no client keeps exactly."""
    if not body.strip():
        return  # FastAPI says which field is missing
    try:
        value = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        raise Refused(400, f"The body is not valid JSON ({str(e)[:120]}).") from None
    _check_value(value)


def _no_constant(name: str) -> Any:
    raise Refused(422, f"Numbers must be finite; {name} is not allowed.")


def _check_value(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            stack += item
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise Refused(422, "The text contains an invalid character (a lone UTF-16 "
                                   "surrogate); send valid Unicode.") from None
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_JSON_INT:
            raise Refused(422, f"Whole numbers must be between -2^53 and 2^53; got {str(item)[:30]}.")


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then the client's own messages (a disconnect)."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _cookie(header: str, name: str) -> str:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


# A browser opening a page gets the refusal in words (how to log in), not JSON.
HINT_PAGE = """<!doctype html><html lang="en"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Claw</title>
<body style="font: 18px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem">
<h1>Claw</h1><p>{detail}</p></body></html>"""
LOGIN_HINT = ("You are not logged in. On the machine that runs Claw, <code>claw login</code> prints a "
              "link that logs this browser in (it works once, for 10 minutes).")


async def _refuse(send: Send, error: Refused, page: bool = False) -> None:
    if page:
        detail = LOGIN_HINT if error.status == 401 else html.escape(error.detail)
        body = HINT_PAGE.format(detail=detail).encode()
        kind = b"text/html; charset=utf-8"
    else:
        body = json.dumps({"detail": error.detail}).encode()
        kind = b"application/json"
    await send({"type": "http.response.start", "status": error.status,
                "headers": [(b"content-type", kind),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
