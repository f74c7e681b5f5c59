"""Faults that must end cleanly: hostile actions, engine bugs, failing callbacks, a second
process in the same thread. Each fails one call (or is reported), never the kernel or the run."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from typing import Any

import pytest

from copilot_widget import Copilot
from copilot_widget._messages import text_of
from copilot_widget._store import ThreadStore
from copilot_widget.testing import call, text, tool_calls

from waiting import wait_until


def in_progress(path: Any, thread_id: str) -> bool:
    store = ThreadStore(path)
    try:
        return any(m["status"] == "in_progress" for m in store.messages(thread_id))
    finally:
        store.close()


def results(copilot: Copilot) -> dict[str, dict[str, Any]]:
    return {
        c["name"]: c for m in copilot.messages if m["role"] == "assistant" for c in m["tool_calls"]
    }


@pytest.mark.parametrize("kind", ["sync", "async", "frontend"])
def test_an_action_that_raises_system_exit_fails_that_call_only(scripted: Any, kind: str) -> None:
    copilot, server = scripted(
        [tool_calls(call("quit", {"code": 2})), text("It exited."), text("Yes.")],
        store=":memory:",
    )
    if kind == "sync":

        def quit(code: int) -> None:
            """Exit."""
            sys.exit(code)

    elif kind == "async":

        async def quit(code: int) -> None:  # type: ignore[misc]
            """Exit."""
            sys.exit(code)

    else:

        def quit(code: int) -> None:  # type: ignore[misc]
            """Exit."""
            raise SystemExit(code)

    copilot.action(quit, kind="frontend" if kind == "frontend" else "backend")
    run = copilot.send("quit please")
    assert run.status == "completed"
    failed = results(copilot)["quit"]
    assert failed["status"] == "failed" and "SystemExit" in failed["error"]
    assert "SystemExit" in json.loads(server.requests[1]["messages"][-1]["content"])["error"]
    assert copilot.send("still there?").status == "completed"


def test_hung_sync_actions_never_exhaust_the_workers(scripted: Any) -> None:
    """More hung (timed out) sync actions than any worker pool has threads: the next sync
    action still runs."""
    hung = 40
    release = threading.Event()
    copilot, _ = scripted(
        [
            tool_calls(*[call("hang", {}) for _ in range(hung)], call("quick", {})),
            text("Done."),
        ],
        store=":memory:",
    )

    @copilot.action(timeout=0.05)
    def hang() -> None:
        """Hang."""
        release.wait(30)

    @copilot.action
    def quick() -> str:
        """Answer at once."""
        return "quick"

    finished: list[Any] = []
    worker = threading.Thread(target=lambda: finished.append(copilot.send("go")))
    worker.start()
    worker.join(60)
    release.set()
    assert finished and finished[0].status == "completed"
    calls = [c for m in copilot.messages if m["role"] == "assistant" for c in m["tool_calls"]]
    assert [c["status"] for c in calls] == ["failed"] * hung + ["completed"]


def test_a_result_that_cannot_be_serialised_fails_that_call(scripted: Any) -> None:
    copilot, server = scripted([tool_calls(call("loop", {})), text("Sorry.")], store=":memory:")

    @copilot.action
    def loop() -> list[Any]:
        """A list that contains itself."""
        items: list[Any] = []
        items.append(items)
        return items

    run = copilot.send("go")
    assert run.status == "completed" and copilot.error is None
    assert results(copilot)["loop"]["status"] == "failed"
    assert "cannot be sent to the model" in results(copilot)["loop"]["error"]
    assert server.requests[1]["messages"][-1]["role"] == "tool"


def test_a_bug_inside_the_engine_is_an_internal_error_not_a_retryable_provider_error(
    scripted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    copilot, _ = scripted([text("never")], store=":memory:")

    def broken(self: Any) -> list[dict[str, Any]]:
        raise RuntimeError("boom")

    monkeypatch.setattr("copilot_widget._tools.ToolCalls.definitions", broken)
    run = copilot.send("hi")
    assert run.status == "failed" and copilot.status == "idle"
    assert copilot.error is not None
    assert copilot.error["type"] == "internal_error" and copilot.error["retryable"] is False
    assert "boom" in copilot.error["message"]


def test_failing_callbacks_and_state_getters_are_callback_errors(scripted: Any) -> None:
    copilot, _ = scripted([text("one"), text("two")], store=":memory:")

    def fail(event: dict[str, Any]) -> None:
        raise ValueError("my callback broke")

    copilot.on("message.completed", fail)
    assert copilot.send("hi").status == "completed"
    assert copilot.error is not None and copilot.error["type"] == "callback_error"
    assert "my callback broke" in copilot.error["message"]
    copilot.off("message.completed", fail)

    def get() -> Any:
        raise KeyError("state")

    copilot.track_state(get=get, set=lambda state: None)
    assert copilot.send("again").status == "completed"
    assert copilot.error is not None and copilot.error["type"] == "callback_error"
    assert "track_state" in copilot.error["message"]


def test_opening_a_thread_another_kernel_is_answering_in_never_rewrites_its_messages(
    scripted: Any, tmp_path: Any
) -> None:
    path = tmp_path / "threads.sqlite3"
    release = threading.Event()
    started = threading.Event()
    writer, _ = scripted([tool_calls(call("slow", {})), text("Finished.")], store=path)

    @writer.action
    def slow() -> str:
        """Take a while."""
        started.set()
        release.wait(30)
        return "ok"

    async def answer() -> None:
        run = writer.send("work")
        await asyncio.to_thread(started.wait, 30)
        await asyncio.to_thread(wait_until, lambda: in_progress(path, writer.thread["id"]))
        reader = Copilot(api_key="k", store=path, thread_id=writer.thread["id"])
        shown = [m for m in reader.messages if m["role"] == "assistant"]
        assert shown and shown[-1]["status"] == "incomplete"  # shown as interrupted there
        reader.close()
        stored = ThreadStore(path)
        in_store = [m for m in stored.messages(writer.thread["id"]) if m["role"] == "assistant"]
        stored.close()
        assert in_store[-1]["status"] == "in_progress"  # but never rewritten
        release.set()
        await run

    asyncio.run(answer())
    stored = ThreadStore(path)
    final = stored.messages(writer.thread["id"])
    stored.close()
    assert [m["status"] for m in final] == ["completed"] * 3
    assert text_of(final[-1]) == "Finished."
    writer.close()


def test_a_busy_store_never_holds_up_a_run(scripted: Any, tmp_path: Any) -> None:
    """Another kernel holds the store's write lock: the answer still arrives, and is saved
    once the lock is released."""
    import sqlite3

    path = tmp_path / "threads.sqlite3"
    copilot, _ = scripted([text("first"), text("second")], store=path)
    assert copilot.send("one").status == "completed"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another kernel in the middle of a write
    try:
        # Answered while the lock is held: the save waits in the background, not the run.
        assert copilot.send("two").status == "completed"
    finally:
        other.execute("COMMIT")
        other.close()
    thread_id = copilot.thread["id"]
    copilot.close()  # finishes the queued writes
    assert copilot.store_warning is None
    stored = ThreadStore(path)
    assert [text_of(m) for m in stored.messages(thread_id)] == ["one", "first", "two", "second"]
    stored.close()


def test_file_names_that_are_not_utf8_never_break_the_thread(scripted: Any, tmp_path: Any) -> None:
    name = "caf\udce9.txt"  # what os.listdir() gives for a Latin-1 name on a UTF-8 system
    copilot, server = scripted(
        [tool_calls(call("files", {})), text("One file."), text("Still here.")],
        store=tmp_path / "threads.sqlite3",
    )

    @copilot.action
    def files() -> list[str]:
        """List the files."""
        return [name]

    assert copilot.send(f"what about {name}?").status == "completed"
    assert copilot.send("and now?").status == "completed"
    assert copilot.store_warning is None and copilot.error is None
    last = server.requests[-1]["messages"]
    assert json.dumps(last, ensure_ascii=False).encode("utf-8")
    assert "caf" in copilot.messages[0]["content"][0]["text"]["value"]
