"""Threads and messages (the copilotjs / Assistants shape), and the LLM history they make."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any, Literal, TypedDict

from typing_extensions import NotRequired

from ._display import Display, images
from ._schema import ArgumentsError, parse_arguments
from ._serialize import clean_text

# What the user may send, title or reason: enough for any prompt (pasting a long table
# included), bounded so a runaway page or script cannot fill the thread, the store and the
# synced state with megabytes.
MAX_TEXT_CHARS = 100_000
MAX_TITLE_CHARS = 200
MAX_REASON_CHARS = 2_000

MessageStatus = Literal["in_progress", "completed", "incomplete"]
ToolCallStatus = Literal[
    "pending", "requires_action", "running", "completed", "failed", "rejected", "cancelled"
]
IncompleteReason = Literal["run_cancelled", "run_failed", "run_interrupted", "max_steps"]

#: Tool call statuses that mean the call has its result.
FINISHED = ("completed", "failed", "rejected", "cancelled")


class Thread(TypedDict):
    id: str
    object: Literal["thread"]
    title: str
    created_at: int


class ApprovalDecision(TypedDict):
    """How the user decided a `confirm=True` call."""

    decision: Literal["approved", "rejected", "expired"]
    reason: str  # why it was rejected ("" when no reason was given)
    edited: bool  # approved with arguments the user changed


class ToolCall(TypedDict):
    id: str
    name: str
    arguments: str
    status: ToolCallStatus
    result: str | None  # what the model gets (JSON text)
    error: str | None
    display: Display | None  # what the chat shows, when richer than `result`
    outputs: list[str]  # ids of the copilot outputs its handler (or paired action) changed
    approval: NotRequired[ApprovalDecision | None]  # set once the user decided
    duration_ms: NotRequired[int | None]  # how long its action ran
    #: The action as it was offered, when that differs from the registered one (an action
    #: offered with the way to its page): what its approval card describes.
    spec: NotRequired[dict[str, Any] | None]


class TextContent(TypedDict):
    value: str
    annotations: list[Any]


class Content(TypedDict):
    type: Literal["text"]
    text: TextContent


class IncompleteDetails(TypedDict):
    reason: IncompleteReason


class Feedback(TypedDict):
    rating: Literal["up", "down"]
    comment: str  # "" when the user gave none


class Usage(TypedDict):
    """The tokens of one step of a run (one request), as the provider reported them."""

    input_tokens: int
    output_tokens: int
    cached_tokens: int | None  # input tokens the provider served from its cache
    reasoning_tokens: int | None  # output tokens spent reasoning (part of output_tokens)
    cost: float | None  # in the currency of Copilot(prices=...); None without a price


class Timings(TypedDict):
    """How long one step of a run took."""

    first_token_ms: int | None  # from the request to the first streamed token
    duration_ms: int  # from the request to the end of the step's tool calls


class Message(TypedDict):
    id: str
    object: Literal["thread.message"]
    thread_id: str
    run_id: str | None
    role: Literal["user", "assistant"]
    status: MessageStatus
    incomplete_details: IncompleteDetails | None
    created_at: int
    completed_at: int | None
    content: list[Content]
    tool_calls: list[ToolCall]
    is_undoable: bool
    is_redoable: bool
    buttons: list[Any]  # action buttons the model offered (see _buttons.py)
    feedback: NotRequired[Feedback | None]  # missing on messages saved before feedback existed
    usage: NotRequired[Usage | None]  # None: the provider reported none (or no request)
    timings: NotRequired[Timings | None]
    # How many older messages the step's request left out to fit the context window.
    left_out: NotRequired[int]


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def new_thread(title: str = "New chat") -> Thread:
    return {"id": new_id("thread"), "object": "thread", "title": title, "created_at": now()}


def now() -> int:
    return int(time.time())


def new_message(
    role: Literal["user", "assistant"],
    thread_id: str,
    run_id: str | None,
    text: str = "",
    *,
    status: MessageStatus = "in_progress",
) -> Message:
    created = now()
    return {
        "id": new_id("msg"),
        "object": "thread.message",
        "thread_id": thread_id,
        "run_id": run_id,
        "role": role,
        "status": status,
        "incomplete_details": None,
        "created_at": created,
        "completed_at": created if status == "completed" else None,
        "content": [{"type": "text", "text": {"value": text, "annotations": []}}],
        "tool_calls": [],
        "is_undoable": False,
        "is_redoable": False,
        "buttons": [],
        "feedback": None,
        "usage": None,
        "timings": None,
    }


def text_of(message: Message) -> str:
    return "".join(part["text"]["value"] for part in message["content"] if part["type"] == "text")


def cancelled_result(reason: str) -> str:
    return json.dumps({"error": reason, "type": "cancelled"})


def finish_interrupted(message: Message, reason: IncompleteReason) -> None:
    """Mark a message cut short as incomplete; every unfinished tool call gets a result."""
    why = {
        "run_cancelled": "The run was cancelled.",
        "run_interrupted": "The kernel stopped during the run.",
    }.get(reason, "The run failed.")
    for call in message["tool_calls"]:
        if call["status"] == "requires_action":
            # An approval never outlives its run: it expires, and the action never runs.
            call["status"] = "cancelled"
            call["result"] = cancelled_result(f"{why} The approval expired; it did not run.")
        elif call["status"] not in FINISHED:
            call["status"] = "cancelled"
            call["result"] = cancelled_result(f"{why} The call did not finish.")
    message["status"] = "incomplete"
    message["incomplete_details"] = {"reason": reason}
    message["completed_at"] = now()


def history(
    messages: list[Message], vision: Callable[[ToolCall], bool] | None = None
) -> list[dict[str, Any]]:
    """Chat Completions messages for a thread. Every tool call is followed by its result, so
    the request is valid even if a run was cut short (an unfinished call reads as cancelled).

    `vision(call)`: whether the model sees the images of that call's display. They follow the
    tool results of their message as one user message (Chat Completions takes image parts only
    in user messages); the display itself is never sent.

    Strict providers refuse a whole request over one bad part, so every text is made
    encodable as UTF-8 (see clean_text) and arguments that were refused are replayed as `{}`.
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        text = clean_text(text_of(message))
        if message["role"] == "user":
            out.append({"role": "user", "content": text})
            continue
        calls = message["tool_calls"]
        if not calls:
            if text:
                out.append({"role": "assistant", "content": text})
            continue
        out.append(
            {
                "role": "assistant",
                "content": text or None,
                "tool_calls": [
                    {
                        "id": clean_text(call["id"]),
                        "type": "function",
                        "function": {
                            "name": clean_text(call["name"]),
                            "arguments": replayed_arguments(call["arguments"]),
                        },
                    }
                    for call in calls
                ],
            }
        )
        for call in calls:
            result = call["result"]
            if result is None:
                result = cancelled_result("The call did not finish: the run was interrupted.")
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": clean_text(call["id"]),
                    "content": clean_text(result),
                }
            )
        if vision is not None:
            seen = _images_message([call for call in calls if vision(call)])
            if seen is not None:
                out.append(seen)
    return out


def _images_message(calls: list[ToolCall]) -> dict[str, Any] | None:
    names: list[str] = []
    parts: list[dict[str, Any]] = []
    for call in calls:
        found = images(call.get("display"))
        if found:
            names.append(f"{clean_text(call['name'])} ({clean_text(call['id'])})")
            parts.extend(
                {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}}
                for mime, data in found
            )
    if not parts:
        return None
    text = {"type": "text", "text": "Images from the results of: " + ", ".join(names)}
    return {"role": "user", "content": [text, *parts]}


def replayed_arguments(text: str) -> str:
    """A tool call's arguments as the model sent them, or `{}` if they were refused (the model
    was told so in the call's result): the request must hold a JSON object for every call."""
    try:
        parse_arguments(text)
    except ArgumentsError:
        return "{}"
    # Empty text means no arguments; a lone surrogate can only be inside a JSON string,
    # where clean_text writes its JSON escape.
    return clean_text(text) if text.strip() else "{}"
