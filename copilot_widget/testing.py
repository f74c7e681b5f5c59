"""A scripted, OpenAI-compatible LLM server on loopback, for tests and offline demos.

The copilot talks to its model with the real ``openai`` client. In tests, in a user's CI and
in the offline demo notebooks the model is replaced by :class:`ScriptedServer`: a real HTTP
server on ``127.0.0.1`` that answers ``POST /v1/chat/completions`` by replaying a script of
replies, streamed exactly like OpenAI streams them (server-sent events over HTTP/1.1 chunked
transfer encoding). Nothing in the client is patched: point ``base_url`` at the server.

Replies are built with :func:`text`, :func:`tool_calls` (of :func:`call`), :func:`error` and
:func:`cut`; :func:`stall`, :func:`page` and :func:`deltas` imitate misbehaving providers::

    import openai
    from copilot_widget.testing import ScriptedServer, call, cut, error, text, tool_calls

    with ScriptedServer([
        text("Hello", " world", "!"),                       # one chunk per piece
        tool_calls(call("fetch_user", {"user_id": "1"}, split=3), call("get_time", {})),
        text("Done", delay=0.05),                           # 50 ms before each piece
        error(429, "quota", code="insufficient_quota"),     # -> openai.RateLimitError
        cut(text("partial an")),                            # connection dropped mid-stream
    ]) as server:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        pieces = [chunk.choices[0].delta.content async for chunk in stream if chunk.choices]
        ...
        assert server.requests[0]["messages"][-1]["content"] == "Hi"   # what the LLM was sent
        assert server.remaining == 0                                     # script fully used

Use ``max_retries=0`` on the client: every request, retries included, consumes the next
reply of the script.

A script can also be a function of the request body, for notebooks that answer according to
the conversation::

    def demo(request: dict) -> Reply:
        if request["messages"][-1]["role"] == "tool":
            return text("Here is what I found.")
        return tool_calls(call("search", {"query": request["messages"][-1]["content"]}))

What the client sees
--------------------
* ``error(401)`` raises ``openai.AuthenticationError``, ``error(429)`` ``openai.RateLimitError``
  (``.code`` is the ``code`` given, e.g. ``"insufficient_quota"``), ``error(500)``
  ``openai.InternalServerError``: the body is OpenAI's ``{"error": {...}}``.
* ``cut(reply)`` sends the reply's chunks, then closes the connection before the chunked
  body is complete (no final chunk, no ``data: [DONE]``). Iterating the stream raises
  ``openai.APIConnectionError`` (its ``__cause__`` is the HTTP library's
  ``RemoteProtocolError``: "peer closed connection without sending complete message body").
  For a non-streaming request the connection is closed before any response, which raises
  ``openai.APIConnectionError`` from ``create()``.
* ``error(401, body={"detail": "..."})`` sends another JSON body than OpenAI's, as some
  proxies do (a string body is sent as ``text/plain``); the client's ``exc.body`` is it.
* ``stall(5.0, text("late"))`` sends nothing, not even the response headers, for 5 seconds:
  a client with ``timeout=0.5`` raises ``openai.APITimeoutError`` from ``create()``.
  ``text("a", first_delay=5.0)`` is the silence after the headers, which the client raises
  (``openai.APITimeoutError`` too) while iterating the stream.
* ``page()`` answers a 200 HTML page, like a web site at a wrong ``base_url``:
  ``create(..., stream=True)`` returns a stream (``stream.response`` has content type
  ``text/html``) that yields no chunk.
* ``deltas({"content": 42})`` streams chunks whose ``delta`` is sent verbatim; the client does
  not validate it, so ``chunk.choices[0].delta.content == 42``.
* A request after the last reply of a list script gets HTTP 500 with the message
  "ScriptedServer: script exhausted ..." (``openai.InternalServerError``).

In a pytest fixture
-------------------
::

    import pytest
    from copilot_widget.testing import ScriptedServer, text

    @pytest.fixture
    def scripted_server():
        servers = []

        def start(script):
            server = ScriptedServer(script).start()
            servers.append(server)
            return server

        yield start
        for server in servers:
            server.stop()

    async def test_greets(scripted_server):
        server = scripted_server([text("Hi!")])
        ...

Offline demo
------------
A demo notebook uses the real model when credentials are configured and a script otherwise;
the widget shows an "offline demo" badge when :func:`is_offline_demo` is true for its client::

    client = openai.AsyncOpenAI() if os.environ.get("OPENAI_API_KEY") else offline_demo_client(demo)

The server runs its own event loop in a daemon thread, so it never needs (or blocks) the
caller's event loop, e.g. a busy Jupyter kernel's; it works with ``openai.OpenAI`` too.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import openai

__all__ = [
    "CutReply",
    "DeltasReply",
    "ErrorReply",
    "PageReply",
    "Reply",
    "Script",
    "ScriptedServer",
    "StallReply",
    "TextReply",
    "ToolCall",
    "ToolCallsReply",
    "call",
    "cut",
    "deltas",
    "error",
    "is_offline_demo",
    "offline_demo_client",
    "page",
    "stall",
    "text",
    "tool_calls",
]

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------------
# Replies
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextReply:
    """A streamed assistant text message; build it with :func:`text`."""

    chunks: tuple[str, ...]
    """The content pieces, one streamed chunk each."""
    delay: float = 0.0
    """Seconds to wait before each piece."""
    first_delay: float = 0.0
    """Seconds to wait before the opening chunk (time to first token)."""
    finish_reason: str = "stop"
    """The ``finish_reason`` of the closing chunk (``"stop"``, ``"length"``...)."""
    usage: Mapping[str, int] | None = None
    """Token usage reported when the request asks for it; estimated when ``None``."""


@dataclass(frozen=True)
class ToolCall:
    """One function call of a :class:`ToolCallsReply`; build it with :func:`call`."""

    name: str
    """The function name."""
    arguments: str
    """The arguments exactly as streamed (normally JSON, possibly invalid on purpose)."""
    id: str | None = None
    """The tool call id; ``None`` gives ``call_<request number>_<index>``."""
    split: int = 1
    """How many chunks the arguments are streamed in."""


@dataclass(frozen=True)
class ToolCallsReply:
    """A streamed assistant message calling functions; build it with :func:`tool_calls`."""

    calls: tuple[ToolCall, ...]
    """The calls, streamed one after the other with ``index`` 0, 1, ..."""
    text: tuple[str, ...] = ()
    """Content pieces streamed before the calls."""
    delay: float = 0.0
    """Seconds to wait before each chunk after the opening one."""
    first_delay: float = 0.0
    """Seconds to wait before the opening chunk."""
    usage: Mapping[str, int] | None = None
    """Token usage reported when the request asks for it; estimated when ``None``."""


@dataclass(frozen=True)
class ErrorReply:
    """An HTTP error with OpenAI's error body; build it with :func:`error`."""

    status: int
    """The HTTP status code."""
    message: str
    """``error.message`` of the body."""
    code: str | None = None
    """``error.code`` of the body (e.g. ``"insufficient_quota"``)."""
    type: str = "invalid_request_error"
    """``error.type`` of the body."""
    retry_after: float | None = None
    """When set, sent as the ``retry-after-ms`` / ``retry-after`` headers."""
    body: Any = None
    """When set, the whole response body instead of OpenAI's error object: JSON-encoded, or
    sent as ``text/plain`` when a string."""


