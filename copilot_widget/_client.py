"""The openai client a copilot talks through, and a check of what the provider streams."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol

import openai

from ._errors import ProviderError

# The openai defaults (600 s without a byte, then two retries) can leave the chat "working"
# for half an hour when a provider stalls. The read timeout is the longest silence between
# two bytes, not a limit on the whole answer, so long answers are unaffected: 120 s still
# covers a local server loading a model or a reasoning model thinking before its first
# token. Connecting takes well under a second when the server is up; 10 s tolerates a slow
# network without hiding a wrong host. One retry absorbs a transient 429, 5xx or dropped
# connection before the stream starts; after that the chat shows the error (with Retry), so
# a stalled provider is reported within about four minutes, and Stop works at any time.
DEFAULT_TIMEOUT = openai.Timeout(connect=10.0, read=120.0, write=30.0, pool=30.0)
DEFAULT_MAX_RETRIES = 1


def make_client(
    client: openai.AsyncOpenAI | openai.OpenAI | None, api_key: str | None, base_url: str | None
) -> openai.AsyncOpenAI | None:
    """The async client a copilot uses; None when no provider is configured.

    A user's `AsyncOpenAI` is used as it is, with its own timeout and retries. A user's
    synchronous `OpenAI` is re-created as an async one with the same settings (runs stream on
    the event loop). Otherwise a client is built from `api_key` / `base_url` or the
    `OPENAI_API_KEY` / `OPENAI_BASE_URL` environment variables, with `DEFAULT_TIMEOUT` and
    `DEFAULT_MAX_RETRIES`.
    """
    if isinstance(client, openai.AsyncOpenAI):
        return client
    if isinstance(client, openai.OpenAI):
        return openai.AsyncOpenAI(
            api_key=client.api_key,
            organization=client.organization,
            project=client.project,
            base_url=client.base_url,
            timeout=client.timeout,
            max_retries=client.max_retries,
            default_headers=client._custom_headers,
            default_query=client._custom_query,
        )
    api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
    if api_key is None and base_url is None:
        return None
    # Local servers (Ollama, vLLM, llama.cpp) take any key.
    return openai.AsyncOpenAI(
        api_key=api_key or "unused",
        base_url=base_url,
        timeout=DEFAULT_TIMEOUT,
        max_retries=DEFAULT_MAX_RETRIES,
    )


def is_offline_demo(client: object) -> bool:
    """Whether `client` talks to an offline demo server (`testing.offline_demo_client`)."""
    from . import testing

    return testing.is_offline_demo(client)


class StreamResponse(Protocol):
    """What `check_stream_response` reads of an HTTP response (httpx's, whichever version)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


def check_stream_response(response: StreamResponse, base_url: str) -> None:
    """Raise a non-retryable `ProviderError` unless a streaming request got an event stream.

    The openai client accepts any successful response to `create(..., stream=True)`: a web
    page (a wrong `base_url` pointing at a web site or a dashboard) then streams nothing, and
    the failure would look like a broken connection. Call this on the HTTP response right
    after the request; the caller still closes it. A response without a content type
    is given the benefit of the doubt.
    """
    if not 200 <= response.status_code < 300:
        return  # the client raises its own error for those
    content_type = response.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not media_type or media_type == "text/event-stream":
        return
    if media_type in ("text/html", "application/xhtml+xml"):
        what = "a web page"
    elif media_type == "application/json" or media_type.endswith("+json"):
        what = "a JSON document (a server that does not stream?)"
    else:
        what = f"content of type {media_type!r}"
    raise ProviderError(
        f"The server at {base_url} answered with {what} instead of an event stream, so it "
        f"is not an OpenAI-compatible API: check base_url={base_url!r} (it usually ends in "
        "/v1).",
        "invalid_options_error",
        retryable=False,
    )
