"""A thread as a file: Markdown to read, JSON to keep or process.

JSON (`version` 1) holds the thread and its messages exactly as the store keeps them:
`{"version": 1, "thread": {"id", "object", "title", "created_at"}, "messages": [...]}`, each
message in the shape of the synced `messages` (text, tool calls with their arguments, results,
errors and statuses). Markdown has a heading per message and each tool call's arguments and
result as fenced blocks. Neither holds anything that is not in the thread (no key, no client).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Literal, TypedDict, cast

from ._errors import InvalidOptionsError, quote
from ._messages import Message, Thread, ToolCall, text_of

Format = Literal["markdown", "json"]
FORMATS: tuple[Format, ...] = ("markdown", "json")
#: The version of the JSON shape; it changes only if a key changes meaning or goes away.
JSON_VERSION = 1

_EXTENSIONS = {"markdown": "md", "json": "json"}
_MIME_TYPES = {"markdown": "text/markdown", "json": "application/json"}
_STATUS_WORDS = {
    "pending": "pending",
    "requires_action": "waiting for approval",
    "running": "running",
    "completed": "completed",
    "failed": "failed",
    "rejected": "rejected by the user",
    "cancelled": "cancelled",
}
_REASON_WORDS = {
    "run_cancelled": "stopped by the user",
    "run_failed": "the run failed",
    "run_interrupted": "the kernel stopped during the run",
    "max_steps": "the run reached max_steps",
}


class Download(TypedDict):
    """A file for the browser to save."""

    filename: str
    mime: str
    text: str


def check_format(format: Any) -> Format:
    if format not in FORMATS:
        accepted = " or ".join(repr(f) for f in FORMATS)
        raise InvalidOptionsError(f"format must be {accepted}, got {quote(format)}.")
    return cast(Format, format)


def export(thread: Thread, messages: list[Message], format: Format) -> str:
    if format == "json":
        return to_json(thread, messages)
    return to_markdown(thread, messages)


def download(thread: Thread, messages: list[Message], format: Format) -> Download:
    return {
        "filename": f"{filename_stem(thread['title'])}.{_EXTENSIONS[format]}",
        "mime": _MIME_TYPES[format],
        "text": export(thread, messages, format),
    }


def filename_stem(title: str) -> str:
    """A file name from a thread's title: letters, digits, `-` and `_` only, no leading dot,
    at most 60 characters; "conversation" when nothing is left."""
    words = re.findall(r"[^\W_]+(?:[-_][^\W_]+)*", title)
    stem = "-".join(words)[:60].strip("-_")
    return stem or "conversation"


def to_json(thread: Thread, messages: list[Message]) -> str:
    shown: Thread = {
        "id": thread["id"],
        "object": thread["object"],
        "title": thread["title"],
        "created_at": thread["created_at"],
    }
    return json.dumps(
        {"version": JSON_VERSION, "thread": shown, "messages": messages},
        indent=2,
        ensure_ascii=False,
    )


def to_markdown(thread: Thread, messages: list[Message]) -> str:
    title = " ".join(thread["title"].split()) or "New chat"
    count = f"{len(messages)} message{'' if len(messages) == 1 else 's'}"
    lines = [
        f"# {title}",
        "",
        f"_Conversation started {_when(thread['created_at'])} · {count}_",
    ]
    for message in messages:
        lines += ["", *_message_lines(message)]
        while lines[-1] == "":
            lines.pop()
    return "\n".join(lines).rstrip() + "\n"


def _message_lines(message: Message) -> list[str]:
    who = "User" if message["role"] == "user" else "Assistant"
    lines = [f"## {who} · {_when(message['created_at'])}", ""]
    text = text_of(message).strip()
    if text:
        lines += [text, ""]
    for call in message["tool_calls"]:
        lines += _call_lines(call)
    details = message.get("incomplete_details")
    if message["status"] == "incomplete" and details:
        reason = _REASON_WORDS.get(details["reason"], details["reason"])
        lines += [f"_This answer is incomplete: {reason}._", ""]
    feedback = message.get("feedback")
    if feedback:
        thumb = "👍" if feedback["rating"] == "up" else "👎"
        comment = " ".join(feedback["comment"].split())
        lines += [f"_Feedback: {thumb}{' ' + comment if comment else ''}_", ""]
    return lines


def _call_lines(call: ToolCall) -> list[str]:
    status = _STATUS_WORDS.get(call["status"], call["status"])
    lines = [f"### Tool call `{call['name']}` ({status})", "", "Arguments:", ""]
    lines += _fenced(call["arguments"])
    if call["result"] is not None:
        lines += ["Result:", "", *_fenced(call["result"])]
    if call["error"]:
        # A declined or stopped call says why; any other error is one.
        label = "Outcome" if call["status"] in ("rejected", "cancelled") else "Error"
        lines += [f"{label}: {' '.join(call['error'].split())}", ""]
    return lines


def _fenced(text: str) -> list[str]:
    """A fenced block: pretty JSON when the text is JSON, else the text as it is. The fence is
    longer than any run of backticks inside, so nothing can close it early."""
    language = "json"
    try:
        body = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        body, language = text, ""
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", body, fence, ""]


def _when(timestamp: float) -> str:
    """A moment in the kernel's local time, with its zone."""
    return time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(timestamp)).strip()
