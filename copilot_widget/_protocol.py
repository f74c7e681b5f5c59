"""The custom messages between the chat front end and the kernel.

`js/protocol.ts` declares the same kinds and fields; tests/test_protocol.py checks that the two
stay equal. The front end sends requests; the kernel answers every request that carries a
`request_id` exactly once with a `reply` (done, or refused with a reason), and streams the draft
with `draft` and `delta` messages.
"""

# No `from __future__ import annotations` here: TypedDict reads NotRequired from real annotations.

from typing import Any, Literal, cast, get_args, get_origin

from typing_extensions import NotRequired, TypedDict, get_type_hints

from ._errors import InvalidOptionsError, quote
from ._messages import Message

#: The longest request id accepted (a UUID has 36 characters).
MAX_REQUEST_ID = 100

# -- requests: front end -> kernel ---------------------------------------------------------
# `request_id` pairs a request with its reply. Front ends before the reply existed sent none:
# such a request is still run, but cannot be answered.


class ReadyRequest(TypedDict):
    """A view is shown: the kernel answers with a `draft` snapshot and marks the copilot ready."""

    kind: Literal["ready"]
    request_id: NotRequired[str]


class SendRequest(TypedDict):
    kind: Literal["send"]
    request_id: NotRequired[str]
    text: str


class CancelRequest(TypedDict):
    kind: Literal["cancel"]
    request_id: NotRequired[str]


class RetryRequest(TypedDict):
    kind: Literal["retry"]
    request_id: NotRequired[str]


class DismissErrorRequest(TypedDict):
    kind: Literal["dismiss_error"]
    request_id: NotRequired[str]


class ApproveRequest(TypedDict):
    """Run a tool call waiting for approval; `arguments`: the user's edits (absent: unchanged)."""

    kind: Literal["approve"]
    request_id: NotRequired[str]
    tool_call_id: str
    arguments: NotRequired[dict[str, Any]]


class RejectRequest(TypedDict):
    """Decline a tool call waiting for approval; `reason` is told to the model."""

    kind: Literal["reject"]
    request_id: NotRequired[str]
    tool_call_id: str
    reason: NotRequired[str]


class UndoRequest(TypedDict):
    kind: Literal["undo"]
    request_id: NotRequired[str]


class RedoRequest(TypedDict):
    kind: Literal["redo"]
    request_id: NotRequired[str]


class ClickButtonRequest(TypedDict):
    """The user clicked an action button of a finished message."""

    kind: Literal["click_button"]
    request_id: NotRequired[str]
    message_id: str
    button_id: str


class RegenerateRequest(TypedDict):
    """A new answer to the last question; it replaces the last answer."""

    kind: Literal["regenerate"]
    request_id: NotRequired[str]


class EditMessageRequest(TypedDict):
    """Replace a user message with `text` and answer it again; later messages are dropped."""

    kind: Literal["edit_message"]
    request_id: NotRequired[str]
    message_id: str
    text: str


class FeedbackRequest(TypedDict):
    """Thumbs up (`rating` "up") or down ("down") on a message, or none (""), with a comment."""

    kind: Literal["feedback"]
    request_id: NotRequired[str]
    message_id: str
    rating: str
    comment: NotRequired[str]


class LoadMessagesRequest(TypedDict):
    """The messages of the selected thread just before `before` (at most RECENT of them); the
    reply's `result` is `{"messages": [...]}`, oldest first (empty: none before)."""

    kind: Literal["load_messages"]
    request_id: NotRequired[str]
    before: str


class GetMessageRequest(TypedDict):
    """One message of the selected thread; the reply's `result` is `{"message": ...}`. (A chat
    that missed the draft of a streamed answer asks for its text.)"""

    kind: Literal["get_message"]
    request_id: NotRequired[str]
    message_id: str


class GetContextRequest(TypedDict):
    """What the model is given before the next step (the system prompt); the reply's `result`
    is `{"context": ...}`."""

    kind: Literal["get_context"]
    request_id: NotRequired[str]


