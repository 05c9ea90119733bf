"""Entity ids from the names people give their devices."""
from __future__ import annotations

import re
import unicodedata


def slug(name: str, fallback: str = "") -> str:
    """"Küche Decke" -> "kuche_decke", the object id part of an entity id; `fallback` when
    nothing of the name is left (an empty name, or one with no letter or digit)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_") or fallback
