"""copilot_widget.testing.ScriptedServer, driven over real HTTP by the real openai client."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionChunk

from copilot_widget.testing import (
    Reply,
    ScriptedServer,
    call,
    cut,
    error,
    is_offline_demo,
    offline_demo_client,
    text,
    tool_calls,
)

MESSAGES: list[Any] = [{"role": "user", "content": "Hi"}]
Start = Callable[..., ScriptedServer]


@pytest.fixture
def start(serve: Start) -> Start:
    """Start ScriptedServers for a test (conftest's `serve`: stopped afterwards)."""
    return serve


_clients: list[openai.AsyncOpenAI] = []


@pytest.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    """Close the clients a test opened, so no connection outlives its test."""
    yield
    while _clients:
        await _clients.pop().close()


def client_for(server: ScriptedServer, *, max_retries: int = 0) -> openai.AsyncOpenAI:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=max_retries)
    _clients.append(client)
    return client


async def stream_chunks(client: openai.AsyncOpenAI, **kwargs: Any) -> list[ChatCompletionChunk]:
    stream = await client.chat.completions.create(
        model="gpt-test", messages=kwargs.pop("messages", MESSAGES), stream=True, **kwargs
    )
    return [chunk async for chunk in stream]


def content_of(chunks: list[ChatCompletionChunk]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def assembled_tool_calls(chunks: list[ChatCompletionChunk]) -> dict[int, dict[str, str]]:
    """Reassemble streamed tool calls the way a client does: by index."""
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            entry = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            if delta.id:
                entry["id"] = delta.id
            if delta.function and delta.function.name:
                entry["name"] = delta.function.name
            if delta.function and delta.function.arguments:
                entry["arguments"] += delta.function.arguments
    return calls


# -- text ------------------------------------------------------------------------------------------


async def test_text_streams_one_chunk_per_piece_like_openai(start: Start) -> None:
    server = start([text("Hello", " world", "!")])

    chunks = await stream_chunks(client_for(server))

    assert content_of(chunks) == "Hello world!"
    first, *middle, last = chunks
    assert first.choices[0].delta.role == "assistant"
    assert first.choices[0].delta.content == ""
    assert [c.choices[0].delta.content for c in middle] == ["Hello", " world", "!"]
    assert [c.choices[0].finish_reason for c in middle] == [None, None, None]
    assert last.choices[0].finish_reason == "stop"
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert {c.model for c in chunks} == {"gpt-test"}
    assert len({c.id for c in chunks}) == 1


async def test_sse_is_chunked_http_with_event_stream_content_type(start: Start) -> None:
    server = start([text("a", "b")])
    body = {"model": "m", "messages": MESSAGES, "stream": True}

    async with (
        httpx.AsyncClient() as http,
        http.stream("POST", f"{server.base_url}/chat/completions", json=body) as response,
    ):
        raw = (await response.aread()).decode()

    assert response.http_version == "HTTP/1.1"
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["transfer-encoding"] == "chunked"
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert [json.loads(e[6:])["choices"][0]["delta"] for e in events[1:3]] == [
        {"content": "a"},
        {"content": "b"},
    ]


async def test_finish_reason_and_usage_chunk(start: Start) -> None:
    server = start([text("cut sho", finish_reason="length", usage={"prompt_tokens": 7})])

    chunks = await stream_chunks(client_for(server), stream_options={"include_usage": True})

    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 7
    assert chunks[-1].usage.total_tokens == 7
    assert all(c.usage is None for c in chunks[:-1])


async def test_delays_are_observed_between_chunks(start: Start) -> None:
    first_delay, delay = 0.3, 0.15
    server = start([text("a", "b", "c", delay=delay, first_delay=first_delay)])
    client = client_for(server)

    began, began_wall = time.perf_counter(), time.time()
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    arrivals = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.perf_counter() - began)
    ended_wall = time.time()

    # A chunk never arrives before the server sent it, and the server sends piece k only after
    # first_delay, then one delay for the opening chunk and k + 1 for the pieces: lower bounds
    # that hold however loaded the machine is (a timer may fire up to a clock tick early).
    tick = 0.01
    assert len(arrivals) == 3
    for k, arrival in enumerate(arrivals):
        assert arrival >= first_delay + (k + 1) * delay - tick, arrivals
    assert arrivals == sorted(arrivals)
    # The server finished after all the delays, before the client read the end of the stream.
    (finished,) = server.finished_at
    assert began_wall + first_delay + 3 * delay - tick <= finished <= ended_wall