@dataclass(frozen=True)
class DeltasReply:
    """A stream of raw ``delta`` objects sent verbatim; build it with :func:`deltas`."""

    deltas: tuple[Mapping[str, Any], ...]
    """The ``choices[0].delta`` of each streamed chunk, exactly as sent."""
    delay: float = 0.0
    """Seconds to wait before each chunk."""
    finish_reason: str = "stop"
    """The ``finish_reason`` of the closing chunk."""


@dataclass(frozen=True)
class PageReply:
    """A response that is not an OpenAI API answer (e.g. a web page); build it with
    :func:`page`."""

    body: str
    """The response body."""
    status: int = 200
    """The HTTP status."""
    content_type: str = "text/html; charset=utf-8"
    """The ``content-type`` header."""


@dataclass(frozen=True)
class CutReply:
    """A reply whose connection is dropped mid-stream; build it with :func:`cut`."""

    reply: TextReply | ToolCallsReply | DeltasReply
    """The reply whose chunks are sent before the connection is closed."""


@dataclass(frozen=True)
class StallReply:
    """A reply sent only after a silence; build it with :func:`stall`."""

    seconds: float
    """Seconds to wait before sending anything, not even the response headers."""
    reply: Reply | None = None
    """What is answered after the silence; ``None`` closes the connection instead."""


Reply: TypeAlias = (
    TextReply | ToolCallsReply | ErrorReply | CutReply | DeltasReply | PageReply | StallReply
)
"""Anything a script can answer with. In a script a plain ``str`` is short for ``text(s)``."""

Script: TypeAlias = Sequence[Reply | str] | Callable[[dict[str, Any]], Reply | str]
"""A list of replies served in order, or a function from the request body to a reply."""


