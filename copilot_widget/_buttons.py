"""Action buttons (OpenCUI's explicit mode): the model answers with buttons the user clicks.

The model offers them through one built-in tool. Every button is checked against the
registered actions (and its arguments against the action's schema) before it is shown; a
button that fails is never shown, and the model is told why. A click is checked again when it
happens (`_button_api.py`): a button is the model's proposal, never the user's approval.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypedDict

import pydantic

from ._actions import Action
from ._errors import quote
from ._messages import new_id
from ._schema import problems

TOOL_NAME = "offer_buttons"

_BUTTON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "description": "What the button says."},
        "action": {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "description": "The action the button runs, or null for a reply button.",
        },
        "arguments": {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "description": "The action's arguments as a JSON object text, or null.",
        },
        "reply": {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "description": "For a reply button: the message it sends as the user; else null.",
        },
    },
    "required": ["label", "action", "arguments", "reply"],
    "additionalProperties": False,
}

TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": (
            "Show the user buttons to click under your answer: each runs one of your actions "
            "with the given arguments, or sends a reply text. Use it to offer the next steps."
        ),
        "parameters": {
            "type": "object",
            "properties": {"buttons": {"type": "array", "items": _BUTTON_SCHEMA}},
            "required": ["buttons"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


class ActionButton(TypedDict):
    id: str
    label: str
    action: str | None
    arguments: dict[str, Any] | None
    reply: str | None


def check_buttons(
    raw: Any, actions: Mapping[str, Action]
) -> tuple[list[ActionButton], list[dict[str, str]]]:
    """The buttons that may be shown, and the refused ones with the reason."""
    shown: list[ActionButton] = []
    refused: list[dict[str, str]] = []
    items = raw.get("buttons") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        return [], [{"label": "", "why": "buttons must be a list"}]
    for item in items:
        label = item.get("label") if isinstance(item, dict) else None
        if not isinstance(label, str) or not label.strip():
            refused.append({"label": str(label), "why": "a button needs a label"})
            continue
        why = None
        action_name, reply = item.get("action"), item.get("reply")
        arguments: dict[str, Any] | None = None
        if action_name:
            action = actions.get(action_name)
            if action is None or not action.offered:
                # Only what the model may call itself: never a disabled or frontend-only one.
                why = f"unknown action {quote(action_name)}"
            else:
                try:
                    arguments = json.loads(item.get("arguments") or "{}")
                    if not isinstance(arguments, dict):
                        raise ValueError("not a JSON object")
                    action.schema.validate(arguments)
                except pydantic.ValidationError as exc:
                    why = f"invalid arguments: {problems(exc)}"
                except ValueError as exc:
                    why = f"arguments are not a JSON object ({exc})"
        elif not (isinstance(reply, str) and reply.strip()):
            why = "a button needs an action or a reply"
        if why:
            refused.append({"label": label, "why": why})
            continue
        shown.append(
            {
                "id": new_id("button"),
                "label": label.strip(),
                "action": action_name or None,
                "arguments": arguments if action_name else None,
                "reply": None if action_name else reply,
            }
        )
    return shown, refused
