"""The SQLite store: WAL, FTS5 recall of relevant facts only, forget, bounded history."""
from __future__ import annotations

from memory.store import Store


def test_wal_and_fts(tmp_path):
    store = Store(tmp_path / "claw.db")
    mode = store.db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    store.remember("The study is also called the office")
    store.remember("I like jazz after 8pm")
    store.remember("The dog is called Biscuit")
    assert [f.text for f in store.recall("put music on in the office")] == ["The study is also called the office"]
    assert [f.text for f in store.recall("some JAZZ please")] == ["I like jazz after 8pm"]
    assert store.recall("the and of") == []
    assert store.recall('quotes " and * stars') == []


def test_forget_and_survive_restart(tmp_path):
    store = Store(tmp_path / "claw.db")
    f = store.remember("Garage code is 1234")
    store.remember("Pool opens in May")
    store.close()
    store = Store(tmp_path / "claw.db")
    assert [x.text for x in store.all_facts()] == ["Garage code is 1234", "Pool opens in May"]
    assert store.forget(f.id).text == "Garage code is 1234"
    assert store.forget(f.id) is None
    assert store.recall("garage") == []


def test_recent_messages_are_a_bounded_window_in_order(tmp_path):
    store = Store(tmp_path / "claw.db")
    for i in range(40):
        store.add_message("c", "user" if i % 2 == 0 else "assistant", f"m{i}")
    store.add_message("other", "user", "elsewhere")
    recent = store.recent_messages("c", limit=12)
    assert [m["text"] for m in recent] == [f"m{i}" for i in range(28, 40)]


def test_a_replayed_message_is_stored_once(tmp_path):
    store = Store(tmp_path / "claw.db")
    store.add_message("c", "user", "turn on the lights", key="inbox:7")
    store.add_message("c", "user", "turn on the lights", key="inbox:7")  # replay after a crash
    store.add_message("c", "user", "and the fan")
    store.add_message("c", "user", "and the fan")  # said twice on purpose: both kept
    assert [m["text"] for m in store.recent_messages("c")] == [
        "turn on the lights", "and the fan", "and the fan"]