def _check_delay(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _check_pieces(kind: str, pieces: Sequence[object]) -> tuple[str, ...]:
    checked = []
    for piece in pieces:
        if not isinstance(piece, str):
            raise TypeError(f"{kind} pieces must be strings, got {piece!r}")
        checked.append(piece)
    return tuple(checked)


def text(
    *chunks: str,
    delay: float = 0.0,
    first_delay: float = 0.0,
    finish_reason: str = "stop",
    usage: Mapping[str, int] | None = None,
) -> TextReply:
    """A streamed text reply, one chunk per piece.

    Args:
        *chunks: The content pieces; ``text("Hel", "lo")`` streams ``"Hel"`` then ``"lo"``.
        delay: Seconds to wait before each piece (observable by the client).
        first_delay: Seconds to wait before the opening chunk, after the response headers.
        finish_reason: The closing chunk's ``finish_reason`` (``"length"`` to simulate a
            truncated answer, ``"content_filter"``...).
        usage: ``{"prompt_tokens": .., "completion_tokens": ..}`` sent in the usage chunk when
            the request has ``stream_options={"include_usage": True}`` (and in non-streaming
            responses). Estimated when omitted.
    """
    return TextReply(
        chunks=_check_pieces("text", chunks),
        delay=_check_delay("delay", delay),
        first_delay=_check_delay("first_delay", first_delay),
        finish_reason=finish_reason,
        usage=usage,
    )


def call(
    name: str, arguments: Mapping[str, Any] | str, *, id: str | None = None, split: int = 1
) -> ToolCall:
    """One function call for :func:`tool_calls`.

    Args:
        name: The function name.
        arguments: A dict, sent JSON-encoded, or a raw string sent verbatim (so a test can
            send invalid JSON such as ``'{"user_id": '``).
        id: The tool call id. By default ``call_<n>_<index>``, where ``n`` is the request's
            number on this server (1 for the first request) and ``index`` the call's index.
        split: The number of chunks the arguments string is streamed in (nearly equal
            pieces; fewer when the string is shorter than ``split``).
    """
    if not isinstance(split, int) or split < 1:
        raise ValueError(f"split must be an integer >= 1, got {split!r}")
    if isinstance(arguments, str):
        encoded = arguments
    elif isinstance(arguments, Mapping):
        encoded = json.dumps(dict(arguments), separators=(",", ":"), ensure_ascii=False)
    else:
        raise TypeError(f"arguments must be a dict or a string, got {type(arguments).__name__}")
    return ToolCall(name=name, arguments=encoded, id=id, split=split)


def tool_calls(
    *calls: ToolCall,
    text: str | Sequence[str] | None = None,
    delay: float = 0.0,
    first_delay: float = 0.0,
    usage: Mapping[str, int] | None = None,
) -> ToolCallsReply:
    """A streamed reply calling one or several functions (``finish_reason="tool_calls"``).

    Each call is streamed like OpenAI does: a first delta with ``index``, ``id``,
    ``type: "function"``, ``function.name`` and empty ``function.arguments``, then deltas
    with only ``index`` and a ``function.arguments`` piece. Several calls are parallel calls
    with ``index`` 0, 1, ... streamed one after the other.

    Args:
        *calls: Built with :func:`call`; at least one.
        text: Content streamed before the calls (a string or a sequence of pieces).
        delay: Seconds to wait before each chunk after the opening one.
        first_delay: Seconds to wait before the opening chunk.
        usage: As for :func:`text`.
    """
    if not calls:
        raise ValueError("tool_calls() needs at least one call(...)")
    for item in calls:
        if not isinstance(item, ToolCall):
            raise TypeError(f"tool_calls() takes call(...) objects, got {item!r}")
    pieces: tuple[str, ...]
    if text is None:
        pieces = ()
    elif isinstance(text, str):
        pieces = (text,)
    else:
        pieces = _check_pieces("text", text)
    return ToolCallsReply(
        calls=tuple(calls),
        text=pieces,
        delay=_check_delay("delay", delay),
        first_delay=_check_delay("first_delay", first_delay),
        usage=usage,
    )


_DEFAULT_ERROR_MESSAGES = {
    401: "Incorrect API key provided.",
    429: "Rate limit reached for requests.",
    500: "The server had an error while processing your request.",
}


def _default_error_type(status: int, code: str | None) -> str:
    if status == 429:
        return "insufficient_quota" if code == "insufficient_quota" else "rate_limit_exceeded"
    if status >= 500:
        return "server_error"
    if status == 403:
        return "permission_error"
    return "invalid_request_error"


def error(
    status: int,
    message: str | None = None,
    *,
    code: str | None = None,
    type: str | None = None,
    retry_after: float | None = None,
    body: Any = None,
) -> ErrorReply:
    """An HTTP error answered with OpenAI's error body.

    The body is ``{"error": {"message": ..., "type": ..., "code": ..., "param": null}}``, so
    the ``openai`` client raises its usual exception: 400 ``BadRequestError``, 401
    ``AuthenticationError``, 403 ``PermissionDeniedError``, 404 ``NotFoundError``, 422
    ``UnprocessableEntityError``, 429 ``RateLimitError``, 5xx ``InternalServerError``;
    ``exc.code`` and ``exc.type`` come from the body.

    Args:
        status: The HTTP status, 400 to 599.
        message: ``error.message``; a realistic default for the status when omitted.
        code: ``error.code``, e.g. ``"insufficient_quota"`` or ``"context_length_exceeded"``.
        type: ``error.type``; by default derived from the status (``"server_error"`` for
            5xx, ``"insufficient_quota"`` / ``"rate_limit_exceeded"`` for 429...).
        retry_after: Seconds, sent as ``retry-after-ms`` and ``retry-after`` headers, which
            the client honours when it retries.
        body: Another body instead of OpenAI's, as some proxies and gateways answer: a
            JSON-encodable value (``{"detail": "Invalid key sk-..."}``), or a string sent as
            ``text/plain``. ``message``, ``code`` and ``type`` are then not sent.
    """
    if not isinstance(status, int) or not 400 <= status <= 599:
        raise ValueError(f"error status must be an HTTP error status 400-599, got {status!r}")
    if message is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = f"HTTP {status}"
        message = _DEFAULT_ERROR_MESSAGES.get(status, phrase)
    if retry_after is not None:
        _check_delay("retry_after", retry_after)
    return ErrorReply(
        status=status,
        message=message,
        code=code,
        type=type if type is not None else _default_error_type(status, code),
        retry_after=retry_after,
        body=_check_json(body) if body is not None and not isinstance(body, str) else body,
    )


def _check_json(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"body must be JSON-encodable or a string, got {value!r}") from exc
    return value


def deltas(
    *items: Mapping[str, Any], delay: float = 0.0, finish_reason: str = "stop"
) -> DeltasReply:
    """A stream of raw ``delta`` objects, for providers that do not stream like OpenAI.

    Each item is sent verbatim as ``choices[0].delta`` of one chunk, without any check, so a
    test can send what a broken provider or proxy sends: ``deltas({"content": 42})`` (content
    that is not a string), ``deltas({"content": {"text": "hi"}})``, ``deltas({})``... The
    closing chunk with ``finish_reason`` and ``data: [DONE]`` follow, as usual. The
    ``openai`` client does not validate chunks: ``delta.content`` is then ``42``. In a
    non-streaming response the items are merged into the message (string contents joined).

    Args:
        *items: The deltas, one chunk each.
        delay: Seconds to wait before each chunk.
        finish_reason: The closing chunk's ``finish_reason``.
    """
    for item in items:
        if not isinstance(item, Mapping):
            raise TypeError(f"deltas() takes dicts (each one chunk's delta), got {item!r}")
        _check_json(item)
    return DeltasReply(
        deltas=tuple(dict(item) for item in items),
        delay=_check_delay("delay", delay),
        finish_reason=finish_reason,
    )


_DEFAULT_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Welcome</title></head>\n"
    "<body><h1>Welcome</h1><p>This is a web site, not an API.</p></body></html>\n"
)


