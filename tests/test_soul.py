"""soul.md: first-run copy, hot reload, bad files keep the last good text, versions kept."""
from __future__ import annotations

import os

from claw.soul import MAX_SOUL_CHARS, Soul, default_soul_text
from memory.store import Store
from tests.anthropic_standin import text_reply, tool_reply


def _soul(home):
    store = Store(home / "claw.db")
    return Soul(home / "soul.md", store), store


def test_first_run_copies_the_default(claw_home):
    soul, store = _soul(claw_home)
    assert (claw_home / "soul.md").read_text() == default_soul_text()
    assert soul.text() == default_soul_text()
    assert len(store.soul_versions()) == 1


def test_edits_apply_without_restart_and_every_version_is_kept(claw_home):
    soul, store = _soul(claw_home)
    (claw_home / "soul.md").write_text("You are Jeeves. Be formal.")
    assert soul.text() == "You are Jeeves. Be formal."
    soul.update("You are Jeeves. One sentence answers.", source="test")
    assert (claw_home / "soul.md").read_text() == "You are Jeeves. One sentence answers."
    texts = [v["text"] for v in store.soul_versions()]
    assert texts == [default_soul_text(), "You are Jeeves. Be formal.", "You are Jeeves. One sentence answers."]


def test_bad_soul_keeps_last_good_and_tells_the_owner_once(claw_home):
    soul, store = _soul(claw_home)
    (claw_home / "soul.md").write_text("Good persona.")
    assert soul.text() == "Good persona."
    for bad in ["   \n", "x" * (MAX_SOUL_CHARS + 1), b"\xff\xfe bad bytes"]:
        if isinstance(bad, bytes):
            (claw_home / "soul.md").write_bytes(bad)
        else:
            (claw_home / "soul.md").write_text(bad)
        assert soul.text() == "Good persona."
        assert soul.text() == "Good persona."
        notices = soul.take_notices()
        assert len(notices) == 1 and "previous version" in notices[0]
        assert soul.take_notices() == []
    os.remove(claw_home / "soul.md")
    assert soul.text() == "Good persona."
    assert "cannot be read" in soul.take_notices()[0]
    # the bad file never replaced a stored version
    assert store.soul_versions()[-1]["text"] == "Good persona."


def test_restart_with_bad_soul_uses_the_last_stored_version(claw_home):
    soul, store = _soul(claw_home)
    soul.update("Persona v2.", source="test")
    store.close()
    (claw_home / "soul.md").write_text("")
    soul2, _ = _soul(claw_home)
    assert soul2.text() == "Persona v2."
    assert soul2.take_notices()


async def test_next_turn_uses_the_edited_soul(api, standin, claw_home):
    await api.post("/api/chat", json={"text": "hi"})
    assert "You are Claw" in standin.requests[-1]["system"][0]["text"]
    (claw_home / "soul.md").write_text("You are Marvin, a gloomy robot butler.")
    await api.post("/api/chat", json={"text": "hi"})
    assert standin.requests[-1]["system"][0]["text"].startswith("You are Marvin")


async def test_bad_soul_edit_is_reported_in_the_next_reply(api, standin, claw_home):
    (claw_home / "soul.md").write_text("")
    r = (await api.post("/api/chat", json={"text": "hi"})).json()
    assert "couldn't use your soul.md: soul.md is empty" in r["reply"]
    assert "You are Claw" in standin.requests[-1]["system"][0]["text"]
    r2 = (await api.post("/api/chat", json={"text": "hi"})).json()
    assert "soul.md" not in r2["reply"]


async def test_owner_changes_soul_by_chat(api, standin, claw_home):
    new = "You are Claw. Keep every answer to one sentence."
    standin.queue += [tool_reply("update_soul", {"text": new}), text_reply("Will do.")]
    r = (await api.post("/api/chat", json={"text": "from now on keep answers to one sentence"})).json()
    assert r["actions"][0]["ok"], r
    assert (claw_home / "soul.md").read_text() == new
    await api.post("/api/chat", json={"text": "hi"})
    assert standin.requests[-1]["system"][0]["text"].startswith(new)


async def test_soul_over_http(api, claw_home):
    got = (await api.get("/api/soul")).json()
    assert got["text"] == default_soul_text() and got["versions"] == 1
    r = await api.put("/api/soul", json={"text": "Be terse."})
    assert r.status_code == 200 and r.json()["versions"] == 2
    assert (claw_home / "soul.md").read_text() == "Be terse."
    r = await api.put("/api/soul", json={"text": ""})
    assert r.status_code == 422 and "empty" in r.json()["detail"]
    assert (claw_home / "soul.md").read_text() == "Be terse."
