"""soul.md: the owner's persona file. The copy in CLAW_HOME is the live one.

Each turn asks for `text()`, which re-reads the file when it changed. A bad file (empty,
unreadable, oversized) never replaces the last good text; the owner is told once per bad edit.
Every version that was ever live is kept in the store.
"""
from __future__ import annotations

import difflib
import logging
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from memory.store import Store

log = logging.getLogger(__name__)

MAX_SOUL_CHARS = 20_000


class SoulError(ValueError):
    """A soul text that cannot be used; the message says why."""


class UnknownVersion(SoulError):
    """A version number the store does not have."""


def default_soul_text() -> str:
    return resources.files("claw").joinpath("soul.md").read_text(encoding="utf-8")


def validate(text: str) -> str:
    if not text.strip():
        raise SoulError("soul.md is empty")
    if len(text) > MAX_SOUL_CHARS:
        raise SoulError(f"soul.md has {len(text)} characters; the limit is {MAX_SOUL_CHARS}")
    return text


@dataclass(frozen=True)
class SoulVersion:
    number: int
    text: str
    source: str  # "file", "api", "chat:<id>", "restore of version <n>"
    created: float

    def summary(self, current: str) -> dict[str, object]:
        return {"version": self.number, "source": self.source, "created": self.created,
                "characters": len(self.text), "current": self.text == current}


class Soul:
    def __init__(self, path: Path, store: Store):
        self.path = path
        self.store = store
        self._stamp: tuple[int, int] | None = None
        self._notices: list[str] = []
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(default_soul_text(), encoding="utf-8")
        versions = store.soul_versions()
        self._text = versions[-1]["text"] if versions else default_soul_text()
        self.text()

    def text(self) -> str:
        """The current persona, re-read if the file changed since the last call."""
        try:
            st = self.path.stat()
        except OSError as e:
            return self._keep(f"soul.md cannot be read ({e.strerror})", ("missing", 0))
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return self._text
        try:
            text = validate(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            return self._keep(f"soul.md cannot be read ({e})", stamp)
        except SoulError as e:
            return self._keep(str(e), stamp)
        self._stamp = stamp
        versions = self.store.soul_versions()
        if text != self._text or not versions:
            self.store.add_soul_version(text, "file")
            if versions:
                log.info("soul.md changed; using the new text from the next turn")
        self._text = text
        return text

    def _keep(self, problem: str, stamp: tuple[int, int]) -> str:
        if stamp != self._stamp:  # report each bad edit once, not on every turn
            self._stamp = stamp
            log.warning("%s; keeping the last good persona", problem)
            self._notices.append(
                f"I couldn't use your soul.md: {problem}. I'm keeping the previous version "
                f"until it is fixed ({self.path})."
            )
        return self._text

    def update(self, text: str, source: str) -> None:
        """Replace the persona (from chat or the API); the previous versions stay in the store."""
        text = validate(text)
        tmp = self.path.with_suffix(".md.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)
        self.store.add_soul_version(text, source)
        self._text = text
        st = self.path.stat()
        self._stamp = (st.st_mtime_ns, st.st_size)

    def versions(self) -> list[SoulVersion]:
        """Every version that was ever live, oldest first."""
        return [SoulVersion(v["id"], v["text"], v["source"], v["created"])
                for v in self.store.soul_versions()]

    def version(self, number: int) -> SoulVersion:
        for v in self.versions():
            if v.number == number:
                return v
        raise UnknownVersion(f"there is no soul.md version {number}; versions go from 1 to "
                        f"{len(self.versions())}")

    def diff(self, number: int) -> str:
        """What changed from version `number` to the current text (a unified diff; "" if none)."""
        old = self.version(number).text
        lines = difflib.unified_diff(old.splitlines(), self.text().splitlines(),
                                     f"version {number}", "current", lineterm="")
        return "\n".join(lines)

    def restore(self, number: int, source: str) -> SoulVersion:
        """Make an old version live again, as a new version (history only grows)."""
        self.update(self.version(number).text, f"{source}: restore of version {number}")
        return self.versions()[-1]

    def take_notices(self) -> list[str]:
        """Problems the owner has not been told about yet (each returned once)."""
        notices, self._notices = self._notices, []
        return notices