def page(
    body: str = _DEFAULT_PAGE, *, status: int = 200, content_type: str = "text/html; charset=utf-8"
) -> PageReply:
    """A response that is not an OpenAI API answer, such as the web page a wrong ``base_url``
    leads to.

    By default a 200 HTML page. The ``openai`` client accepts a 200 response to a streaming
    request whatever its content type: ``create(..., stream=True)`` returns a stream that
    yields no chunk. A non-2xx ``status`` raises the client's usual ``APIStatusError`` with
    the page as its message.

    Args:
        body: The response body.
        status: The HTTP status.
        content_type: The ``content-type`` header.
    """
    if not isinstance(body, str):
        raise TypeError(f"page() body must be a string, got {type(body).__name__}")
    if not isinstance(status, int) or not 200 <= status <= 599:
        raise ValueError(f"page() status must be an HTTP status 200-599, got {status!r}")
    return PageReply(body=body, status=status, content_type=content_type)


def stall(seconds: float, reply: Reply | str | None = None) -> StallReply:
    """Send nothing for ``seconds``, not even the response headers, then answer ``reply``.

    For timeout tests: a client whose timeout is shorter than ``seconds`` raises
    ``openai.APITimeoutError`` from ``create()``. With ``reply=None`` the connection is
    closed after the silence. (A silence after the headers, within the stream, is
    ``text(..., first_delay=...)`` or ``text(..., delay=...)``.)

    Args:
        seconds: The silence.
        reply: What is answered afterwards; a plain ``str`` means ``text(s)``.
    """
    return StallReply(
        seconds=_check_delay("seconds", seconds),
        reply=None if reply is None else _as_reply(reply, "stall()'s reply"),
    )


def cut(reply: TextReply | ToolCallsReply | DeltasReply) -> CutReply:
    """Stream ``reply``'s chunks, then drop the connection mid-response.

    Everything but the closing chunk (the one with ``finish_reason``) and ``data: [DONE]`` is
    sent, then the socket is closed without the terminating chunk of the HTTP/1.1 chunked
    body. The ``openai`` client raises ``openai.APIConnectionError`` while iterating the
    stream. The server keeps serving later requests.
    """
    if not isinstance(reply, (TextReply, ToolCallsReply, DeltasReply)):
        raise TypeError(
            f"cut() takes a text(...), tool_calls(...) or deltas(...) reply, got {reply!r}"
        )
    return CutReply(reply=reply)


def _as_reply(value: object, where: str) -> Reply:
    if isinstance(value, str):
        return text(value)
    if isinstance(
        value,
        (TextReply, ToolCallsReply, ErrorReply, CutReply, DeltasReply, PageReply, StallReply),
    ):
        return value
    raise TypeError(
        f"{where} must be a reply made with text(), tool_calls(), error(), cut(), deltas(), "
        f"page() or stall() (or a str), got {value!r}"
    )


# --------------------------------------------------------------------------------------------------
# Building OpenAI payloads
# --------------------------------------------------------------------------------------------------


def _split(value: str, parts: int) -> list[str]:
    if not value:
        return []
    parts = min(parts, len(value))
    size, extra = divmod(len(value), parts)
    pieces, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        pieces.append(value[start:end])
        start = end
    return pieces


