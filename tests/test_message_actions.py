"""Message actions: regenerate the last answer, edit and resend a question, feedback on an
answer; from Python and from the chat's requests, saved in the store."""

from __future__ import annotations

from typing import Any

import pytest

from copilot_widget import Copilot, InvalidOptionsError
from copilot_widget._messages import text_of
from copilot_widget.testing import call, text, tool_calls


def texts(copilot: Copilot) -> list[tuple[str, str]]:
    return [(m["role"], text_of(m)) for m in copilot.messages if text_of(m)]


def sent_to_model(server: Any, index: int = -1) -> list[tuple[str, str]]:
    request = server.requests[index]["messages"]
    return [(m["role"], m["content"]) for m in request if m["role"] in ("user", "assistant")]


def request(copilot: Copilot, **content: Any) -> dict[str, Any]:
    """Send a request as the chat does, and return the kernel's reply."""
    replies: list[dict[str, Any]] = []
    copilot._to_front_end = replies.append  # type: ignore[method-assign]
    copilot._handle_custom_msg({**content, "request_id": "r1"}, [])
    (reply,) = [r for r in replies if r.get("kind") == "reply"]
    return reply


def test_regenerate_replaces_the_last_answer_with_a_new_one(scripted: Any) -> None:
    copilot, server = scripted([text("Paris."), text("It is Paris, France.")])
    copilot.send("Capital of France?")
    old = copilot.messages[-1]["id"]
    copilot.regenerate()
    assert texts(copilot) == [("user", "Capital of France?"), ("assistant", "It is Paris, France.")]
    assert old not in [m["id"] for m in copilot.messages]
    # The model was asked the same question, without the old answer.
    assert sent_to_model(server) == [("user", "Capital of France?")]
    # The thread in the store holds the new answer only.
    thread_id = copilot.thread["id"]
    copilot.close()
    reopened = Copilot(api_key="k", thread_id=thread_id)
    assert texts(reopened) == texts(copilot)


def test_regenerate_undoes_what_the_old_answer_changed_so_undo_still_holds(
    scripted: Any,
) -> None:
    copilot, _ = scripted(
        [
            tool_calls(call("add", {"kind": "square"})),
            text("Added a square."),
            tool_calls(call("add", {"kind": "circle"})),
            text("Added a circle."),
        ]
    )
    shapes: list[str] = []

    @copilot.action
    def add(kind: str) -> int:
        shapes.append(kind)
        return len(shapes)

    copilot.track_state(get=lambda: list(shapes), set=lambda s: shapes.__setitem__(slice(None), s))
    copilot.send("add a shape")
    assert shapes == ["square"]
    copilot.regenerate()
    assert shapes == ["circle"]  # not ["square", "circle"]: the old answer's change was undone
    assert texts(copilot)[-1] == ("assistant", "Added a circle.")
    copilot.undo()  # the new answer is undoable, back to the state before the question
    assert shapes == []


def test_edit_and_resend_drops_later_messages_and_answers_the_edited_question(
    scripted: Any,
) -> None:
    copilot, server = scripted([text("One."), text("Two."), text("Answer to the edit.")])
    events: list[str] = []
    copilot.on("messages.changed", lambda e: events.append(str(len(e["data"]["messages"]))))
    copilot.send("first")
    copilot.send("second")
    first_user = copilot.messages[0]["id"]
    copilot.edit_message(first_user, "first, edited")
    assert texts(copilot) == [("user", "first, edited"), ("assistant", "Answer to the edit.")]
    assert sent_to_model(server) == [("user", "first, edited")]
    assert copilot.thread["title"] == "first, edited"  # the thread is named after it
    assert "0" in events  # the drop was announced
    thread_id = copilot.thread["id"]
    copilot.close()
    assert texts(Copilot(api_key="k", thread_id=thread_id)) == texts(copilot)


