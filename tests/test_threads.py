"""Threads from Python and from the front end, and the events they emit, in order."""

from __future__ import annotations

import asyncio
import gc
from types import SimpleNamespace
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
    # The list shows each thread with when it was last active and its last text.
    (listed,) = copilot.threads
    assert listed == {
        **copilot.thread,
        "updated_at": copilot.messages[-1]["completed_at"],
        "preview": "b",
    }


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


@pytest.mark.parametrize("collecting", [True, False])
def test_opening_a_thread_leaves_garbage_collection_as_it_was(
    scripted: Any, collecting: bool
) -> None:
    """Opening a thread pauses the cyclic collector while its rows are read (many small
    objects), and leaves it as the user had it: on, or off if they turned it off."""
    copilot, _ = scripted([text("one"), text("two")])
    copilot.send("first")
    first = copilot.thread["id"]
    copilot.new_thread()
    copilot.send("second")
    seen: list[bool] = []
    read = copilot._threads.store.messages
    copilot._threads.store.messages = lambda thread_id: (
        seen.append(gc.isenabled()) or read(thread_id)
    )
    (gc.enable if collecting else gc.disable)()
    try:
        copilot.select_thread(first)
        assert gc.isenabled() is collecting
    finally:
        gc.enable()
    assert seen == [False]  # paused during the read
    assert [text_of(m) for m in copilot.messages] == ["first", "one"]


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


def test_threads_survive_in_the_store(scripted: Any, where: str) -> None:
    store = where
    copilot, _ = scripted([text("a"), text("b")], store=store)
    copilot.send("one")
    copilot.new_thread()
    copilot.send("two")
    copilot.rename_thread(copilot.thread["id"], "Second")
    again = Copilot(api_key="k", store=store)
    assert [t["title"] for t in again.threads] == ["Second", "one"]
    assert again.thread["title"] == "Second"  # the most recent thread opens


def test_an_empty_new_thread_is_not_saved(scripted: Any, where: str) -> None:
    store = where
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