def _dump(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _sse(payload: Mapping[str, Any]) -> bytes:
    return b"data: " + _dump(payload) + b"\n\n"


_DONE = b"data: [DONE]\n\n"


@dataclass
class _Exchange:
    """One request being answered."""

    number: int
    body: dict[str, Any]
    model: str = "scripted"
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def completion_id(self) -> str:
        return f"chatcmpl-scripted-{self.number}"

    def call_id(self, tool_call: ToolCall, index: int) -> str:
        return tool_call.id if tool_call.id is not None else f"call_{self.number}_{index}"

    def usage(self, given: Mapping[str, int] | None, completion_tokens: int) -> dict[str, int]:
        if given is not None:
            usage = dict(given)
        else:
            prompt = json.dumps(self.body.get("messages", []), ensure_ascii=False)
            usage = {"prompt_tokens": max(1, len(prompt) // 4)}
            usage["completion_tokens"] = completion_tokens
        usage.setdefault("prompt_tokens", 0)
        usage.setdefault("completion_tokens", 0)
        usage.setdefault("total_tokens", usage["prompt_tokens"] + usage["completion_tokens"])
        return usage


def _tool_call_message(exchange: _Exchange, calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    return [
        {
            "id": exchange.call_id(item, index),
            "type": "function",
            "function": {"name": item.name, "arguments": item.arguments},
        }
        for index, item in enumerate(calls)
    ]


@dataclass
class _Stream:
    """A reply as timed server-sent events."""

    body: list[tuple[float, bytes]]
    """(seconds to wait before, event): everything a cut reply still sends."""
    tail: list[bytes]
    """The closing events: finish chunk, usage chunk, ``[DONE]``."""


def _stream_events(reply: TextReply | ToolCallsReply | DeltasReply, exchange: _Exchange) -> _Stream:
    options = exchange.body.get("stream_options")
    include_usage = isinstance(options, Mapping) and bool(options.get("include_usage"))

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        payload: dict[str, Any] = {
            "id": exchange.completion_id,
            "object": "chat.completion.chunk",
            "created": exchange.created,
            "model": exchange.model,
            "system_fingerprint": "fp_scripted",
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if include_usage:
            payload["usage"] = None
        return _sse(payload)

    events: list[tuple[float, bytes]] = []
    pieces: int
    usage: Mapping[str, int] | None = None
    if isinstance(reply, DeltasReply):
        events.extend((reply.delay, chunk(dict(delta))) for delta in reply.deltas)
        finish_reason = reply.finish_reason
        pieces = len(reply.deltas)
    elif isinstance(reply, TextReply):
        events.append(
            (reply.first_delay, chunk({"role": "assistant", "content": "", "refusal": None}))
        )
        events.extend((reply.delay, chunk({"content": piece})) for piece in reply.chunks)
        finish_reason = reply.finish_reason
        pieces = len(reply.chunks)
        usage = reply.usage
    else:
        opening: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        if reply.text:
            opening["content"] = ""
            events.append((reply.first_delay, chunk(opening)))
            events.extend((reply.delay, chunk({"content": piece})) for piece in reply.text)
        for index, item in enumerate(reply.calls):
            header = {
                "index": index,
                "id": exchange.call_id(item, index),
                "type": "function",
                "function": {"name": item.name, "arguments": ""},
            }
            if events:
                events.append((reply.delay, chunk({"tool_calls": [header]})))
            else:
                events.append((reply.first_delay, chunk({**opening, "tool_calls": [header]})))
            events.extend(
                (
                    reply.delay,
                    chunk({"tool_calls": [{"index": index, "function": {"arguments": a}}]}),
                )
                for a in _split(item.arguments, item.split)
            )
        finish_reason = "tool_calls"
        pieces = len(events)
        usage = reply.usage

    tail = [chunk({}, finish_reason)]
    if include_usage:
        tail.append(
            _sse(
                {
                    "id": exchange.completion_id,
                    "object": "chat.completion.chunk",
                    "created": exchange.created,
                    "model": exchange.model,
                    "system_fingerprint": "fp_scripted",
                    "choices": [],
                    "usage": exchange.usage(usage, pieces),
                }
            )
        )
    tail.append(_DONE)
    return _Stream(body=events, tail=tail)


def _completion(
    reply: TextReply | ToolCallsReply | DeltasReply, exchange: _Exchange
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "refusal": None}
    usage: Mapping[str, int] | None = None
    if isinstance(reply, DeltasReply):
        for delta in reply.deltas:
            for key, value in delta.items():
                if key == "content" and isinstance(value, str):
                    previous = message.get("content")
                    message[key] = (previous if isinstance(previous, str) else "") + value
                else:
                    message[key] = value
        finish_reason, pieces = reply.finish_reason, len(reply.deltas)
    elif isinstance(reply, TextReply):
        message["content"] = "".join(reply.chunks)
        finish_reason, pieces = reply.finish_reason, len(reply.chunks)
        usage = reply.usage
    else:
        message["content"] = "".join(reply.text) if reply.text else None
        message["tool_calls"] = _tool_call_message(exchange, reply.calls)
        finish_reason = "tool_calls"
        pieces = len(reply.text) + sum(len(_split(c.arguments, c.split)) + 1 for c in reply.calls)
        usage = reply.usage
    return {
        "id": exchange.completion_id,
        "object": "chat.completion",
        "created": exchange.created,
        "model": exchange.model,
        "system_fingerprint": "fp_scripted",
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        ],
        "usage": exchange.usage(usage, pieces),
    }


def _total_delay(reply: TextReply | ToolCallsReply | DeltasReply) -> float:
    if isinstance(reply, DeltasReply):
        return reply.delay * len(reply.deltas)
    if isinstance(reply, TextReply):
        return reply.first_delay + reply.delay * len(reply.chunks)
    chunks = len(reply.text) + sum(len(_split(c.arguments, c.split)) + 1 for c in reply.calls)
    return reply.first_delay + reply.delay * max(0, chunks - 1)


def _error_body(message: str, type: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": None, "code": code}}


# --------------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------------

_FLUSH_BYTES = 64 * 1024
_CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")


class _BadRequest(Exception):
    pass


@dataclass
class _Request:
    method: str
    path: str
    version: str
    headers: dict[str, str]
    body: bytes

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None  # the client closed the connection between requests
    except asyncio.LimitOverrunError as exc:
        raise _BadRequest("request head too large") from exc
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, version = lines[0].split(" ", 2)
    except ValueError as exc:
        raise _BadRequest(f"malformed request line {lines[0]!r}") from exc
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    else:
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError as exc:
            raise _BadRequest("invalid content-length") from exc
        body = await reader.readexactly(length) if length > 0 else b""
    return _Request(method.upper(), target.split("?", 1)[0], version, headers, body)


class _Response:
    """Writes one HTTP response; buffers small writes until a flush."""

    def __init__(self, writer: asyncio.StreamWriter, request_id: str) -> None:
        self._writer = writer
        self._request_id = request_id
        self._head_bytes: list[bytes] = []
        self._events: list[bytes] = []
        self._size = 0

    def _head(self, status: int, headers: Mapping[str, str]) -> bytes:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        lines = [f"HTTP/1.1 {status} {phrase}"]
        all_headers = {"x-request-id": self._request_id, **headers}
        lines.extend(f"{name}: {value}" for name, value in all_headers.items())
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def send_json(
        self, status: int, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        await self.send(status, _dump(payload), "application/json", headers)

    async def send(
        self,
        status: int,
        data: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Send a whole response with a ``content-length``."""
        head = self._head(
            status,
            {"content-type": content_type, "content-length": str(len(data)), **(headers or {})},
        )
        self._writer.write(head + data)
        await self._writer.drain()

    def start_stream(self) -> None:
        self._head_bytes.append(
            self._head(
                200,
                {
                    "content-type": "text/event-stream; charset=utf-8",
                    "cache-control": "no-cache",
                    "transfer-encoding": "chunked",
                },
            )
        )

    async def event(self, data: bytes) -> None:
        """Queue one server-sent event; sent at the next flush (or when 64 KiB are queued)."""
        self._events.append(data)
        self._size += len(data)
        if self._size >= _FLUSH_BYTES:
            await self.flush()

    def _take(self) -> bytes:
        data = b"".join(self._head_bytes)
        if self._events:
            # All the events queued since the last flush go in one HTTP chunk: far less
            # parsing for the client than one chunk per event, and the same bytes.
            events = b"".join(self._events)
            data += b"%x\r\n%b\r\n" % (len(events), events)
        self._head_bytes.clear()
        self._events.clear()
        self._size = 0
        return data

    async def flush(self) -> None:
        """Send everything queued."""
        data = self._take()
        if data:
            self._writer.write(data)
        await self._writer.drain()

    async def end_stream(self) -> None:
        """Send everything queued and the chunk that ends the body."""
        self._writer.write(self._take() + b"0\r\n\r\n")
        await self._writer.drain()


# --------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------


class ScriptedServer:
    """An OpenAI-compatible chat completions server on loopback that replays a script.

    Args:
        script: A sequence of replies (:func:`text`, :func:`tool_calls`, :func:`error`,
            :func:`cut`, :func:`stall`, :func:`page`, :func:`deltas`; a plain ``str`` means
            ``text(s)``), one per request, in order; a request after the last one gets
            HTTP 500 "script exhausted". Or a callable ``script(request_body) -> reply``
            called for every request (in the server's thread, so keep it quick); if it
            raises, the request gets HTTP 500 with the exception in the message.
        host: The interface to listen on.
        port: The port; 0 picks a free one (see :attr:`base_url`).
        ignore_stream_options: Send no usage chunk even when asked, like servers that ignore
            ``stream_options``.

    Use it as a context manager or call :meth:`start` / :meth:`stop` (both idempotent). It
    serves ``POST /v1/chat/completions`` (streaming or not) and ``GET /v1/models``; other
    paths get a 404 error in OpenAI's format.
    """

    def __init__(
        self,
        script: Script,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ignore_stream_options: bool = False,
    ) -> None:
        self._replies: list[Reply] | None
        self._respond: Callable[[dict[str, Any]], Reply | str] | None
        if isinstance(script, (str, bytes)):
            raise TypeError("script must be a list of replies or a callable, not a string")
        if callable(script):
            self._replies, self._respond = None, script
        elif isinstance(script, Sequence):
            self._replies = [_as_reply(item, f"script[{i}]") for i, item in enumerate(script)]
            self._respond = None
        else:
            raise TypeError(f"script must be a list of replies or a callable, got {script!r}")
        self.host = host
        self._requested_port = port
        self._ignore_stream_options = ignore_stream_options
        self._port: int | None = None
        self._lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._finished_at: list[float] = []
        self._served = 0  # replies taken from a list script
        self._count = 0  # chat completion requests received
        self._state = "new"  # new -> running -> stopped
        self._state_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> ScriptedServer:
        """Start serving in a daemon thread and return ``self``; no-op if already running.

        Raises:
            RuntimeError: if the server was stopped (create a new one instead).
            OSError: if the port cannot be bound.
        """
        with self._state_lock:
            if self._state == "running":
                return self
            if self._state == "stopped":
                raise RuntimeError("a stopped ScriptedServer cannot be restarted; create a new one")
            loop = asyncio.new_event_loop()
            ready = threading.Event()
            failure: list[BaseException] = []
            thread = threading.Thread(
                target=self._run, args=(loop, ready, failure), name="ScriptedServer", daemon=True
            )
            thread.start()
            ready.wait()
            if failure:
                thread.join()
                raise failure[0]
            self._loop, self._thread, self._state = loop, thread, "running"
            logger.debug("ScriptedServer listening on %s", self.base_url)
            return self

    def _run(
        self, loop: asyncio.AbstractEventLoop, ready: threading.Event, failure: list[BaseException]
    ) -> None:
        try:
            try:
                server = loop.run_until_complete(
                    asyncio.start_server(self._serve_connection, self.host, self._requested_port)
                )
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            self._server = server
            self._port = int(server.sockets[0].getsockname()[1])
            ready.set()
            loop.run_forever()
        finally:
            loop.close()

    def stop(self) -> None:
        """Stop serving, drop open connections and free the port; no-op if not running."""
        with self._state_lock:
            if self._state != "running":
                return
            self._state = "stopped"
            loop, thread = self._loop, self._thread
            assert loop is not None and thread is not None
            if threading.current_thread() is thread:
                raise RuntimeError("ScriptedServer.stop() cannot be called from the script")
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            try:
                future.result(timeout=10)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout=10)

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.wait_for(self._server.wait_closed(), timeout=5)

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- state -------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._state == "running"

    @property
    def port(self) -> int:
        """The port the server listens on (once started)."""
        if self._port is None:
            raise RuntimeError("the ScriptedServer is not started; call start() or use `with`")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1``, for ``openai.AsyncOpenAI(base_url=...)``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of the chat completion requests received so far, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def finished_at(self) -> list[float]:
        """Wall-clock times (``time.time()``) at which each complete stream started sending its
        closing chunks, in order: for measuring how long after the last chunk a client shows
        it."""
        with self._lock:
            return list(self._finished_at)

    @property
    def unused(self) -> list[Reply]:
        """The replies of a list script not served yet (always empty for a callable)."""
        with self._lock:
            return [] if self._replies is None else self._replies[self._served :]

    @property
    def remaining(self) -> int:
        """How many replies of a list script are left (0 for a callable script)."""
        return len(self.unused)

    def assert_consumed(self) -> None:
        """Raise ``AssertionError`` unless every reply of the script was served."""
        unused = self.unused
        if unused:
            raise AssertionError(
                f"ScriptedServer: {len(unused)} scripted repl{'y' if len(unused) == 1 else 'ies'}"
                f" not requested after {len(self.requests)} request(s): {unused!r}"
            )

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None else "not started"
        return f"<ScriptedServer {where} {self._state}, {len(self.requests)} request(s)>"

    # -- serving -----------------------------------------------------------------------------------

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:
                try:
                    request = await _read_request(reader)
                except _BadRequest as exc:
                    response = _Response(writer, "req_bad")
                    body = _error_body(str(exc), "invalid_request_error")
                    await response.send_json(400, body, {"connection": "close"})
                    return
                if request is None:
                    return
                if not await self._dispatch(request, writer) or not request.keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # stop(): end quietly. Re-raising would make asyncio (3.11) log the cancelled
            # connection task as an "exception in callback".
            pass
        except Exception:
            logger.exception("ScriptedServer: unexpected error")
        finally:
            self._connections.discard(task)
            writer.close()

    async def _dispatch(self, request: _Request, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; return False when the connection must be closed."""
        if request.path in _CHAT_PATHS and request.method == "POST":
            return await self._chat_completion(request, writer)
        response = _Response(writer, "req_other")
        if request.path in ("/v1/models", "/models") and request.method == "GET":
            model = {"id": "scripted", "object": "model", "created": 0, "owned_by": "scripted"}
            await response.send_json(200, {"object": "list", "data": [model]})
        elif request.path in _CHAT_PATHS:
            message = f"Method {request.method} not allowed on {request.path}; use POST"
            await response.send_json(405, _error_body(message, "invalid_request_error"))
        else:
            message = (
                f"ScriptedServer: unknown path {request.method} {request.path}; "
                "it serves POST /v1/chat/completions"
            )
            body = _error_body(message, "invalid_request_error", "unknown_url")
            await response.send_json(404, body)
        return True

    def _next_reply(self, body: dict[str, Any]) -> tuple[int, Reply]:
        with self._lock:
            self._requests.append(body)
            self._count += 1
            number = self._count
            if self._replies is not None:
                if self._served >= len(self._replies):
                    message = (
                        f"ScriptedServer: script exhausted: request #{number} arrived but the "
                        f"script has only {len(self._replies)} repl"
                        f"{'y' if len(self._replies) == 1 else 'ies'}"
                    )
                    logger.warning("%s", message)
                    return number, error(500, message, code="script_exhausted")
                reply = self._replies[self._served]
                self._served += 1
                return number, reply
            respond = self._respond
        assert respond is not None
        try:
            return number, _as_reply(respond(body), "the script's return value")
        except Exception as exc:
            logger.exception("ScriptedServer: the script raised")
            message = f"ScriptedServer: the script raised {type(exc).__name__}: {exc}"
            return number, error(500, message, code="script_error")

    async def _chat_completion(self, request: _Request, writer: asyncio.StreamWriter) -> bool:
        try:
            body = json.loads(request.body)
            if not isinstance(body, dict):
                raise ValueError("the body is not a JSON object")
        except ValueError as exc:
            message = f"ScriptedServer: invalid JSON body: {exc}"
            await _Response(writer, "req_bad").send_json(
                400, _error_body(message, "invalid_request_error")
            )
            return True
        number, reply = self._next_reply(body)
        if self._ignore_stream_options:
            body = {key: value for key, value in body.items() if key != "stream_options"}
        exchange = _Exchange(number=number, body=body)
        if isinstance(body.get("model"), str):
            exchange.model = body["model"]
        response = _Response(writer, f"req_scripted_{number}")
        streaming = bool(body.get("stream"))

        while isinstance(reply, StallReply):
            await asyncio.sleep(reply.seconds)
            if reply.reply is None:
                return False  # close without any response
            reply = reply.reply

        if isinstance(reply, ErrorReply):
            headers = {}
            if reply.retry_after is not None:
                headers["retry-after-ms"] = str(round(reply.retry_after * 1000))
                headers["retry-after"] = str(reply.retry_after)
            if isinstance(reply.body, str):
                data = reply.body.encode()
                await response.send(reply.status, data, "text/plain; charset=utf-8", headers)
            elif reply.body is not None:
                await response.send_json(reply.status, reply.body, headers)
            else:
                payload = _error_body(reply.message, reply.type, reply.code)
                await response.send_json(reply.status, payload, headers)
            return True

        if isinstance(reply, PageReply):
            await response.send(reply.status, reply.body.encode(), reply.content_type)
            return True

        cut_off = isinstance(reply, CutReply)
        content = reply.reply if isinstance(reply, CutReply) else reply
        if not streaming:
            await asyncio.sleep(_total_delay(content))
            if cut_off:
                return False  # close without any response
            await response.send_json(200, _completion(content, exchange))
            return True

        stream = _stream_events(content, exchange)
        response.start_stream()
        for delay, event in stream.body:
            if delay > 0:
                await response.flush()
                await asyncio.sleep(delay)
            await response.event(event)
        if cut_off:
            await response.flush()
            # Close (FIN) without the terminating zero-length chunk: an incomplete body.
            return False
        # Stamped before the closing chunks go out, so the stamp is there by the time a
        # client has read the end of the stream.
        with self._lock:
            self._finished_at.append(time.time())
        for event in stream.tail:
            await response.event(event)
        await response.end_stream()
        return True


# --------------------------------------------------------------------------------------------------
# Offline demo
# --------------------------------------------------------------------------------------------------

_demo_lock = threading.Lock()
_demo_servers: dict[str, ScriptedServer] = {}


def _normalize_url(url: str) -> str:
    return url.rstrip("/")


def _stop_demo_servers() -> None:
    with _demo_lock:
        servers = list(_demo_servers.values())
        _demo_servers.clear()
    for server in servers:
        server.stop()


def offline_demo_client(script: Script) -> openai.AsyncOpenAI:
    """Start a :class:`ScriptedServer` for a demo notebook and return a client for it.

    The server lives for the rest of the process (it is stopped at exit). The client has a
    dummy API key and ``max_retries=0``, and :func:`is_offline_demo` recognises it, so the
    copilot widget shows an "offline demo" badge::

        client = openai.AsyncOpenAI() if os.environ.get("OPENAI_API_KEY") else (
            offline_demo_client(demo_script)
        )
    """
    import openai

    server = ScriptedServer(script).start()
    with _demo_lock:
        if not _demo_servers:
            atexit.register(_stop_demo_servers)
        _demo_servers[_normalize_url(server.base_url)] = server
    return openai.AsyncOpenAI(base_url=server.base_url, api_key="offline-demo", max_retries=0)


def is_offline_demo(client_or_base_url: object) -> bool:
    """Whether a client (anything with ``base_url``) or URL talks to an offline demo server.

    True for clients made by :func:`offline_demo_client` (while its server runs), False for
    anything else, including a plain :class:`ScriptedServer` used in tests.
    """
    base_url = getattr(client_or_base_url, "base_url", client_or_base_url)
    if base_url is None:
        return False
    with _demo_lock:
        return _normalize_url(str(base_url)) in _demo_servers