async def test_headers_come_before_the_first_delay(start: Start) -> None:
    server = start([text("late", first_delay=60)])

    # create() returns once the response headers are in, long before the first chunk.
    stream = await asyncio.wait_for(
        client_for(server).chat.completions.create(model="m", messages=MESSAGES, stream=True),
        timeout=10,
    )

    assert stream.response.status_code == 200
    assert stream.response.headers["content-type"].startswith("text/event-stream")
    assert server.finished_at == []
    await stream.close()


# -- tool calls ------------------------------------------------------------------------------------


async def test_tool_call_with_split_arguments_streams_like_openai(start: Start) -> None:
    server = start([tool_calls(call("fetch_user", {"user_id": "1", "full": True}, split=3))])

    chunks = await stream_chunks(client_for(server))

    deltas = [c.choices[0].delta for c in chunks[:-1]]
    header = deltas[0]
    assert header.role == "assistant"
    assert header.tool_calls is not None
    first = header.tool_calls[0]
    assert (first.index, first.type) == (0, "function")
    assert first.id == "call_1_0"
    assert first.function is not None
    assert (first.function.name, first.function.arguments) == ("fetch_user", "")
    pieces = []
    for delta in deltas[1:]:
        assert delta.tool_calls is not None and len(delta.tool_calls) == 1
        piece = delta.tool_calls[0]
        assert (piece.index, piece.id, piece.type) == (0, None, None)
        assert piece.function is not None and piece.function.name is None
        pieces.append(piece.function.arguments)
    assert len(pieces) == 3
    assert json.loads("".join(p or "" for p in pieces)) == {"user_id": "1", "full": True}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


async def test_parallel_calls_keep_indices_and_ids(start: Start) -> None:
    server = start(
        [
            tool_calls(
                call("fetch_user", {"user_id": "1"}, split=2),
                call("get_time", {}),
                call("ping", {"n": 3}, id="call_custom", split=4),
                text="Let me check.",
            )
        ]
    )

    chunks = await stream_chunks(client_for(server))

    assert content_of(chunks) == "Let me check."
    assert chunks[0].choices[0].delta.role == "assistant"
    assert assembled_tool_calls(chunks) == {
        0: {"id": "call_1_0", "name": "fetch_user", "arguments": '{"user_id":"1"}'},
        1: {"id": "call_1_1", "name": "get_time", "arguments": "{}"},
        2: {"id": "call_custom", "name": "ping", "arguments": '{"n":3}'},
    }


async def test_raw_invalid_json_arguments_come_through_verbatim(start: Start) -> None:
    server = start([tool_calls(call("fetch_user", '{"user_id": ', split=5))])

    chunks = await stream_chunks(client_for(server))

    assert assembled_tool_calls(chunks)[0]["arguments"] == '{"user_id": '


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "exception", "status", "code", "message"),
    [
        (error(401), openai.AuthenticationError, 401, None, "Incorrect API key provided."),
        (error(429, "Slow down"), openai.RateLimitError, 429, None, "Slow down"),
        (
            error(429, "quota", code="insufficient_quota"),
            openai.RateLimitError,
            429,
            "insufficient_quota",
            "quota",
        ),
        (error(500), openai.InternalServerError, 500, None, None),
        (error(503, "overloaded"), openai.InternalServerError, 503, None, "overloaded"),
        (
            error(400, "too long", code="context_length_exceeded"),
            openai.BadRequestError,
            400,
            "context_length_exceeded",
            "too long",
        ),
    ],
)
async def test_errors_raise_the_openai_exceptions(
    start: Start,
    reply: Reply,
    exception: type[openai.APIStatusError],
    status: int,
    code: str | None,
    message: str | None,
) -> None:
    server = start([reply])

    with pytest.raises(exception) as caught:
        await stream_chunks(client_for(server))

    assert caught.value.status_code == status
    assert caught.value.code == code
    assert isinstance(caught.value.body, dict)
    assert set(caught.value.body) == {"message", "type", "code", "param"}
    if message is not None:
        assert caught.value.body["message"] == message
    assert caught.value.request_id == "req_scripted_1"


async def test_error_type_defaults_follow_openai(start: Start) -> None:
    server = start([error(429, code="insufficient_quota"), error(500), error(429, type="tokens")])
    client = client_for(server)
    types = []
    for _ in range(3):
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(model="m", messages=MESSAGES)
        types.append(caught.value.type)
    assert types == ["insufficient_quota", "server_error", "tokens"]


