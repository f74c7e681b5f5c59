"""The Chat Completions request built from a thread is valid for strict providers."""

from __future__ import annotations

import json
from typing import Any

from copilot_widget._messages import Message, ToolCall, history, new_message

BAD_NAME = "caf\udce9.txt"  # os.listdir() on a file name that is not UTF-8


def call(call_id: str, arguments: str, result: str | None = '{"ok": true}') -> ToolCall:
    return {
        "id": call_id,
        "name": "open_file",
        "arguments": arguments,
        "status": "completed" if result is not None else "running",
        "result": result,
        "error": None,
    }


def thread() -> list[Message]:
    user = new_message("user", "thread_1", "run_1", f"Open {BAD_NAME}", status="completed")
    assistant = new_message("assistant", "thread_1", "run_1", f"Opening {BAD_NAME}")
    assistant["tool_calls"] = [
        call("call_valid", '{"path": "caf\\udce9.txt"}'),
        call("call_raw", '{"path": "' + BAD_NAME + '"}', result=f'"{BAD_NAME}"'),
        call("call_cut", '{"path": "caf'),
        call("call_empty", ""),
        call("call_list", "[1, 2]"),
        call("call_nan", '{"size": NaN}'),
        call("call_dup", '{"path": "a", "path": 1}'),
        call("call_unfinished", '{"path": "x"}', result=None),
    ]
    answer = new_message("assistant", "thread_1", "run_1", f"Done: {BAD_NAME}")
    return [user, assistant, answer]


def request_bytes(messages: list[dict[str, Any]]) -> bytes:
    # How an HTTP client sends it: UTF-8, non-ASCII text as is.
    return json.dumps(messages, ensure_ascii=False, allow_nan=False).encode("utf-8")


def test_every_text_is_utf8_encodable() -> None:
    messages = history(thread())
    request_bytes(messages)
    assert messages[0] == {"role": "user", "content": "Open caf\\udce9.txt"}
    assert messages[1]["content"] == "Opening caf\\udce9.txt"
    assert messages[-1] == {"role": "assistant", "content": "Done: caf\\udce9.txt"}
    results = {m["tool_call_id"]: m["content"] for m in messages if m["role"] == "tool"}
    assert json.loads(results["call_raw"]) == BAD_NAME  # a JSON escape of the same name
    assert json.loads(results["call_unfinished"])["type"] == "cancelled"


def test_every_tool_call_has_json_object_arguments() -> None:
    messages = history(thread())
    arguments = {
        c["id"]: c["function"]["arguments"] for m in messages for c in m.get("tool_calls", [])
    }
    for text in arguments.values():
        assert isinstance(json.loads(text), dict)
    # Valid arguments are replayed as sent; refused ones as an empty object.
    assert arguments["call_valid"] == '{"path": "caf\\udce9.txt"}'
    assert json.loads(arguments["call_raw"]) == {"path": BAD_NAME}
    for refused in ("call_cut", "call_empty", "call_list", "call_nan", "call_dup"):
        assert arguments[refused] == "{}"
    assert arguments["call_unfinished"] == '{"path": "x"}'


def test_tool_names_and_ids_are_cleaned_too() -> None:
    message = new_message("assistant", "thread_1", "run_1")
    message["tool_calls"] = [
        {
            "id": "call_\udce9",
            "name": "open\udce9",
            "arguments": "{}",
            "status": "failed",
            "result": '{"error": "Unknown action"}',
            "error": "Unknown action",
        }
    ]
    messages = history([message])
    request_bytes(messages)
    assert messages[0]["content"] is None
    assert messages[1]["tool_call_id"] == messages[0]["tool_calls"][0]["id"]
