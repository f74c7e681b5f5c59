"""Action buttons as OpenCUI universal messages and back, checked like the model's buttons."""

from __future__ import annotations

import json
from typing import Any

import pytest

from copilot_widget import InvalidOptionsError
from copilot_widget._actions import Action
from copilot_widget._buttons import ActionButton, check_buttons
from copilot_widget._opencui import (
    OpenCUIError,
    buttons_from_message,
    from_opencui,
    to_opencui,
    to_opencui_message,
)
from copilot_widget.testing import text


def create_shape(kind: str, size: int) -> int:
    """Add a shape to the canvas."""
    return size


def hidden(note: str) -> None:
    """A frontend-only action, never offered."""


ACTIONS = {
    "create_shape": Action(create_shape),
    "hidden": Action(hidden, available="frontend"),
}

ACTION_BUTTON: ActionButton = {
    "id": "button_1",
    "label": "Add a square",
    "action": "create_shape",
    "arguments": {"kind": "square", "size": 5},
    "reply": None,
}
REPLY_BUTTON: ActionButton = {
    "id": "button_2",
    "label": "Thanks",
    "action": None,
    "arguments": None,
    "reply": "Thank you, that is all.",
}


def test_an_action_button_is_a_click_without_url_whose_payload_names_the_action() -> None:
    client_action = to_opencui(ACTION_BUTTON)
    assert client_action["type"] == "click"
    assert client_action["url"] == ""
    assert client_action["display"] == "Add a square"
    assert json.loads(client_action["payload"]) == {
        "action": "create_shape",
        "arguments": {"kind": "square", "size": 5},
    }


def test_a_reply_button_is_a_reply_whose_payload_is_the_text_it_sends() -> None:
    assert to_opencui(REPLY_BUTTON) == {
        "type": "reply",
        "display": "Thanks",
        "payload": "Thank you, that is all.",
    }


@pytest.mark.parametrize("button", [ACTION_BUTTON, REPLY_BUTTON])
def test_round_trip_keeps_label_action_arguments_and_reply(button: ActionButton) -> None:
    raw = from_opencui(to_opencui(button))
    assert raw["label"] == button["label"]
    assert raw["action"] == button["action"]
    assert raw["reply"] == button["reply"]
    arguments = json.loads(raw["arguments"]) if raw["arguments"] is not None else None
    assert arguments == button["arguments"]
    # Through JSON text too, as a message would travel.
    assert from_opencui(json.loads(json.dumps(to_opencui(button)))) == raw


def test_the_model_s_form_of_arguments_json_text_also_converts() -> None:
    raw = {"label": "Big circle", "action": "create_shape", "arguments": '{"kind": "circle"}'}
    payload = json.loads(to_opencui(raw)["payload"])
    assert payload == {"action": "create_shape", "arguments": {"kind": "circle"}}


def test_a_button_without_action_or_reply_or_label_cannot_be_converted() -> None:
    with pytest.raises(OpenCUIError, match="needs an action or a reply"):
        to_opencui({"label": "Nothing", "action": None, "reply": None})
    with pytest.raises(OpenCUIError, match="needs a label"):
        to_opencui({"label": " ", "action": "create_shape"})
    with pytest.raises(OpenCUIError, match="not valid JSON"):
        to_opencui({"label": "Bad", "action": "create_shape", "arguments": "{nope"})


def test_a_reply_with_an_empty_payload_sends_its_display_text() -> None:
    raw = from_opencui({"type": "reply", "display": "Yes please"})
    assert raw == {"label": "Yes please", "action": None, "arguments": None, "reply": "Yes please"}


@pytest.mark.parametrize(
    ("client_action", "why"),
    [
        (
            {"type": "click", "url": "https://example.com", "display": "Docs", "payload": ""},
            "opens a URL",
        ),
        ({"type": "call", "phoneNumber": "+15555550100", "display": "Call us"}, "phone call"),
        ({"type": "share", "display": "Share"}, "unknown client action type 'share'"),
        ({"type": "click", "url": "", "display": "Go", "payload": "BUY_NOW"}, "JSON object"),
        ({"type": "click", "url": "", "display": "Go", "payload": "{}"}, "names no action"),
        (
            {"type": "click", "display": "Go", "payload": '{"action": "a", "arguments": [1]}'},
            "arguments must be an object",
        ),
        (
            {"type": "click", "display": "Go", "payload": '{"action": "a", "run": true}'},
            "unknown keys 'run'",
        ),
        ({"type": "reply", "payload": "hi"}, "needs a 'display' text"),
        ({"type": "reply", "display": "Hi", "payload": 3}, "payload must be text"),
        ("reply", "must be an object"),
    ],
)
def test_client_actions_that_cannot_be_buttons_are_refused_with_the_reason(
    client_action: Any, why: str
) -> None:
    with pytest.raises(OpenCUIError, match=why):
        from_opencui(client_action)


