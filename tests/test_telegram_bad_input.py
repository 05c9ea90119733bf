"""Bad input from Telegram gets a clear answer and loses nothing (issue 11, item 6)."""
from __future__ import annotations

from tests.test_telegram import OWNER, config_for, model, pair, running, say, tg  # noqa: F401 (fixtures)


async def test_a_lone_surrogate_in_a_message_gets_an_answer_and_the_chat_goes_on(claw_home, model, tg):
    async with running(config_for(claw_home, model, tg)) as service:
        await pair(service, tg)
        reply = await say(tg, OWNER, "remember the code \ud800 please")
        assert "Something went wrong" not in reply
        assert (await say(tg, OWNER, "/status")).startswith("I'm up")
        said = [m["text"] for m in service.store.recent_messages(f"telegram:{OWNER}") if m["role"] == "user"]
        assert said[0] == "remember the code \ufffd please"  # stored, the bad character replaced
