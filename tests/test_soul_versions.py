"""soul.md's versions: listed, one shown with its diff to the current text, restored as a new
version (over HTTP and by chat)."""
from __future__ import annotations

from claw.soul import default_soul_text
from tests.anthropic_standin import text_reply, tool_reply


async def test_versions_listed_diffed_and_restored_over_http(api, claw_home):
    await api.put("/api/soul", json={"text": "You are Jeeves.\nBe formal.\n"})
    await api.put("/api/soul", json={"text": "You are Jeeves.\nOne sentence answers.\n"})
    listed = (await api.get("/api/soul/versions")).json()["versions"]
    assert [(v["version"], v["current"]) for v in listed] == [(3, True), (2, False), (1, False)]

    two = (await api.get("/api/soul/versions/2")).json()
    assert two["text"] == "You are Jeeves.\nBe formal.\n" and not two["current"]
    assert "-Be formal." in two["diff"] and "+One sentence answers." in two["diff"]
    assert (await api.get("/api/soul/versions/3")).json()["diff"] == ""

    r = await api.post("/api/soul/versions/1/restore", json={})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 4 and r.json()["source"] == "api: restore of version 1"
    assert (claw_home / "soul.md").read_text() == default_soul_text()
    assert len((await api.get("/api/soul/versions")).json()["versions"]) == 4  # nothing lost

    missing = await api.get("/api/soul/versions/9")
    assert missing.status_code == 404 and "no soul.md version 9" in missing.json()["detail"]
    assert (await api.post("/api/soul/versions/9/restore", json={})).status_code == 404
    assert (await api.get("/api/soul/versions/0")).status_code == 422


async def test_owner_lists_and_restores_versions_by_chat(api, standin, claw_home):
    await api.put("/api/soul", json={"text": "Be terse."})
    standin.queue += [tool_reply("list_soul_versions", {}), text_reply("Two versions."),
                      tool_reply("diff_soul_version", {"version": 1}), text_reply("Here."),
                      tool_reply("restore_soul_version", {"version": 1}), text_reply("Done.")]
    r = (await api.post("/api/chat", json={"text": "what versions of your soul are there?"})).json()
    listing = r["actions"][0]["result"]
    assert listing.startswith("version 2:") and "(current)" in listing.splitlines()[0]
    assert "by api" in listing and "version 1:" in listing
    r = (await api.post("/api/chat", json={"text": "what changed since the first one?"})).json()
    assert "+Be terse." in r["actions"][0]["result"]
    r = (await api.post("/api/chat", json={"text": "put the first one back"})).json()
    assert r["actions"][0]["ok"], r
    assert r["actions"][0]["result"] == "Restored version 1 as version 3; it applies from the next message."
    assert (claw_home / "soul.md").read_text() == default_soul_text()
