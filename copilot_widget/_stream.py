"""The provider's streamed reply, read chunk by chunk.

The openai client sends the request: authentication, retries, and the errors of a failed
status. The server-sent events of its response are read here, and pydantic checks each
chunk's JSON against the few fields a run uses, in one step. The client's own stream builds a
typed model of every chunk in Python, about 20 times the CPU (some 110 µs a chunk here): in a
kernel, a fast provider's thousands of chunks a second would take the interpreter away from
the user's cells, and the answer would reach the screen later.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import openai
import pydantic
from typing_extensions import TypedDict

from ._errors import invalid_reply


class FunctionDelta(TypedDict, total=False):
    name: str | None
    arguments: str | None


class ToolCallDelta(TypedDict, total=False):
    index: int | None
    id: str | None
    function: FunctionDelta | None


class Delta(TypedDict, total=False):
    content: str | None
    tool_calls: list[ToolCallDelta] | None


class Choice(TypedDict, total=False):
    delta: Delta | None
    finish_reason: str | None


class Chunk(TypedDict, total=False):
    """A `chat.completion.chunk`: what a run reads of it (other fields are left out)."""

    id: str | None
    model: str | None
    choices: list[Choice] | None
    #: The tokens used, on the last chunk; read leniently (`_usage.usage_of`).
    usage: dict[str, Any] | None
    #: A provider's error in the middle of the stream.
    error: Any


_CHUNK = pydantic.TypeAdapter(Chunk)


async def read_chunks(response: Any) -> AsyncGenerator[Chunk, None]:
    """The chunks of a streaming `chat.completions` response (the openai client's
    `AsyncAPIResponse`), up to `data: [DONE]`.

    An error the provider sends mid-stream raises `openai.APIError`, as the client's own
    stream does; a chunk a run cannot read raises `invalid_reply`.
    """
    async for event, data in _events(response.iter_lines()):
        if data.startswith("[DONE]"):
            return
        if event == "error":
            _raise_streamed_error(response, _json_or_text(data))
        if event is not None:
            continue  # named events are not chunks (none in the chat completions API)
        try:
            chunk = _CHUNK.validate_json(data)
        except pydantic.ValidationError as exc:
            raise invalid_reply(_describe(exc)) from None
        if chunk.get("error"):
            _raise_streamed_error(response, chunk)
        yield chunk


async def _events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str | None, str]]:
    """Server-sent events as (event name, data), per the HTML standard's parsing rules: data
    lines joined by newlines, comments skipped, an event without data not dispatched."""
    event: str | None = None
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            data.append(value)
        elif field == "event":
            event = value


def _raise_streamed_error(response: Any, payload: Any) -> None:
    error = payload.get("error") if isinstance(payload, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str) or not message:
        message = "An error occurred during streaming"
    raise openai.APIError(message, response.http_response.request, body=error)


def _json_or_text(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data


def _describe(exc: pydantic.ValidationError) -> str:
    """The first problem of a chunk, e.g. "choices.0.delta.content is int, not text"."""
    problem = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in problem["loc"])
    if problem["type"] == "json_invalid":
        return "a chunk is not JSON"
    if problem["type"] == "string_type":
        return f"a chunk's {where} is {type(problem['input']).__name__}, not text"
    return f"a chunk's {where}: {problem['msg']}"
