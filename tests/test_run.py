"""Runs against the scripted server: streaming, tool calls, failures, cancellation."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from copilot_widget import Copilot
from copilot_widget._messages import text_of
from copilot_widget.testing import call, cut, error, text, tool_calls

from waiting import wait_until_async


def texts(copilot: Copilot) -> list[tuple[str, str]]:
    return [(m["role"], text_of(m)) for m in copilot.messages]


def tool_results(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in request["messages"] if m["role"] == "tool"]


def assert_valid_history(request: dict[str, Any]) -> None:
    """Every assistant tool call is followed by exactly its results, in order."""
    messages = request["messages"]
    for i, message in enumerate(messages):
        if message["role"] == "assistant" and message.get("tool_calls"):
            ids = [c["id"] for c in message["tool_calls"]]
            following = messages[i + 1 : i + 1 + len(ids)]
            assert [m.get("tool_call_id") for m in following] == ids


def test_plain_text_streams_into_a_completed_message(scripted: Any) -> None:
    copilot, server = scripted([text("Hello", ", ", "world")])
    sent: list[dict[str, Any]] = []
    copilot.on("message.completed", lambda e: sent.append(e["data"]))
    run = copilot.send("Hi")
    assert run.status == "completed"
    assert texts(copilot) == [("user", "Hi"), ("assistant", "Hello, world")]
    assert copilot.messages[-1]["status"] == "completed"
    assert [m["role"] for m in sent] == ["user", "assistant"]
    assert copilot.status == "idle"
    assert server.requests[0]["messages"][-1] == {"role": "user", "content": "Hi"}
    assert server.requests[0]["stream"] is True
    assert copilot.thread["title"] == "Hi"


def test_one_tool_call_with_split_arguments_and_paired_action(scripted: Any) -> None:
    copilot, server = scripted(
        [tool_calls(call("fetch_user", {"user_id": "42"}, split=4)), text("It is Darth.")]
    )
    calls: list[str] = []
    shown: list[str] = []

    @copilot.action
    def fetch_user(user_id: str) -> dict[str, str]:
        """Fetch the user's name.

        Args:
            user_id: The ID of the user.
        """
        calls.append(user_id)
        return {"name": "Darth Doe", "user_id": user_id}

    @copilot.action(paired_action="fetch_user", available="frontend")
    def display_user(name: str) -> None:
        shown.append(name)

    run = copilot.send("Who is 42?")
    assert run.status == "completed"
    assert calls == ["42"]
    assert shown == ["Darth Doe"]  # exactly once, with the backend result
    tool_message = copilot.messages[1]
    assert tool_message["tool_calls"][0]["status"] == "completed"
    assert json.loads(tool_message["tool_calls"][0]["result"])["name"] == "Darth Doe"
    # The frontend action is never offered to the model; the backend one is, strictly.
    tools = {t["function"]["name"]: t["function"] for t in server.requests[0]["tools"]}
    assert set(tools) == {"fetch_user"}
    assert tools["fetch_user"]["strict"] is True
    assert tools["fetch_user"]["parameters"]["properties"]["user_id"]["description"] == (
        "The ID of the user."
    )
    assert_valid_history(server.requests[1])
    assert tool_results(server.requests[1])[0]["content"] == tool_message["tool_calls"][0]["result"]


def test_parallel_tool_calls_each_get_their_result_in_order(scripted: Any) -> None:
    copilot, server = scripted(
        [
            tool_calls(call("add", {"a": 1, "b": 2}, split=3), call("add", {"a": 3, "b": 4})),
            text("3 and 7"),
        ]
    )
    paired: list[int] = []

    @copilot.action
    def add(a: int, b: int) -> int:
        return a + b

    @copilot.action(paired_action="add", available="frontend")
    def show_sum(total: int) -> None:
        paired.append(total)

    copilot.send("Add things")
    results = tool_results(server.requests[1])
    assert [r["content"] for r in results] == ["3", "7"]
    assert paired == [3, 7]  # a non-dict result is passed as one argument
    assert_valid_history(server.requests[1])


async def test_async_backend_and_frontend_actions_on_the_loop(scripted: Any) -> None:
    copilot, server = scripted(
        [tool_calls(call("lookup", {"q": "x"}), call("highlight", {"row": 2})), text("done")]
    )
    loop_threads: list[int] = []

    @copilot.action
    async def lookup(q: str) -> list[str]:
        await asyncio.sleep(0.01)
        loop_threads.append(threading.get_ident())
        return [q, q]

    @copilot.action(kind="frontend")
    def highlight(row: int) -> str:
        loop_threads.append(threading.get_ident())
        return f"row {row}"

    run = copilot.send("go")  # a running loop: returns at once
    assert not run.done()
    message = await run
    assert message is not None and text_of(message) == "done"
    assert len(set(loop_threads)) == 1  # both on the engine's one loop
    assert [r["content"] for r in tool_results(server.requests[1])] == ['["x", "x"]', '"row 2"']


def test_sync_backend_action_runs_off_the_main_thread(scripted: Any) -> None:
    copilot, _ = scripted([tool_calls(call("where", {})), text("ok")])
    seen: list[int] = []

    @copilot.action
    def where() -> None:
        seen.append(threading.get_ident())

    copilot.send("where?")
    assert seen and seen[0] != threading.get_ident()


def test_handler_exception_goes_back_to_the_model(scripted: Any) -> None:
    copilot, server = scripted([tool_calls(call("explode", {"n": 1})), text("Sorry")])
    errors: list[dict[str, Any]] = []
    copilot.on("error", lambda e: errors.append(e["data"]))

    @copilot.action
    def explode(n: int) -> None:
        raise ValueError(f"bad n {n}")

    run = copilot.send("boom")
    assert run.status == "completed"
    tool_call = copilot.messages[1]["tool_calls"][0]
    assert tool_call["status"] == "failed"
    assert tool_call["error"] == "bad n 1"
    assert json.loads(tool_results(server.requests[1])[0]["content"]) == {
        "error": "bad n 1",
        "type": "ValueError",
    }
    assert errors and errors[0]["type"] == "action_error" and errors[0]["action"] == "explode"
    assert texts(copilot)[-1] == ("assistant", "Sorry")


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ('{"user_id": ', "not valid JSON"),
        ('["1"]', "must be a JSON object"),
        ('{"user_id": {"nested": 1}}', "user_id: Input should be a valid string"),
        ("{}", "user_id: Field required"),
        ('{"user_id": "1", "extra": 2}', "extra: Extra inputs are not permitted"),
    ],
)
def test_invalid_arguments_never_reach_the_handler(
    scripted: Any, arguments: str, problem: str
) -> None:
    copilot, server = scripted([tool_calls(call("fetch_user", arguments, split=2)), text("ok")])
    called: list[str] = []

    @copilot.action
    def fetch_user(user_id: str) -> None:
        called.append(user_id)

    assert copilot.send("x").status == "completed"
    assert called == []
    result = json.loads(tool_results(server.requests[1])[0]["content"])
    assert result["type"] == "invalid_arguments"
    assert problem in result["error"]
    assert copilot.messages[1]["tool_calls"][0]["status"] == "failed"


def test_unknown_and_disabled_tools_are_answered(scripted: Any) -> None:
    copilot, server = scripted([tool_calls(call("nope", {}), call("hidden", {})), text("ok")])

    @copilot.action(available="disabled")
    def hidden() -> None:
        raise AssertionError("a disabled action never runs")

    @copilot.action
    def visible() -> None:
        pass

    copilot.send("x")
    results = [json.loads(r["content"]) for r in tool_results(server.requests[1])]
    assert [r["type"] for r in results] == ["unknown_action", "unknown_action"]
    assert "Available actions: visible" in results[0]["error"]
    assert [t["function"]["name"] for t in server.requests[0]["tools"]] == ["visible"]


def test_available_can_change_between_runs(scripted: Any) -> None:
    copilot, server = scripted([text("a"), text("b")])

    @copilot.action
    def act() -> None:
        pass

    copilot.send("1")
    copilot.actions["act"].available = "disabled"
    assert copilot.action_specs[0]["available"] == "disabled"
    copilot.send("2")
    assert "tools" in server.requests[0] and "tools" not in server.requests[1]


def test_max_steps_stops_with_incomplete_status_said_in_the_chat(scripted: Any) -> None:
    copilot, server = scripted([tool_calls(call("step", {})) for _ in range(3)], max_steps=3)
    steps: list[int] = []

    @copilot.action
    def step() -> int:
        steps.append(1)
        return len(steps)

    run = copilot.send("loop")
    assert run.status == "incomplete"
    assert len(steps) == 3 and len(server.requests) == 3
    last = copilot.messages[-1]
    assert last["status"] == "incomplete"
    assert last["incomplete_details"] == {"reason": "max_steps"}
    assert "max_steps=3" in text_of(last)
    assert copilot.status == "idle"


def test_readables_are_read_before_every_step(scripted: Any) -> None:
    copilot, server = scripted([tool_calls(call("bump", {})), text("ok")])
    state = {"count": 0}
    copilot.readable("Counter", lambda: state)
    handle = copilot.readable("Gone soon", "x")

    @copilot.action
    def bump() -> None:
        state["count"] += 1

    handle.remove()
    copilot.send("bump")
    systems = [r["messages"][0]["content"] for r in server.requests]
    assert '## Counter\n{"count": 0}' in systems[0]
    assert '## Counter\n{"count": 1}' in systems[1]
    assert "Gone soon" not in systems[0]


def test_action_timeout(scripted: Any) -> None:
    copilot, server = scripted([tool_calls(call("slow", {})), text("ok")])

    @copilot.action(timeout=0.05)
    async def slow() -> None:
        await asyncio.sleep(5)

    copilot.send("x")
    result = json.loads(tool_results(server.requests[1])[0]["content"])
    assert result == {"error": "The action timed out after 0.05 s.", "type": "timeout"}


def test_confirm_action_never_runs_without_approval(scripted: Any) -> None:
    copilot, server = scripted([tool_calls(call("delete_all", {})), text("ok")])
    ran: list[bool] = []

    @copilot.action(confirm=True)
    def delete_all() -> None:
        ran.append(True)

    run = copilot.send("delete everything")
    assert run.status == "requires_action" and ran == []
    copilot.reject(copilot.pending_approvals[0]["tool_call_id"])
    assert ran == []
    assert copilot.messages[1]["tool_calls"][0]["status"] == "rejected"
    assert_valid_history(server.requests[1])


def test_results_are_json_serialised_and_capped(scripted: Any) -> None:
    copilot, server = scripted([tool_calls(call("big", {})), text("ok")])

    @copilot.action
    def big() -> str:
        return "x" * 100_000

    copilot.send("x")
    content = json.loads(tool_results(server.requests[1])[0]["content"])
    assert content["truncated"] is True and "100002 characters" in content["note"]


# -- provider failures ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "error_type", "retryable"),
    [
        (error(401, "Incorrect API key"), "authentication_error", False),
        (error(429, "Slow down"), "rate_limit_error", True),
        (error(429, "No money", code="insufficient_quota"), "insufficient_balance_error", False),
        (error(500, "Boom"), "server_error", True),
        (cut(text("partial ", "ans")), "server_error", True),
    ],
)
def test_provider_errors_give_an_error_event_and_leave_a_valid_thread(
    scripted: Any, reply: Any, error_type: str, retryable: bool
) -> None:
    copilot, server = scripted([reply, text("recovered")])
    events: list[dict[str, Any]] = []
    copilot.on("error", lambda e: events.append(e["data"]))
    run = copilot.send("Hi")
    assert run.status == "failed"
    assert [e["type"] for e in events] == [error_type]
    assert copilot.error is not None and copilot.error["type"] == error_type
    assert copilot.error["retryable"] is retryable
    assert copilot.status == "idle"
    last = copilot.messages[-1]
    assert last["status"] == "incomplete"
    assert last["incomplete_details"] == {"reason": "run_failed"}
    if reply.__class__.__name__ == "CutReply":
        assert text_of(last) == "partial ans"  # the partial text is kept
    # The next send works and its history is valid.
    assert copilot.send("again").status == "completed"
    assert copilot.error is None
    assert texts(copilot)[-1] == ("assistant", "recovered")
    assert_valid_history(server.requests[-1])


def test_cut_during_tool_call_arguments_leaves_every_call_answered(scripted: Any) -> None:
    copilot, server = scripted([cut(tool_calls(call("act", {"x": 1}, split=3))), text("fine")])

    @copilot.action
    def act(x: int) -> None:
        raise AssertionError("never runs: the reply broke off")

    assert copilot.send("x").status == "failed"
    broken = copilot.messages[-1]["tool_calls"][0]
    assert broken["status"] == "cancelled" and broken["result"] is not None
    copilot.send("again")
    assert_valid_history(server.requests[-1])


def test_retry_replaces_the_failed_partial_answer(scripted: Any) -> None:
    copilot, server = scripted([error(500), text("second time lucky")])
    copilot.send("Hi")
    assert copilot.error is not None
    run = copilot.retry()
    assert run.status == "completed"
    assert texts(copilot) == [("user", "Hi"), ("assistant", "second time lucky")]
    assert server.requests[1]["messages"][-1] == {"role": "user", "content": "Hi"}


# -- cancellation --------------------------------------------------------------------------
async def test_cancel_mid_stream_keeps_the_partial_message(scripted: Any) -> None:
    copilot, server = scripted(
        [text(*[f"t{i} " for i in range(200)], delay=0.01), text("next answer")]
    )
    incomplete: list[dict[str, Any]] = []
    copilot.on("message.incomplete", lambda e: incomplete.append(e["data"]))
    run = copilot.send("stream please")

    def streamed_two_pieces() -> bool:
        draft = run.draft_snapshot()
        return draft is not None and text_of(draft).startswith("t0 t1 ")

    await wait_until_async(streamed_two_pieces)
    copilot.cancel()
    await run
    assert run.status == "cancelled"
    last = copilot.messages[-1]
    assert last["status"] == "incomplete"
    assert last["incomplete_details"] == {"reason": "run_cancelled"}
    assert text_of(last).startswith("t0 t1 ") and len(text_of(last)) < len("t0 ") * 200
    assert incomplete and incomplete[0]["id"] == last["id"]
    assert copilot.status == "idle"
    message = await copilot.send("and now?")
    assert message is not None and text_of(message) == "next answer"
    # The partial answer is part of the history the model sees next.
    assert server.requests[1]["messages"][-2]["content"] == text_of(last)


async def test_cancel_mid_action_gives_the_call_a_cancelled_result(scripted: Any) -> None:
    copilot, server = scripted([tool_calls(call("wait", {}), call("after", {})), text("ok")])
    started = threading.Event()  # set on the engine's loop, waited for on the test's
    ran_after: list[bool] = []

    @copilot.action
    async def wait() -> None:
        started.set()
        await asyncio.sleep(30)

    @copilot.action
    def after() -> None:
        ran_after.append(True)

    run = copilot.send("x")
    assert await asyncio.to_thread(started.wait, 5)
    run.cancel()
    await run
    assert run.status == "cancelled"
    calls = copilot.messages[-1]["tool_calls"]
    assert [c["status"] for c in calls] == ["cancelled", "cancelled"]
    assert all(c["result"] for c in calls)
    assert ran_after == []
    await copilot.send("continue")
    assert_valid_history(server.requests[-1])


async def test_sending_while_a_run_is_in_progress_is_refused(scripted: Any) -> None:
    from copilot_widget import RunInProgressError

    copilot, _ = scripted([text("a", "b", delay=0.05)])
    run = copilot.send("first")
    with pytest.raises(RunInProgressError, match="in progress"):
        copilot.send("second")
    await run
    assert [m["role"] for m in copilot.messages] == ["user", "assistant"]


async def test_cancel_during_a_sync_action_discards_its_late_result(scripted: Any) -> None:
    copilot, server = scripted([tool_calls(call("slow_sync", {})), text("next")])
    started, release = threading.Event(), threading.Event()
    finished: list[str] = []

    @copilot.action
    def slow_sync() -> str:
        started.set()
        release.wait(10)
        finished.append("returned")
        return "late result"

    run = copilot.send("x")
    await asyncio.to_thread(started.wait, 5)
    run.cancel()
    await run
    assert run.status == "cancelled" and copilot.status == "idle"
    release.set()
    await wait_until_async(lambda: finished, message="the action to return")
    assert finished == ["returned"]
    (cancelled,) = copilot.messages[-1]["tool_calls"]
    assert cancelled["status"] == "cancelled" and "late result" not in (cancelled["result"] or "")
    await copilot.send("go on")
    assert_valid_history(server.requests[-1])
    assert "late result" not in json.dumps(server.requests[-1]["messages"])
