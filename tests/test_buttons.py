"""Action buttons: offered by the model, checked before they are shown, run on a click."""

from __future__ import annotations

import json
from typing import Any

import pytest

from copilot_widget import Copilot, InvalidOptionsError
from copilot_widget._messages import text_of
from copilot_widget.testing import call, text, tool_calls

from waiting import wait_until


def offer(*buttons: dict[str, Any]) -> Any:
    full = [{"action": None, "arguments": None, "reply": None, **b} for b in buttons]
    return tool_calls(call("offer_buttons", {"buttons": full}))


def shapes_copilot(scripted: Any, script: list[Any], **options: Any) -> tuple[Copilot, Any, list]:
    copilot, server = scripted(script, action_buttons=True, **options)
    shapes: list[str] = []

    @copilot.action
    def create_shape(kind: str, size: int) -> int:
        shapes.append(f"{kind}:{size}")
        return len(shapes)

    return copilot, server, shapes


def test_only_buttons_that_name_registered_actions_with_valid_arguments_are_shown(
    scripted: Any,
) -> None:
    copilot, server, shapes = shapes_copilot(
        scripted,
        [
            offer(
                {"label": "Add a square", "action": "create_shape",
                 "arguments": '{"kind": "square", "size": 5}'},
                {"label": "Launch", "action": "launch_rockets", "arguments": "{}"},
                {"label": "Bad size", "action": "create_shape",
                 "arguments": '{"kind": "circle", "size": "huge"}'},
                {"label": "Say thanks", "reply": "Thanks!"},
                {"label": "Nothing"},
            ),
            text("Pick one."),
        ],
    )  # fmt: skip
    copilot.send("what next?")
    # Offered in the tool step, shown after the answer that presents them.
    assert copilot.messages[1]["buttons"] == []
    offered = copilot.messages[2]["buttons"]
    assert [b["label"] for b in offered] == ["Add a square", "Say thanks"]
    assert offered[0]["arguments"] == {"kind": "square", "size": 5}
    tool_names = [t["function"]["name"] for t in server.requests[0]["tools"]]
    assert tool_names == ["create_shape", "offer_buttons"]
    result = json.loads(
        next(m for m in server.requests[1]["messages"] if m["role"] == "tool")["content"]
    )
    assert result["shown"] == ["Add a square", "Say thanks"]
    assert [r["label"] for r in result["refused"]] == ["Launch", "Bad size", "Nothing"]
    assert "unknown action 'launch_rockets'" in result["refused"][0]["why"]
    assert "size: Input should be a valid integer" in result["refused"][1]["why"]
    assert shapes == []  # offering runs nothing
    copilot.close()
    reopened = Copilot(api_key="k")  # the same store and scope: the thread as it was saved
    assert [len(m["buttons"]) for m in reopened.messages] == [0, 0, 2]
    reopened.close()


def test_a_click_runs_the_action_without_an_llm_turn_and_a_reply_button_sends(
    scripted: Any,
) -> None:
    copilot, server, shapes = shapes_copilot(
        scripted,
        [
            offer(
                {"label": "Add a square", "action": "create_shape",
                 "arguments": '{"kind": "square", "size": 5}'},
                {"label": "Say thanks", "reply": "Thanks!"},
            ),
            text("Pick one."),
            text("You're welcome."),
        ],
    )  # fmt: skip
    copilot.send("what next?")
    message = copilot.messages[2]
    add, thanks = message["buttons"]
    requests = len(server.requests)
    copilot._handle_custom_msg(
        {"kind": "click_button", "message_id": message["id"], "button_id": add["id"]}, []
    )  # the chat's request starts the run and returns
    wait_until(lambda: copilot.run is not None and copilot.run.done() and copilot.status == "idle")
    assert shapes == ["square:5"] and len(server.requests) == requests  # no LLM turn
    assert copilot.messages[-1]["tool_calls"][0]["name"] == "create_shape"
    copilot.click_button(message["id"], thanks["id"])
    assert [text_of(m) for m in copilot.messages[-2:]] == ["Thanks!", "You're welcome."]
    with pytest.raises(InvalidOptionsError, match="No button 'button_forged'"):
        copilot.click_button(message["id"], "button_forged")


def test_follow_up_option_gives_the_model_a_turn_after_a_click(scripted: Any) -> None:
    copilot, server, shapes = shapes_copilot(
        scripted,
        [
            offer({"label": "Add", "action": "create_shape",
                   "arguments": '{"kind": "circle", "size": 1}'}),
            text("Pick."),
            text("Added a circle for you."),
        ],
        button_follow_up=True,
    )  # fmt: skip
    copilot.send("go")
    message = copilot.messages[2]
    copilot.click_button(message["id"], message["buttons"][0]["id"])
    assert shapes == ["circle:1"]
    assert text_of(copilot.messages[-1]) == "Added a circle for you."
    assert server.requests[-1]["messages"][-1]["role"] == "tool"


def test_buttons_are_off_unless_asked_for(scripted: Any) -> None:
    copilot, server = scripted([text("hi")])
    copilot.action(lambda: None, name="noop")  # type: ignore[arg-type]
    copilot.send("x")
    assert [t["function"]["name"] for t in server.requests[0]["tools"]] == ["noop"]
    with pytest.raises(InvalidOptionsError, match="action_buttons must be True or False"):
        Copilot(api_key="k", action_buttons="yes")
