"""How provider failures reach the user: classification, redaction, timeouts, bad endpoints."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import openai
import pytest

from copilot_widget import Copilot
from copilot_widget._client import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    check_stream_response,
    is_offline_demo,
    make_client,
)
from copilot_widget._errors import (
    CallbackError,
    CopilotError,
    InternalError,
    InvalidOptionsError,
    ProviderError,
    RunInProgressError,
    invalid_reply,
    provider_error,
    redact,
)
from copilot_widget.testing import (
    Reply,
    ScriptedServer,
    cut,
    deltas,
    error,
    offline_demo_client,
    page,
    stall,
    text,
)

MESSAGES: list[Any] = [{"role": "user", "content": "Hi"}]


def fail(serve: Any, reply: Reply, **options: Any) -> tuple[Copilot, ScriptedServer]:
    """A copilot whose first request gets `reply`; `send("hi")` has run to the end."""
    server = serve([reply, text("recovered")])
    timeout = options.pop("timeout", None)
    client_options: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
    client = openai.AsyncOpenAI(
        base_url=server.base_url, api_key="sk-test", max_retries=0, **client_options
    )
    copilot = Copilot(client=client, store=":memory:", **options)
    run = copilot.send("hi")
    assert run.status == "failed"
    assert copilot.error is not None
    return copilot, server


async def raised(server: ScriptedServer, *, model: str = "gpt-4o-mini", **options: Any) -> Any:
    """What the real client raises for one streamed request (iterating the stream too)."""
    async with openai.AsyncOpenAI(
        base_url=server.base_url, api_key="sk-test", max_retries=0, **options
    ) as client:
        try:
            stream = await client.chat.completions.create(
                model=model, messages=MESSAGES, stream=True
            )
            async for _ in stream:
                pass
        except Exception as exc:
            return exc
    raise AssertionError("the request did not fail")


# -- through the copilot ----------------------------------------------------------------------


def test_401_says_the_key_was_rejected_and_is_not_retryable(serve: Any) -> None:
    copilot, _ = fail(serve, error(401, "Incorrect API key provided."))
    assert copilot.error is not None
    assert copilot.error["type"] == "authentication_error"
    assert copilot.error["retryable"] is False
    assert "rejected the API key" in copilot.error["message"]
    assert "HTTP 401" in copilot.error["message"]


def test_a_key_echoed_by_the_provider_is_redacted(serve: Any) -> None:
    reply = error(401, body={"detail": "Invalid API key: sk-test. Get one at example.com"})
    copilot, _ = fail(serve, reply)
    assert copilot.error is not None
    message = copilot.error["message"]
    assert "sk-test" not in message
    assert "redacted" in message and "Invalid API key" in message


def test_403_says_access_was_refused(serve: Any) -> None:
    copilot, _ = fail(serve, error(403, "You are not allowed to use this model."))
    assert copilot.error is not None
    assert copilot.error["type"] == "authentication_error"
    assert copilot.error["retryable"] is False
    assert "refused access" in copilot.error["message"]
    assert "not allowed to use this model" in copilot.error["message"]


def test_404_names_the_model_and_suspects_it_or_the_base_url(serve: Any) -> None:
    copilot, _ = fail(serve, error(404, "The model `gpt-nope` does not exist."), model="gpt-nope")
    assert copilot.error is not None
    assert copilot.error["retryable"] is False
    message = copilot.error["message"]
    assert "'gpt-nope'" in message and "model name" in message and "base_url" in message
    assert "does not exist" in message


@pytest.mark.parametrize("status", [400, 422])
def test_a_refused_request_is_not_retryable(serve: Any, status: int) -> None:
    copilot, _ = fail(serve, error(status, "Invalid schema for function 'f'."))
    assert copilot.error is not None
    assert copilot.error["type"] == "server_error"
    assert copilot.error["retryable"] is False
    assert "refused the request" in copilot.error["message"]
    assert f"HTTP {status}" in copilot.error["message"]
    assert "Invalid schema for function 'f'." in copilot.error["message"]


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (408, "server_error"),
        (409, "server_error"),
        (429, "rate_limit_error"),
        (500, "server_error"),
        (503, "server_error"),
    ],
)
def test_transient_statuses_are_retryable(serve: Any, status: int, error_type: str) -> None:
    copilot, _ = fail(serve, error(status, "Try again later."))
    assert copilot.error is not None
    assert copilot.error["type"] == error_type
    assert copilot.error["retryable"] is True
    assert "Try again later." in copilot.error["message"]


def test_a_connection_cut_is_retryable(serve: Any) -> None:
    copilot, _ = fail(serve, cut(text("partial ", "ans")))
    assert copilot.error is not None
    assert copilot.error["type"] == "server_error"
    assert copilot.error["retryable"] is True
    assert "connection to the provider broke" in copilot.error["message"]


def test_an_unreachable_provider_is_named_and_retryable(serve: Any) -> None:
    server = serve([])
    base_url = server.base_url
    server.stop()  # nothing listens there any more
    client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-test", max_retries=0)
    copilot = Copilot(client=client, store=":memory:")
    assert copilot.send("hi").status == "failed"
    assert copilot.error is not None
    assert copilot.error["type"] == "server_error"
    assert copilot.error["retryable"] is True
    assert "Could not connect" in copilot.error["message"]
    assert f"http://127.0.0.1:{server.port}" in copilot.error["message"]


@pytest.mark.parametrize(
    "reply",
    [text("late", first_delay=3.0), stall(3.0, text("late"))],
    ids=["silent-stream", "no-headers"],
)
def test_a_stalled_provider_times_out_plainly(serve: Any, reply: Reply) -> None:
    copilot, _ = fail(serve, reply, timeout=0.5)
    assert copilot.error is not None
    assert copilot.error["type"] == "server_error"
    assert copilot.error["retryable"] is True
    assert "sent nothing for 0.5 seconds" in copilot.error["message"]


def test_a_web_page_instead_of_an_api_points_at_base_url(serve: Any) -> None:
    copilot, server = fail(serve, page())
    assert copilot.error is not None
    assert copilot.error["type"] == "invalid_options_error"
    assert copilot.error["retryable"] is False
    message = copilot.error["message"]
    assert "not an OpenAI-compatible API" in message
    assert "check base_url=" in message and server.base_url in message


@pytest.mark.parametrize("content", [42, {"text": "hi"}], ids=["number", "object"])
def test_content_that_is_not_a_string_fails_cleanly(serve: Any, content: object) -> None:
    copilot, server = fail(serve, deltas({"role": "assistant", "content": content}))
    assert copilot.error is not None
    assert copilot.error["type"] == "server_error"
    assert copilot.error["retryable"] is False
    message = copilot.error["message"]
    assert "provider" in message and "cannot read" in message
    assert "TypeError" not in message
    # The conversation goes on.
    assert copilot.send("again").status == "completed"
    assert len(server.requests) == 2


# -- classification ---------------------------------------------------------------------------


async def test_provider_error_classifies_real_client_exceptions(serve: Any) -> None:
    server = serve(
        [
            error(401),
            error(404, "no such model"),
            error(404, body="<html><body>Not Found</body></html>"),
            error(402, "Payment required"),
            error(429, "quota", code="insufficient_quota"),
            error(400, "too long", code="context_length_exceeded"),
            error(413, "Request entity too large"),
        ]
    )
    auth = provider_error(await raised(server))
    assert (auth.type, auth.retryable) == ("authentication_error", False)
    assert str(auth).startswith("The provider rejected the API key (HTTP 401): ")

    missing = provider_error(await raised(server, model="gpt-x"))
    assert (missing.type, missing.retryable) == ("invalid_options_error", False)
    assert "'gpt-x'" in str(missing) and "no such model" in str(missing)
    named = provider_error(await raised(server, model="gpt-x"), model="my-model")
    assert "'my-model'" in str(named) and "HTML page" in str(named)

    assert provider_error(await raised(server)).type == "insufficient_balance_error"
    quota = provider_error(await raised(server))
    assert (quota.type, quota.retryable) == ("insufficient_balance_error", False)
    too_long = provider_error(await raised(server))
    assert not too_long.retryable and "too long for the model" in str(too_long)
    too_big = provider_error(await raised(server))
    assert not too_big.retryable and "refused the request (HTTP 413)" in str(too_big)


async def test_timeouts_say_how_long_the_provider_was_silent(serve: Any) -> None:
    server = serve([text("late", delay=2.0), stall(2.0)])
    within = provider_error(await raised(server, timeout=0.25))
    assert within.retryable and "sent nothing for 0.25 seconds" in str(within)
    before = provider_error(await raised(server, timeout=openai.Timeout(5.0, read=0.25)))
    assert before.retryable and "sent nothing for 0.25 seconds" in str(before)


def test_a_connect_timeout_names_the_server() -> None:
    request = httpx.Request(
        "POST",
        "https://user:pw@llm.example.com:8443/v1/chat/completions",
        extensions={"timeout": {"connect": 10.0, "read": 120.0, "write": 30.0, "pool": 30.0}},
    )
    exc = httpx.ConnectTimeout("timed out", request=request)
    error_ = provider_error(exc)
    assert (error_.type, error_.retryable) == ("server_error", True)
    assert str(error_) == (
        "Could not connect to the provider at https://llm.example.com:8443 within 10 seconds: "
        "check base_url and the network."
    )


def test_provider_error_keeps_its_argument_and_redacts_it() -> None:
    original = ProviderError("boom sk-secret-123", "server_error", retryable=True)
    assert provider_error(original) is original
    redacted = provider_error(original, secrets=["sk-secret-123"])
    assert str(redacted) == "boom sk-…redacted"
    assert (redacted.type, redacted.retryable) == ("server_error", True)


def test_other_exceptions_stay_retryable_server_errors() -> None:
    for exc in (ConnectionResetError("reset"), httpx.ReadError("read failed"), TimeoutError()):
        error_ = provider_error(exc)
        assert (error_.type, error_.retryable) == ("server_error", True), exc


def test_redact_replaces_exact_secrets_only() -> None:
    text_ = "key sk-abc123 and key2 AbC-xyz-987, unused ollama"
    assert redact(text_, ["sk-abc123", "AbC-xyz-987"]) == (
        "key sk-…redacted and key2 …redacted, unused ollama"
    )
    # Placeholder keys of local servers and very short strings are not secrets.
    assert redact(text_, ["unused", "ollama", "key", "", "sk-1"]) == text_


def test_error_classes_have_a_type_and_retryable() -> None:
    assert (InternalError("bug").type, InternalError("bug").retryable) == (
        "internal_error",
        False,
    )
    assert (CallbackError("cb").type, CallbackError("cb").retryable) == ("callback_error", False)
    for cls in (CopilotError, InvalidOptionsError, RunInProgressError):
        assert cls("x").retryable is False
    assert issubclass(InternalError, CopilotError) and issubclass(CallbackError, CopilotError)
    bad = invalid_reply("delta.content is 42, not a string")
    assert (bad.type, bad.retryable) == ("server_error", False)
    assert "42" in str(bad)


# -- check_stream_response --------------------------------------------------------------------

BASE = "https://example.com/"


@pytest.mark.parametrize(
    "content_type", ["text/event-stream", "text/event-stream; charset=utf-8", None]
)
def test_an_event_stream_passes(content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    check_stream_response(httpx.Response(200, headers=headers), BASE)


@pytest.mark.parametrize(
    ("content_type", "words"),
    [
        ("text/html; charset=utf-8", "a web page"),
        ("application/json", "JSON"),
        ("text/plain", "'text/plain'"),
    ],
)
def test_anything_else_points_at_base_url(content_type: str, words: str) -> None:
    response = httpx.Response(200, headers={"content-type": content_type}, text="<html>")
    with pytest.raises(ProviderError) as caught:
        check_stream_response(response, BASE)
    assert (caught.value.type, caught.value.retryable) == ("invalid_options_error", False)
    assert words in str(caught.value)
    assert "base_url='https://example.com/'" in str(caught.value)


def test_error_statuses_are_left_to_the_client() -> None:
    response = httpx.Response(500, headers={"content-type": "text/html"})
    check_stream_response(response, BASE)


async def test_check_stream_response_on_real_responses(serve: Any) -> None:
    server = serve([page(), text("fine")])
    async with openai.AsyncOpenAI(
        base_url=server.base_url, api_key="sk-test", max_retries=0
    ) as client:
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        async with stream:
            with pytest.raises(ProviderError, match="not an OpenAI-compatible API"):
                check_stream_response(stream.response, server.base_url)
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        async with stream:
            check_stream_response(stream.response, server.base_url)
            assert [c.choices[0].delta.content async for c in stream if c.choices][1] == "fine"


# -- make_client ------------------------------------------------------------------------------


async def test_a_built_client_gets_the_stream_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client(None, "sk-abc", "http://localhost:11434/v1")
    assert client is not None
    assert client.timeout == DEFAULT_TIMEOUT
    assert isinstance(DEFAULT_TIMEOUT, openai.Timeout)
    assert DEFAULT_TIMEOUT.read is not None and 60 <= DEFAULT_TIMEOUT.read <= 120
    assert DEFAULT_TIMEOUT.connect == 10
    assert client.max_retries == DEFAULT_MAX_RETRIES == 1
    assert client.api_key == "sk-abc"
    await client.close()

    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:8000/v1")
    local = make_client(None, None, None)
    assert local is not None and local.api_key == "unused"
    assert str(local.base_url).startswith("http://localhost:8000/v1")
    assert local.timeout == DEFAULT_TIMEOUT
    await local.close()
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert make_client(None, None, None) is None


async def test_a_users_client_keeps_its_settings() -> None:
    mine = openai.AsyncOpenAI(api_key="sk-mine", timeout=5.0, max_retries=4)
    assert make_client(mine, "ignored", None) is mine
    assert mine.timeout == 5.0 and mine.max_retries == 4
    await mine.close()

    sync = openai.OpenAI(
        api_key="sk-sync",
        base_url="http://localhost:1234/v1",
        timeout=7.0,
        max_retries=3,
        default_headers={"x-team": "a"},
    )
    converted = make_client(sync, None, None)
    assert isinstance(converted, openai.AsyncOpenAI)
    assert (converted.timeout, converted.max_retries) == (7.0, 3)
    assert converted.api_key == "sk-sync"
    assert str(converted.base_url) == str(sync.base_url)
    assert converted.default_headers["x-team"] == "a"
    sync.close()
    await converted.close()


def test_is_offline_demo_recognises_demo_clients() -> None:
    demo = offline_demo_client([text("hi")])
    assert is_offline_demo(demo)
    assert not is_offline_demo(openai.AsyncOpenAI(api_key="sk-x"))


# -- the scripted server's misbehaviours ------------------------------------------------------


async def test_deltas_are_sent_verbatim(serve: Any) -> None:
    server = serve([deltas({"role": "assistant", "content": 42}, {"content": {"a": 1}})])
    async with openai.AsyncOpenAI(
        base_url=server.base_url, api_key="sk-test", max_retries=0
    ) as client:
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        chunks = [chunk async for chunk in stream]
    contents = [c.choices[0].delta.content for c in chunks if c.choices]
    assert contents == [42, {"a": 1}, None]
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_deltas_without_streaming_and_cut(serve: Any) -> None:
    server = serve([deltas({"content": "Hel"}, {"content": "lo"}), cut(deltas({"content": "par"}))])
    async with openai.AsyncOpenAI(
        base_url=server.base_url, api_key="sk-test", max_retries=0
    ) as client:
        completion = await client.chat.completions.create(model="m", messages=MESSAGES)
        assert completion.choices[0].message.content == "Hello"
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        seen: list[Any] = []
        with pytest.raises(openai.APIConnectionError):
            async for chunk in stream:
                seen.extend(c.delta.content for c in chunk.choices)
        assert seen == ["par"]


async def test_page_is_a_200_html_response(serve: Any) -> None:
    server = serve([page(), page("<h1>Gone</h1>", status=410)])
    async with openai.AsyncOpenAI(
        base_url=server.base_url, api_key="sk-test", max_retries=0
    ) as client:
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        assert stream.response.status_code == 200
        assert stream.response.headers["content-type"].startswith("text/html")
        assert [chunk async for chunk in stream] == []
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    assert caught.value.status_code == 410


async def test_error_with_a_custom_body(serve: Any) -> None:
    server = serve(
        [error(401, body={"detail": "Bad key sk-test"}), error(502, body="upstream down")]
    )
    first = await raised(server)
    assert isinstance(first, openai.AuthenticationError)
    assert first.body == {"detail": "Bad key sk-test"}
    redacted = str(provider_error(first, secrets=["sk-test"]))
    assert redacted == "The provider rejected the API key (HTTP 401): Bad key sk-…redacted"
    second = await raised(server)
    assert isinstance(second, openai.InternalServerError)
    assert second.response.headers["content-type"].startswith("text/plain")
    assert provider_error(second).retryable and "upstream down" in str(provider_error(second))
    with pytest.raises(TypeError):
        error(400, body={"not json": object()})


async def test_stall_delays_everything_then_answers_or_closes(serve: Any) -> None:
    server = serve([stall(0.3, "late"), stall(0.1)])
    async with openai.AsyncOpenAI(
        base_url=server.base_url, api_key="sk-test", max_retries=0
    ) as client:
        started = asyncio.get_running_loop().time()
        completion = await client.chat.completions.create(model="m", messages=MESSAGES)
        assert asyncio.get_running_loop().time() - started >= 0.3
        assert completion.choices[0].message.content == "late"
        with pytest.raises(openai.APIConnectionError):
            await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    with pytest.raises(ValueError):
        stall(-1)