class NewThreadRequest(TypedDict):
    kind: Literal["new_thread"]
    request_id: NotRequired[str]


class SelectThreadRequest(TypedDict):
    kind: Literal["select_thread"]
    request_id: NotRequired[str]
    thread_id: str


class RenameThreadRequest(TypedDict):
    kind: Literal["rename_thread"]
    request_id: NotRequired[str]
    thread_id: str
    title: str


class DeleteThreadRequest(TypedDict):
    kind: Literal["delete_thread"]
    request_id: NotRequired[str]
    thread_id: str


class ExportThreadRequest(TypedDict):
    """A thread as a file: `format` "markdown" or "json". The reply's `result` holds
    `filename`, `mime` and `text`."""

    kind: Literal["export_thread"]
    request_id: NotRequired[str]
    thread_id: str
    format: str


class SearchThreadsRequest(TypedDict):
    """The scope's threads whose title or text contains `query`; the reply's `result` is the
    list of matching threads, each with a `snippet` around the first match."""

    kind: Literal["search_threads"]
    request_id: NotRequired[str]
    query: str


Request = (
    ReadyRequest
    | SendRequest
    | CancelRequest
    | RetryRequest
    | DismissErrorRequest
    | ApproveRequest
    | RejectRequest
    | UndoRequest
    | RedoRequest
    | ClickButtonRequest
    | RegenerateRequest
    | EditMessageRequest
    | FeedbackRequest
    | LoadMessagesRequest
    | GetMessageRequest
    | GetContextRequest
    | NewThreadRequest
    | SelectThreadRequest
    | RenameThreadRequest
    | DeleteThreadRequest
    | ExportThreadRequest
    | SearchThreadsRequest
)


def _kind_of(cls: type) -> str:
    (kind,) = get_args(get_type_hints(cls)["kind"])
    return cast(str, kind)


#: The TypedDict of each request kind.
REQUEST_TYPES: dict[str, type] = {_kind_of(cls): cls for cls in get_args(Request)}
REQUEST_KINDS: tuple[str, ...] = tuple(REQUEST_TYPES)

# -- kernel -> front end -------------------------------------------------------------------


class ReplyError(TypedDict):
    type: str
    """An error type: `invalid_options_error`, `internal_error`..."""
    message: str
    """A sentence for the user: why the request was refused."""


class Reply(TypedDict):
    """The answer to one request: `ok`, or refused with `error`. Requests that ask for data
    (`ANSWERED`) get it in `result`."""

    kind: Literal["reply"]
    request_id: str
    ok: bool
    error: ReplyError | None
    result: NotRequired[Any]


#: The request kinds whose reply carries the handler's return value as `result`.
ANSWERED = frozenset(
    {"export_thread", "search_threads", "load_messages", "get_message", "get_context"}
)

#: The latest messages of a thread that a view gets at once; earlier ones on request.
RECENT = 300


class DraftMessage(TypedDict):
    """Full snapshot of the in-progress assistant message; None: no draft any more."""

    kind: Literal["draft"]
    message: Message | None


class ToolCallDelta(TypedDict):
    index: int
    id: NotRequired[str]
    name: NotRequired[str]
    arguments: str


class DeltaMessage(TypedDict):
    """Tokens to append to the draft (batched, so one delta may hold many tokens)."""

    kind: Literal["delta"]
    message_id: str
    text: NotRequired[str]
    tool_calls: NotRequired[list[ToolCallDelta]]


class MessagesUpdate(TypedDict):
    """A change of the thread's messages: applied in this order, `reset` (the whole list: another
    thread), `remove` (ids), `replace` (messages, by id), `append`. A view gets the whole list
    with the widget's state; after that only these."""

    kind: Literal["messages"]
    reset: NotRequired[list[Message]]
    remove: NotRequired[list[str]]
    replace: NotRequired[list[Message]]
    append: NotRequired[list[Message]]
    #: Appended answers whose text the chat already has: it streamed in as the draft's deltas,
    #: so it is not sent again (the text sent is empty; the chat takes the draft's).
    streamed: NotRequired[list[str]]


