"""The options of `Copilot(...)`: typed for the type checker, checked again at run time."""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

import openai

from ._errors import InvalidOptionsError, quote
from ._store import POSTGRES_SCHEMES
from ._usage import check_prices

DEFAULT_MODEL = "gpt-5-mini"
#: The scope of threads when the copilot runs outside a notebook (a script, a console).
DEFAULT_APP_ID = "default"


class CopilotOptions(TypedDict, total=False):
    """Keyword options of `Copilot` (a typo such as `temprature=` is a type error)."""

    instructions: str
    client: openai.AsyncOpenAI | openai.OpenAI | None
    api_key: str | None
    base_url: str | None
    store: str | os.PathLike[str] | None
    app_id: str | None
    user_id: str | None
    company_id: str | None
    thread_id: str | None
    suggestions: Sequence[str]
    max_steps: int
    title: str
    actions: Mapping[str, Callable[..., Any]] | None
    approval_timeout: float | None
    action_buttons: bool
    button_follow_up: bool
    vision: bool
    height: str | int | None
    prices: Mapping[str, Mapping[str, float]] | None
    max_context_tokens: int | None
    trace_content: bool
    tracer_provider: Any


OPTIONS: tuple[str, ...] = ("model", *CopilotOptions.__annotations__)


@dataclasses.dataclass
class Options:
    """Checked options, with their defaults."""

    model: str
    instructions: str = ""
    client: openai.AsyncOpenAI | openai.OpenAI | None = None
    api_key: str | None = None
    base_url: str | None = None
    store: str | os.PathLike[str] | None = None
    app_id: str = DEFAULT_APP_ID
    user_id: str | None = None
    company_id: str | None = None
    thread_id: str | None = None
    suggestions: Sequence[str] = ()
    max_steps: int = 10
    title: str = "Copilot"
    actions: Mapping[str, Callable[..., Any]] | None = None
    approval_timeout: float | None = None
    action_buttons: bool = False
    button_follow_up: bool = False
    vision: bool = False
    height: str | int | None = None
    prices: Mapping[str, Mapping[str, float]] | None = None
    max_context_tokens: int | None = None
    trace_content: bool = False
    tracer_provider: Any = None


#: A CSS length the chat's height may take (a number alone means pixels).
_CSS_LENGTH = re.compile(r"(\d+(\.\d+)?|\.\d+)(px|em|rem|vh|svh|dvh|lvh|%|pt|cm|mm|in)")


def check_store(store: Any) -> None:
    """A SQLite path, ":memory:", a `postgresql://` URL (psycopg installed), or None."""
    if store is not None and not isinstance(store, str | os.PathLike):
        raise InvalidOptionsError(
            f"store must be a path, ':memory:' or a postgresql:// URL, got {store!r}."
        )
    if isinstance(store, str) and store.startswith(POSTGRES_SCHEMES):
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise InvalidOptionsError(
                'A PostgreSQL thread store needs psycopg 3: pip install "copilot-widget[postgres]"'
            ) from exc


def check_height(height: str | int | None) -> str:
    """The chat's height as CSS: a length, `"fill"` (the height of its container), or "" for
    the default."""
    if height is None:
        return ""
    if isinstance(height, int) and not isinstance(height, bool) and 120 <= height <= 10_000:
        return f"{height}px"
    if isinstance(height, str) and (height == "fill" or _CSS_LENGTH.fullmatch(height.strip())):
        return height.strip()
    raise InvalidOptionsError(
        f"height must be a CSS length such as 600 (pixels, at least 120), '600px', '70vh' or "
        f"'40rem', or 'fill' to take the height of its container; got {quote(height)}."
    )