def test_feedback_is_kept_on_the_answer_saved_and_emitted(scripted: Any) -> None:
    copilot, _ = scripted([text("Paris.")])
    received: list[dict[str, Any]] = []
    copilot.on("message.feedback", lambda e: received.append(e["data"]))
    copilot.send("Capital of France?")
    answer = copilot.messages[-1]["id"]

    copilot.feedback(answer, "down", "  Too   short ")
    assert copilot.messages[-1]["feedback"] == {"rating": "down", "comment": "Too short"}
    assert received[-1]["rating"] == "down" and received[-1]["comment"] == "Too short"
    assert received[-1]["message_id"] == answer
    assert received[-1]["thread_id"] == copilot.thread["id"]

    assert request(copilot, kind="feedback", message_id=answer, rating="up")["ok"] is True
    assert copilot.messages[-1]["feedback"] == {"rating": "up", "comment": ""}
    thread_id = copilot.thread["id"]
    copilot.close()
    reopened = Copilot(api_key="k", thread_id=thread_id)
    assert reopened.messages[-1]["feedback"] == {"rating": "up", "comment": ""}

    reopened.feedback(answer, None)
    assert reopened.messages[-1]["feedback"] is None
    assert [r["rating"] for r in received] == ["down", "up"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ({"kind": "feedback", "message_id": "msg_nope", "rating": "up"}, "No message 'msg_nope'"),
        ({"kind": "feedback", "message_id": "USER", "rating": "up"}, "finished answers"),
        ({"kind": "feedback", "message_id": "ANSWER", "rating": "meh"}, "rating must be 'up'"),
        (
            {"kind": "feedback", "message_id": "ANSWER", "rating": "up", "comment": "x" * 2001},
            "at most 2,000",
        ),
        ({"kind": "edit_message", "message_id": "ANSWER", "text": "hi"}, "Only your own"),
        ({"kind": "edit_message", "message_id": "USER", "text": "  "}, "empty message"),
        ({"kind": "edit_message", "message_id": "msg_other", "text": "hi"}, "No message"),
    ],
)
def test_message_actions_from_the_page_are_checked_against_the_thread(
    scripted: Any, content: dict[str, Any], reason: str
) -> None:
    copilot, server = scripted([text("Paris.")])
    copilot.send("Capital of France?")
    ids = {"USER": copilot.messages[0]["id"], "ANSWER": copilot.messages[1]["id"]}
    before = [dict(m) for m in copilot.messages]
    content = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in content.items()}
    reply = request(copilot, **content)
    assert reply["ok"] is False and reason in reply["error"]["message"]
    assert copilot.messages == before and len(server.requests) == 1  # nothing ran, nothing lost
    assert copilot.status == "idle"


def test_a_message_of_another_thread_cannot_be_edited_or_rated(scripted: Any) -> None:
    copilot, _ = scripted([text("One."), text("Two.")])
    copilot.send("in the first thread")
    other = [m["id"] for m in copilot.messages]
    copilot.new_thread()
    copilot.send("in the second thread")
    for message_id in other:
        with pytest.raises(InvalidOptionsError, match="No message"):
            copilot.feedback(message_id, "up")
        with pytest.raises(InvalidOptionsError, match="No message"):
            copilot.edit_message(message_id, "hijack")
    assert texts(copilot) == [("user", "in the second thread"), ("assistant", "Two.")]


def test_nothing_to_regenerate_in_an_empty_thread(scripted: Any) -> None:
    copilot, server = scripted([])
    reply = request(copilot, kind="regenerate")
    assert reply["ok"] is False and "nothing to regenerate" in reply["error"]["message"]
    assert len(server.requests) == 0


async def test_regenerate_and_edit_are_refused_during_a_run(scripted: Any) -> None:
    copilot, _ = scripted([text("One."), text("Slow answer", delay=5)])
    await copilot.send("first")
    first = copilot.messages[0]["id"]
    copilot.send("second")
    for act in (copilot.regenerate, lambda: copilot.edit_message(first, "again")):
        with pytest.raises(Exception, match="in progress"):
            act()
    copilot.cancel()
    await copilot.run  # type: ignore[misc]
    assert [m["role"] for m in copilot.messages][:3] == ["user", "assistant", "user"]


def test_regenerate_after_a_failed_run_answers_the_question(scripted: Any) -> None:
    copilot, _ = scripted([text("Paris.")])
    copilot.send("Capital of France?")
    copilot.regenerate()  # the script is used up: the provider fails, the question stays
    assert copilot.error is not None
    assert texts(copilot)[0] == ("user", "Capital of France?")
    assert "Paris." not in [t for _, t in texts(copilot)]
