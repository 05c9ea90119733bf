"""Who may talk to the house. Deny by default: a person gets in only with a one-time code.

The first person to send a valid code becomes the owner; later ones wait until the owner
approves them and then become members. Anyone else is a stranger: one short "not paired" reply
a day, an audit line, and the owner hears about it at most every 15 minutes. A stranger's words
are never stored, never reach a model and never run a tool.
"""
from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from dataclasses import dataclass

from memory.channels import ensure_tables
from memory.store import Store
from messaging.inbox import Arrival
from messaging.outbox import ALERT_MAX_AGE, Outbox

log = logging.getLogger(__name__)

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: codes get read aloud and retyped
CODE_LENGTH = 8
CODE_TTL = 600.0
MAX_PENDING_CODES = 3
# Guessing is bounded: a message is tried for at most a few codes, and a person who sent too
# many wrong ones is not tried again for a while.
CODES_PER_MESSAGE = 3
MAX_WRONG_CODES = 10
WRONG_CODES_WINDOW = 3600.0
TOO_MANY_CODES = ("That's too many wrong pairing codes; wait an hour, then send a fresh code "
                  "from the owner.")
STRANGER_NOTICE_EVERY = 900.0
NOT_PAIRED = "Sorry, I only talk to people who are paired with this house."
_CODE_RE = re.compile(rf"\b[{ALPHABET}{ALPHABET.lower()}]{{{CODE_LENGTH}}}\b")


class PairingError(Exception):
    """A pairing request that cannot be met; the message says why."""


@dataclass
class Person:
    id: str  # "telegram:<user id>"
    channel: str
    user_id: str
    chat_id: str
    name: str
    role: str  # owner | member | pending | denied

    @property
    def paired(self) -> bool:
        return self.role in ("owner", "member")

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "channel": self.channel, "name": self.name, "role": self.role}


