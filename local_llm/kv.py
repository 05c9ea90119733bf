"""Feeding token sequences to one long-lived Llama while reusing its KV cache.

llama.cpp keeps the keys/values of every evaluated position. Consecutive sequences that share a
prefix (the byte-stable system prompt, or the prompt shared by candidate tool names) only need
their differing suffix evaluated; this is what makes a warm turn cheap.
"""
from __future__ import annotations

import time

import llama_cpp
import numpy as np
from llama_cpp import Llama


class KVFeeder:
    def __init__(self, llm: Llama) -> None:
        self.llm = llm
        self.evaluated = 0  # tokens decoded since the last `reset_counters`
        self.seconds = 0.0

    def reset_counters(self) -> None:
        self.evaluated = 0
        self.seconds = 0.0

    def feed(self, tokens: list[int]) -> None:
        """Make the context hold exactly `tokens`, with fresh logits for the last one."""
        llm = self.llm
        if len(tokens) >= llm.n_ctx():
            raise ValueError(
                f"The prompt needs {len(tokens)} tokens but the local model's context holds "
                f"{llm.n_ctx()}; shorten the system prompt or raise n_ctx."
            )
        cached = llm.input_ids[: llm.n_tokens].tolist()
        # The last token is always decoded again: llama.cpp only holds logits of the latest decode.
        keep = min(Llama.longest_token_prefix(cached, tokens), len(tokens) - 1)
        memory = llama_cpp.llama_get_memory(llm.ctx)
        if not llama_cpp.llama_memory_seq_rm(memory, 0, keep, -1):
            # Recurrent models cannot drop a suffix of their state: start over.
            llm.reset()
            keep = 0
        llm.n_tokens = keep
        started = time.perf_counter()
        llm.eval(tokens[keep:])
        self.seconds += time.perf_counter() - started
        self.evaluated += len(tokens) - keep

    def next_logprobs(self) -> np.ndarray:
        """Log-probabilities of the token after the last one fed."""
        logits = np.ctypeslib.as_array(
            llama_cpp.llama_get_logits_ith(self.llm.ctx, -1), shape=(self.llm.n_vocab(),)
        )
        return Llama.logits_to_logprobs(logits)

    def score(self, context: list[int], sequences: dict[str, list[int]]) -> dict[str, float]:
        """Sum of log-probabilities of each sequence's tokens after the shared `context`.

        Each sequence is `context` plus a continuation (tokenized jointly, so the boundary may
        merge); candidates are visited in token order so shared prefixes are evaluated once.
        """
        base = min(Llama.longest_token_prefix(context, seq) for seq in sequences.values())
        cache: dict[tuple[int, ...], np.ndarray] = {}
        scores: dict[str, float] = {}
        for name, seq in sorted(sequences.items(), key=lambda item: item[1]):
            total = 0.0
            for i in range(base, len(seq)):
                key = tuple(seq[base:i])
                if key not in cache:
                    self.feed(seq[:i])
                    cache[key] = self.next_logprobs()
                total += float(cache[key][seq[i]])
            scores[name] = total
        return scores
