"""Exceptions raised by the public API, and how provider failures map to error events.

Every error has a `type` (the error event's `data.type`) and `retryable` (whether sending the
same request again may succeed: the chat offers Retry only then).
"""

from __future__ import annotations

import json
import re
import reprlib
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import urlsplit

import openai

ErrorType = Literal[
    "invalid_options_error",
    "authentication_error",
    "insufficient_balance_error",
    "rate_limit_error",
    "server_error",
    "action_error",
    "internal_error",
    "callback_error",
]


class CopilotError(Exception):
    """Base class of the errors this package raises. `type` is the error event's `data.type`."""

    type: ErrorType = "server_error"
    retryable: bool = False
    """Whether the same request may succeed if sent again (the chat then offers Retry)."""


class InvalidOptionsError(CopilotError, ValueError):
    """Bad arguments to `Copilot` or to an action (an unknown keyword is a `TypeError`)."""

    type: ErrorType = "invalid_options_error"


class RunInProgressError(CopilotError, RuntimeError):
    """A second run was started while one is in progress."""

    type: ErrorType = "invalid_options_error"


class InternalError(CopilotError):
    """A bug inside copilot-widget itself (neither the provider's nor the user's code)."""

    type: ErrorType = "internal_error"


class CallbackError(CopilotError):
    """The user's own code failed: an event callback, a readable, or a `track_state` getter
    or setter."""

    type: ErrorType = "callback_error"


class ProviderError(CopilotError):
    """The LLM provider refused or failed a request; `type` says how."""

    def __init__(self, message: str, type: ErrorType, *, retryable: bool) -> None:
        super().__init__(message)
        self.type = type
        self.retryable = retryable


def provider_error(
    exc: BaseException, *, secrets: Iterable[str] = (), model: str | None = None
) -> ProviderError:
    """Classify an exception from the openai client (or the connection under it).

    Args:
        exc: What the client raised.
        secrets: Strings that must never be shown (the API key): removed from the message,
            since some proxies echo the key in their 401 answer.
        model: The model asked for, named in a 404's message; read from the failed request
            when not given.
    """
    secrets = tuple(secrets)
    error = _classify(exc, model, secrets)
    message = redact(str(error), secrets)
    if message == str(error):
        return error
    return ProviderError(message, error.type, retryable=error.retryable)


def invalid_reply(detail: str) -> ProviderError:
    """The provider answered something the copilot cannot read, e.g. a stream chunk whose
    `delta.content` is not a string. Not retryable: the same provider answers the same way."""
    return ProviderError(
        f"The provider sent a reply the copilot cannot read ({detail}): it may not be fully "
        "OpenAI-compatible.",
        "server_error",
        retryable=False,
    )


# -- redaction ---------------------------------------------------------------------------------

_MIN_SECRET_LENGTH = 6


