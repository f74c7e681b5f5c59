"""Threads from Python and from the front end, and the events they emit, in order."""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

import pytest

from copilot_widget import Copilot, InvalidOptionsError, RunInProgressError
from copilot_widget._messages import text_of
from copilot_widget.testing import text


def record(copilot: Copilot) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    for kind in (
        "thread.created",
        "threads.changed",
        "selectedThreadId.changed",
        "messages.changed",
        "message.completed",
        "status.changed",
    ):
        copilot.on(kind, lambda e: events.append((e["type"], e["data"])))
    return events


def test_title_from_the_first_user_message_and_threads_listed(scripted: Any) -> None:
    copilot, _ = scripted([text("a"), text("b")])
    assert copilot.thread["title"] == "New chat"
    copilot.send("  Plot   the sales\nby region please  ")
    assert copilot.thread["title"] == "Plot the sales by region please"
    copilot.send("second prompt does not rename")
    assert copilot.thread["title"] == "Plot the sales by region please"
    assert copilot.threads == [copilot.thread]


def test_new_thread_events_in_documented_order(scripted: Any) -> None:
    copilot, _ = scripted([text("a")])
    copilot.send("first")
    first = dict(copilot.thread)
    events = record(copilot)
    thread = copilot.new_thread()
    assert [kind for kind, _ in events] == [
        "threads.changed",
        "thread.created",
        "selectedThreadId.changed",
        "messages.changed",
    ]
    assert events[1][1] == thread
    assert events[2][1] == {
        "old_selected_thread_id": first["id"],
        "new_selected_thread_id": thread["id"],
    }
    assert events[3][1] == {"messages": []}
    assert copilot.messages == []
    assert [t["id"] for t in copilot.threads] == [thread["id"], first["id"]]


def test_switching_threads_replaces_the_messages(scripted: Any) -> None:
    copilot, _ = scripted([text("answer one"), text("answer two")])
    copilot.send("one")
    one = copilot.thread["id"]
    copilot.new_thread()
    copilot.send("two")
    two = copilot.thread["id"]
    events = record(copilot)
    copilot.select_thread(one)
    assert [text_of(m) for m in copilot.messages] == ["one", "answer one"]
    assert all(m["thread_id"] == one for m in copilot.messages)
    assert ("selectedThreadId.changed", {"old_selected_thread_id": two,
            "new_selected_thread_id": one}) in events  # fmt: skip
    copilot._handle_custom_msg({"kind": "select_thread", "thread_id": two}, [])
    assert [text_of(m) for m in copilot.messages] == ["two", "answer two"]
    with pytest.raises(InvalidOptionsError, match="No thread 'thread_missing'"):
        copilot.select_thread("thread_missing")


def test_rename_and_delete(scripted: Any) -> None:
    copilot, _ = scripted([text("a"), text("b")])
    copilot.send("one")
    one = copilot.thread["id"]
    copilot.new_thread()
    copilot.send("two")
    two = copilot.thread["id"]
    copilot.rename_thread(one, "  Renamed   thread ")
    assert {t["id"]: t["title"] for t in copilot.threads}[one] == "Renamed thread"
    with pytest.raises(InvalidOptionsError, match="title must be a non-empty string"):
        copilot.rename_thread(one, "  ")
    copilot._handle_custom_msg({"kind": "rename_thread", "thread_id": two, "title": "Mine"}, [])
    assert copilot.thread["title"] == "Mine"
    # Deleting the selected thread opens the most recent other one.
    copilot._handle_custom_msg({"kind": "delete_thread", "thread_id": two}, [])
    assert copilot.thread["id"] == one and text_of(copilot.messages[0]) == "one"
    copilot.delete_thread(one)
    assert copilot.messages == [] and copilot.thread["id"] not in (one, two)
    assert len(copilot.threads) == 1


def test_threads_survive_in_the_store(scripted: Any, tmp_path: pathlib.Path) -> None:
    store = tmp_path / "s.sqlite3"
    copilot, _ = scripted([text("a"), text("b")], store=store)
    copilot.send("one")
    copilot.new_thread()
    copilot.send("two")
    copilot.rename_thread(copilot.thread["id"], "Second")
    again = Copilot(api_key="k", store=store)
    assert [t["title"] for t in again.threads] == ["Second", "one"]
    assert again.thread["title"] == "Second"  # the most recent thread opens


def test_an_empty_new_thread_is_not_saved(scripted: Any, tmp_path: pathlib.Path) -> None:
    store = tmp_path / "s.sqlite3"
    copilot, _ = scripted([text("a")], store=store)
    copilot.send("kept")
    copilot.new_thread()
    copilot.new_thread()
    assert [t["title"] for t in Copilot(api_key="k", store=store).threads] == ["kept"]


async def test_thread_changes_are_refused_during_a_run(scripted: Any) -> None:
    copilot, _ = scripted([text("x", "y", delay=0.1)])
    run = copilot.send("go")
    with pytest.raises(RunInProgressError, match="switch threads"):
        copilot.select_thread(copilot.thread["id"])
    with pytest.raises(RunInProgressError, match="new thread"):
        copilot.new_thread()
    copilot._handle_custom_msg({"kind": "new_thread"}, [])
    assert copilot.error is not None and "while a run is in progress" in copilot.error["message"]
    await run
    await asyncio.sleep(0)
    assert len(copilot.threads) == 1