async def test_retry_after_sets_how_long_the_client_waits(start: Start) -> None:
    # Longer than openai's own first backoff (0.5 s at most): only the header can explain the
    # wait, so a script's short `retry_after` makes a client retry that soon.
    server = start([error(429, retry_after=0.8), text("after retry")])
    client = client_for(server, max_retries=1)

    began = time.perf_counter()
    completion = await client.chat.completions.create(model="m", messages=MESSAGES)

    assert completion.choices[0].message.content == "after retry"
    assert time.perf_counter() - began >= 0.8
    assert len(server.requests) == 2


# -- cut -------------------------------------------------------------------------------------------


async def test_cut_raises_during_iteration_and_the_server_keeps_serving(start: Start) -> None:
    server = start([cut(text("partial", " an")), text("next one")])
    client = client_for(server)

    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    received = []
    with pytest.raises(openai.APIConnectionError) as caught:
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content)

    assert received == ["", "partial", " an"]  # every chunk arrived, then the body broke off
    assert isinstance(caught.value.__cause__, Exception)
    assert type(caught.value.__cause__).__name__ == "RemoteProtocolError"
    assert "incomplete chunked read" in str(caught.value.__cause__)
    assert content_of(await stream_chunks(client)) == "next one"


async def test_cut_tool_calls_stream_has_no_finish_reason(start: Start) -> None:
    server = start([cut(tool_calls(call("fetch_user", {"user_id": "1"}, split=2)))])

    stream = await client_for(server).chat.completions.create(
        model="m", messages=MESSAGES, stream=True
    )
    received: list[ChatCompletionChunk] = []
    with pytest.raises(openai.APIConnectionError):
        async for chunk in stream:
            received.append(chunk)

    assert assembled_tool_calls(received)[0]["arguments"] == '{"user_id":"1"}'
    assert all(c.choices[0].finish_reason is None for c in received)


async def test_cut_without_streaming_fails_the_request(start: Start) -> None:
    server = start([cut(text("never")), text("fine")])
    client = client_for(server)

    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="m", messages=MESSAGES)
    completion = await client.chat.completions.create(model="m", messages=MESSAGES)
    assert completion.choices[0].message.content == "fine"


# -- requests, scripts -----------------------------------------------------------------------------


async def test_requests_record_the_bodies_sent(start: Start) -> None:
    server = start([text("one"), text("two")])
    client = client_for(server)
    tool = {
        "type": "function",
        "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
    }

    await stream_chunks(client, tools=[tool])
    history = [*MESSAGES, {"role": "assistant", "content": "one"}, {"role": "user", "content": "?"}]
    await client.chat.completions.create(model="other", messages=history)

    requests = server.requests
    assert [r["model"] for r in requests] == ["gpt-test", "other"]
    assert requests[0]["stream"] is True
    assert requests[0]["tools"] == [tool]
    assert requests[0]["messages"] == MESSAGES
    assert requests[1]["messages"] == history
    assert "stream" not in requests[1]
    requests.clear()  # a copy: the server's record is untouched
    assert len(server.requests) == 2


async def test_concurrent_requests_are_all_recorded(start: Start) -> None:
    def answer(body: dict[str, Any]) -> Reply:
        return text("echo:", body["messages"][-1]["content"], delay=0.01)

    server = start(answer)
    client = client_for(server)

    results = await asyncio.gather(
        *(stream_chunks(client, messages=[{"role": "user", "content": str(i)}]) for i in range(20))
    )

    assert [content_of(r) for r in results] == [f"echo:{i}" for i in range(20)]
    assert sorted(int(r["messages"][0]["content"]) for r in server.requests) == list(range(20))


async def test_callable_script_answers_from_the_conversation(start: Start) -> None:
    def demo(body: dict[str, Any]) -> Reply | str:
        last = body["messages"][-1]
        if last["role"] == "tool":
            return f"The time is {json.loads(last['content'])['time']}."
        return tool_calls(call("get_time", {"tz": "UTC"}))

    server = start(demo)
    client = client_for(server)

    first = await stream_chunks(client)
    calls = assembled_tool_calls(first)
    history = [
        *MESSAGES,
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": calls[0]["id"],
                    "type": "function",
                    "function": {"name": calls[0]["name"], "arguments": calls[0]["arguments"]},
                }
            ],
        },
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": '{"time": "12:00"}'},
    ]
    second = await stream_chunks(client, messages=history)

    assert calls[0]["name"] == "get_time"
    assert content_of(second) == "The time is 12:00."
    assert server.remaining == 0
    assert server.unused == []


