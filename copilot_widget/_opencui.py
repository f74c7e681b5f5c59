"""Action buttons as OpenCUI universal messages, and back.

OpenCUI's universal messages (io.opencui.core, `messages.kt` in the opencui/core repository)
carry buttons as *client actions*, tagged by `type`:

- `{"type": "reply", "display": ..., "payload": ...}`: the user sends a reply;
- `{"type": "click", "url": ..., "display": ..., "payload": ...}`: a click, which opens `url`,
  or, when `url` is empty, is handed to the app's action handler (OpenCUI's copilot front end,
  opencui/copilot-demo, opens a non-empty `url` and gives any other click to the app as a
  custom action);
- `{"type": "call", "phoneNumber": ..., "display": ..., "payload": ...}`: a phone call.

A message with buttons is a `rich` card (`insideActions`, and `floatActions` of replies), a
`listText` (`inputActions`) or a `listRich` (`cardInputActions`, one list per card, and
`mainInputActions`); a `text` message has none.

How they map to this package's buttons (`ActionButton` in `_buttons.py`):

- an action button is a `click` with an empty `url` whose `payload` is the JSON text
  `{"action": name, "arguments": {...}}`: the app's custom action, named and with its
  arguments, in the one field OpenCUI leaves to the app;
- a reply button is a `reply`: `display` is the label and `payload` the text it sends (a
  `reply` with an empty `payload` sends its `display`);
- a `click` with a `url` is refused: a button here runs an action or sends a reply, and a link
  in the answer's text already opens a page on a click (an app that wants a button for it
  registers an action that opens the page);
- a `call` is refused: a notebook places no phone calls.

Copilot front ends for OpenCUI also describe a button's click by a `clickAction`:
`{"display": ..., "clickAction": "custom", "targetAction": {"action": name, "arguments":
{...}}}` (or the arguments beside `action` in `targetAction`) runs the app's action `name`;
`"reply"` with a `payload` sends it as the user; `"url"` is refused as a `click` with a URL is.
`to_opencui(button, style="custom")` writes that shape.

`from_opencui` gives the raw fields of a button (`label`, `action`, `arguments` as JSON text,
`reply`), the form the model offers them in: they are checked against the registered actions
and their schemas by `check_buttons` before anything is shown, so a forged button is never
trusted. Button ids are not carried: OpenCUI has none, and a shown button gets a new one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ._buttons import ActionButton
from ._errors import quote
from ._schema import ArgumentsError, parse_arguments

#: Where each universal message type keeps its client actions (a list, or a list of lists).
ACTION_LISTS: dict[str, tuple[str, ...]] = {
    "text": (),
    "rich": ("insideActions", "floatActions"),
    "listText": ("inputActions",),
    "listRich": ("cardInputActions", "mainInputActions"),
}


class OpenCUIError(ValueError):
    """An OpenCUI client action that cannot be a button here; the message says why."""


def to_opencui(button: Mapping[str, Any], style: str = "click") -> dict[str, Any]:
    """An action button or reply button as an OpenCUI client action: `style="click"` (a
    `click` or `reply` client action) or `"custom"` (a `clickAction` with a `targetAction`)."""
    if style not in ("click", "custom"):
        raise OpenCUIError(f"style must be 'click' or 'custom', got {quote(style)}.")
    label = button.get("label")
    if not isinstance(label, str) or not label.strip():
        raise OpenCUIError(f"A button needs a label, got {quote(label)}.")
    action = button.get("action")
    if action:
        if not isinstance(action, str):
            raise OpenCUIError(f"Button {label!r}: the action must be a name, got {quote(action)}.")
        arguments = button.get("arguments") or {}
        if isinstance(arguments, str):  # as the model offers it: JSON text
            arguments = _arguments(label, arguments)
        if not isinstance(arguments, Mapping):
            raise OpenCUIError(f"Button {label!r}: the arguments must be an object.")
        target = {"action": action, "arguments": dict(arguments)}
        if style == "custom":
            return {"display": label, "clickAction": "custom", "targetAction": target}
        payload = json.dumps(target, ensure_ascii=False)
        return {"type": "click", "url": "", "display": label, "payload": payload}
    reply = button.get("reply")
    if isinstance(reply, str) and reply.strip():
        if style == "custom":
            return {"display": label, "clickAction": "reply", "payload": reply}
        return {"type": "reply", "display": label, "payload": reply}
    raise OpenCUIError(f"Button {label!r} needs an action or a reply.")


def from_opencui(client_action: Any) -> dict[str, Any]:
    """The raw button fields of an OpenCUI client action, for `check_buttons`; raises
    OpenCUIError for one that cannot be a button here (a URL, a phone call, a malformed one)."""
    if not isinstance(client_action, Mapping):
        raise OpenCUIError(f"A client action must be an object, got {quote(client_action)}.")
    label = client_action.get("display")
    if not isinstance(label, str) or not label.strip():
        raise OpenCUIError(f"A client action needs a 'display' text, got {quote(label)}.")
    kind = client_action.get("type")
    payload = client_action.get("payload", "")
    if payload is None:
        payload = ""
    if not isinstance(payload, str):
        raise OpenCUIError(f"Button {label!r}: the payload must be text, got {quote(payload)}.")
    if "clickAction" in client_action:
        return _click_action(label, client_action["clickAction"], client_action, payload)
    if kind == "reply":
        reply = payload if payload.strip() else label
        return {"label": label, "action": None, "arguments": None, "reply": reply}
    if kind == "click":
        url = client_action.get("url") or ""
        if url:
            raise OpenCUIError(
                f"Button {label!r} opens a URL ({quote(url)}): a button here runs an action or "
                "sends a reply. Put the link in the answer's text, or register an action that "
                "opens it."
            )
        return _action_button(label, payload)
    if kind == "call":
        raise OpenCUIError(f"Button {label!r} places a phone call, which a notebook cannot do.")
    raise OpenCUIError(
        f"Button {label!r} has the unknown client action type {quote(kind)}; expected reply, "
        "click or call."
    )


def buttons_from_message(
    message: Any,
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The raw buttons of an OpenCUI universal message, in order, and the refused client
    actions with the reason (`{"label", "why"}`, as `check_buttons` reports its own).

    Pass the buttons on as `check_buttons({"buttons": buttons}, actions)`.
    """
    if not isinstance(message, Mapping):
        return [], [{"label": "", "why": f"a message must be an object, got {quote(message)}"}]
    kind = message.get("type")
    if kind not in ACTION_LISTS:
        return [], [
            {
                "label": "",
                "why": f"unknown message type {quote(kind)}; expected one of "
                f"{', '.join(ACTION_LISTS)}",
            }
        ]
    buttons: list[dict[str, Any]] = []
    refused: list[dict[str, str]] = []
    for key in ACTION_LISTS[kind]:
        items, why = _client_actions(message.get(key), nested=key == "cardInputActions")
        if why:
            refused.append({"label": "", "why": f"{key} {why}"})
        for item in items:
            try:
                buttons.append(from_opencui(item))
            except OpenCUIError as exc:
                label = item.get("display") if isinstance(item, Mapping) else None
                refused.append({"label": label if isinstance(label, str) else "", "why": str(exc)})
    return buttons, refused


