"""Where the owner hears from the house: their paired chat app (Telegram), and every live feed
(the web page, `claw chat`, the demo terminal), since only the owner can open those (token or
session). Notices, alerts and confirmation requests go to all of them at once.
"""
from __future__ import annotations

from typing import Any

from claw.pairing import Pairing
from messaging.feeds import Feeds
from messaging.outbox import REPLY_MAX_AGE, Outbox

OWNER_CHAT = "owner"  # the chat id of owner messages on a feed


class OwnerReach:
    def __init__(self, pairing: Pairing, outbox: Outbox, feeds: Feeds):
        self.pairing = pairing
        self.outbox = outbox
        self.feeds = feeds

    def destinations(self) -> list[tuple[str, str, str]]:
        """(channel, chat id, key suffix) for each place the owner is reachable now. The paired
        chat keeps the plain key (edits find their message by it); feeds get `@channel`."""
        places = [(channel, OWNER_CHAT, f"@{channel}") for channel in self.feeds.live()]
        owner = self.pairing.owner()
        if owner is not None:
            places.insert(0, (owner.channel, owner.chat_id, ""))
        return places

    def tell(self, key: str, text: str = "", *, photo: bytes | None = None, kind: str | None = None,
             options: dict[str, Any] | None = None, max_age: float = REPLY_MAX_AGE) -> bool:
        """Queue one message for every place the owner is; False when there is none."""
        places = self.destinations()
        for channel, chat_id, suffix in places:
            opts = dict(options or {})
            if "target" in opts:  # an edit replaces that place's own copy
                opts["target"] += suffix
            self.outbox.put(channel, chat_id, key + suffix, text, photo=photo, kind=kind,
                            options=opts, max_age=max_age)
        return bool(places)
