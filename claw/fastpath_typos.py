"""Typos in the words of a command ("trun on the lights", "turn of the lamp"), fixed before a
second try at matching. Names and rooms have their own typo matching (devices.targets); this
only corrects a word that names nothing in the house into the one command word it is close to."""
from __future__ import annotations

from rapidfuzz import process
from rapidfuzz.distance import OSA

COMMAND_WORDS = (
    "turn", "switch", "open", "close", "shut", "lock", "unlock", "set", "dim", "brighten",
    "pause", "resume", "play", "stop", "start", "mute", "unmute", "skip", "next", "previous",
    "volume", "lights", "light", "temperature", "degrees", "percent", "brightness", "blinds",
    "music", "thermostat", "heating", "speaker", "curtains", "please", "everything", "vacuum",
)
NEAR = 0.75  # optimal string alignment similarity: one typo in a four-letter word
MIN_LENGTH = 4


def fixed(text: str, known: set[str]) -> str:
    """The text with misspelt command words corrected; `known` are the house's own words."""
    words = text.split()
    out = []
    for i, word in enumerate(words):
        low = word.lower()
        if low == "of" and i > 0 and out[-1].lower() in ("turn", "switch"):
            out.append("off")  # "turn of the lamp": "of" never follows "turn" in a command
            continue
        if len(low) >= MIN_LENGTH and low not in known and low not in COMMAND_WORDS:
            best = process.extractOne(low, COMMAND_WORDS, scorer=OSA.normalized_similarity, score_cutoff=NEAR)
            if best is not None:
                out.append(best[0])
                continue
        out.append(word)
    return " ".join(out)
