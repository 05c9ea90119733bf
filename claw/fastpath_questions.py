""""Which one?": the question the fast path asked a chat, and reading the answer ("the kitchen
one", "the desk lamp", "the second", "both") without a model."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from devices.home import normalize
from devices.model import Entity
from devices.targets import entity_fits_words

QUESTION_TTL = 300.0  # seconds an unanswered question stays open
# Words of an answer that pick nothing by themselves.
FILLER = {"the", "one", "ones", "please", "in", "on", "a", "an", "of", "that", "this", "i", "mean",
          "meant", "want", "it", "is", "thanks", "thank", "you", "just", "only", "room",
          "yes", "ok", "okay", "oh", "um", "uh", "sorry", "which", "for", "at"}
EVERY = {"both", "all", "every", "everything", "each", "them"}
ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3,
            "4th": 3, "last": -1}
MAX_ANSWER_WORDS = 6  # a longer message is a new request, not an answer


@dataclass
class Question:
    intent: str
    tool: str
    base: dict[str, Any]  # the call's arguments without its targets
    slots: dict[str, Any]
    response: str
    candidates: list[Entity]
    many: bool  # a request for a kind of device ("the lights"): a room's worth may be picked
    asked: float


def question_text(candidates: list[Entity], many: bool) -> str:
    rooms = list(dict.fromkeys(e.area for e in candidates if e.area))
    if many and len(rooms) > 1 and all(e.area for e in candidates):
        return f"Which room: {_either(rooms)}?"
    return "Which one: " + _either([f"{e.name} ({e.area})" if e.area else e.name for e in candidates]) + "?"


def _either(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


class Questions:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._open: dict[str, Question] = {}

    def ask(self, chat_id: str, question: Question) -> None:
        self._open[chat_id] = question

    def take(self, chat_id: str) -> Question | None:
        """The chat's open question, once (an answer or a new request closes it)."""
        question = self._open.pop(chat_id, None)
        if question is None or self.clock() - question.asked > QUESTION_TTL:
            return None
        return question


def picked(question: Question, answer: str) -> list[Entity] | None:
    """The candidates an answer picks, or None when it is not an answer to this question."""
    words = normalize(answer).split()
    if not words or len(words) > MAX_ANSWER_WORDS:
        return None
    if set(words) & EVERY and not set(words) - EVERY - FILLER:
        if "both" in words and len(question.candidates) != 2:
            return None
        return list(question.candidates)
    ordinal = [ORDINALS[w] for w in words if w in ORDINALS]
    if ordinal and not set(words) - set(ORDINALS) - FILLER:
        index = ordinal[0]
        return [question.candidates[index]] if -1 <= index < len(question.candidates) else None
    said = " ".join(w for w in words if w not in FILLER)
    if not said:
        return None
    chosen = [e for e in question.candidates if entity_fits_words(said, e)]
    if not chosen or (len(chosen) > 1 and not question.many):
        return None
    return chosen