async def test_callable_script_that_raises_gives_a_500_with_the_reason(start: Start) -> None:
    def broken(body: dict[str, Any]) -> Reply:
        raise KeyError("no answer for this")

    server = start(broken)

    with pytest.raises(openai.InternalServerError) as caught:
        await stream_chunks(client_for(server))

    assert "KeyError" in caught.value.message
    assert "no answer for this" in caught.value.message
    assert caught.value.code == "script_error"


async def test_exhausted_script_gives_a_clear_error(start: Start) -> None:
    server = start([text("only one")])
    client = client_for(server)
    assert server.remaining == 1

    assert content_of(await stream_chunks(client)) == "only one"
    assert server.remaining == 0
    server.assert_consumed()
    with pytest.raises(openai.InternalServerError) as caught:
        await stream_chunks(client)

    assert "script exhausted" in caught.value.message
    assert "request #2" in caught.value.message
    assert caught.value.code == "script_exhausted"
    assert len(server.requests) == 2


async def test_remaining_and_unused_report_leftover_replies(start: Start) -> None:
    leftover = [error(500), text("never sent")]
    server = start([text("used"), *leftover])

    await stream_chunks(client_for(server))

    assert server.remaining == 2
    assert server.unused == leftover
    with pytest.raises(AssertionError, match="2 scripted replies not requested"):
        server.assert_consumed()


async def test_plain_strings_in_a_script_are_text_replies(start: Start) -> None:
    server = start(["Just text"])
    assert content_of(await stream_chunks(client_for(server))) == "Just text"


# -- non-streaming ---------------------------------------------------------------------------------


async def test_non_streaming_requests_get_a_chat_completion(start: Start) -> None:
    server = start(
        [
            text("Hello", " world", usage={"prompt_tokens": 3, "completion_tokens": 2}),
            tool_calls(call("get_time", {"tz": "UTC"}), call("f", "raw", id="c9"), text="Hm"),
        ]
    )
    client = client_for(server)

    completion = await client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    calling = await client.chat.completions.create(model="gpt-test", messages=MESSAGES)

    assert completion.object == "chat.completion"
    assert completion.model == "gpt-test"
    assert completion.choices[0].message.content == "Hello world"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.total_tokens) == (3, 5)
    message = calling.choices[0].message
    assert calling.choices[0].finish_reason == "tool_calls"
    assert message.content == "Hm"
    assert message.tool_calls is not None
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls] == [  # type: ignore[union-attr]
        ("call_2_0", "get_time", '{"tz":"UTC"}'),
        ("c9", "f", "raw"),
    ]


# -- HTTP edges ------------------------------------------------------------------------------------


async def test_other_paths_get_a_404_in_openai_format(start: Start) -> None:
    server = start([text("unused")])
    client = client_for(server)

    with pytest.raises(openai.NotFoundError) as caught:
        await client.embeddings.create(model="m", input="x")

    assert "unknown path POST /v1/embeddings" in caught.value.message
    assert server.requests == []
    assert server.remaining == 1
    models = await client.models.list()
    assert [m.id for m in models.data] == ["scripted"]


