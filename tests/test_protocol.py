"""Python and TypeScript speak the same language: traitlets and the front end's Model type, and
the requests, replies and draft messages between them."""

from __future__ import annotations

import pathlib
import re
import typing
from typing import Any

import pytest

from copilot_widget import Copilot
from copilot_widget import _protocol as protocol
from copilot_widget._errors import InvalidOptionsError

TYPES = pathlib.Path(__file__).parent.parent / "js" / "types.ts"


def test_front_end_model_mirrors_the_synced_traitlets_name_for_name() -> None:
    body = re.search(r"export interface Model \{(.*?)\n\}", TYPES.read_text(), re.DOTALL)
    assert body is not None
    ts_names = set(re.findall(r"^\s+(\w+):", body.group(1), re.MULTILINE))
    synced = set(Copilot(api_key="k").trait_names(sync=True))
    widget_internals = {n for n in synced if n.startswith("_")} | {
        "comm",
        "keys",
        "layout",
        "log",
        "tabbable",
        "tooltip",
    }
    assert ts_names == synced - widget_internals


def test_messages_from_the_front_end_that_make_no_sense_are_ignored() -> None:
    copilot = Copilot(api_key="k")
    for content in ("text", None, [], {"kind": "launch", "tool_call_id": "x"}, {"no": "kind"}):
        copilot._handle_custom_msg(content, [])
    assert copilot.messages == [] and copilot.error is None and copilot.status == "idle"
    copilot._handle_custom_msg({"kind": "send", "text": 42}, [])
    assert copilot.error is not None and copilot.error["type"] == "invalid_options_error"
    assert copilot.messages == []


# -- the request / reply protocol: js/protocol.ts and copilot_widget/_protocol.py ------------

PROTOCOL_TS = pathlib.Path(__file__).parent.parent / "js" / "protocol.ts"


def _ts_interfaces() -> dict[str, dict[str, bool]]:
    """Every `export interface` of js/protocol.ts: its fields, each with whether it is optional."""
    found: dict[str, dict[str, bool]] = {}
    text = PROTOCOL_TS.read_text()
    for name, body in re.findall(r"^export interface (\w+) \{\n(.*?)^\}", text, re.DOTALL | re.M):
        fields = re.findall(r"^  (\w+)(\??):", body, re.MULTILINE)
        found[name] = {field: optional == "?" for field, optional in fields}
    return found


def _ts_kind(name: str) -> str:
    text = PROTOCOL_TS.read_text()
    body = re.search(rf"^export interface {name} \{{\n(.*?)^\}}", text, re.DOTALL | re.M)
    assert body is not None
    kind = re.search(r'^  kind: "(\w+)";', body.group(1), re.MULTILINE)
    assert kind is not None, f"{name} has no kind literal"
    return kind.group(1)


def _py_fields(cls: Any) -> dict[str, bool]:
    return {name: name in cls.__optional_keys__ for name in typing.get_type_hints(cls)}


def test_request_kinds_are_the_same_on_both_sides() -> None:
    ts = {name: _ts_kind(name) for name in _ts_interfaces() if name.endswith("Request")}
    py = {cls.__name__: kind for kind, cls in protocol.REQUEST_TYPES.items()}
    assert ts == py
    union = re.search(
        r"^export type Request =\s*((?:\|\s*\w+\s*)+);", PROTOCOL_TS.read_text(), re.M
    )
    assert union is not None
    assert re.findall(r"\w+", union.group(1)) == list(py)
    assert protocol.REQUEST_KINDS == tuple(py.values())


@pytest.mark.parametrize("kind", protocol.REQUEST_KINDS)
def test_each_request_has_the_same_fields_on_both_sides(kind: str) -> None:
    cls = protocol.REQUEST_TYPES[kind]
    ts = _ts_interfaces()[cls.__name__]
    py = _py_fields(cls)
    # This front end always sends a request_id; the kernel also runs requests from older front
    # ends that sent none (and cannot answer those).
    assert ts.pop("request_id") is False
    assert py.pop("request_id") is True
    assert ts == py


@pytest.mark.parametrize(
    "cls",
    [
        protocol.Reply,
        protocol.ReplyError,
        protocol.DraftMessage,
        protocol.DeltaMessage,
        protocol.ToolCallDelta,
        protocol.MessagesUpdate,
        protocol.ThreadsUpdate,
    ],
)
def test_kernel_messages_have_the_same_fields_on_both_sides(cls: Any) -> None:
    assert _ts_interfaces()[cls.__name__] == _py_fields(cls)


