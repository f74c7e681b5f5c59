"""Exceptions raised by the public API, and how provider failures map to error events."""

from __future__ import annotations

from typing import Literal

import httpx
import openai

ErrorType = Literal[
    "invalid_options_error",
    "authentication_error",
    "insufficient_balance_error",
    "rate_limit_error",
    "server_error",
    "action_error",
]


class CopilotError(Exception):
    """Base class of the errors this package raises. `type` is the error event's `data.type`."""

    type: ErrorType = "server_error"


class InvalidOptionsError(CopilotError, ValueError):
    """Bad arguments to `Copilot` or to an action (an unknown keyword is a `TypeError`)."""

    type: ErrorType = "invalid_options_error"


class RunInProgressError(CopilotError, RuntimeError):
    """A second run was started while one is in progress."""

    type: ErrorType = "invalid_options_error"


class ProviderError(CopilotError):
    """The LLM provider refused or failed a request; `type` says how."""

    def __init__(self, message: str, type: ErrorType, *, retryable: bool) -> None:
        super().__init__(message)
        self.type = type
        self.retryable = retryable


def provider_error(exc: BaseException) -> ProviderError:
    """Classify an exception from the openai client (or the connection under it)."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return ProviderError(
            f"The provider refused the credentials: {_message(exc)}",
            "authentication_error",
            retryable=False,
        )
    if isinstance(exc, openai.RateLimitError):
        if exc.code == "insufficient_quota":
            return ProviderError(
                f"The provider account has no quota left: {_message(exc)}",
                "insufficient_balance_error",
                retryable=False,
            )
        return ProviderError(
            f"The provider is rate limiting requests: {_message(exc)}",
            "rate_limit_error",
            retryable=True,
        )
    if isinstance(exc, openai.APIStatusError):
        return ProviderError(
            f"The provider failed the request (HTTP {exc.status_code}): {_message(exc)}",
            "server_error",
            retryable=True,
        )
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError | ConnectionError):
        return ProviderError(
            f"The connection to the provider broke: {exc}", "server_error", retryable=True
        )
    return ProviderError(
        f"The provider request failed: {type(exc).__name__}: {exc}", "server_error", retryable=True
    )


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, str):
            return message
    return str(exc.message)