class Pairing:
    def __init__(self, store: Store, outbox: Outbox):
        self.store = store
        self.db = store.db
        self.outbox = outbox
        ensure_tables(self.db)

    # -- codes -----------------------------------------------------------------------------
    def new_code(self) -> tuple[str, float]:
        """A fresh one-time code and when it expires (epoch seconds)."""
        now = time.time()
        pending = self.db.execute(
            "select count(*) from pair_codes where used_by is null and expires > ?", [now]).fetchone()[0]
        if pending >= MAX_PENDING_CODES:
            raise PairingError(
                f"there are already {MAX_PENDING_CODES} unused pairing codes; use one, or wait "
                f"until one expires (they last {CODE_TTL / 60:g} minutes)")
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        self.db["pair_codes"].insert({"code": code, "created": now, "expires": now + CODE_TTL})
        self.store.add_event("pair_code", "owner", {"expires": now + CODE_TTL})
        return code, now + CODE_TTL

    def _take_code(self, text: str, person_id: str) -> bool:
        """Use a valid code from `text`: the first CODES_PER_MESSAGE candidates are tried, and
        each wrong one counts against the person."""
        now = time.time()
        for match in itertools.islice(_CODE_RE.finditer(text), CODES_PER_MESSAGE):
            cursor = self.db.execute(
                "update pair_codes set used_by = ?, used_at = ? "
                "where code = ? and used_by is null and expires > ?",
                [person_id, now, match.group().upper(), now])
            if cursor.rowcount == 1:
                return True
            self.store.add_event("pair_code_wrong", person_id)
        return False

    def _guessed_too_often(self, person_id: str) -> bool:
        wrong = self.db.execute(
            "select count(*) from events where kind = 'pair_code_wrong' and subject = ? "
            "and created > ?", [person_id, time.time() - WRONG_CODES_WINDOW]).fetchone()[0]
        return wrong >= MAX_WRONG_CODES

    # -- people ----------------------------------------------------------------------------
    def person(self, channel: str, user_id: str) -> Person | None:
        rows = list(self.db.query("select * from people where id = ?", [f"{channel}:{user_id}"]))
        return _person(rows[0]) if rows else None

    def owner(self) -> Person | None:
        rows = list(self.db.query("select * from people where role = 'owner' order by created limit 1"))
        return _person(rows[0]) if rows else None

    def people(self) -> list[Person]:
        return [_person(r) for r in self.db.query("select * from people order by created")]

    def decide(self, person_id: str, approve: bool, by: str) -> Person:
        """The owner's answer to someone waiting with a valid code."""
        rows = list(self.db.query("select * from people where id = ?", [person_id]))
        if not rows:
            raise PairingError(f"nobody with id {person_id} asked to pair")
        person = _person(rows[0])
        if person.role != "pending":
            raise PairingError(f"{person.name} is already {person.role}")
        role = "member" if approve else "denied"
        with self.db.atomic():
            self.db["people"].update(person.id, {"role": role, "approved": time.time()})
            self.store.add_event("pairing", person.id, {"role": role, "by": by})
            text = ("You're in: the owner approved you. Ask me about the house, or send /help."
                    if approve else "The owner did not approve this pairing.")
            self.outbox.put(person.channel, person.chat_id, f"pair-decision:{person.id}", text)
        person.role = role
        return person

    def admit(self, arrival: Arrival) -> bool:
        """The gate for every update: True lets a paired person's update into the inbox.
        Everyone else is handled here, without a model or a tool (runs in the inbox transaction)."""
        person = self.person(arrival.channel, arrival.user_id)
        if person is not None and person.paired:
            if (person.chat_id, person.name) != (arrival.chat_id, arrival.name) and not arrival.is_callback:
                self.db["people"].update(person.id, {"chat_id": arrival.chat_id, "name": arrival.name})
            return True
        if person is not None and person.role == "pending":
            self._reply(arrival, "pending", "You're waiting for the owner's approval; I'll tell you.")
            return False
        person_id = f"{arrival.channel}:{arrival.user_id}"
        if not arrival.is_callback and _CODE_RE.search(arrival.text):
            if self._guessed_too_often(person_id):
                log.warning("%s (%s) sent too many wrong pairing codes; not trying more",
                            arrival.name, person_id)
                self._stranger(arrival, "pair-locked", TOO_MANY_CODES)
                return False
            if self._take_code(arrival.text, person_id):
                self._pair(arrival)
                return False
        self._stranger(arrival)
        return False

    def _pair(self, arrival: Arrival) -> None:
        owner = self.owner()
        person_id = f"{arrival.channel}:{arrival.user_id}"
        role = "pending" if owner else "owner"
        now = time.time()
        self.db["people"].upsert(
            {"id": person_id, "channel": arrival.channel, "user_id": arrival.user_id,
             "chat_id": arrival.chat_id, "name": arrival.name, "role": role, "created": now,
             "approved": None if owner else now}, pk="id")
        self.store.add_event("pairing", person_id, {"role": role})
        log.info("%s (%s) paired as %s", arrival.name, person_id, role)
        if owner is None:
            self.outbox.put(arrival.channel, arrival.chat_id, f"paired:{person_id}",
                            "Paired: you're the owner of this house now. Try \"turn on the "
                            "kitchen lights\", or send /help.")
            return
        self.outbox.put(arrival.channel, arrival.chat_id, f"paired:{person_id}",
                        f"Code accepted. {owner.name or 'The owner'} needs to approve you; "
                        "I'll tell you when they do.")
        self.outbox.put(owner.channel, owner.chat_id, f"pair-ask:{person_id}",
                        f"{arrival.name or 'Someone'} used a pairing code and wants to talk to the "
                        "house. Let them in as a member?",
                        options={"buttons": [[["Approve", f"pp:{person_id}:y"],
                                              ["Deny", f"pp:{person_id}:n"]]]})

    def _stranger(self, arrival: Arrival, what: str = "not-paired", text: str = NOT_PAIRED) -> None:
        subject = f"{arrival.channel}:{arrival.user_id}"
        self.store.add_event("stranger", subject, {"chat_id": arrival.chat_id, "name": arrival.name,
                                                   "button": arrival.is_callback})
        self._reply(arrival, what, text)
        owner = self.owner()
        if owner is not None:
            bucket = int(time.time() // STRANGER_NOTICE_EVERY)
            self.outbox.put(
                owner.channel, owner.chat_id, f"stranger-notice:{bucket}",
                f"Someone who isn't paired wrote to me on {arrival.channel}: "
                f"{arrival.name or 'no name'} (user {arrival.user_id}). They got \"not paired\" "
                "and nothing else. (I tell you about this at most every 15 minutes.)",
                max_age=ALERT_MAX_AGE)

    def _reply(self, arrival: Arrival, what: str, text: str) -> None:
        """At most one such reply per person per day, so nobody can make the bot chatter."""
        day = time.strftime("%Y-%m-%d")
        self.outbox.put(arrival.channel, arrival.chat_id, f"{what}:{arrival.user_id}:{day}", text,
                        max_age=ALERT_MAX_AGE)


def _person(row: dict) -> Person:
    return Person(row["id"], row["channel"], row["user_id"], row["chat_id"], row["name"] or "",
                  row["role"])
