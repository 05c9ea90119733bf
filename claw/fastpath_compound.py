"""Compound commands: "turn on the X and turn off the Y", "the A and B lights", "X, then Y".

A sentence the matcher does not take whole is cut at its joints ("and", "then", commas,
semicolons); a piece with no verb borrows the start of the piece before it ("... and the desk
lamp" -> "turn on the desk lamp"), and a piece with no kind of device borrows the end of the
piece after it ("the kitchen and study lights" -> "the kitchen lights"). Which borrowed reading
is right is for the matcher to say: `Understand(text, like)` returns None for anything it is not
sure of, and for a borrowed reading that does not ask the same kind of thing as `like`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

T = TypeVar("T")
Understand = Callable[[str, "T | None"], "T | None"]

JOINTS = re.compile(r"\s*(?:[;.]|,?\s*\band then\b|,?\s*\bafter that\b|,?\s*\bthen\b|,?\s*\band\b|,|\balso\b)\s*",
                    re.IGNORECASE)
MAX_PARTS = 6  # a longer list is a paragraph, not a command: the model's to read
ARTICLES = {"the", "a", "my"}


@dataclass
class Part(Generic[T]):
    said: str  # the words of this piece as the person said them
    command: T | None  # None: not understood


def split(text: str) -> list[str]:
    """The pieces of a sentence at its joints (one piece when there are none)."""
    return [p for p in JOINTS.split(text.strip().rstrip("?!.")) if p.strip()]


def understand_parts(text: str, understand: Understand[T]) -> list[Part[T]] | None:
    """Each piece of a compound sentence with what it asks for; None when it is not compound
    (or too long to be a list of commands)."""
    pieces = split(text)
    if not 2 <= len(pieces) <= MAX_PARTS:
        return None
    parts: list[Part[T]] = []
    for i, piece in enumerate(pieces):
        # A piece reads first with the verb of the one before ("... and the floor lamp" is not a
        # command of its own, though "the floor lamp" alone would read as "turn it on").
        command = None
        if parts and parts[-1].command is not None:
            command = _with_verb_of(parts[-1], piece, understand)
        if command is None:
            command = understand(piece, None)
        if command is None and i + 1 < len(pieces):
            command = _with_end_of(piece, pieces[i + 1], understand)
        parts.append(Part(piece, command))
    return parts


def _with_verb_of(before: Part[T], piece: str, understand: Understand[T]) -> T | None:
    """"turn on the kitchen lights" + "the desk lamp": the shortest start of `before` that makes
    a command like `before`'s of the piece."""
    head, words = before.said.split(), _without_article(piece.split())
    for k in range(1, len(head)):
        start = head[:k]
        if start[-1].lower() in ARTICLES:
            continue  # the same reading as one word shorter, with "the" put back below
        for text in (" ".join(start + ["the"] + words), " ".join(start + words)):
            command = understand(text, before.command)
            if command is not None:
                return command
    return None


def _with_end_of(piece: str, after: str, understand: Understand[T]) -> T | None:
    """"turn on the kitchen" + "study lights": the shortest end of `after` that completes it."""
    words = after.split()
    for k in range(len(words) - 1, 0, -1):
        command = understand(" ".join([piece, *words[k:]]), None)
        if command is not None:
            return command
    return None


def _without_article(words: list[str]) -> list[str]:
    return words[1:] if words and words[0].lower() in ARTICLES else words