class ThreadsUpdate(TypedDict):
    """A change of the thread list (`threads`), like MessagesUpdate: a message changes the
    current thread's date and preview, not the whole list."""

    kind: Literal["threads"]
    reset: NotRequired[list[dict[str, Any]]]
    remove: NotRequired[list[str]]
    replace: NotRequired[list[dict[str, Any]]]
    append: NotRequired[list[dict[str, Any]]]


ListUpdate = MessagesUpdate | ThreadsUpdate

KernelMessage = Reply | DraftMessage | DeltaMessage | MessagesUpdate | ThreadsUpdate

# -- reading requests, writing replies -----------------------------------------------------


def _describe(annotation: Any) -> str:
    if annotation is str:
        return "a string"
    if get_origin(annotation) is dict:
        return "an object"
    raise TypeError(f"no description for {annotation!r}")  # a field type added without one


def _matches(value: object, annotation: Any) -> bool:
    if annotation is str:
        return isinstance(value, str)
    return isinstance(value, dict) and all(isinstance(key, str) for key in value)


def _valid_request_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_REQUEST_ID


def request_id_of(content: object) -> str | None:
    """The valid `request_id` of a raw message, if it has one (even when the rest is invalid),
    so that a refused request can still be answered."""
    if isinstance(content, dict):
        request_id = content.get("request_id")
        if _valid_request_id(request_id):
            return cast(str, request_id)
    return None


def parse_request(content: object) -> Request:
    """Checks a raw message from the front end and returns it as a typed request.

    Raises `InvalidOptionsError`, with a reason a user can read, for anything else than a dict
    with a known `kind`, the fields of that kind with the right types, and nothing more.
    """
    if not isinstance(content, dict):
        raise InvalidOptionsError(f"A request must be an object with a kind, got {quote(content)}.")
    kind = content.get("kind")
    if not isinstance(kind, str) or kind not in REQUEST_TYPES:
        kinds = ", ".join(REQUEST_KINDS)
        if "kind" not in content:
            raise InvalidOptionsError(f"A request needs a kind, one of {kinds}.")
        got = quote(kind)
        raise InvalidOptionsError(f"Unknown request kind {got}; the kinds are {kinds}.")
    cls = REQUEST_TYPES[kind]
    fields = get_type_hints(cls)
    if "request_id" in content and not _valid_request_id(content["request_id"]):
        raise InvalidOptionsError(
            f"{kind} needs request_id as a non-empty string of at most {MAX_REQUEST_ID} "
            f"characters, got {quote(content['request_id'])}."
        )
    extra = sorted(str(name) for name in content if name not in fields)
    if extra:
        takes = [name for name in fields if name not in ("kind", "request_id")]
        accepted = f"it takes {', '.join(takes)}" if takes else "it takes no fields"
        raise InvalidOptionsError(f"{kind} does not take {', '.join(extra)} ({accepted}).")
    required: frozenset[str] = cls.__required_keys__  # type: ignore[attr-defined]
    for name, annotation in fields.items():
        if name in ("kind", "request_id"):
            continue
        if name not in content:
            if name in required:
                raise InvalidOptionsError(f"{kind} needs {name} as {_describe(annotation)}.")
            continue
        value = content[name]
        if not _matches(value, annotation):
            raise InvalidOptionsError(
                f"{kind} needs {name} as {_describe(annotation)}, got {quote(value)}."
            )
    return cast(Request, dict(content))


def reply(request_id: str, error: Exception | None, result: Any = None) -> Reply:
    """The reply to request `request_id`: done (`error` None, with `result` when not None), or
    refused because of `error` (its `type` attribute, else `internal_error`, and its message)."""
    if error is None:
        done: Reply = {"kind": "reply", "request_id": request_id, "ok": True, "error": None}
        if result is not None:
            done["result"] = result
        return done
    message = str(error) or type(error).__name__
    error_type = str(getattr(error, "type", "internal_error"))
    return {
        "kind": "reply",
        "request_id": request_id,
        "ok": False,
        "error": {"type": error_type, "message": message},
    }
