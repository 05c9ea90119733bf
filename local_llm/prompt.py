"""Turning (system, messages) into prompt tokens with the model's own chat template.

The system text always comes first and is rendered the same way every turn, so its tokens form a
byte-stable prefix that the KV cache can reuse; everything that changes comes after it.

Only the template's own markup can become control tokens: the text of every message (device
names, facts, tool results, what people wrote) is tokenized with special tokens off, so
"<|im_start|>" in a device name stays plain text and cannot open a turn of its own.
"""
from __future__ import annotations

import json

from llama_cpp import Llama, llama_chat_format

from local_llm.messages import chat_messages

TOOL_PREFIX = '{"tool": "'


def tool_catalog(tools: list[dict]) -> str:
    """A compact description of the tools for the system text: one short line per tool, then
    its `examples` ({"said": what a user says, "args": the arguments}) as worked answers.

    Parameters whose values are enums (device names, areas) are left out: the device overview
    already lists the values, repeating them per tool would crowd a small context, and this way
    the catalog does not change when devices come and go.
    """
    lines = []
    for tool in tools:
        schema = tool.get("input_schema", {})
        required = set(schema.get("required", []))
        params = ", ".join(
            f"{key}{'' if key in required else '?'}{_param_type(spec)}"
            for key, spec in schema.get("properties", {}).items() if "enum" not in spec
        )
        signature = f"{tool['name']}({params})" if params else tool["name"]
        lines.append(f"- {signature}: {_first_sentence(tool.get('description', ''))}")
        for example in tool.get("examples", []):
            answer = json.dumps({"tool": tool["name"], "args": example["args"]})
            lines.append(f"  e.g. {json.dumps(example['said'])} -> {answer}")
    return "Tools:\n" + "\n".join(lines)


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    return text[: text.index(". ") + 1] if ". " in text else text


def _param_type(spec: dict) -> str:
    if "minimum" in spec or "maximum" in spec:
        return f": {spec.get('type', 'number')} {spec.get('minimum', '')}..{spec.get('maximum', '')}"
    return f": {spec['type']}" if spec.get("type") in ("integer", "number", "boolean") else ""


def _named_formatter(name: str) -> llama_chat_format.ChatFormatter:
    # llama_chat_format registers e.g. "llama-2" -> format_llama2 and "mistral-instruct" ->
    # format_mistral_instruct, and exposes only completion handlers by name.
    for attr in (f"format_{name.replace('-', '_')}", f"format_{name.replace('-', '')}"):
        if hasattr(llama_chat_format, attr):
            return getattr(llama_chat_format, attr)
    raise ValueError(
        f"Unknown chat_format {name!r}; use a llama-cpp-python chat format such as 'chatml', "
        "'gemma', 'llama-3', 'mistral-instruct', or leave it empty to use the GGUF's template."
    )


class ChatPrompt:
    def __init__(self, llm: Llama, chat_format: str | None) -> None:
        self._llm = llm
        if chat_format is None:
            template = llm.metadata.get("tokenizer.chat_template")
            if template is None:
                raise ValueError(
                    f"{llm.model_path} has no chat template; set the local model's chat_format "
                    "(e.g. 'chatml' or 'gemma')."
                )
            self._format = llama_chat_format.Jinja2ChatFormatter(
                template=template,
                eos_token=self._token_text(llm.token_eos()),
                bos_token=self._token_text(llm.token_bos()),
            )
        else:
            self._format = _named_formatter(chat_format)
        self._folds_system = not self._keeps_system()
        stop = self._render([{"role": "user", "content": "x"}]).stop
        self.stop: list[str] = [stop] if isinstance(stop, str) else list(stop or [])

    def _token_text(self, token: int) -> str:
        return self._llm.detokenize([token], special=True).decode("utf-8", errors="ignore")

    def _render(self, messages: list[dict]) -> llama_chat_format.ChatFormatterResponse:
        return self._format(messages=messages)

    def _keeps_system(self) -> bool:
        probe = "SYSTEM-PROBE-7f3a"
        try:
            rendered = self._render([{"role": "system", "content": probe}, {"role": "user", "content": "x"}])
        except ValueError:  # templates that refuse a system role (Gemma) raise through raise_exception
            return False
        return probe in rendered.prompt

    def messages(self, system: str, messages: list[dict]) -> list[dict]:
        return chat_messages(system, messages, self._folds_system)

    def tokens(self, system: str, messages: list[dict], answer_prefix: str = "") -> list[int]:
        """The prompt's tokens: the template rendered around placeholders, its markup (and our
        `answer_prefix`) tokenized with special tokens on, each message's text with them off."""
        chat = self.messages(system, messages)
        marks = [f"\ue000{i}\ue001" if m["content"] else "" for i, m in enumerate(chat)]
        rendered = self._render([{**m, "content": mark} for m, mark in zip(chat, marks)])
        pieces: list[tuple[str, bool]] = []  # (text, special)
        rest = rendered.prompt + answer_prefix
        for mark, message in zip(marks, chat):
            if not mark:
                continue
            markup, found, rest = rest.partition(mark)
            if not found:
                raise ValueError(
                    "The local model's chat template changes message text instead of placing it "
                    "as it is; set the local model's chat_format (e.g. 'chatml' or 'gemma')."
                )
            pieces += [(markup, True), (message["content"], False)]
        pieces.append((rest, True))
        out: list[int] = []
        for n, (text, special) in enumerate(pieces):
            out += self._llm.tokenize(
                text.encode("utf-8"), add_bos=n == 0 and not rendered.added_special, special=special)
        return out
