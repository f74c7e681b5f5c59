"""The provider's stream as a run reads it: server-sent events in the forms real providers and
proxies send, errors in the middle of a stream, and chunks a run cannot read."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from copilot_widget import Copilot
from copilot_widget.testing import ScriptedServer, page, text


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **fields: Any) -> str:
    payload = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m", **fields}
    if delta is not None:
        payload["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    return json.dumps(payload)


def stream(*events: str, newline: str = "\n") -> Any:
    """A 200 event-stream response whose body is `events`, each ended by a blank line."""
    body = "".join(event.replace("\n", newline) + newline * 2 for event in events)
    return page(body, content_type="text/event-stream; charset=utf-8")


def copilot_for(server: ScriptedServer) -> Copilot:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
    return Copilot(client=client, store=":memory:")


def answer(copilot: Copilot) -> str:
    return copilot.messages[-1]["content"][0]["text"]["value"]


# Comments (a keep-alive, OpenRouter's "processing"), a named event, a data field without its
# space, one chunk's JSON over two data lines, usage with counts a provider left out or sent
# oddly, and [DONE].
PROVIDER_STYLE = [
    ": OPENROUTER PROCESSING",
    "data: " + chunk({"role": "assistant", "content": ""}),
    "event: ping\ndata: {}",
    "data:" + chunk({"content": "Hel"}),
    ': keep-alive\ndata: {"id": "chatcmpl-1", "model": "m",\ndata: '
    + '"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": null}]}',
    "data: " + chunk({}, "stop"),
    "data: "
    + chunk(
        choices=[],
        usage={"prompt_tokens": 12, "completion_tokens": None, "prompt_tokens_details": 3},
    ),
    "data: [DONE]",
]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_events_in_every_form_a_provider_sends_are_read_like_the_client_reads_them(
    serve: Any, newline: str
) -> None:
    server = serve([stream(*PROVIDER_STYLE, newline=newline)] * 2)
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
        chunks = client.chat.completions.create(model="m", messages=[], stream=True)
        by_client = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    copilot = copilot_for(server)
    run = copilot.send("hi")
    assert run.status == "completed"
    assert answer(copilot) == by_client == "Hello"
    usage = copilot.messages[-1]["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["cached_tokens"]) == (12, 0, None)


@pytest.mark.parametrize(
    "failure",
    [
        'event: error\ndata: {"error": {"message": "Overloaded", "type": "overloaded_error"}}',
        'data: {"error": {"message": "Overloaded", "code": 529}}',
    ],
    ids=["error-event", "error-chunk"],
)
def test_an_error_in_the_middle_of_a_stream_fails_the_run_and_keeps_the_text(
    serve: Any, failure: str
) -> None:
    server = serve(
        [stream("data: " + chunk({"content": "Half an ans"}), failure), text("Recovered.")]
    )
    copilot = copilot_for(server)
    run = copilot.send("hi")
    assert run.status == "failed"
    assert copilot.error is not None
    assert "Overloaded" in copilot.error["message"]
    assert copilot.messages[-1]["status"] == "incomplete"
    assert answer(copilot) == "Half an ans"
    # The conversation goes on.
    assert copilot.send("again").status == "completed"
    assert answer(copilot) == "Recovered."


@pytest.mark.parametrize(
    ("bad", "detail"),
    [
        ("data: {not json", "a chunk is not JSON"),
        ('data: {"choices": 5}', "a chunk's choices"),
        ('data: {"choices": [{"delta": {"tool_calls": [{"index": "first"}]}}]}', "index"),
        ('data: {"choices": [{"delta": {"content": ["a"]}}]}', "content is list, not text"),
    ],
    ids=["not-json", "choices-not-a-list", "index-not-a-number", "content-a-list"],
)
def test_a_chunk_the_run_cannot_read_fails_it_with_a_clear_reason(
    serve: Any, bad: str, detail: str
) -> None:
    server = serve([stream("data: " + chunk({"content": "Hi"}), bad), text("Recovered.")])
    copilot = copilot_for(server)
    run = copilot.send("hi")
    assert run.status == "failed"
    assert copilot.error is not None
    message = copilot.error["message"]
    assert "cannot read" in message and detail in message, message
    assert copilot.error["retryable"] is False
    assert "ValidationError" not in message
    assert copilot.send("again").status == "completed"


def test_tool_calls_without_an_index_are_told_apart_by_their_ids(serve: Any) -> None:
    """Some OpenAI-compatible servers leave `index` out of a streamed tool call: a new id starts
    a call, and a part without an id adds to the call before it."""
    server = serve(
        [
            stream(
                "data: " + chunk({"tool_calls": [{"id": "c1", "function": {"name": "add"}}]}),
                "data: " + chunk({"tool_calls": [{"function": {"arguments": '{"a": 1,'}}]}),
                "data: " + chunk({"tool_calls": [{"function": {"arguments": ' "b": 2}'}}]}),
                "data: "
                + chunk(
                    {
                        "tool_calls": [
                            {"id": "c2", "function": {"name": "add", "arguments": '{"a": 3, '}}
                        ]
                    }
                ),
                "data: "
                + chunk({"tool_calls": [{"id": "c2", "function": {"arguments": '"b": 4}'}}]}),
                "data: " + chunk({}, "tool_calls"),
                "data: [DONE]",
            ),
            text("3 and 7"),
            text("Still 3 and 7."),
        ]
    )
    copilot = copilot_for(server)

    @copilot.action
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    run = copilot.send("1 + 2 and 3 + 4?")
    assert run.status == "completed"
    calls = [
        (c["id"], c["name"], c["arguments"], c["result"]) for c in copilot.messages[1]["tool_calls"]
    ]
    assert calls == [
        ("c1", "add", '{"a": 1, "b": 2}', "3"),
        ("c2", "add", '{"a": 3, "b": 4}', "7"),
    ]
    # Asked again, in the same thread: the history carries both calls and their results.
    assert copilot.send("again").status == "completed"
    sent = server.requests[-1]["messages"]
    assert [c["id"] for c in sent[2]["tool_calls"]] == ["c1", "c2"]
    assert [m["tool_call_id"] for m in sent if m["role"] == "tool"] == ["c1", "c2"]