def rich_card() -> dict[str, Any]:
    return {
        "type": "rich",
        "title": "Next steps",
        "description": "Pick one",
        "insideActions": [
            to_opencui(ACTION_BUTTON),
            {"type": "click", "url": "https://example.com", "display": "Docs"},
            {
                "type": "click",
                "url": "",
                "display": "Launch",
                "payload": json.dumps({"action": "launch_rockets", "arguments": {}}),
            },
        ],
        "floatActions": [to_opencui(REPLY_BUTTON)],
    }


def test_a_message_gives_its_buttons_in_order_and_the_refused_ones_with_reasons() -> None:
    buttons, refused = buttons_from_message(rich_card())
    assert [b["label"] for b in buttons] == ["Add a square", "Launch", "Thanks"]
    assert [r["label"] for r in refused] == ["Docs"]
    assert "opens a URL" in refused[0]["why"]


def test_buttons_from_a_message_pass_check_buttons_only_for_registered_offered_actions() -> None:
    buttons, _ = buttons_from_message(rich_card())
    shown, refused = check_buttons({"buttons": buttons}, ACTIONS)
    assert [(b["label"], b["action"], b["arguments"], b["reply"]) for b in shown] == [
        ("Add a square", "create_shape", {"kind": "square", "size": 5}, None),
        ("Thanks", None, None, "Thank you, that is all."),
    ]
    assert refused == [{"label": "Launch", "why": "unknown action 'launch_rockets'"}]


def test_a_forged_button_is_refused_by_check_buttons() -> None:
    forged = [
        # A frontend-only action is never offered, so no button may run it.
        {"type": "click", "display": "Sneak", "payload": '{"action": "hidden", "arguments": {}}'},
        # Arguments that do not fit the action's schema.
        {
            "type": "click",
            "display": "Huge",
            "payload": '{"action": "create_shape", "arguments": {"kind": "square", "size": "x"}}',
        },
    ]
    buttons, refused = buttons_from_message({"type": "listText", "inputActions": forged})
    assert refused == []
    shown, refused = check_buttons({"buttons": buttons}, ACTIONS)
    assert shown == []
    assert refused[0] == {"label": "Sneak", "why": "unknown action 'hidden'"}
    assert refused[1]["label"] == "Huge"
    assert "size: Input should be a valid integer" in refused[1]["why"]


def test_list_rich_messages_give_the_buttons_of_every_card_then_the_main_ones() -> None:
    message = {
        "type": "listRich",
        "cardTitles": ["Square", "Circle"],
        "cardInputActions": [
            [to_opencui({**ACTION_BUTTON, "label": "Square"})],
            [to_opencui({**ACTION_BUTTON, "label": "Circle"})],
        ],
        "mainInputActions": [to_opencui(REPLY_BUTTON)],
    }
    buttons, refused = buttons_from_message(message)
    assert [b["label"] for b in buttons] == ["Square", "Circle", "Thanks"]
    assert refused == []


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ({"type": "text", "text": "Hello"}, None),
        ({"type": "carousel"}, "unknown message type 'carousel'"),
        (["not", "a", "message"], "a message must be an object"),
        ({"type": "rich", "insideActions": {"type": "reply"}}, "insideActions must be a list"),
        (
            {"type": "listRich", "cardInputActions": [to_opencui(REPLY_BUTTON)]},
            "cardInputActions must be a list of lists",
        ),
    ],
)
def test_messages_without_readable_buttons(message: Any, why: str | None) -> None:
    buttons, refused = buttons_from_message(message)
    assert buttons == []
    if why is None:
        assert refused == []
    else:
        assert len(refused) == 1
        assert why in refused[0]["why"]


def test_buttons_become_a_rich_card_that_reads_back_the_same() -> None:
    message = to_opencui_message([ACTION_BUTTON, REPLY_BUTTON], title="Next", description="Pick")
    assert message["type"] == "rich"
    assert (message["title"], message["description"]) == ("Next", "Pick")
    buttons, refused = buttons_from_message(json.loads(json.dumps(message)))
    assert refused == []
    shown, _ = check_buttons({"buttons": buttons}, ACTIONS)
    assert [(b["label"], b["action"], b["arguments"], b["reply"]) for b in shown] == [
        (b["label"], b["action"], b["arguments"], b["reply"]) for b in (ACTION_BUTTON, REPLY_BUTTON)
    ]


