"""The one encoding for untrusted text in a model's prompt: device names, aliases, areas,
facts, tool output and other people's words.

An encoded item is a single line: line breaks, other control characters, backticks and lone
surrogates become visible escapes (`\\n`, `\\u0060`). So an item cannot close the ``` fence it
sits in, cannot start a line of its own (a heading, a list item, an "owner" label) and cannot
break UTF-8. Ordinary names come out unchanged, so the prompt stays the same for them.

It lives in `memory` because every package may import `memory`.
"""
from __future__ import annotations

import re

# C0 and C1 controls except tab, DEL, the Unicode line and paragraph separators, backticks,
# and surrogates (a lone one cannot be encoded as UTF-8).
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029`\ud800-\udfff]")
_SHORT = {"\n": "\\n", "\r": "\\r"}
# In a Python string every surrogate is a lone one (JSON's escaped pairs decode to one character).
_SURROGATE = re.compile("[\ud800-\udfff]")


def as_data(text: str) -> str:
    """`text` as one line of data that cannot leave the fence or line it is put in."""
    return _UNSAFE.sub(lambda m: _SHORT.get(m.group(), f"\\u{ord(m.group()):04x}"), text)


def valid_unicode(text: str) -> str:
    """`text` with each lone surrogate (JSON allows them; UTF-8 and SQLite do not) replaced by
    U+FFFD, so a message from a channel can always be stored and answered."""
    return _SURROGATE.sub("\ufffd", text)
