"""The kernel decides what runs: a button the model proposed is a proposal, a click on it is
not consent to a `confirm=True` action, and nothing the page or the model sends is echoed or
kept without bounds."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

import pytest

from copilot_widget import Copilot, InvalidOptionsError, RunInProgressError
from copilot_widget._messages import text_of
from copilot_widget._store import RunOwner, ThreadStore
from copilot_widget._threads import REMOTE_CLAIM_SECONDS, _is_live, open_store
from copilot_widget.testing import call, error, text, tool_calls

from waiting import wait_until


def offer(*buttons: dict[str, Any]) -> Any:
    full = [{"action": None, "arguments": None, "reply": None, **b} for b in buttons]
    return tool_calls(call("offer_buttons", {"buttons": full}))


REPORT = {"label": "Show the report", "action": "delete_rows", "arguments": '{"table": "users"}'}


def guarded(scripted: Any, script: list[Any], **options: Any) -> tuple[Copilot, Any, list[str]]:
    """A copilot with a `confirm=True` action, a frontend-only one, and buttons on."""
    copilot, server = scripted(script, action_buttons=True, **options)
    deleted: list[str] = []

    @copilot.action(confirm=True)
    def delete_rows(table: str) -> str:
        """Delete every row of a table."""
        deleted.append(table)
        return f"deleted {table}"

    @copilot.action(available="frontend")
    def wipe_page(confirmed: bool) -> None:
        """Only the app's own code may call this."""
        deleted.append("page")

    return copilot, server, deleted


def with_buttons(copilot: Copilot) -> Any:
    return next(m for m in copilot.messages if m["buttons"])


def click_from_the_page(copilot: Copilot, message_id: str, button_id: str) -> dict[str, Any]:
    replies: list[dict[str, Any]] = []
    copilot._to_front_end = replies.append  # type: ignore[method-assign]
    request = {"kind": "click_button", "message_id": message_id, "button_id": button_id}
    copilot._handle_custom_msg({**request, "request_id": "click"}, [])
    wait_until(lambda: any(r.get("kind") == "reply" for r in replies))
    return next(r for r in replies if r.get("kind") == "reply")


def test_a_click_on_a_confirm_button_shows_the_real_call_and_waits_for_approval(
    scripted: Any,
) -> None:
    copilot, server, deleted = guarded(scripted, [offer(REPORT), text("Here you go.")])
    copilot.send("show me the report")
    message = with_buttons(copilot)
    (button,) = message["buttons"]

    assert click_from_the_page(copilot, message["id"], button["id"])["ok"] is True
    wait_until(lambda: copilot.status == "requires_action")
    assert deleted == []  # the click alone ran nothing
    (pending,) = copilot.pending_approvals
    assert pending["action"] == "delete_rows" and pending["arguments"] == {"table": "users"}
    copilot.approve(pending["tool_call_id"])
    wait_until(lambda: copilot.status == "idle")
    assert deleted == ["users"]
    (recorded,) = copilot.messages[-1]["tool_calls"]
    assert (recorded["status"], json.loads(recorded["result"])) == ("completed", "deleted users")

    # The same button again, from Python this time, and the user says no.
    copilot.click_button(message["id"], button["id"])
    (pending,) = copilot.pending_approvals
    copilot.reject(pending["tool_call_id"], "not now")
    assert deleted == ["users"]
    assert copilot.messages[-1]["tool_calls"][0]["status"] == "rejected"
    assert len(server.requests) == 2  # clicks take no LLM turn


def test_run_action_from_python_is_the_developers_own_call_and_asks_nothing(
    scripted: Any,
) -> None:
    copilot, _, deleted = guarded(scripted, [])
    run = copilot.run_action("delete_rows", table="logs")
    assert run.status == "completed" and deleted == ["logs"]
    copilot.run_action("wipe_page", confirmed=True)  # frontend-only actions too
    assert deleted == ["logs", "page"]


def test_buttons_may_only_name_actions_the_model_may_call(scripted: Any) -> None:
    copilot, server, deleted = guarded(
        scripted,
        [
            offer(
                {"label": "Tidy", "action": "wipe_page", "arguments": '{"confirmed": true}'},
                {"label": "Off", "action": "send_mail", "arguments": "{}"},
                REPORT,
            ),
            text("Pick one."),
        ],
    )

    @copilot.action(available="disabled")
    def send_mail() -> None:
        """Disabled for now."""

    copilot.send("what next?")
    message = with_buttons(copilot)
    assert [b["label"] for b in message["buttons"]] == ["Show the report"]
    told = json.loads(
        next(m for m in server.requests[1]["messages"] if m["role"] == "tool")["content"]
    )
    assert [r["label"] for r in told["refused"]] == ["Tidy", "Off"]
    assert all("unknown action" in r["why"] for r in told["refused"])

    # Buttons turned off: none of the old ones runs.
    copilot.action_buttons = False
    reply = click_from_the_page(copilot, message["id"], message["buttons"][0]["id"])
    assert reply["ok"] is False and "Action buttons are off" in reply["error"]["message"]
    copilot.action_buttons = True

    # An action turned off after it was offered cannot be run by its old button.
    copilot.actions["delete_rows"].available = "frontend"
    reply = click_from_the_page(copilot, message["id"], message["buttons"][0]["id"])
    assert reply["ok"] is False and "not available any more" in reply["error"]["message"]
    assert deleted == [] and copilot.status == "idle"


