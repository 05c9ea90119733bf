"""The room a chat is in: set by saying "I'm in the study", kept per chat (SQLite settings), and
used where a message names no room ("turn off the light"), as a voice satellite's area is."""
from __future__ import annotations

from memory.store import Store


def _key(chat_id: str) -> str:
    return f"chat-room:{chat_id}"


def chat_room(store: Store, chat_id: str) -> str | None:
    """The room this chat last said it is in, if any."""
    return store.get_setting(_key(chat_id)) or None


def set_chat_room(store: Store, chat_id: str, area: str) -> None:
    store.set_setting(_key(chat_id), area)
