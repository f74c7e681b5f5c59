"""One engine on one loop: every call works whichever thread or event loop makes it, and a
script with no running loop behaves like a notebook."""

from __future__ import annotations

import _thread
import asyncio
import gc
import threading
import weakref
from collections.abc import Callable
from typing import Any

import pytest

from copilot_widget import Copilot, RunInProgressError
from copilot_widget._messages import text_of
from copilot_widget._store import ThreadStore
from copilot_widget.testing import call, text, tool_calls

from fds import open_fds
from waiting import wait_until


def in_other_loop(fn: Callable[[], Any]) -> Any:
    """Call `fn` from another thread that runs an asyncio loop of its own (as ipykernel 7's
    subshells deliver widget messages)."""
    result: list[Any] = []

    async def main() -> None:
        result.append(fn())

    worker = threading.Thread(target=asyncio.run, args=(main(),))
    worker.start()
    worker.join(30)
    assert result, "the call from the other loop did not return"
    return result[0]


def answers(copilot: Copilot) -> list[str]:
    return [text_of(m) for m in copilot.messages if m["role"] == "assistant"]


def test_requests_from_any_thread_or_loop_share_one_client(scripted: Any) -> None:
    """The chat, a subshell's loop, another thread, a script and `asyncio.run` all ask in one
    thread, over the same kept-alive connections: every answer completes."""
    copilot, _ = scripted([text(f"answer {i}") for i in range(6)])
    replies: list[dict[str, Any]] = []
    copilot._to_front_end = lambda payload: replies.append(payload)  # type: ignore[method-assign]

    def ask_from_chat(i: int) -> None:
        copilot._handle_custom_msg({"kind": "send", "text": f"q{i}", "request_id": f"r{i}"}, [])

    in_other_loop(lambda: ask_from_chat(0))
    wait_until(lambda: copilot.status == "idle" and len(answers(copilot)) == 1)
    ask_from_chat(1)  # the main thread, no loop
    wait_until(lambda: copilot.status == "idle" and len(answers(copilot)) == 2)
    assert copilot.send("q2").status == "completed"  # a script: blocks until done

    async def awaited(prompt: str) -> str:
        message = await copilot.send(prompt)
        assert message is not None
        return text_of(message)

    assert asyncio.run(awaited("q3")) == "answer 3"
    assert asyncio.run(awaited("q4")) == "answer 4"  # a second asyncio.run: same client
    assert in_other_loop(lambda: copilot.send("q5")) is not None
    wait_until(lambda: copilot.status == "idle" and len(answers(copilot)) == 6)
    assert answers(copilot) == [f"answer {i}" for i in range(6)]
    assert copilot.error is None
    done = [r for r in replies if r.get("kind") == "reply"]
    assert [(r["request_id"], r["ok"]) for r in done] == [("r0", True), ("r1", True)]
    copilot.close()


def test_a_refused_request_gets_its_reason_in_the_reply(scripted: Any) -> None:
    copilot, _ = scripted([])
    replies: list[dict[str, Any]] = []
    copilot._to_front_end = lambda payload: replies.append(payload)  # type: ignore[method-assign]
    copilot._handle_custom_msg({"kind": "undo", "request_id": "u1"}, [])
    copilot._handle_custom_msg({"kind": "select_thread", "thread_id": 5, "request_id": "s1"}, [])
    refused = {r["request_id"]: r for r in replies if r.get("kind") == "reply"}
    assert refused["u1"]["ok"] is False and "Nothing to undo" in refused["u1"]["error"]["message"]
    assert refused["s1"]["ok"] is False and refused["s1"]["error"]["message"]
    copilot.close()


@pytest.fixture
def confirm_copilot(scripted: Any) -> Callable[..., tuple[Copilot, Any, list[str]]]:
    def make(extra: list[Any] | None = None, **options: Any) -> tuple[Copilot, Any, list[str]]:
        script = [tool_calls(call("drop", {"table": "users"})), text("Done."), *(extra or [])]
        copilot, server = scripted(script, store=":memory:", **options)
        ran: list[str] = []

        @copilot.action(confirm=True)
        def drop(table: str) -> str:
            """Drop a table."""
            ran.append(table)
            return "dropped"

        return copilot, server, ran

    return make