def test_the_turn_after_a_click_asks_for_approvals_and_offers_no_frontend_action(
    scripted: Any,
) -> None:
    add = {"label": "Add", "action": "add_row", "arguments": '{"table": "users"}'}
    copilot, server, deleted = guarded(
        scripted,
        [
            offer(add),
            text("Pick."),
            # The follow-up turn tries everything a hostile model would.
            tool_calls(
                call("delete_rows", {"table": "users"}),
                call("wipe_page", {"confirmed": True}),
            ),
            text("Done."),
        ],
        button_follow_up=True,
    )
    added: list[str] = []

    @copilot.action
    def add_row(table: str) -> str:
        """Add a row."""
        added.append(table)
        return "added"

    copilot.send("go")
    message = with_buttons(copilot)
    copilot.click_button(message["id"], message["buttons"][0]["id"])
    assert added == ["users"]  # the clicked call ran at once: it is no confirm action
    assert copilot.status == "requires_action" and deleted == []
    (pending,) = copilot.pending_approvals
    assert pending["action"] == "delete_rows"
    copilot.reject(pending["tool_call_id"])
    assert deleted == [] and text_of(copilot.messages[-1]) == "Done."
    follow_up = copilot.messages[-2]["tool_calls"]
    assert [c["status"] for c in follow_up] == ["rejected", "failed"]
    assert "Unknown action 'wipe_page'" in follow_up[1]["result"]
    offered = [t["function"]["name"] for t in server.requests[-2]["tools"]]
    assert "wipe_page" not in offered


def test_refusals_quote_a_short_prefix_of_what_they_refuse(scripted: Any) -> None:
    copilot, _ = scripted([text("hi")], action_buttons=True)
    copilot.send("hello")
    huge = "x" * 6_000_000
    replies: list[dict[str, Any]] = []
    copilot._to_front_end = replies.append  # type: ignore[method-assign]
    for request in (
        {"kind": "approve", "tool_call_id": huge},
        {"kind": "select_thread", "thread_id": huge},
        {"kind": "click_button", "message_id": huge, "button_id": huge},
        {"kind": "approve", "tool_call_id": ["not", "a", "string"] * 100_000},
        {"kind": huge},
    ):
        copilot._handle_custom_msg({**request, "request_id": "r"}, [])
    refusals = [r["error"]["message"] for r in replies if r.get("kind") == "reply"]
    assert len(refusals) == 5
    assert all(len(m) < 400 for m in refusals), [len(m) for m in refusals]
    assert all("xxx" in m for m in refusals[:3])  # still says what it refused
    # Without a request id, a refusal is shown in the banner: bounded too.
    copilot._handle_custom_msg({"kind": "select_thread", "thread_id": huge}, [])
    assert copilot.error is not None and len(copilot.error["message"]) < 400


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        (lambda c: c.send("y" * 100_001), "The message is 100,001 characters long"),
        (lambda c: c.rename_thread(c.thread["id"], "t" * 201), "at most 200 are accepted"),
        (lambda c: c.run_action("note", text="z" * 100_000), "at most 100,000 are accepted"),
    ],
)
def test_prompts_titles_and_arguments_have_a_size_limit(
    scripted: Any, operation: Any, message: str
) -> None:
    copilot, _ = scripted([text("ok"), text("long, but fine")])
    noted: list[str] = []

    @copilot.action
    def note(text: str) -> None:
        """Take a note."""
        noted.append(text)

    copilot.send("first")
    before = json.dumps(copilot.messages)
    with pytest.raises(InvalidOptionsError, match=message):
        operation(copilot)
    assert json.dumps(copilot.messages) == before and noted == []
    assert copilot.send("y" * 100_000).status == "completed"  # the limit itself is accepted


def test_edited_arguments_and_reasons_have_a_size_limit(scripted: Any) -> None:
    copilot, _, deleted = guarded(
        scripted, [tool_calls(call("delete_rows", {"table": "users"})), text("Fine.")]
    )
    copilot.send("clean up")
    (pending,) = copilot.pending_approvals
    with pytest.raises(InvalidOptionsError, match="at most 100,000 are accepted"):
        copilot.approve(pending["tool_call_id"], {"table": "u" * 100_000})
    with pytest.raises(InvalidOptionsError, match="at most 2,000 are accepted"):
        copilot.reject(pending["tool_call_id"], "r" * 2_001)
    assert copilot.pending_approvals == [pending] and deleted == []  # still waiting
    copilot.approve(pending["tool_call_id"], {"table": "logs"})
    assert deleted == ["logs"]


