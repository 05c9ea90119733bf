"""Browser sessions for the owner: a one-time login link becomes an HttpOnly session cookie.

The long-lived API token never goes into a URL. `claw run` / `claw demo` print a link with a
one-time code that works once, for a few minutes; opening it sets a random session cookie
(HttpOnly, SameSite=Strict, so another site's page never sends it). Sessions live in memory:
a restart logs everyone out, which fails closed.
"""
from __future__ import annotations

import secrets
import time

SESSION_COOKIE = "claw_session"
LOGIN_TTL = 600.0  # seconds a login link works
SESSION_TTL = 7 * 86_400.0
MAX_LOGIN_CODES = 5


class Sessions:
    def __init__(self) -> None:
        self._codes: dict[str, float] = {}  # one-time login code -> expiry
        self._sessions: dict[str, float] = {}  # session id -> expiry

    def login_code(self) -> str:
        """A fresh one-time code for a login link; the oldest is dropped past a few."""
        now = time.time()
        self._codes = {c: t for c, t in self._codes.items() if t > now}
        while len(self._codes) >= MAX_LOGIN_CODES:
            self._codes.pop(next(iter(self._codes)))
        code = secrets.token_urlsafe(24)
        self._codes[code] = now + LOGIN_TTL
        return code

    def open(self, code: str) -> str | None:
        """Trade a login code for a session id; None when the code is unknown, used or old."""
        expires = self._codes.pop(code, 0.0)
        if expires <= time.time():
            return None
        session = secrets.token_urlsafe(32)
        self._sessions[session] = time.time() + SESSION_TTL
        return session

    def valid(self, session: str) -> bool:
        return bool(session) and self._sessions.get(session, 0.0) > time.time()

    def close(self, session: str) -> None:
        self._sessions.pop(session, None)
