"""Bad input gets a clear answer, never a traceback or a 500: a malformed answer from Claude (the
real SDK against the stand-in), a database file Claw can't use, a home file Claw can't serve."""
from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from claw.demo import run_demo
from devices import homefile
from devices.homefile import HomeFileError
from memory import store
from memory.store import Store, StoreError
from tests.anthropic_standin import malformed_reply, text_reply, tool_reply
from tests.conftest import make_config

# -- Claude's answer ----------------------------------------------------------------------------

MALFORMED = "I couldn't work that out: Claude's answer was malformed"
EMPTY = "I couldn't work that out: Claude sent an empty answer."


@pytest.mark.parametrize("answer, reply", [
    (malformed_reply("content"), f"{MALFORMED} (it had no content)."),
    (malformed_reply(content=None), f"{MALFORMED} (it had no content)."),
    (("raw", "[1, 2]"), f"{MALFORMED} (it had no content)."),  # JSON, but not a message
    (malformed_reply(content=[{"type": "text"}]), f"{MALFORMED} (a text block had no text)."),
    (malformed_reply(content=[{"type": "text", "text": 5}]), f"{MALFORMED} (a text block had no text)."),
    (malformed_reply(content=[{"type": "tool_use", "id": "toolu_1", "input": {}}]),
     f"{MALFORMED} (a tool call had no id, name or arguments)."),
    (malformed_reply(content=[{"type": "tool_use", "id": "toolu_1", "name": "HassTurnOn", "input": [1]}]),
     f"{MALFORMED} (a tool call had no id, name or arguments)."),
    (malformed_reply(content=[]), EMPTY),
    (malformed_reply(content=[{"type": "mystery"}]), EMPTY),  # a kind of block Claw doesn't know
    (malformed_reply(content=["hello"]), EMPTY),
], ids=["no content", "null content", "a list", "text without text", "text a number",
        "tool without name", "tool input a list", "empty content", "unknown block", "block a string"])
async def test_a_malformed_answer_from_claude_is_a_clear_reply(api, standin, answer: Any, reply: str):
    standin.queue.append(answer)
    r = await api.post("/api/chat", json={"text": "hi"})
    assert r.status_code == 200
    body = r.json()
    assert body["reply"] == f"{reply} Try again in a minute. Nothing in the house was changed."
    assert body["actions"] == []


@pytest.mark.parametrize("answer", [
    malformed_reply("usage"),  # token counts are for budgets; the answer still counts
    malformed_reply(content=[{"type": "mystery"}, {"type": "text", "text": "OK."}]),
], ids=["no usage", "unknown block and text"])
async def test_an_answer_with_text_is_used_whatever_else_it_lacks(api, standin, answer: Any):
    standin.queue.append(answer)
    r = await api.post("/api/chat", json={"text": "hi"})
    assert (r.status_code, r.json()["reply"]) == (200, "OK.")


async def test_an_empty_answer_after_tool_results_ends_the_turn(api, standin):
    """Claude may answer its tools' results with nothing: the turn is done, not failed."""
    standin.queue += [tool_reply("GetLiveContext", {}), malformed_reply(content=[])]
    body = (await api.post("/api/chat", json={"text": "hi"})).json()
    assert body["reply"] == "Done." and [a["tool"] for a in body["actions"]] == ["GetLiveContext"]
    standin.queue.append(text_reply("Hello."))
    assert (await api.post("/api/chat", json={"text": "hi"})).json()["reply"] == "Hello."


# -- the database file ------------------------------------------------------------------------

def _damaged(folder: Path) -> bytes:
    """A real Claw database whose pages after the header were overwritten."""
    s = Store(folder / "source.db")
    for n in range(200):
        s.add_message("chat", "user", f"message {n} " * 20)
    s.close()
    data = (folder / "source.db").read_bytes()
    (folder / "source.db").unlink()
    return data[:100] + b"\xff" * (len(data) - 100)


@pytest.mark.parametrize("content, problem", [
    (lambda _: b"name,phone\nAnna,555-0100\n" * 40,
     "is not a SQLite database (file is not a database). Move it aside and Claw starts with a "
     "fresh one; nothing else is changed."),
    (lambda _: b"\0" * 4096, "is not a SQLite database (file is not a database)."),  # looks empty
    (_damaged, "is damaged (database disk image is malformed). Move it aside and Claw starts "
               "with a fresh one; nothing else is changed"),
], ids=["text", "zeros", "damaged"])
def test_a_file_that_is_no_usable_database_is_refused_and_kept(
        tmp_path: Path, content: Callable[[Path], bytes], problem: str):
    path = tmp_path / "claw.db"
    path.write_bytes(data := content(tmp_path))
    with pytest.raises(StoreError) as caught:
        Store(path)
    assert str(caught.value).startswith(f"{path} {problem}"), caught.value
    assert path.read_bytes() == data
    assert os.listdir(tmp_path) == ["claw.db"]


def test_an_empty_file_becomes_a_fresh_database(tmp_path: Path):
    (tmp_path / "claw.db").touch()
    s = Store(tmp_path / "claw.db")
    s.add_message("chat", "user", "hello")
    assert [m["text"] for m in s.recent_messages("chat")] == ["hello"]


def test_a_folder_in_place_of_the_file_is_a_clear_error(tmp_path: Path):
    (tmp_path / "claw.db").mkdir()
    with pytest.raises(StoreError, match=r"claw.db can't be opened \(unable to open database file\)\. "
                                         r"It must be a file"):
        Store(tmp_path / "claw.db")


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """Without write permission; root ignores that, so also immutable (tests run as root here)."""
    path.chmod(0o444)
    immutable = os.geteuid() == 0
    if immutable:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, f"chattr +i is needed to make a file read-only for root: {done.stderr}"
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(0o644)


