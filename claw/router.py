"""Model routing: Claude when it is there, the local model when it is not or when the owner
asks for privacy. A circuit breaker skips a failing cloud for a while, then probes it again;
the fallback never sticks beyond that.

"Local" is the house's own model, in this process or on a server in the house; a server the
owner marked as outside the house (`[local] in_house = false`) still stands in for a failing
cloud, but a private request never goes there.
"""
from __future__ import annotations

import logging
import time

from claw.models import Backend, ModelReply, ModelUnavailable, Prompt

log = logging.getLogger(__name__)

# Failures that say "the cloud is not there right now", as opposed to "this request is wrong".
FALLBACK_KINDS = {"no_key", "connection", "timeout", "rate_limited", "overloaded",
                  "server_error", "bad_response"}

NO_MODEL = (
    "no language model is configured. Set ANTHROPIC_API_KEY for Claude, or local.model_path "
    "(a GGUF on this machine) or local.url (a model server in the house) in claw.toml "
    "(`claw doctor` checks them). Simple commands like 'turn on the kitchen lights' work "
    "without one."
)


class Router:
    def __init__(self, cloud: Backend | None, local: Backend | None,
                 failures_to_open: int = 3, cooldown: float = 60.0, local_in_house: bool = True):
        self.cloud = cloud
        self.local = local
        self.local_in_house = local_in_house
        self.failures_to_open = failures_to_open
        self.cooldown = cooldown
        self.failures = 0
        self.open_until = 0.0

    def cloud_skipped(self) -> bool:
        return self.failures >= self.failures_to_open and time.monotonic() < self.open_until

    async def complete(self, prompt: Prompt, private: bool = False) -> ModelReply:
        if private:
            if self.local is None:
                raise ModelUnavailable(
                    "no_local", "you asked for privacy and no local model is configured, so I "
                    "sent this nowhere. Set local.model_path in claw.toml to use one.")
            if not self.local_in_house:
                raise ModelUnavailable(
                    "no_local", "you asked for privacy and the local model's server is marked as "
                    "outside the house (local.in_house = false), so I sent this nowhere.")
            return await self.local.complete(prompt)
        if self.cloud is None:
            if self.local is None:
                raise ModelUnavailable("no_key", NO_MODEL)
            return await self.local.complete(prompt)
        if self.cloud_skipped() and self.local is not None:
            return await self.local.complete(prompt)
        try:
            reply = await self.cloud.complete(prompt)
        except ModelUnavailable as e:
            if e.kind not in FALLBACK_KINDS:
                raise
            self._failed(e)
            if self.local is None:
                raise
            log.info("falling back to the local model: %s", e)
            return await self.local.complete(prompt)
        self.failures = 0
        return reply

    def _failed(self, error: ModelUnavailable) -> None:
        self.failures += 1
        if self.failures >= self.failures_to_open:
            self.open_until = time.monotonic() + self.cooldown
            log.warning("Claude failed %d times in a row (%s); skipping it for %g s",
                        self.failures, error, self.cooldown)
