"""Exporting a thread to Markdown and JSON, from Python and from the chat."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from copilot_widget import Copilot, InvalidOptionsError
from copilot_widget._export import filename_stem
from copilot_widget._messages import text_of
from copilot_widget.testing import call, text, tool_calls

SCRIPT = [
    tool_calls(call("fetch_user", {"user_id": "2"}), call("broken", {})),
    text("User 2 is **Ada Lovelace**."),
    tool_calls(call("delete_rows", {"table": "users"})),
    text("I did not delete anything."),
]


def with_actions(copilot: Copilot) -> None:
    @copilot.action
    def fetch_user(user_id: str) -> dict[str, str]:
        """Fetch a user.

        Args:
            user_id: The user's id.
        """
        return {"name": "Ada Lovelace", "note": "uses ``` fences"}

    @copilot.action
    def broken() -> None:
        """Always fails."""
        raise RuntimeError("the database is down")

    @copilot.action(confirm=True)
    def delete_rows(table: str) -> str:
        """Delete every row of a table."""
        return "deleted"


@pytest.fixture
def conversation(scripted: Any) -> Copilot:
    """A thread with a question, two tool calls (one failing), an answer, and a rejected
    approval."""
    copilot, _ = scripted(list(SCRIPT))
    with_actions(copilot)
    copilot.send("Who is user 2?")
    copilot.send("Now delete the users table")
    (pending,) = copilot.pending_approvals
    copilot.reject(pending["tool_call_id"], reason="not on Fridays")
    assert copilot.status == "idle"
    return copilot


def test_markdown_has_every_turn_and_tool_call(conversation: Copilot) -> None:
    markdown = conversation.export_thread()
    assert markdown.startswith("# Who is user 2?\n")
    assert markdown.count("\n## User · ") == 2
    assert markdown.count("\n## Assistant · ") == 4
    for expected in (
        "Who is user 2?",
        "User 2 is **Ada Lovelace**.",
        "### Tool call `fetch_user` (completed)",
        '"user_id": "2"',
        '"name": "Ada Lovelace"',
        "### Tool call `broken` (failed)",
        "Error: the database is down",
        "### Tool call `delete_rows` (rejected by the user)",
        "Outcome: Rejected: not on Fridays",
        "I did not delete anything.",
    ):
        assert expected in markdown, expected
    # A result holding ``` is fenced with a longer fence, so it cannot end the block early.
    assert "````json\n" in markdown
    # The turns come in order.
    steps = ("Who is user 2?\n\n", "fetch_user", "Ada Lovelace**", "Now delete", "delete_rows")
    order = [markdown.index(step) for step in (*steps, "did not delete")]
    assert order == sorted(order)


def test_json_is_the_thread_and_its_messages_as_stored(
    conversation: Copilot, tmp_path: pathlib.Path
) -> None:
    exported = json.loads(conversation.export_thread(format="json"))
    assert set(exported) == {"version", "thread", "messages"}
    assert exported["version"] == 1
    assert exported["thread"] == conversation.thread
    assert exported["messages"] == json.loads(json.dumps(conversation.messages))
    calls = [c for m in exported["messages"] for c in m["tool_calls"]]
    assert [(c["name"], c["status"]) for c in calls] == [
        ("fetch_user", "completed"),
        ("broken", "failed"),
        ("delete_rows", "rejected"),
    ]
    assert json.loads(calls[0]["arguments"]) == {"user_id": "2"}
    assert json.loads(calls[0]["result"])["name"] == "Ada Lovelace"
    assert "the database is down" in calls[1]["error"]


def test_a_thread_that_is_not_selected_is_exported_from_the_store(
    scripted: Any, tmp_path: pathlib.Path
) -> None:
    copilot, _ = scripted([text("Old answer."), text("New answer.")], store=tmp_path / "s.db")
    copilot.send("old question")
    old = copilot.thread["id"]
    copilot.new_thread()
    copilot.send("new question")
    markdown = copilot.export_thread(old)
    assert "old question" in markdown and "Old answer." in markdown
    assert "new question" not in markdown
    assert [text_of(m) for m in json.loads(copilot.export_thread(old, "json"))["messages"]] == [
        "old question",
        "Old answer.",
    ]
    # An empty new thread exports too.
    copilot.new_thread()
    assert json.loads(copilot.export_thread(format="json"))["messages"] == []
    assert "0 messages" in copilot.export_thread()


def test_bad_exports_are_refused(scripted: Any, tmp_path: pathlib.Path) -> None:
    store = tmp_path / "s.db"
    theirs, _ = scripted([text("Secret plans.")], store=store, user_id="grace")
    theirs.send("plans")
    mine = Copilot(api_key="k", store=store, user_id="ada")
    with pytest.raises(InvalidOptionsError, match="format must be 'markdown' or 'json', got 'pdf'"):
        mine.export_thread(format="pdf")
    with pytest.raises(InvalidOptionsError, match="No thread 'thread_nope'"):
        mine.export_thread("thread_nope")
    # Another scope's thread is refused exactly like selecting it.
    with pytest.raises(InvalidOptionsError, match="No thread") as refused:
        mine.export_thread(theirs.thread["id"])
    with pytest.raises(InvalidOptionsError) as selecting:
        mine.select_thread(theirs.thread["id"])
    assert str(refused.value) == str(selecting.value)
    with pytest.raises(InvalidOptionsError, match="A thread id must be a string"):
        mine.export_thread(42)  # type: ignore[arg-type]


def test_the_chat_downloads_a_file_named_after_the_thread(conversation: Copilot) -> None:
    replies: list[dict[str, Any]] = []
    conversation._to_front_end = replies.append  # type: ignore[method-assign]
    thread_id = conversation.thread["id"]
    for request_id, format in (("m", "markdown"), ("j", "json"), ("p", "pdf")):
        conversation._handle_custom_msg(
            {"kind": "export_thread", "thread_id": thread_id, "format": format,
             "request_id": request_id}, [],
        )  # fmt: skip
    conversation._handle_custom_msg(
        {"kind": "export_thread", "thread_id": "thread_x", "format": "json", "request_id": "x"},
        [],
    )
    answered = {r["request_id"]: r for r in replies if r.get("kind") == "reply"}
    markdown, as_json = answered["m"]["result"], answered["j"]["result"]
    assert markdown == {
        "filename": "Who-is-user-2.md",
        "mime": "text/markdown",
        "text": conversation.export_thread(),
    }
    assert as_json["filename"] == "Who-is-user-2.json"
    assert as_json["mime"] == "application/json"
    assert json.loads(as_json["text"])["thread"]["id"] == thread_id
    assert (
        answered["p"]["ok"] is False and "'markdown' or 'json'" in answered["p"]["error"]["message"]
    )
    assert (
        answered["x"]["ok"] is False and "No thread 'thread_x'" in answered["x"]["error"]["message"]
    )


def test_no_secret_is_exported(serve: Any) -> None:
    server = serve([text("Hello.")])
    key = "sk-very-secret-key-0123456789"
    copilot = Copilot(api_key=key, base_url=server.base_url, store=":memory:")
    copilot.send("hi")
    for format in ("markdown", "json"):
        exported = copilot.export_thread(format=format)
        assert key not in exported and "api_key" not in exported
        assert "Hello." in exported


@pytest.mark.parametrize(
    ("title", "stem"),
    [
        ("Who is user 2?", "Who-is-user-2"),
        ("../../etc/passwd", "etc-passwd"),
        (".hidden", "hidden"),
        ("Données: été 2026", "Données-été-2026"),
        ("a/b\\c:d*e", "a-b-c-d-e"),
        ("???", "conversation"),
        ("", "conversation"),
        ("x" * 100, "x" * 60),
    ],
)
def test_file_names_are_safe(title: str, stem: str) -> None:
    assert filename_stem(title) == stem
