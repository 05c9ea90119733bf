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
        merge). The shared prefix is fed once; then each candidate's continuation is one decode
        with logits at every position, instead of one decode per token. (All candidates in a
        single decode would need one KV sequence each, which `Llama` does not let us configure.)
        """
        base = min(Llama.longest_token_prefix(context, seq) for seq in sequences.values())
        base = min([base] + [len(seq) - 1 for seq in sequences.values()])
        first_seq = next(iter(sequences.values()))
        self.feed(first_seq[:base])
        first = self.next_logprobs().copy()
        scores: dict[str, float] = {}
        for name, seq in sequences.items():
            rest = seq[base:]
            total = float(first[rest[0]])
            if len(rest) > 1:
                rows = self._decode_with_logits(base, rest[:-1])
                total += sum(float(rows[i][token]) for i, token in enumerate(rest[1:]))
            scores[name] = total
        return scores

    def _decode_with_logits(self, start: int, tokens: list[int]) -> list[np.ndarray]:
        """Replace the context after position `start` with `tokens` in one decode; the
        log-probabilities of the next token after each of them."""
        llm = self.llm
        memory = llama_cpp.llama_get_memory(llm.ctx)
        if not llama_cpp.llama_memory_seq_rm(memory, 0, start, -1):
            raise RuntimeError("this model cannot drop the end of its context (a recurrent model); "
                               "turn the small profile off for it")
        batch = llama_cpp.llama_batch_init(len(tokens), 0, 1)
        try:
            for i, token in enumerate(tokens):
                batch.token[i] = token
                batch.pos[i] = start + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = True
            batch.n_tokens = len(tokens)
            started = time.perf_counter()
            if llama_cpp.llama_decode(llm.ctx, batch) != 0:
                raise RuntimeError("llama.cpp could not decode the candidate tool names")
            self.seconds += time.perf_counter() - started
            self.evaluated += len(tokens)
            rows = [Llama.logits_to_logprobs(np.ctypeslib.as_array(
                llama_cpp.llama_get_logits_ith(llm.ctx, i), shape=(llm.n_vocab(),)))
                for i in range(len(tokens))]
        finally:
            llama_cpp.llama_batch_free(batch)
        # Keep Llama's record of what the context holds in step with it, for the next `feed`.
        llm.input_ids[start:start + len(tokens)] = tokens
        llm.n_tokens = start + len(tokens)
        return rows
