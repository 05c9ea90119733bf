"""What a terminal chat (`claw chat`, the demo) shows from its live feed, and its own commands.

Replies come back from the turn itself, so the feed adds what arrives on its own: owner notices,
alerts, confirmation requests (answered at the prompt: this terminal is the owner's) and their
outcomes when they were settled elsewhere (the page, Telegram, another terminal, a timeout).
"""
from __future__ import annotations

import secrets
from typing import Any

HELP = "/help lists what works without a model; /new starts a new conversation; Ctrl-D leaves."
NEW = "A new conversation: I've put the earlier one's context aside."


def new_chat_id() -> str:
    """A conversation of its own: two terminals never share (and wait on) one chat."""
    return f"terminal-{secrets.token_hex(4)}"


class Asks:
    """Confirmations shown at this prompt and not yet settled, oldest first."""

    def __init__(self) -> None:
        self.waiting: list[str] = []

    def take(self, key: str, kind: str, text: str, options: dict[str, Any], photo: bool) -> str | None:
        """What to print for one feed item (None: nothing), noting the requests it asks."""
        if key.startswith("reply:"):
            return None
        request = options.get("confirmation")
        if request is None:
            return text + (" (with a picture; the page shows it)" if photo else "")
        if kind != "edit":
            self.waiting.append(request)
            return f"{options['what']}? Type yes to confirm; anything else cancels."
        if request in self.waiting:  # settled somewhere else before it was answered here
            self.waiting.remove(request)
            return text
        return None

    def next(self) -> str | None:
        return self.waiting.pop(0) if self.waiting else None


def is_yes(answer: str) -> bool:
    return answer.strip().lower() in ("y", "yes")