async def test_invalid_json_body_gets_a_400(start: Start) -> None:
    server = start([text("unused")])
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{server.base_url}/chat/completions", content=b"{nope")
    assert response.status_code == 400
    assert "invalid JSON" in response.json()["error"]["message"]
    assert server.remaining == 1


async def test_5000_chunks_stream_well_under_a_second(start: Start) -> None:
    pieces = [f"w{i} " for i in range(5000)]
    server = start([text(*pieces)])
    body = {"model": "m", "messages": MESSAGES, "stream": True}

    async with httpx.AsyncClient() as http:
        began = time.perf_counter()
        async with http.stream(
            "POST", f"{server.base_url}/chat/completions", json=body
        ) as response:
            raw = await response.aread()
        elapsed = time.perf_counter() - began

    events = [e for e in raw.decode().split("\n\n") if e and e != "data: [DONE]"]
    content = "".join(json.loads(e[6:])["choices"][0]["delta"].get("content", "") for e in events)
    assert content == "".join(pieces)
    assert len(events) == 5000 + 2  # opening chunk, pieces, closing chunk
    assert elapsed < 1.0, f"5,000 chunks took {elapsed:.3f}s"


# -- lifecycle -------------------------------------------------------------------------------------


def test_start_and_stop_are_idempotent_and_free_the_port() -> None:
    server = ScriptedServer([text("hi")])
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.base_url
    server.stop()  # stopping a server that never started is a no-op

    assert server.start() is server
    port = server.port
    assert server.start() is server  # no-op while running
    assert server.port == port
    assert server.running
    assert server.base_url == f"http://127.0.0.1:{port}/v1"
    server.stop()
    server.stop()
    assert not server.running
    with pytest.raises(RuntimeError, match="cannot be restarted"):
        server.start()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass  # nothing listens any more

    with ScriptedServer([text("again")], port=port) as again:  # the port is free
        assert again.port == port
        with openai.OpenAI(base_url=again.base_url, api_key="t", max_retries=0) as client:
            reply = client.chat.completions.create(model="m", messages=MESSAGES)
        assert reply.choices[0].message.content == "again"


async def test_stop_interrupts_a_slow_stream(start: Start) -> None:
    server = start([text("a", "b", "c", delay=60)])
    stream = await client_for(server).chat.completions.create(
        model="m", messages=MESSAGES, stream=True
    )

    # stop() returns without waiting for the stream's next chunk, a minute away.
    await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, server.stop), 10)
    assert not server.running
    with pytest.raises(openai.APIConnectionError):
        async for _ in stream:
            pass


def test_sync_client_works_too() -> None:
    with (
        ScriptedServer([text("a", "b"), tool_calls(call("f", {"x": 1}, split=2))]) as server,
        openai.OpenAI(base_url=server.base_url, api_key="t", max_retries=0) as client,
    ):
        stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream) == "ab"
        stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        args = "".join(
            (c.choices[0].delta.tool_calls or [])[0].function.arguments or ""  # type: ignore[union-attr]
            for c in stream
            if c.choices[0].delta.tool_calls
        )
        assert json.loads(args) == {"x": 1}


# -- offline demo ----------------------------------------------------------------------------------


async def test_offline_demo_client_talks_to_a_demo_server() -> None:
    client = offline_demo_client(lambda body: text("Offline ", "demo"))
    _clients.append(client)

    chunks = await stream_chunks(client)

    assert content_of(chunks) == "Offline demo"
    assert client.max_retries == 0
    assert is_offline_demo(client)
    assert is_offline_demo(str(client.base_url))
    assert is_offline_demo(str(client.base_url).rstrip("/"))


def test_is_offline_demo_is_false_for_other_clients() -> None:
    with ScriptedServer([text("x")]) as server:
        assert not is_offline_demo(client_for(server))
        assert not is_offline_demo(server.base_url)
    with openai.OpenAI(api_key="sk-real") as real:
        assert not is_offline_demo(real)
    assert not is_offline_demo("https://api.openai.com/v1")
    assert not is_offline_demo(None)


# -- reply validation ------------------------------------------------------------------------------


def test_replies_reject_mistakes_early() -> None:
    with pytest.raises(ValueError, match="split"):
        call("f", {}, split=0)
    with pytest.raises(TypeError, match="dict or a string"):
        call("f", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="strings"):
        text(["a", "b"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="delay"):
        text("a", delay=-1)
    with pytest.raises(ValueError, match="at least one"):
        tool_calls()
    with pytest.raises(ValueError, match="400-599"):
        error(200)
    with pytest.raises(TypeError, match="cut"):
        cut(error(500))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a string"):
        ScriptedServer("text")
    with pytest.raises(TypeError, match=r"script\[1\]"):
        ScriptedServer([text("ok"), 42])  # type: ignore[list-item]


def test_finished_at_records_when_each_complete_stream_was_sent() -> None:
    with ScriptedServer([text("a", "b"), cut(text("c"))]) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="t", max_retries=0)
        before = time.time()
        list(client.chat.completions.create(model="m", messages=[], stream=True))
        assert len(server.finished_at) == 1 and before <= server.finished_at[0] <= time.time()
        with pytest.raises(openai.APIConnectionError):
            list(client.chat.completions.create(model="m", messages=[], stream=True))
        assert len(server.finished_at) == 1  # a cut stream never finished
        client.close()