# -- the default scope: one per notebook ----------------------------------------------------
def in_notebook(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """As in a kernel that Jupyter Server started for the notebook at `path`."""
    monkeypatch.setenv("JPY_SESSION_NAME", path)


def test_each_notebook_has_its_own_threads_by_default(
    scripted: Any, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = where
    in_notebook(monkeypatch, "/home/ada/sales.ipynb")
    first, _ = scripted([text("About sales.")], store=store)
    assert first.app_id == "/home/ada/sales.ipynb"
    first.send("sales question")
    first.close()

    in_notebook(monkeypatch, "/home/ada/weather.ipynb")
    other = Copilot(api_key="k", store=store)
    assert other.app_id == "/home/ada/weather.ipynb"
    assert other.messages == [] and [t["title"] for t in other.threads] == ["New chat"]
    with pytest.raises(InvalidOptionsError, match="No thread"):
        other.select_thread(first.thread["id"])
    other.close()

    in_notebook(monkeypatch, "/home/ada/sales.ipynb")  # the same notebook again, after a restart
    again = Copilot(api_key="k", store=store)
    assert again.thread["id"] == first.thread["id"]
    assert [text_of(m) for m in again.messages] == ["sales question", "About sales."]
    again.close()


def test_an_explicit_app_id_shares_threads_between_notebooks(
    scripted: Any, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = where
    in_notebook(monkeypatch, "/home/ada/one.ipynb")
    first, _ = scripted([text("Shared answer.")], store=store, app_id="shared")
    first.send("shared question")
    first.close()
    in_notebook(monkeypatch, "/home/ada/two.ipynb")
    second = Copilot(api_key="k", store=store, app_id="shared")
    assert second.app_id == "shared"
    assert second.thread["id"] == first.thread["id"]
    assert [text_of(m) for m in second.messages] == ["shared question", "Shared answer."]
    second.close()


def test_the_default_scope_outside_jupyter_server(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython

    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert Copilot(api_key="k", store=":memory:").app_id == "default"  # a script: as before
    assert Copilot(api_key="k", store=":memory:", app_id=None).app_id == "default"
    # A console's session names no file: its copilot keeps the shared default.
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/ada/console-1-8f2c")
    assert Copilot(api_key="k", store=":memory:").app_id == "default"
    # VS Code tells the notebook's path in a variable of the user's namespace.
    monkeypatch.delenv("JPY_SESSION_NAME")
    shell = SimpleNamespace(user_ns={"__vsc_ipynb_file__": "/work/vscode.ipynb"})
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    assert Copilot(api_key="k", store=":memory:").app_id == "/work/vscode.ipynb"
    # Jupyter Server's variable comes first.
    in_notebook(monkeypatch, "/srv/lab.ipynb")
    assert Copilot(api_key="k", store=":memory:").app_id == "/srv/lab.ipynb"
    with pytest.raises(InvalidOptionsError, match="app_id must be a non-empty string"):
        Copilot(api_key="k", store=":memory:", app_id=" ")


# -- the listing and search -------------------------------------------------------------------
def test_the_listing_follows_the_conversation(scripted: Any) -> None:
    copilot, _ = scripted([text("First answer."), text("Second\nanswer.")])
    copilot.send("one")
    events = record(copilot)
    copilot.send("two")
    (listed,) = copilot.threads
    assert listed["preview"] == "Second answer."
    assert listed["updated_at"] == copilot.messages[-1]["completed_at"]
    assert ("threads.changed", {"threads": copilot.threads}) in events
    # The selected thread itself stays a thread: id, object, title, created_at.
    assert set(copilot.thread) == {"id", "object", "title", "created_at"}
    copilot.new_thread()
    assert [t["preview"] for t in copilot.threads] == ["", "Second answer."]
    assert set(copilot.thread) == {"id", "object", "title", "created_at"}
    copilot.select_thread(listed["id"])
    assert set(copilot.thread) == {"id", "object", "title", "created_at"}


def three_topics(scripted: Any, **options: Any) -> tuple[Copilot, dict[str, str]]:
    copilot, _ = scripted(
        [text("Revenue grew 4% in the North."), text("Sunny."), text("Use pandas.")], **options
    )
    ids = {}
    for topic, prompt in (
        ("sales", "How did the REVENUE do?"),
        ("weather", "Weather tomorrow?"),
        ("code", "How do I read a CSV about revenue?"),
    ):
        if ids:
            copilot.new_thread()
        copilot.send(prompt)
        ids[topic] = copilot.thread["id"]
    return copilot, ids


def test_search_threads_by_title_and_text(scripted: Any) -> None:
    copilot, ids = three_topics(scripted)
    found = copilot.search_threads("revenue")
    assert [t["id"] for t in found] == [ids["code"], ids["sales"]]  # most recent first
    assert found[0]["snippet"] == "How do I read a CSV about revenue?"
    assert found[1]["title"] == "How did the REVENUE do?"
    assert set(found[0]) == {"id", "object", "title", "created_at", "updated_at", "preview",
                             "snippet"}  # fmt: skip
    assert [t["id"] for t in copilot.search_threads("  sunny ")] == [ids["weather"]]
    assert copilot.search_threads("hail") == []
    # Searching changes nothing: the selected thread stays.
    assert copilot.thread["id"] == ids["code"]


def test_search_from_the_chat_answers_with_the_matches(scripted: Any) -> None:
    copilot, ids = three_topics(scripted)
    replies: list[dict[str, Any]] = []
    copilot._to_front_end = replies.append  # type: ignore[method-assign]
    copilot._handle_custom_msg({"kind": "search_threads", "query": "north", "request_id": "q1"}, [])
    copilot._handle_custom_msg(
        {"kind": "search_threads", "query": "x" * 201, "request_id": "q2"}, []
    )
    copilot._handle_custom_msg({"kind": "search_threads", "query": 3, "request_id": "q3"}, [])
    answered = {r["request_id"]: r for r in replies if r.get("kind") == "reply"}
    assert answered["q1"]["ok"] is True
    (match,) = answered["q1"]["result"]
    assert match["id"] == ids["sales"] and match["snippet"] == "Revenue grew 4% in the North."
    assert answered["q2"]["ok"] is False
    assert "at most 200" in answered["q2"]["error"]["message"]
    assert answered["q3"]["ok"] is False and "query" in answered["q3"]["error"]["message"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (None, "query must be a non-empty string"),
        (["sales"], "query must be a non-empty string"),
        ("   ", "query must be a non-empty string"),
        ("x" * 201, "201 characters long; at most 200"),
    ],
)
def test_a_bad_query_is_refused(query: Any, message: str) -> None:
    copilot = Copilot(api_key="k", store=":memory:")
    with pytest.raises(InvalidOptionsError, match=message):
        copilot.search_threads(query)


def test_search_sees_only_this_copilots_scope(scripted: Any, where: str) -> None:
    store = where
    three_topics(scripted, store=store, user_id="ada")
    theirs = Copilot(api_key="k", store=store, user_id="grace")
    assert theirs.search_threads("revenue") == []
    other_app = Copilot(api_key="k", store=store, user_id="ada", app_id="another app")
    assert other_app.search_threads("revenue") == []
    assert len(Copilot(api_key="k", store=store, user_id="ada").search_threads("revenue")) == 2
