"""Claude through the anthropic SDK: tool use, and prompt caching on the stable prefix."""
from __future__ import annotations

import logging
from typing import Any

import anthropic

from claw.config import AnthropicConfig
from claw.models import ModelReply, ModelUnavailable, Prompt, ToolUse

log = logging.getLogger(__name__)

USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


class ClaudeBackend:
    name = "claude"

    def __init__(self, config: AnthropicConfig):
        self.config = config
        # Retries are the router's job (it falls back instead of waiting); the SDK must not stall.
        self.client = anthropic.AsyncAnthropic(
            api_key=config.api_key,
            base_url=config.base_url or None,
            max_retries=0,
            timeout=config.timeout,
        )

    async def close(self) -> None:
        await self.client.close()

    async def complete(self, prompt: Prompt) -> ModelReply:
        tools = [dict(t) for t in prompt.tools]
        system = [{"type": "text", "text": prompt.stable, "cache_control": {"type": "ephemeral"}}]
        if prompt.volatile:
            system.append({"type": "text", "text": prompt.volatile})
        try:
            message = await self.client.messages.create(
                model=self.config.model,
                max_tokens=self.config.max_tokens,
                system=system,
                tools=tools,
                messages=prompt.messages,
            )
        except anthropic.APITimeoutError:
            raise ModelUnavailable("timeout", f"Claude did not answer within {self.config.timeout:g} s.") from None
        except anthropic.APIConnectionError as e:
            raise ModelUnavailable("connection", f"I can't reach Claude ({e.__cause__ or e}).") from None
        except anthropic.RateLimitError:
            raise ModelUnavailable("rate_limited", "Claude is rate-limiting us (429).") from None
        except anthropic.AuthenticationError:
            raise ModelUnavailable(
                "rejected", "Claude rejected the API key (401): check ANTHROPIC_API_KEY."
            ) from None
        except anthropic.APIStatusError as e:
            if e.status_code == 529:
                raise ModelUnavailable("overloaded", "Claude is overloaded right now (529).") from None
            if e.status_code >= 500:
                raise ModelUnavailable("server_error", f"Claude's service failed ({e.status_code}).") from None
            log.error("Claude refused the request: %s", e)
            raise ModelUnavailable("rejected", f"Claude refused the request ({e.status_code}).") from None
        except (anthropic.APIResponseValidationError, ValueError):  # ValueError: body not JSON
            raise ModelUnavailable("bad_response", "Claude's answer was malformed.") from None
        return _reply(message, _after_tool_results(prompt.messages))


def _reply(message: Any, after_tools: bool) -> ModelReply:
    """Claude's words and tool calls. The SDK builds its objects without checking them, so a
    malformed answer is found here and becomes ModelUnavailable, never a crash in the turn."""
    content = getattr(message, "content", None)
    if not isinstance(content, list):
        raise _malformed("it had no content")
    texts, uses = [], []
    for block in content:
        kind = getattr(block, "type", None)
        if kind == "text":
            if not isinstance(block.text, str):
                raise _malformed("a text block had no text")
            texts.append(block.text)
        elif kind == "tool_use":
            if not (isinstance(block.id, str) and isinstance(block.name, str)
                    and isinstance(block.input, dict)):
                raise _malformed("a tool call had no id, name or arguments")
            uses.append(ToolUse(block.id, block.name, dict(block.input)))
        # Other blocks (thinking, or kinds newer than this code) carry nothing Claw uses.
    text = "".join(texts).strip()
    if not text and not uses and not after_tools:
        raise ModelUnavailable("bad_response", "Claude sent an empty answer.")
    return ModelReply(text, uses, _usage(message), "claude")


def _after_tool_results(messages: list[dict[str, Any]]) -> bool:
    """Whether Claude answers its tools' results: then an empty answer means it is done."""
    last = messages[-1]["content"] if messages else ""
    return isinstance(last, list) and any(b.get("type") == "tool_result" for b in last)


def _usage(message: Any) -> dict[str, int]:
    """Token counts, 0 where the answer lacks them: they feed budgets, not the reply."""
    usage = getattr(message, "usage", None)
    counts = {}
    for key in USAGE_KEYS:
        n = getattr(usage, key, None)
        counts[key] = n if isinstance(n, int) else 0
    return counts


def _malformed(why: str) -> ModelUnavailable:
    return ModelUnavailable("bad_response", f"Claude's answer was malformed ({why}).")