def test_a_read_only_database_is_refused_at_start(tmp_path: Path):
    path = tmp_path / "claw.db"
    s = Store(path)
    s.add_message("chat", "user", "keep me")
    s.close()
    data = path.read_bytes()
    with _read_only(path):
        with pytest.raises(StoreError, match=r"claw.db is read-only \(attempt to write a readonly "
                                             r"database\)\. Claw writes to it: make the file"):
            Store(path)
        assert path.read_bytes() == data
    assert [m["text"] for m in Store(path).recent_messages("chat")] == ["keep me"]


LOCKED = r"is locked by another program \(another Claw running\?\): it kept a write open for more than 0.3 s"


@pytest.fixture
def another_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[sqlite3.Connection]:
    """Another program's connection to claw.db; it opens a write with `BEGIN IMMEDIATE`."""
    monkeypatch.setattr(store, "BUSY_TIMEOUT", 0.3)
    Store(tmp_path / "claw.db").close()
    other = sqlite3.connect(tmp_path / "claw.db", isolation_level=None)
    yield other
    other.close()


def test_a_database_another_program_is_writing_is_refused_at_start(tmp_path: Path, another_writer):
    another_writer.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreError, match=LOCKED):
        Store(tmp_path / "claw.db")
    another_writer.execute("ROLLBACK")
    Store(tmp_path / "claw.db").close()


def test_a_write_that_waits_too_long_for_another_program_is_a_store_error(tmp_path: Path, another_writer):
    s = Store(tmp_path / "claw.db")
    another_writer.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreError, match=LOCKED):
        s.add_message("chat", "user", "hello")
    another_writer.execute("ROLLBACK")
    s.add_message("chat", "user", "hello")
    assert [m["text"] for m in s.recent_messages("chat")] == ["hello"]


# -- home files ---------------------------------------------------------------------------------

@pytest.mark.parametrize("entities, error", [
    ("  - {domain: light, name: Lamp, attributes: {brightness: high}}\n",
     "line 2: entity 'Lamp': attribute 'brightness' must be a number from 0 to 255, got 'high'"),
    ("  - {domain: light, name: Lamp, attributes: {brightness: .nan}}\n",
     "line 2: entity 'Lamp': attribute 'brightness' must be a number from 0 to 255, got nan"),
    ("  - {domain: media_player, name: Study Speaker, area: Study, attributes: {volume_level: 45}}\n",
     "line 2: entity 'Study Speaker': attribute 'volume_level' must be a number from 0 to 1, got 45"),
    ("  - {domain: light, name: Strip, via: wled, attributes: {rgb_color: red}}\n",
     "line 2: entity 'Strip': attribute 'rgb_color' must be three numbers from 0 to 255 like "
     "[255, 160, 0], got 'red'"),
    ("  - {domain: cover, name: Blind, attributes: {current_position: -5}}\n",
     "line 2: entity 'Blind': attribute 'current_position' must be a number from 0 to 100, got -5"),
    ("  - {domain: toaster, name: Toaster}\n",
     "line 2: entity 'Toaster': Claw has no driver for domain 'toaster' (it drives "
     "alarm_control_panel, binary_sensor, camera, "),
    ("  - id: lihgt.kitchen\n", "line 2: entity 'Kitchen': Claw has no driver for domain 'lihgt'"),
    ("  - {domain: lock, name: Door, via: hue}\n", "line 2: entity 'Door': hue serves light, not lock"),
    ("  - {domain: light, name: Lamp, area: Study}\n  - {domain: light, name: Lamp, area: Hall}\n",
     "line 3: entity 'Lamp' gets the id light.lamp, which the entity on line 2 has already; "
     "give one of them another name"),
    ("  - {id: lock.front, name: Front Door}\n  - {id: lock.front, name: Back Door}\n",
     "line 3: entity 'Back Door' gets the id lock.front, which the entity on line 2 has already; "
     "give one of them another id"),
    ("  - {domain: media_player, name: Study Speaker, area: Study}\n"
     "  - {domain: media_player, name: Study Speaker, area: Study}\n",
     "line 3: entity 'Study Speaker' gets the id media_player.study, which the entity on line 2 "
     "has already; give one of them another area (a Sonos speaker's id comes from its room)"),
], ids=["brightness high", "brightness nan", "volume 45", "rgb red", "position -5", "unknown domain",
        "domain typo in id", "domain the family can't serve", "same name", "same id",
        "two Sonos in a room"])
def test_an_entity_claw_could_not_serve_is_an_error(entities: str, error: str):
    with pytest.raises(HomeFileError) as caught:
        homefile.parse("entities:\n" + entities, "house.yaml")
    assert str(caught.value).startswith(f"house.yaml {error}"), caught.value


def test_the_demo_says_what_is_wrong_with_a_home_file(tmp_path: Path, capsys):
    path = tmp_path / "house.yaml"
    path.write_text("entities:\n  - {domain: light, name: Lamp, attributes: {brightness: high}}\n")
    assert run_demo(make_config(tmp_path), path, chat=False) == 2
    assert capsys.readouterr().err == (
        f"claw: {path} line 2: entity 'Lamp': attribute 'brightness' must be a number from 0 to "
        "255, got 'high'\n")