# -- the clickAction shape ------------------------------------------------------------------
def test_a_custom_click_action_targets_the_action_and_round_trips() -> None:
    written = to_opencui(ACTION_BUTTON, style="custom")
    assert written == {
        "display": "Add a square",
        "clickAction": "custom",
        "targetAction": {"action": "create_shape", "arguments": {"kind": "square", "size": 5}},
    }
    assert from_opencui(written) == from_opencui(to_opencui(ACTION_BUTTON))
    reply = to_opencui(REPLY_BUTTON, style="custom")
    assert reply == {"display": "Thanks", "clickAction": "reply", "payload": REPLY_BUTTON["reply"]}
    assert from_opencui(reply)["reply"] == REPLY_BUTTON["reply"]


def test_a_custom_click_action_may_carry_the_arguments_beside_the_action() -> None:
    raw = from_opencui(
        {
            "display": "Add a square",
            "clickAction": "custom",
            "targetAction": {"action": "create_shape", "kind": "square", "size": 5},
        }
    )
    assert raw["action"] == "create_shape"
    assert json.loads(raw["arguments"]) == {"kind": "square", "size": 5}
    shown, refused = check_buttons({"buttons": [raw]}, ACTIONS)
    assert refused == [] and shown[0]["arguments"] == {"kind": "square", "size": 5}


@pytest.mark.parametrize(
    ("client_action", "why"),
    [
        ({"display": "Go", "clickAction": "url", "url": "https://x.test"}, "opens a URL"),
        ({"display": "Go", "clickAction": "custom"}, "targetAction"),
        ({"display": "Go", "clickAction": "custom", "targetAction": {"kind": "x"}}, "no action"),
        ({"display": "Go", "clickAction": "dial"}, "unknown clickAction"),
    ],
)
def test_click_actions_that_cannot_be_buttons_are_refused(client_action: Any, why: str) -> None:
    with pytest.raises(OpenCUIError, match=why):
        from_opencui(client_action)


def test_a_forged_custom_click_is_refused_by_check_buttons() -> None:
    raw = from_opencui(
        {"display": "Sneak", "clickAction": "custom", "targetAction": {"action": "hidden"}}
    )
    shown, refused = check_buttons({"buttons": [raw]}, ACTIONS)
    assert shown == [] and "unknown action" in refused[0]["why"]


# -- in the copilot -------------------------------------------------------------------------
def test_an_opencui_message_shows_as_an_answer_whose_checked_buttons_run(scripted: Any) -> None:
    copilot, _ = scripted([text("Added.")], action_buttons=True)
    made: list[tuple[str, int]] = []

    @copilot.action
    def create_shape(kind: str, size: int) -> str:
        """Add a shape to the canvas."""
        made.append((kind, size))
        return f"a {kind}"

    answer = copilot.show_buttons(
        {
            "type": "rich",
            "title": "Next steps",
            "description": "Pick one.",
            "insideActions": [
                to_opencui(ACTION_BUTTON),
                {"display": "Small circle", "clickAction": "custom",
                 "targetAction": {"action": "create_shape", "kind": "circle", "size": 1}},
                {"type": "click", "display": "Sneak", "url": "",
                 "payload": json.dumps({"action": "hidden", "arguments": {}})},
                {"type": "click", "display": "Docs", "url": "https://example.com"},
            ],
            "floatActions": [to_opencui(REPLY_BUTTON)],
        }
    )  # fmt: skip
    assert copilot.messages[-1]["id"] == answer["id"]
    assert answer["content"][0]["text"]["value"] == "Next steps\n\nPick one."
    labels = [b["label"] for b in answer["buttons"]]
    assert labels == ["Add a square", "Small circle", "Thanks"]  # forged and URL left out
    circle = answer["buttons"][1]
    copilot.click_button(answer["id"], circle["id"])
    assert made == [("circle", 1)]
    # And back: the answer's buttons as an OpenCUI card.
    card = copilot.buttons_as_opencui(answer["id"])
    assert card["type"] == "rich" and card["description"] == "Next steps\n\nPick one."
    assert [from_opencui(a)["label"] for a in card["insideActions"]] == labels


def test_showing_buttons_needs_action_buttons_on(scripted: Any) -> None:
    copilot, _ = scripted([])
    with pytest.raises(InvalidOptionsError, match="action_buttons=True"):
        copilot.show_buttons({"type": "rich", "insideActions": []})
    with pytest.raises(InvalidOptionsError, match="No answer with buttons"):
        copilot.buttons_as_opencui()
