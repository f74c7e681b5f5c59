"""The context window: a request that would not fit leaves out the oldest turns, whole, and
keeps the system prompt; the thread keeps everything."""

from __future__ import annotations

from typing import Any

import pytest

from copilot_widget import Copilot, InvalidOptionsError
from copilot_widget._window import ContextWindow, known_window
from copilot_widget.testing import call, text, tool_calls


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("gpt-4o-mini", 128_000),
        ("gpt-4.1-mini", 1_047_576),
        ("openai/gpt-4.1", 1_047_576),
        ("gpt-5-mini", 272_000),
        ("llama3.1:8b", 128_000),
        ("my-fine-tune", None),
    ],
)
def test_known_windows_by_model_name(model: str, window: int | None) -> None:
    assert known_window(model) == window


def test_the_window_defaults_to_the_models_and_can_be_set() -> None:
    assert Copilot("gpt-4o", api_key="k")._context_window().max_tokens == 128_000
    assert Copilot("local", api_key="k")._context_window().max_tokens is None
    copilot = Copilot("gpt-4o", api_key="k", max_context_tokens=8_000)
    assert copilot._context_window().max_tokens == 8_000
    for bad in (10, 2.5, "8k", True):
        with pytest.raises(InvalidOptionsError, match="max_context_tokens must be"):
            Copilot(api_key="k", max_context_tokens=bad)


def paired(request: list[dict[str, Any]]) -> bool:
    """Every tool result follows the assistant message that made its call."""
    calls: set[str] = set()
    for message in request:
        if message["role"] == "assistant":
            calls = {c["id"] for c in message.get("tool_calls") or ()}
        elif message["role"] == "tool" and message["tool_call_id"] not in calls:
            return False
    return True


def test_the_oldest_turns_are_left_out_whole_and_the_thread_keeps_them(scripted: Any) -> None:
    copilot, server = scripted(
        [
            tool_calls(call("lookup", {})),
            text("A" * 3_000),
            text("B" * 3_000),
            text("C" * 3_000),
            text("Done."),
        ],
        instructions="You are terse.",
        max_context_tokens=1_000,  # about 3,600 characters for a request
    )

    @copilot.action
    def lookup() -> str:
        return "the row"

    for question in ("first", "second", "third"):
        copilot.send(question)
    assert all(paired(r["messages"]) for r in server.requests)
    copilot.send("fourth")
    sent = server.requests[-1]["messages"]
    assert sent[0]["role"] == "system" and "You are terse." in sent[0]["content"]
    assert [m["content"] for m in sent[1:] if m["role"] == "user"] == ["third", "fourth"]
    assert paired(sent)
    # The chat is told how many messages the request left out; the thread keeps them all.
    assert copilot.messages[-1]["left_out"] == 6  # first (4 with its tool call), second (2)
    assert len(copilot.messages) == 9
    assert [m["role"] for m in copilot.messages].count("user") == 4


def test_a_turn_with_tool_calls_is_never_split() -> None:
    window = ContextWindow(200)  # 720 characters
    system = {"role": "system", "content": "s"}
    turn_1 = [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function"}]},
        {"role": "tool", "tool_call_id": "c1", "content": "r" * 400},
        {"role": "assistant", "content": "a1"},
    ]
    turn_2 = [
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c2", "type": "function"}]},
        {"role": "tool", "tool_call_id": "c2", "content": "r" * 400},
    ]
    fitted, left_out, _ = window.fit([system, *turn_1, *turn_2])
    assert fitted == [system, *turn_2] and left_out == 4
    # The last turn stays even when it alone is too long: the provider says what is wrong.
    huge = [{"role": "user", "content": "x" * 5_000}]
    assert window.fit([system, *turn_1, *huge])[0] == [system, *huge]


def test_calibration_follows_the_providers_count() -> None:
    window = ContextWindow(1_000)
    request = [{"role": "system", "content": "s"}] + [
        {"role": "user", "content": "y" * 1_000} for _ in range(5)
    ]
    assert window.fit(request)[1] > 0  # at 4 characters a token it does not fit
    window.calibrate(request_chars=5_100, reported_tokens=850)  # 6 characters a token
    assert window.fit(request)[1] == 0