def test_key_shaped_tokens_a_provider_echoes_are_redacted(serve: Any) -> None:
    """A proxy may repeat the upstream key it holds, not the one the copilot was given."""
    upstream = "sk-proj-" + "A1b2C3d4" * 5
    server = serve([error(401, body={"detail": f"Bad key {upstream}; Bearer {'t0k3n' * 6}"})])
    copilot = Copilot(base_url=server.base_url, api_key="local-key-123")
    assert copilot.send("hi").status == "failed"
    assert copilot.error is not None
    shown = copilot.error["message"]
    assert upstream not in shown and "t0k3n" * 6 not in shown
    assert "Bad key sk-…redacted" in shown


# -- two kernels, one thread: one run at a time, and a live run is never disturbed ---------


def test_a_second_copilot_never_disturbs_a_live_pending_approval(
    scripted: Any, tmp_path: Any
) -> None:
    path = tmp_path / "threads.sqlite3"
    first, _, deleted = guarded(
        scripted, [tool_calls(call("delete_rows", {"table": "users"})), text("Deleted.")],
        store=path,
    )  # fmt: skip
    first.send("clean up")
    (pending,) = first.pending_approvals
    thread_id = first.thread["id"]

    second, _ = scripted([text("Both answers are here.")], store=path, thread_id=thread_id)
    with pytest.raises(RunInProgressError, match="is running this thread"):
        second.send("me too")
    stored = ThreadStore(path)
    (waiting,) = [m for m in stored.messages(thread_id) if m["status"] == "in_progress"]
    assert waiting["tool_calls"][0]["status"] == "requires_action"  # left as it is
    first.approve(pending["tool_call_id"])
    assert deleted == ["users"] and text_of(first.messages[-1]) == "Deleted."

    # Once the first run ended, the thread is free, and the second copilot continues from
    # what the first one added (not from its own copy, read before).
    assert second.send("me too").status == "completed"
    assert [text_of(m) for m in second.messages] == [
        "clean up", "", "Deleted.", "me too", "Both answers are here."
    ]  # fmt: skip
    first.close()
    second.close()  # both finish their queued writes
    assert [m["status"] for m in stored.messages(thread_id)] == ["completed"] * 5
    stored.close()


def test_a_run_claimed_by_a_kernel_that_died_does_not_hold_the_thread(where: str) -> None:
    store, other_kernel = open_store(where), open_store(where)  # this kernel's, another's
    host = socket.gethostname()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        holder = RunOwner("copilot_a", host, alive.pid, time.time())
        assert other_kernel.claim_run("thread_1", holder, _is_live).holder is None
        me = RunOwner("copilot_b", host, os.getpid(), time.time())
        assert store.claim_run("thread_1", me, _is_live).holder == holder  # alive: refused

        gone = RunOwner("copilot_c", host, dead.pid, time.time())
        assert other_kernel.claim_run("thread_2", gone, _is_live).holder is None
        claim = store.claim_run("thread_2", me, _is_live)
        assert claim.holder is None and claim.others_ran  # dead: taken over, and reread

        # Another machine's kernel cannot be seen: its claim holds for a while, then not.
        remote = RunOwner("copilot_d", "elsewhere", 1, time.time())
        assert other_kernel.claim_run("thread_3", remote, _is_live).holder is None
        assert store.claim_run("thread_3", me, _is_live).holder == remote
        stale = remote._replace(started_at=time.time() - REMOTE_CLAIM_SECONDS - 1)
        assert other_kernel.claim_run("thread_4", stale, _is_live).holder is None
        assert store.claim_run("thread_4", me, _is_live).holder is None
        # A run that ended releases its thread.
        other_kernel.release_run("thread_1", "copilot_a")
        assert store.claim_run("thread_1", me, _is_live).holder is None
    finally:
        alive.kill()
        alive.wait()
        store.close()
        other_kernel.close()


def test_buttons_of_an_earlier_answer_are_refused_once_the_user_asked_again(
    scripted: Any,
) -> None:
    copilot, _, _ = guarded(
        scripted,
        [
            offer({"label": "Say hi", "reply": "hi"}, {"label": "Say bye", "reply": "bye"}),
            text("Pick one."),
            text("Something else, then."),
        ],
    )
    copilot.send("options?")
    message = with_buttons(copilot)
    hi = message["buttons"][0]
    copilot.send("actually, never mind")
    reply = click_from_the_page(copilot, message["id"], hi["id"])
    assert reply["ok"] is False and "from an earlier answer" in reply["error"]["message"]
    assert [m["role"] for m in copilot.messages].count("user") == 2  # nothing was sent