def check_options(model: str | None, options: Mapping[str, Any]) -> Options:
    """Refuse unknown names (TypeError, listing the valid ones) and bad values
    (InvalidOptionsError, saying what is expected)."""
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise TypeError(
            f"Copilot() got unexpected keyword argument(s) {', '.join(sorted(unknown))}; "
            f"accepted: {', '.join(OPTIONS)}."
        )
    if model is None:
        model = os.environ.get("COPILOT_WIDGET_MODEL") or DEFAULT_MODEL
    options = dict(options)
    if options.get("app_id") is None:
        options["app_id"] = notebook_app_id()
    o = Options(model=model, **options)
    check_str("model", o.model, empty_ok=False)
    check_str("instructions", o.instructions)
    check_str("title", o.title)
    check_str("app_id", o.app_id, empty_ok=False)
    for name in ("api_key", "base_url", "thread_id", "user_id", "company_id"):
        if getattr(o, name) is not None:
            check_str(name, getattr(o, name), empty_ok=False)
    if isinstance(o.max_steps, bool) or not isinstance(o.max_steps, int) or o.max_steps < 1:
        raise InvalidOptionsError(f"max_steps must be a whole number >= 1, got {o.max_steps!r}.")
    if isinstance(o.suggestions, str) or not all(isinstance(s, str) for s in o.suggestions):
        raise InvalidOptionsError("suggestions must be a list of strings.")
    if o.client is not None and not isinstance(o.client, openai.AsyncOpenAI | openai.OpenAI):
        raise InvalidOptionsError(
            f"client must be an openai.AsyncOpenAI or openai.OpenAI instance, got {o.client!r}."
        )
    if o.client is not None and (o.api_key or o.base_url):
        raise InvalidOptionsError("Pass either client= or api_key=/base_url=, not both.")
    if o.actions is not None and not isinstance(o.actions, Mapping):
        raise InvalidOptionsError("actions must be a dict of name -> function.")
    timeout = o.approval_timeout
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise InvalidOptionsError(
            f"approval_timeout must be a positive number of seconds or None, got {timeout!r}."
        )
    check_store(o.store)
    for name in ("action_buttons", "button_follow_up", "vision", "trace_content"):
        if not isinstance(getattr(o, name), bool):
            raise InvalidOptionsError(f"{name} must be True or False, got {getattr(o, name)!r}.")
    check_height(o.height)
    check_prices(o.prices)
    provider = o.tracer_provider
    if provider is not None and not callable(getattr(provider, "get_tracer", None)):
        raise InvalidOptionsError(
            f"tracer_provider must be an OpenTelemetry TracerProvider, got {provider!r}."
        )
    limit = o.max_context_tokens
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int) or limit < 1000
    ):
        raise InvalidOptionsError(
            f"max_context_tokens must be a whole number of tokens >= 1000, or None for the "
            f"model's known window; got {limit!r}."
        )
    return o


def notebook_app_id() -> str:
    """The default scope of threads: the notebook the kernel runs for, so that each notebook
    has its own conversations (an explicit `app_id=` shares them between notebooks).

    Jupyter Server tells a kernel started for a document its path in `JPY_SESSION_NAME` (an
    absolute path when the server knows the file's name); VS Code puts it in the
    `__vsc_ipynb_file__` variable. A session that is not a file (a console) has no suffix:
    outside a notebook the scope is `DEFAULT_APP_ID`, shared as before."""
    session = os.environ.get("JPY_SESSION_NAME", "").strip()
    if session and os.path.splitext(session)[1]:
        return session
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    vscode = getattr(shell, "user_ns", {}).get("__vsc_ipynb_file__")
    if isinstance(vscode, str) and vscode.strip():
        return vscode.strip()
    return DEFAULT_APP_ID


def check_str(
    name: str, value: Any, *, empty_ok: bool = True, max_chars: int | None = None
) -> None:
    if not isinstance(value, str) or (not empty_ok and not value.strip()):
        kind = "a string" if empty_ok else "a non-empty string"
        raise InvalidOptionsError(f"{name} must be {kind}, got {quote(value)}.")
    if max_chars is not None and len(value) > max_chars:
        raise InvalidOptionsError(
            f"{name} is {len(value):,} characters long; at most {max_chars:,} are accepted."
        )