# Tokens shaped like the API keys of common providers (OpenAI and compatible "sk-...", Groq,
# xAI, Hugging Face, Google) and bearer credentials: redacted even when they are not the key
# this copilot was given (a proxy may echo the key it holds upstream).
_KEY_SHAPED = re.compile(
    r"\b(?:sk-[A-Za-z0-9_\-]{16,}|gsk_[A-Za-z0-9]{20,}|xai-[A-Za-z0-9]{20,}|hf_[A-Za-z0-9]{20,}"
    r"|AIza[0-9A-Za-z_\-]{30,})|(?<=Bearer )[A-Za-z0-9._~+/\-]{16,}=*"
)


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every exact occurrence of a secret, and every key-shaped token, replaced by
    a placeholder.

    Secrets shorter than 6 characters or made of letters only ("unused", "ollama": the
    placeholder keys of local servers) are left alone: replacing them would garble ordinary
    words without protecting anything.
    """
    candidates = {
        secret
        for secret in secrets
        if isinstance(secret, str) and len(secret) >= _MIN_SECRET_LENGTH and not secret.isalpha()
    }
    for secret in sorted(candidates, key=len, reverse=True):
        text = text.replace(secret, "sk-…redacted" if secret.startswith("sk-") else "…redacted")
    return _KEY_SHAPED.sub(
        lambda m: "sk-…redacted" if m[0].startswith("sk-") else "…redacted", text
    )


_quoting = reprlib.Repr()
_quoting.maxstring = _quoting.maxother = 60


def quote(value: object) -> str:
    """`repr(value)` cut to a short prefix: a refusal names what it refuses without echoing
    megabytes of it into the synced error, the banner and the saved notebook."""
    return _quoting.repr(value)


# -- classification ----------------------------------------------------------------------------


def _classify(exc: BaseException, model: str | None, secrets: tuple[str, ...]) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc, model, secrets)
    timeout = _http_error(exc, "TimeoutException")
    if isinstance(exc, openai.APITimeoutError | TimeoutError) or timeout is not None:
        return _timeout_error(exc, timeout)
    transport = _http_error(exc, "TransportError")
    if isinstance(exc, openai.APIConnectionError | ConnectionError) or transport is not None:
        return _connection_error(exc, transport)
    return ProviderError(
        f"The provider request failed: {type(exc).__name__}: {exc}", "server_error", retryable=True
    )


def _status_error(
    exc: openai.APIStatusError, model: str | None, secrets: tuple[str, ...]
) -> ProviderError:
    status = exc.status_code
    detail = _message(exc, secrets)
    if status == 401:
        return ProviderError(
            f"The provider rejected the API key (HTTP 401): {detail}",
            "authentication_error",
            retryable=False,
        )
    if status == 403:
        return ProviderError(
            f"The provider refused access (HTTP 403): {detail}",
            "authentication_error",
            retryable=False,
        )
    if status == 402:
        return ProviderError(
            f"The provider account has no credit left (HTTP 402): {detail}",
            "insufficient_balance_error",
            retryable=False,
        )
    if status == 404:
        model = model or _requested_model(exc)
        name = f"the model name {model!r}" if model else "the model name"
        return ProviderError(
            f"The provider answered HTTP 404 (not found): {name} or the base_url is probably "
            f"wrong ({detail})",
            "invalid_options_error",
            retryable=False,
        )
    if status == 429:
        if "insufficient_quota" in (exc.code, exc.type):
            return ProviderError(
                f"The provider account has no quota left: {detail}",
                "insufficient_balance_error",
                retryable=False,
            )
        return ProviderError(
            f"The provider is rate limiting requests: {detail}",
            "rate_limit_error",
            retryable=True,
        )
    if status == 408:
        return ProviderError(
            f"The provider timed out the request (HTTP 408): {detail}",
            "server_error",
            retryable=True,
        )
    if status == 409 or status >= 500:
        return ProviderError(
            f"The provider failed the request (HTTP {status}): {detail}",
            "server_error",
            retryable=True,
        )
    if exc.code == "context_length_exceeded":
        return ProviderError(
            f"The conversation is too long for the model (HTTP {status}): {detail}. Start a "
            "new chat, or use a model with a longer context.",
            "server_error",
            retryable=False,
        )
    # 400, 422 and the other client errors: sending the same request again cannot help.
    return ProviderError(
        f"The provider refused the request (HTTP {status}): {detail}",
        "server_error",
        retryable=False,
    )


def _timeout_error(exc: BaseException, cause: BaseException | None) -> ProviderError:
    cause = cause or _http_error(exc.__cause__, "TimeoutException")
    kind = type(cause).__name__ if cause is not None else ""
    phase = {
        "ConnectTimeout": "connect",
        "ReadTimeout": "read",
        "WriteTimeout": "write",
        "PoolTimeout": "pool",
    }.get(kind, "read" if cause is None else "")
    seconds = _timeout_seconds(exc, cause, phase)
    if phase == "connect":
        within = f" within {seconds} seconds" if seconds else ""
        return ProviderError(
            f"Could not connect to the provider{_origin(exc, cause)}{within}: check base_url "
            "and the network.",
            "server_error",
            retryable=True,
        )
    if phase == "read":
        silence = f"for {seconds} seconds" if seconds else "for too long"
        return ProviderError(
            f"The provider sent nothing {silence}, so the request was abandoned (read "
            "timeout). It may be overloaded: retry, or give the client a longer timeout.",
            "server_error",
            retryable=True,
        )
    after = f" after {seconds} seconds" if seconds else ""
    return ProviderError(
        f"The request to the provider timed out{after}.", "server_error", retryable=True
    )


def _connection_error(exc: BaseException, cause: BaseException | None) -> ProviderError:
    cause = cause or _http_error(exc.__cause__, "TransportError")
    if cause is not None and type(cause).__name__ == "ConnectError":
        return ProviderError(
            f"Could not connect to the provider{_origin(exc, cause)}: {cause}. Check base_url "
            "and that the server is running.",
            "server_error",
            retryable=True,
        )
    reason = cause if cause is not None and str(cause) else exc
    return ProviderError(
        f"The connection to the provider broke: {reason}", "server_error", retryable=True
    )


# -- helpers -----------------------------------------------------------------------------------

_HTTP_LIBRARIES = ("httpx", "httpx2")  # what the openai client runs on, depending on its version
_MAX_DETAIL = 500


def _http_error(exc: BaseException | None, name: str) -> BaseException | None:
    """`exc` if it is an instance of the HTTP library's exception class `name`."""
    if exc is None:
        return None
    for cls in type(exc).__mro__:
        if cls.__name__ == name and cls.__module__.split(".")[0] in _HTTP_LIBRARIES:
            return exc
    return None