def to_opencui_message(
    buttons: Sequence[ActionButton | Mapping[str, Any]], *, title: str = "", description: str = ""
) -> dict[str, Any]:
    """Buttons (and an optional title and text) as an OpenCUI `rich` card."""
    return {
        "type": "rich",
        "title": title,
        "description": description,
        "insideActions": [to_opencui(button) for button in buttons],
    }


def _click_action(
    label: str, click: Any, client_action: Mapping[str, Any], payload: str
) -> dict[str, Any]:
    """A button described by its `clickAction`."""
    if click == "custom":
        target = client_action.get("targetAction")
        if not isinstance(target, Mapping):
            raise OpenCUIError(f"Button {label!r}: a custom click needs a 'targetAction' object.")
        rest = {key: value for key, value in target.items() if key != "action"}
        if set(rest) == {"arguments"}:  # {"action": ..., "arguments": {...}}
            rest = rest["arguments"]
        try:
            payload = json.dumps({"action": target.get("action"), "arguments": rest})
        except (TypeError, ValueError) as exc:  # a value that is not JSON data
            raise OpenCUIError(
                f"Button {label!r}: the targetAction is not JSON data ({exc})."
            ) from None
        return _action_button(label, payload)
    if click == "reply":
        reply = payload if payload.strip() else label
        return {"label": label, "action": None, "arguments": None, "reply": reply}
    if click == "url":
        raise OpenCUIError(
            f"Button {label!r} opens a URL: a button here runs an action or sends a reply. Put "
            "the link in the answer's text, or register an action that opens it."
        )
    raise OpenCUIError(
        f"Button {label!r} has the unknown clickAction {quote(click)}; expected custom or reply."
    )


def _action_button(label: str, payload: str) -> dict[str, Any]:
    try:
        target = parse_arguments(payload)
    except ArgumentsError as exc:
        raise OpenCUIError(
            f"Button {label!r}: the payload must be the JSON object "
            f'{{"action": name, "arguments": {{...}}}} ({exc})'
        ) from None
    action = target.get("action")
    if not isinstance(action, str) or not action:
        raise OpenCUIError(
            f"Button {label!r}: the payload names no action; expected "
            f'{{"action": name, "arguments": {{...}}}}.'
        )
    unknown = sorted(set(target) - {"action", "arguments"})
    if unknown:
        raise OpenCUIError(
            f"Button {label!r}: the payload has unknown keys {', '.join(map(repr, unknown))}; "
            "expected only 'action' and 'arguments'."
        )
    arguments = target.get("arguments")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise OpenCUIError(f"Button {label!r}: the arguments must be an object.")
    return {
        "label": label,
        "action": action,
        "arguments": json.dumps(arguments, ensure_ascii=False),
        "reply": None,
    }


def _arguments(label: str, text: str) -> Any:
    try:
        return parse_arguments(text)
    except ArgumentsError as exc:
        raise OpenCUIError(f"Button {label!r}: {exc}") from None


def _client_actions(value: Any, *, nested: bool) -> tuple[list[Any], str]:
    """The client actions of one field of a message (a list, or a list per card), and why
    some are unreadable ("" when none is)."""
    if value is None:
        return [], ""
    if not isinstance(value, list):
        return [], "must be a list"
    if not nested:
        return list(value), ""
    cards = [card for card in value if isinstance(card, list)]
    why = "must be a list of lists (one per card)" if len(cards) < len(value) else ""
    return [item for card in cards for item in card], why