@pytest.mark.parametrize(
    "content",
    [
        {"kind": "ready"},
        {"kind": "send", "text": "Add 2 circles", "request_id": "3f2c"},
        {"kind": "approve", "tool_call_id": "call_1"},
        {"kind": "approve", "tool_call_id": "call_1", "arguments": {"n": 2}, "request_id": "r"},
        {"kind": "reject", "tool_call_id": "call_1", "reason": "not now"},
        {"kind": "click_button", "message_id": "msg_1", "button_id": "btn_1"},
        {"kind": "rename_thread", "thread_id": "thread_1", "title": "", "request_id": "x" * 100},
    ],
)
def test_parse_request_accepts_well_formed_requests(content: dict[str, Any]) -> None:
    parsed = protocol.parse_request(content)
    assert parsed == content
    assert parsed is not content


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("text", "A request must be an object with a kind, got 'text'."),
        (None, "A request must be an object with a kind, got None."),
        ([], "A request must be an object with a kind, got []."),
        ({"no": "kind"}, "A request needs a kind, one of ready, send,"),
        ({"kind": "launch"}, "Unknown request kind 'launch'; the kinds are ready, send,"),
        ({"kind": 3}, "Unknown request kind 3;"),
        ({"kind": "send", "text": 42}, "send needs text as a string, got 42."),
        ({"kind": "send"}, "send needs text as a string."),
        ({"kind": "select_thread", "thread_id": None}, "select_thread needs thread_id as a string"),
        (
            {"kind": "approve", "tool_call_id": "c", "arguments": [1]},
            "approve needs arguments as an object, got [1].",
        ),
        ({"kind": "reject", "tool_call_id": "c", "reason": 7}, "reject needs reason as a string"),
        ({"kind": "send", "text": "hi", "files": []}, "send does not take files (it takes text)."),
        ({"kind": "undo", "steps": 2}, "undo does not take steps (it takes no fields)."),
        (
            {"kind": "undo", "request_id": ""},
            "undo needs request_id as a non-empty string of at most 100 characters, got ''.",
        ),
        ({"kind": "undo", "request_id": 12}, "undo needs request_id as a non-empty string"),
        ({"kind": "undo", "request_id": "x" * 101}, "at most 100 characters"),
    ],
)
def test_parse_request_refuses_with_a_reason(content: object, reason: str) -> None:
    with pytest.raises(InvalidOptionsError) as refused:
        protocol.parse_request(content)
    assert reason in str(refused.value)
    assert refused.value.type == "invalid_options_error"


def test_a_refused_request_can_still_be_answered() -> None:
    assert protocol.request_id_of({"kind": "launch", "request_id": "r1"}) == "r1"
    for content in ("x", None, {"kind": "undo"}, {"request_id": ""}, {"request_id": 5}):
        assert protocol.request_id_of(content) is None


def test_reply() -> None:
    assert protocol.reply("r1", None) == {
        "kind": "reply",
        "request_id": "r1",
        "ok": True,
        "error": None,
    }
    assert protocol.reply("r2", InvalidOptionsError("Nothing to undo.")) == {
        "kind": "reply",
        "request_id": "r2",
        "ok": False,
        "error": {"type": "invalid_options_error", "message": "Nothing to undo."},
    }
    # An exception that is not one of ours is a bug inside copilot-widget.
    assert protocol.reply("r3", KeyError("thread")) == {
        "kind": "reply",
        "request_id": "r3",
        "ok": False,
        "error": {"type": "internal_error", "message": "'thread'"},
    }
    refused = protocol.reply("r4", RuntimeError())["error"]
    assert refused == {"type": "internal_error", "message": "RuntimeError"}


def test_the_chat_shows_the_mime_types_the_kernel_keeps_in_the_same_order() -> None:
    from copilot_widget._display import MIMES, WIDGET_MIME

    source = (TYPES.parent / "display.ts").read_text()
    widget = re.search(r'export const WIDGET_MIME = "([^"]+)"', source)
    static = re.search(r"const STATIC_MIMES: StaticMime\[\] = \[(.*?)\];", source, re.DOTALL)
    assert widget is not None and static is not None
    assert [widget.group(1), *re.findall(r'"([^"]+)"', static.group(1))] == list(MIMES)
    assert MIMES[0] == WIDGET_MIME


def test_the_chat_knows_the_name_of_the_tool_that_offers_buttons() -> None:
    from copilot_widget._buttons import TOOL_NAME

    source = (TYPES.parent / "buttons.ts").read_text()
    assert f'export const OFFER_BUTTONS_TOOL = "{TOOL_NAME}";' in source


def test_a_change_of_the_thread_goes_out_as_what_changed() -> None:
    from copilot_widget._frontend import list_update
    from copilot_widget._messages import new_message

    def messages_update(old: Any, new: Any) -> Any:
        return list_update("messages", old, new)

    a, b, c = (new_message("user", "t", None, text) for text in "abc")
    assert messages_update([a, b], [a, b]) is None
    assert messages_update([a], [a, b, c]) == {"kind": "messages", "append": [b, c]}
    flagged = {**b, "is_undoable": True}
    assert messages_update([a, b], [a, flagged]) == {"kind": "messages", "replace": [flagged]}
    assert messages_update([a, b, c], [a]) == {"kind": "messages", "remove": [b["id"], c["id"]]}
    # An edit: the edited question and what followed go, the new question comes.
    assert messages_update([a, b, c], [a, c]) == {"kind": "messages", "remove": [b["id"]]}
    d = new_message("user", "t", None, "d")
    assert messages_update([a, b], [a, d]) == {
        "kind": "messages",
        "remove": [b["id"]],
        "append": [d],
    }
    # Another thread, or another order: the whole list.
    assert messages_update([a, b], [c]) == {"kind": "messages", "reset": [c]}
    assert messages_update([a, b], [b, a]) == {"kind": "messages", "reset": [b, a]}
    assert messages_update([a, b], []) == {"kind": "messages", "remove": [a["id"], b["id"]]}
