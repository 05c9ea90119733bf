"""Chat tools over soul.md's history: list the versions, show what changed, restore one.
soul.md is the owner's own text (only the owner changes it), so it is returned as it is, like
`read_soul`."""
from __future__ import annotations

import time
from typing import Annotated

from claw.soul import Soul, SoulError
from claw.tools import ToolContext, ToolError, ToolRegistry


def register(registry: ToolRegistry, soul: Soul) -> None:
    async def list_soul_versions(ctx: ToolContext) -> str:
        """Lists every version of soul.md that was ever live (number, when, who changed it),
        newest first, when the owner asks what changed in your persona or wants an old one back."""
        current = soul.text()
        return "\n".join(
            f"version {v.number}: {time.strftime('%Y-%m-%d %H:%M', time.localtime(v.created))}, "
            f"by {v.source}, {len(v.text)} characters" + (" (current)" if v.text == current else "")
            for v in reversed(soul.versions()))

    async def diff_soul_version(ctx: ToolContext,
                                version: Annotated[int, "The version number (from list_soul_versions)"]) -> str:
        """Shows how the current soul.md differs from an earlier version (a unified diff)."""
        try:
            diff = soul.diff(version)
        except SoulError as e:
            raise ToolError(str(e)) from None
        return diff if diff else f"Version {version} is the same as the current soul.md."

    async def restore_soul_version(ctx: ToolContext,
                                   version: Annotated[int, "The version number to make live again"]) -> str:
        """Makes an earlier version of soul.md live again, when the owner asks to undo a change
        to your persona. The current text stays in the history."""
        try:
            restored = soul.restore(version, source=f"chat:{ctx.caller.chat_id}")
        except SoulError as e:
            raise ToolError(str(e)) from None
        return f"Restored version {version} as version {restored.number}; it applies from the next message."

    registry.add(list_soul_versions)
    registry.add(diff_soul_version)
    registry.add(restore_soul_version, owner_only=True)
