"""Text checks that keep a small model's turn safe and clean: is this a question, and is this
reply an echo or a loop rather than an answer?

Small models copy what they see (the user's words, an earlier reply, a line of the prompt) and
repeat themselves; such output is caught here and never sent.
"""
from __future__ import annotations

import re

# How questions open in English. A polite request ("could you turn on ...") is not one: its
# opening is dropped first and the rest decides.
_QUESTION_START = re.compile(
    r"^(what|what's|whats|which|who|who's|whose|where|where's|when|why|how|is|isn't|are|aren't|"
    r"was|were|does|doesn't|do|don't|did|has|have|any|anyone|anybody|anything|tell me|show me|"
    r"list|check)\b",
    re.IGNORECASE,
)
_POLITE = re.compile(r"^(please\s+|(can|could|would|will) you\s+(please\s+)?|kindly\s+)", re.IGNORECASE)
_PUNCTUATION = re.compile(r"[^\w\s']+")


def is_question(text: str) -> bool:
    """Whether `text` asks about the house rather than tells it to do something."""
    asks = text.rstrip().endswith("?")
    text = _PUNCTUATION.sub(" ", text).strip()
    polite = _POLITE.match(text)
    if polite:
        # "can you tell me if ..." asks; "could you switch on ..." commands, even with a "?"
        return bool(_QUESTION_START.match(text[polite.end():]))
    return asks or bool(_QUESTION_START.match(text))


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def _ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def repeats_itself(text: str) -> bool:
    """A loop: some run of three words comes three times, or a run of four comes twice (a reply
    is a sentence or two; saying the same four words again is not news)."""
    tokens = _tokens(text)
    for n, times in ((3, 3), (4, 2)):
        grams = _ngrams(tokens, n)
        if any(grams.count(gram) >= times for gram in set(grams)):
            return True
    return False


def mentions(text: str, source: str) -> bool:
    """Whether the reply shares a word of three letters or more with `source` (a tool's result)."""
    return bool({w for w in _tokens(text) if len(w) >= 3} & set(_tokens(source)))


def echoes(text: str, sources: list[str], share: float = 0.7) -> bool:
    """Mostly a copy: at least `share` of the reply's word pairs appear in one source (what the
    user said, an earlier reply, a line of the prompt), the whole reply is inside one, or the
    reply opens with one word for word."""
    said = _tokens(text)
    if not said:
        return False
    pairs = set(_ngrams(said, 2)) or {tuple(said)}
    joined = " ".join(said)
    for source in sources:
        words = _tokens(source)
        if len(said) >= 3 and joined in " ".join(words):
            return True
        if len(words) >= 3 and said[:len(words)] == words:
            return True
        theirs = set(_ngrams(words, 2)) or {tuple(words)}
        if len(pairs & theirs) >= share * len(pairs) and len(pairs) >= 2:
            return True
    return False


# Words that report a change to the house; said without a tool having run, they are made up.
_DONE = re.compile(
    r"\b(turned|switched|set|paused|resumed|opened|closed|locked|unlocked|dimmed|brightened|muted|"
    r"unmuted|started|stopped|armed|disarmed|skipped|changed|adjusted)\b", re.IGNORECASE)


def claims_a_change(text: str) -> bool:
    """Whether the reply says something in the house was changed."""
    return bool(_DONE.search(text))


def unquote(text: str) -> str:
    """The reply without the quotes a small model likes to wrap it in."""
    text = text.strip()
    while len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        text = text[1:-1].strip()
    return text