def test_a_script_cancel_at_an_approval_ends_the_run_and_the_next_send_works(
    confirm_copilot: Any,
) -> None:
    copilot, _, ran = confirm_copilot([text("Hello again.")])
    run = copilot.send("drop users")
    assert run.status == "requires_action" and copilot.status == "requires_action"
    copilot.cancel()
    assert run.status == "cancelled" and copilot.status == "idle" and ran == []
    assert copilot.pending_approvals == []
    call_ = copilot.messages[-1]["tool_calls"][0]
    assert call_["status"] == "cancelled" and call_["result"]
    assert copilot.send("hi").status == "completed"


def test_a_script_reject_then_retry_then_undo_each_leave_a_usable_copilot(
    confirm_copilot: Any,
) -> None:
    copilot, _, ran = confirm_copilot([text("Again.")])
    state = {"n": 0}
    copilot.track_state(get=lambda: dict(state), set=lambda s: state.update(s))
    run = copilot.send("drop users")
    copilot.reject(copilot.pending_approvals[0]["tool_call_id"], "no")
    assert run.status == "completed" and ran == [] and copilot.status == "idle"
    state["n"] = 1  # changed between runs: not the copilot's to undo
    assert copilot.retry().status == "completed"
    with pytest.raises(Exception, match="Nothing to undo"):
        copilot.undo()
    assert copilot.status == "idle" and state == {"n": 1}


def test_a_script_approval_expires_on_its_own(confirm_copilot: Any) -> None:
    copilot, _, ran = confirm_copilot(approval_timeout=0.2)
    run = copilot.send("drop users")
    tool_call_id = copilot.pending_approvals[0]["tool_call_id"]
    wait_until(lambda: copilot.status == "idle")  # nobody calls anything: the timer fires
    assert run.status == "completed" and ran == []
    assert copilot.messages[-2]["tool_calls"][0]["status"] == "rejected"
    with pytest.raises(Exception, match="not a tool call waiting"):
        copilot.approve(tool_call_id)
    assert ran == []


def test_ctrl_c_during_a_blocking_send_cancels_the_run_cleanly(scripted: Any) -> None:
    copilot, _ = scripted([text("slow", "reply", delay=0.5), text("fast")], store=":memory:")
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        copilot.send("take your time")
    assert copilot.status == "idle" and copilot.run is not None
    assert copilot.run.status == "cancelled"
    assert copilot.send("now quick").status == "completed"
    assert answers(copilot)[-1] == "fast"


def test_sending_during_a_run_is_refused_from_any_thread(scripted: Any) -> None:
    copilot, _ = scripted([text("slow", delay=1.0)], store=":memory:")

    async def start_and_try() -> None:
        run = copilot.send("one")
        with pytest.raises(RunInProgressError):
            copilot.send("two")
        await run

    asyncio.run(start_and_try())
    assert [m["role"] for m in copilot.messages] == ["user", "assistant"]


def test_close_releases_the_store_the_loop_and_the_copilot(scripted: Any, tmp_path: Any) -> None:
    copilot, _ = scripted([text("hi")], store=tmp_path / "threads.sqlite3")
    assert copilot.send("hello").status == "completed"
    own_threads = [copilot._home._private, copilot._threads._writer]
    assert all(t is not None and t.is_alive() for t in own_threads)
    assert open_fds(tmp_path / "threads.sqlite3")
    ref = weakref.ref(copilot)
    copilot.close()
    copilot.close()  # twice is fine
    del copilot
    gc.collect()
    wait_until(lambda: ref() is None, timeout=5)
    assert not any(t is not None and t.is_alive() for t in own_threads)
    assert open_fds(tmp_path / "threads.sqlite3") == []


