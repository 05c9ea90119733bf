"""Tools over the house's memory and persona: remember, recall, forget, and soul.md.

Facts keep who said them. The owner recalls and forgets every fact; a member only what members
said in their own chat, so a member never reads or deletes the owner's facts.
"""
from __future__ import annotations

from typing import Annotated

from claw.soul import Soul, SoulError
from claw.tools import Caller, ToolContext, ToolError, ToolRegistry
from memory.store import Fact, Store
from memory.untrusted import as_data


def register(registry: ToolRegistry, store: Store, soul: Soul) -> None:
    async def remember(ctx: ToolContext,
                       fact: Annotated[str, "One self-contained fact, e.g. 'The study is also called the office'"]) -> str:
        """Stores a fact the owner told you so you can use it in later conversations."""
        try:
            saved = store.remember(fact, ctx.caller.chat_id, ctx.caller.role)
        except ValueError as e:
            raise ToolError(str(e)) from None
        return f"Remembered (fact #{saved.id}): {as_data(saved.text)}"

    async def recall(ctx: ToolContext, query: Annotated[str, "Words to search the stored facts for"]) -> str:
        """Searches the facts you were told before."""
        facts = store.recall(query, limit=10, member=member_scope(ctx.caller))
        if not facts:
            return f"Nothing stored about '{as_data(query)}'."
        return "\n".join(f"#{f.id}: {fact_line(f)}" for f in facts)

    async def forget(ctx: ToolContext, fact_id: Annotated[int, "The number of the fact (from recall)"]) -> str:
        """Deletes a stored fact by its number."""
        gone = store.forget(fact_id, member=member_scope(ctx.caller))
        if gone is None:
            mine = "" if ctx.caller.role == "owner" else " that you told me"
            raise ToolError(f"there is no fact #{fact_id}{mine}; use recall to find its number")
        return f"Forgotten: {as_data(gone.text)}"

    async def read_soul(ctx: ToolContext) -> str:
        """Returns the full text of soul.md, your persona and standing orders."""
        return soul.text()

    async def update_soul(ctx: ToolContext,
                          text: Annotated[str, "The complete new soul.md text (markdown)"]) -> str:
        """Replaces soul.md, your persona and standing orders, when the owner asks you to change
        how you behave ("from now on keep answers to one sentence"). Read it first, keep what
        still applies, and send the whole new text. Earlier versions are kept."""
        try:
            soul.update(text, source=f"chat:{ctx.caller.chat_id}")
        except SoulError as e:
            raise ToolError(str(e)) from None
        return "soul.md updated; it applies from the next message."

    async def set_chat_privacy(ctx: ToolContext,
                               private: Annotated[bool, "true: only the local model; false: Claude again"]) -> str:
        """Keeps this chat on the house's local model only (nothing goes to the cloud), or
        lets it use Claude again."""
        store.set_chat_private(ctx.caller.chat_id, private)
        return ("This chat now stays on the local model." if private
                else "This chat may use Claude again.")

    registry.add(remember)
    registry.add(set_chat_privacy)
    registry.add(recall)
    registry.add(forget)
    registry.add(read_soul)
    registry.add(update_soul, owner_only=True)


def member_scope(caller: Caller) -> str | None:
    """The facts a caller may see and delete: the owner all (None), anyone else only what
    non-owners said in their own chat."""
    return None if caller.role == "owner" else caller.chat_id


def fact_line(fact: Fact) -> str:
    """A fact as one line of data; what a member said is labelled, so it never reads as the owner's."""
    if fact.by_owner:
        return as_data(fact.text)
    return f"(said by a member in chat {as_data(fact.chat_id)}, not the owner) {as_data(fact.text)}"
