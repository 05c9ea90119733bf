"""Claude through the anthropic SDK: tool use, and prompt caching on the stable prefix."""
from __future__ import annotations

import logging

import anthropic

from claw.config import AnthropicConfig
from claw.models import ModelReply, ModelUnavailable, Prompt, ToolUse

log = logging.getLogger(__name__)


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
        return _reply(message)


def _reply(message: anthropic.types.Message) -> ModelReply:
    texts, uses = [], []
    for block in message.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            uses.append(ToolUse(block.id, block.name, dict(block.input or {})))
    u = message.usage
    usage = {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_read_input_tokens": u.cache_read_input_tokens or 0,
        "cache_creation_input_tokens": u.cache_creation_input_tokens or 0,
    }
    return ModelReply("".join(texts).strip(), uses, usage, "claude")