def test_a_timeout_around_an_await_from_another_loop_stops_the_run(scripted: Any) -> None:
    copilot, _ = scripted([text("slow", "reply", delay=0.5), text("fast")], store=":memory:")

    async def impatient() -> None:
        await asyncio.wait_for(copilot.send("take your time"), 0.3)

    with pytest.raises(TimeoutError):
        asyncio.run(impatient())
    wait_until(lambda: copilot.status == "idle")
    assert copilot.run is not None and copilot.run.status == "cancelled"
    assert copilot.send("now quick").status == "completed"
    assert answers(copilot)[-1] == "fast"


def forge(copilot: Copilot, **state: Any) -> None:
    """What a hostile page (or a stale one) can send: a write to synced traits."""
    copilot._handle_msg({"content": {"data": {"method": "update", "state": state}}, "buffers": []})


def test_the_page_cannot_write_the_synced_state(scripted: Any, tmp_path: Any) -> None:
    """A forged thread of another scope, or a forged message with a button, changes nothing:
    the kernel keeps its own thread, messages and scope."""
    store = tmp_path / "threads.sqlite3"
    other, _ = scripted([text("theirs")], store=store, app_id="other-app")
    other.send("their secret")
    copilot, _ = scripted([text("mine")], store=store)
    ran: list[str] = []

    @copilot.action(confirm=True)
    def drop(table: str) -> str:
        """Drop a table."""
        ran.append(table)
        return "dropped"

    copilot.send("hello")
    own_thread, own_messages = dict(copilot.thread), list(copilot.messages)
    button = {"id": "button_x", "label": "Show the report", "action": "drop",
              "arguments": {"table": "users"}, "reply": None}  # fmt: skip
    forged_message = {**own_messages[-1], "id": "msg_forged", "buttons": [button]}
    forge(copilot, thread=dict(other.thread), messages=[*own_messages, forged_message])
    assert copilot.thread == own_thread and copilot.messages == own_messages

    replies: list[dict[str, Any]] = []
    copilot._to_front_end = lambda payload: replies.append(payload)  # type: ignore[method-assign]
    for request in (
        {"kind": "click_button", "message_id": "msg_forged", "button_id": "button_x"},
        {"kind": "rename_thread", "thread_id": other.thread["id"], "title": "mine now"},
        {"kind": "delete_thread", "thread_id": other.thread["id"]},
    ):
        copilot._handle_custom_msg({**request, "request_id": request["kind"]}, [])
    assert [r["ok"] for r in replies if r.get("kind") == "reply"] == [False, False, False]
    assert ran == []
    assert other.select_thread(other.thread["id"])["title"] == "their secret"
    assert [text_of(m) for m in other.messages] == ["their secret", "theirs"]


def test_close_on_the_engine_loop_mid_run_saves_the_answer_then_releases(
    scripted: Any, tmp_path: Any
) -> None:
    """A frontend action (it runs on the copilot's own loop, as cells do in a notebook)
    closes the copilot: the run stops, its partial answer is saved, then the store is
    released."""
    path = tmp_path / "threads.sqlite3"
    copilot, _ = scripted([tool_calls(call("leave", {})), text("never")], store=path)

    @copilot.action(kind="frontend")
    def leave() -> str:
        """Close the chat."""
        copilot.close()
        return "closing"

    copilot.send("bye")
    thread_id = copilot.thread["id"]
    wait_until(lambda: open_fds(path) == [])
    stored = ThreadStore(path)
    saved = stored.messages(thread_id)
    stored.close()
    assert [(m["role"], m["status"]) for m in saved] == [
        ("user", "completed"),
        ("assistant", "completed"),  # the step that called `leave`
        ("assistant", "incomplete"),  # the next one, stopped by close()
    ]
    assert saved[1]["tool_calls"][0]["result"] == '"closing"'
    assert saved[-1]["incomplete_details"] == {"reason": "run_cancelled"}