def _request(*candidates: BaseException | None) -> Any:
    for candidate in candidates:
        try:
            request = getattr(candidate, "request", None)
        except RuntimeError:  # an HTTP library error raised without its request
            request = None
        if request is not None:
            return request
    return None


def _timeout_seconds(exc: BaseException, cause: BaseException | None, phase: str) -> str:
    request = _request(exc, cause)
    extensions = getattr(request, "extensions", None)
    timeouts = extensions.get("timeout") if isinstance(extensions, dict) else None
    value = timeouts.get(phase or "read") if isinstance(timeouts, dict) else None
    return f"{value:g}" if isinstance(value, int | float) else ""


def _origin(exc: BaseException, cause: BaseException | None) -> str:
    """` at scheme://host:port` of the failed request, without any credentials."""
    request = _request(exc, cause)
    if request is None:
        return ""
    try:
        parts = urlsplit(str(request.url))
    except (AttributeError, ValueError):
        return ""
    if not parts.scheme or not parts.netloc:
        return ""
    return f" at {parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _requested_model(exc: openai.APIStatusError) -> str | None:
    try:
        body = json.loads(exc.request.content)
    except Exception:  # a request without a readable JSON body
        return None
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) and model else None


def _message(exc: openai.APIStatusError, secrets: tuple[str, ...]) -> str:
    """The provider's own words: OpenAI's `error.message`, or what another server sent."""
    body = exc.body
    text: str | None = None
    if isinstance(body, dict):
        for key in ("message", "detail", "error", "msg"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and value.strip():
                text = value
                break
    elif isinstance(body, str) and body.strip():
        text = body
    if text is None:
        text = str(exc.message)
        prefix = f"Error code: {exc.status_code} - "
        if text.startswith(prefix):
            text = text[len(prefix) :]
    text = redact(text.strip(), secrets)  # before truncating, which could cut a secret
    if text.startswith("<"):
        return "it answered with an HTML page, not an API response"
    if not text:
        try:
            return HTTPStatus(exc.status_code).phrase
        except ValueError:
            return "no details"
    if len(text) > _MAX_DETAIL:
        text = text[: _MAX_DETAIL - 1] + "…"
    return text
