"""Approvals: a confirm=True action never runs without the user's approval."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from copilot_widget import Copilot, InvalidOptionsError, RunInProgressError
from copilot_widget.testing import call, text, tool_calls


def with_delete(copilot: Copilot) -> list[dict[str, Any]]:
    ran: list[dict[str, Any]] = []

    @copilot.action(confirm=True)
    def delete_rows(table: str, limit: int) -> str:
        """Delete rows from a table."""
        ran.append({"table": table, "limit": limit})
        return f"deleted {limit} rows from {table}"

    return ran


def results(server: Any) -> list[dict[str, Any]]:
    return [
        json.loads(m["content"]) for m in server.requests[-1]["messages"] if m["role"] == "tool"
    ]


SCRIPT = [tool_calls(call("delete_rows", {"table": "users", "limit": 5})), text("Done.")]


def test_the_run_pauses_and_approve_runs_it(scripted: Any) -> None:
    copilot, server = scripted(list(SCRIPT))
    ran = with_delete(copilot)
    run = copilot.send("clean up")  # no running loop: returns at the first approval
    assert run.status == "requires_action" and copilot.status == "requires_action"
    assert ran == []
    (pending,) = copilot.pending_approvals
    assert pending["action"] == "delete_rows"
    assert pending["arguments"] == {"table": "users", "limit": 5}
    with pytest.raises(RunInProgressError):
        copilot.send("another")
    copilot.approve(pending["tool_call_id"])
    assert ran == [{"table": "users", "limit": 5}]
    assert run.status == "completed" and copilot.status == "idle"
    # The card says how it was decided, in the thread for good.
    approval = {"decision": "approved", "reason": "", "edited": False}
    assert copilot.messages[1]["tool_calls"][0]["approval"] == approval
    assert results(server) == ["deleted 5 rows from users"]
    assert copilot.pending_approvals == []


def test_reject_tells_the_model_with_the_reason_and_the_run_goes_on(scripted: Any) -> None:
    copilot, server = scripted(list(SCRIPT))
    ran = with_delete(copilot)
    copilot.send("clean up")
    tool_call_id = copilot.pending_approvals[0]["tool_call_id"]
    copilot.reject(tool_call_id, reason="not on Fridays")
    assert ran == []
    (result,) = results(server)
    assert result["type"] == "rejected" and result["reason"] == "not on Fridays"
    call_state = copilot.messages[1]["tool_calls"][0]
    assert call_state["status"] == "rejected"
    assert call_state["approval"] == {
        "decision": "rejected",
        "reason": "not on Fridays",
        "edited": False,
    }
    assert copilot.messages[-1]["content"][0]["text"]["value"] == "Done."


def test_edited_arguments_are_validated_again(scripted: Any) -> None:
    copilot, _ = scripted(list(SCRIPT))
    ran = with_delete(copilot)
    copilot.send("clean up")
    tool_call_id = copilot.pending_approvals[0]["tool_call_id"]
    with pytest.raises(InvalidOptionsError, match="limit: Input should be a valid integer"):
        copilot.approve(tool_call_id, {"table": "users", "limit": "lots"})
    assert ran == [] and copilot.pending_approvals  # still pending after a bad edit
    copilot.approve(tool_call_id, {"table": "users", "limit": 1})
    assert ran == [{"table": "users", "limit": 1}]
    assert copilot.messages[1]["tool_calls"][0]["approval"] == {
        "decision": "approved",
        "reason": "",
        "edited": True,
    }
    assert json.loads(copilot.messages[1]["tool_calls"][0]["arguments"]) == {
        "table": "users",
        "limit": 1,
    }


def test_forged_and_replayed_approvals_never_run(scripted: Any) -> None:
    copilot, _ = scripted(list(SCRIPT))
    ran = with_delete(copilot)
    copilot.send("clean up")
    tool_call_id = copilot.pending_approvals[0]["tool_call_id"]
    for forged in ("call_forged", None, 42, {"id": tool_call_id}):
        with pytest.raises(InvalidOptionsError, match="not a tool call waiting for approval"):
            copilot.approve(forged)  # type: ignore[arg-type]
        copilot._handle_custom_msg({"kind": "approve", "tool_call_id": forged}, [])
    assert ran == []
    copilot.reject(tool_call_id)
    with pytest.raises(InvalidOptionsError):
        copilot.approve(tool_call_id)  # replay after the decision
    copilot._handle_custom_msg({"kind": "approve", "tool_call_id": tool_call_id}, [])
    assert ran == []


def test_an_approval_from_another_thread_is_refused(scripted: Any) -> None:
    copilot, _ = scripted(list(SCRIPT))
    ran = with_delete(copilot)
    copilot.send("clean up")
    assert copilot.run is not None
    approval = copilot.run.approvals[copilot.pending_approvals[0]["tool_call_id"]]
    approval.thread_id = "thread_other"  # as if it were another thread's call
    with pytest.raises(InvalidOptionsError):
        copilot.approve(approval.call["id"])
    assert ran == []


async def test_approval_timeout_rejects(scripted: Any) -> None:
    copilot, server = scripted(list(SCRIPT), approval_timeout=0.1)
    ran = with_delete(copilot)
    run = copilot.send("clean up")
    await run
    assert run.status == "completed" and ran == []
    assert "expired" in results(server)[0]["reason"]
    assert copilot.messages[1]["tool_calls"][0]["approval"] == {
        "decision": "expired",
        "reason": "",
        "edited": False,
    }


async def test_approve_from_the_front_end_in_a_notebook(scripted: Any) -> None:
    copilot, _ = scripted(list(SCRIPT))
    ran = with_delete(copilot)
    run = copilot.send("clean up")
    await run.settled()  # paused for the approval
    draft = run.draft_snapshot()
    assert draft is not None and draft["tool_calls"][0]["status"] == "requires_action"
    tool_call_id = copilot.pending_approvals[0]["tool_call_id"]
    copilot._handle_custom_msg(
        {"kind": "approve", "tool_call_id": tool_call_id, "arguments": {"table": "t", "limit": 2}},
        [],
    )
    await run
    assert ran == [{"table": "t", "limit": 2}]


async def test_cancel_while_waiting_for_approval(scripted: Any) -> None:
    copilot, server = scripted([*SCRIPT, text("ok")])
    ran = with_delete(copilot)
    run = copilot.send("clean up")
    await run.settled()  # paused for the approval
    copilot.cancel()
    await run
    assert run.status == "cancelled" and copilot.status == "idle"
    assert copilot.pending_approvals == [] and ran == []
    assert copilot.messages[-1]["tool_calls"][0]["status"] == "cancelled"
    await copilot.send("next")
    assert len(results(server)) == 1  # the cancelled call has its result in the history


def test_a_pending_approval_expires_after_a_kernel_restart(
    scripted: Any, tmp_path: pathlib.Path
) -> None:
    store = tmp_path / "s.sqlite3"
    copilot, _ = scripted(list(SCRIPT), store=store)
    with_delete(copilot)
    copilot.send("clean up")
    assert copilot.pending_approvals
    restarted = Copilot(api_key="k", store=store)
    call_state = restarted.messages[-1]["tool_calls"][0]
    assert call_state["status"] == "cancelled"
    assert "approval expired" in call_state["result"]
    assert restarted.pending_approvals == []


def test_run_action_runs_as_if_clicked_and_the_model_sees_it_next_turn(scripted: Any) -> None:
    copilot, server = scripted([text("I see you deleted 2 rows.")])
    ran = with_delete(copilot)
    shown: list[str] = []

    @copilot.action(paired_action="delete_rows", available="frontend")
    def show(result: str) -> None:
        shown.append(result)

    run = copilot.run_action("delete_rows", table="logs", limit=2)  # the click is the approval
    assert run.status == "completed" and server.requests == []  # no LLM turn
    assert ran == [{"table": "logs", "limit": 2}] and shown == ["deleted 2 rows from logs"]
    (recorded,) = copilot.messages[-1]["tool_calls"]
    assert recorded["status"] == "completed" and recorded["name"] == "delete_rows"
    copilot.send("what did I do?")
    sent = server.requests[-1]["messages"]
    assert sent[-3]["tool_calls"][0]["function"]["name"] == "delete_rows"
    assert json.loads(sent[-2]["content"]) == "deleted 2 rows from logs"
    with pytest.raises(InvalidOptionsError, match="limit: Input should be a valid integer"):
        copilot.run_action("delete_rows", table="logs", limit="all")
    with pytest.raises(InvalidOptionsError, match="No enabled action named 'nope'"):
        copilot.run_action("nope")
