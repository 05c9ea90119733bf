"""Prompt size per turn at 10, 100 and 1,000 entities, before and after, in one run.

Each house is a Home Assistant emulator on loopback with that many entities (lights, switches,
sensors, covers; ten to an area), adopted by a Claw through its real driver. For the sentence
"turn on the desk lamp in the study":
- cloud: bytes Claude is sent per turn (system text, tools, messages as JSON), with every
  registered tool ("before": what each turn carried until now) and with only the tools for the
  domains the house has ("after": `claw.agent.house_tool_specs`);
- local: tokens of the local model's prompt (the test model's tokenizer), with the whole device
  overview in the system text ("before") and with only the devices the sentence is about
  ("after": `LocalBackend`), against the default 4,096-token context.

Run: .venv/bin/python bench/prompt_size.py
"""
from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

from llama_cpp import Llama

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from claw.local import LocalBackend, to_local_messages  # noqa: E402
from claw.service import Claw  # noqa: E402
from devices.families.homeassistant.driver import HomeAssistantDriver  # noqa: E402
from devices.families.homeassistant.emulator import HomeAssistantEmulator  # noqa: E402
from devices.model import Device  # noqa: E402
from local_llm import default_model_path, tool_catalog  # noqa: E402
from local_llm.prompt import ChatPrompt  # noqa: E402
from tests.conftest import make_config  # noqa: E402

SAID = "turn on the desk lamp in the study"
KINDS = [("light", "Lamp", "off"), ("switch", "Plug", "off"), ("sensor", "Thermometer", "20.5"),
         ("light", "Ceiling Light", "on"), ("cover", "Blind", "open")]


def _cloud_bytes(prompt, tools) -> int:
    body = {"system": [prompt.stable, prompt.volatile], "tools": tools, "messages": prompt.messages}
    return len(json.dumps(body, ensure_ascii=False).encode())


async def measure(size: int, chat: ChatPrompt) -> dict[str, int]:
    ha = HomeAssistantEmulator(token="t" * 40)
    for i in range(size - 1):
        domain, kind, state = KINDS[i % len(KINDS)]
        ha.add_entity(f"{domain}.{kind.lower().replace(' ', '_')}_{i}", state,
                      {"friendly_name": f"{kind} {i}", "area": f"Room {i // 10}"})
    ha.add_entity("light.desk_lamp", "off", {"friendly_name": "Desk Lamp", "area": "Study"})
    await ha.start()
    with tempfile.TemporaryDirectory() as tmp:
        claw = Claw(make_config(Path(tmp), None))
        driver = HomeAssistantDriver(Device("ha:1", "home_assistant", "HA", ha.host, ha.port), "t" * 40, timeout=10)
        try:
            await claw.home.add(driver)
            prompt = claw.agent.prompt("bench", SAID)
            backend = LocalBackend(claw.config.local, claw.home)
            entities = backend.relevant_entities(SAID, None)
            local_tools = backend.tools(prompt.tools, entities, SAID)
            after = chat.tokens(backend.system(prompt, local_tools),
                                to_local_messages(prompt, backend.devices_text(entities)))
            # Before: the catalog, then the agent's whole stable text with every device in it.
            before = chat.tokens(tool_catalog(local_tools) + "\n\n" + prompt.stable, to_local_messages(prompt))
            return {
                "entities": len(claw.home.entities),
                "cloud_before": _cloud_bytes(prompt, claw.registry.specs()),
                "cloud_after": _cloud_bytes(prompt, prompt.tools),
                "tools_before": len(claw.registry.specs()), "tools_after": len(prompt.tools),
                "local_before": len(before), "local_after": len(after), "listed": len(entities),
            }
        finally:
            await driver.close()
            await ha.stop()


async def main() -> None:
    vocab = Llama(model_path=default_model_path(), vocab_only=True, verbose=False)
    chat = ChatPrompt(vocab, None)
    print(f"sentence: {SAID!r}; local context 4,096 tokens")
    print(f"{'entities':>8} | {'cloud bytes before':>18} {'after':>8} {'ratio':>6} | {'tools':>7} | "
          f"{'local tokens before':>19} {'after':>6} {'ratio':>6} | listed")
    for size in (10, 100, 1000):
        r = await measure(size, chat)
        fits = "" if r["local_before"] < 4096 else " (overflows)"
        print(f"{r['entities']:>8} | {r['cloud_before']:>18,} {r['cloud_after']:>8,} "
              f"{r['cloud_after'] / r['cloud_before']:>6.2f} | {r['tools_before']:>3}->{r['tools_after']:<3} | "
              f"{r['local_before']:>19,} {r['local_after']:>6,} {r['local_after'] / r['local_before']:>6.2f} | "
              f"{r['listed']}{fits}")


if __name__ == "__main__":
    asyncio.run(main())
