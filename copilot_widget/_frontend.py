"""The chat's requests: each is checked, carried out on the engine's loop, and answered once
(done, or refused with a reason the chat shows). The page is a view; the kernel decides."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import ipywidgets

from ._errors import CopilotError, InternalError, InvalidOptionsError, quote
from ._protocol import (
    ANSWERED,
    RECENT,
    REQUEST_KINDS,
    ListUpdate,
    parse_request,
    reply,
    request_id_of,
)

if TYPE_CHECKING:
    from ._events import Events
    from ._loop import Home
    from ._run import Run

logger = logging.getLogger("copilot_widget")

Handler = Callable[[Any, Any], object]  # (the copilot, the checked request)

HANDLERS: dict[str, Handler] = {
    "ready": lambda c, r: c._view_ready(),
    "send": lambda c, r: c.send(r["text"]),
    "cancel": lambda c, r: c.cancel(),
    "retry": lambda c, r: c.retry(),
    "dismiss_error": lambda c, r: setattr(c, "error", None),
    "approve": lambda c, r: c.approve(r["tool_call_id"], r.get("arguments")),
    "reject": lambda c, r: c.reject(r["tool_call_id"], r.get("reason", "")),
    "undo": lambda c, r: c.undo(),
    "redo": lambda c, r: c.redo(),
    "click_button": lambda c, r: c.click_button(r["message_id"], r["button_id"]),
    "regenerate": lambda c, r: c.regenerate(),
    "edit_message": lambda c, r: c.edit_message(r["message_id"], r["text"]),
    "feedback": lambda c, r: c.feedback(r["message_id"], r["rating"] or None, r.get("comment")),
    "load_messages": lambda c, r: c._load_messages(r["before"]),
    "get_context": lambda c, r: {"context": c.context()},
    "get_message": lambda c, r: {"message": c.messages[c._index_of(r["message_id"])]},
    "new_thread": lambda c, r: c.new_thread(),
    "select_thread": lambda c, r: c.select_thread(r["thread_id"]),
    "rename_thread": lambda c, r: c.rename_thread(r["thread_id"], r["title"]),
    "delete_thread": lambda c, r: c.delete_thread(r["thread_id"]),
    "export_thread": lambda c, r: c._export_for_download(r["thread_id"], r["format"]),
    "search_threads": lambda c, r: c.search_threads(r["query"]),
}


def handle_request(copilot: Any, content: Any) -> None:
    """Carry out one request from the chat (on the engine's loop) and reply to it."""
    request_id = request_id_of(content)
    error: CopilotError | None = None
    result: Any = None
    try:
        request: Any = parse_request(content)
        answer = HANDLERS[request["kind"]](copilot, request)
        if request["kind"] in ANSWERED:
            result = answer
    except CopilotError as exc:
        logger.info("Refused a request from the chat: %s", exc)
        error = exc
    except Exception as exc:
        logger.exception("A request from the chat failed")
        error = InternalError(f"copilot-widget failed: {type(exc).__name__}: {exc}")
    if request_id is not None:
        copilot._to_front_end(dict(reply(request_id, error, result)))
    elif error is not None and error.type != "authentication_error" and known(content):
        copilot._report_error(error)  # no request id to answer: say it in the banner


#: Synced lists sent as what changed, by the kind of their update.
SENT_AS_CHANGES = ("messages", "threads")


def recent_messages(messages: Any, _widget: Any = None) -> list[Any]:
    """What a view gets of the thread with the widget's state: its latest messages."""
    return list(messages[-RECENT:])


def list_update(kind: str, old: Any, new: Any) -> ListUpdate | None:
    """What the chat needs to turn the list `old` (of messages, or threads) into `new`: the items
    removed, replaced and appended (O(1) for a message that completes or changes), or the whole
    list when it is another one. An unchanged item is the same object (or an equal one)."""
    old, new = list(old or []), list(new or [])
    update = cast(ListUpdate, {"kind": kind})
    before = {m["id"]: m for m in old}
    kept = [m for m in new if m["id"] in before]
    # The kept messages come first, in their old order; the rest is appended. Anything else
    # (another thread, a reordering) is sent whole.
    ids = [m["id"] for m in kept]
    still = set(ids)
    in_order = ids == [m["id"] for m in old if m["id"] in still]
    if not in_order or [m["id"] for m in new[: len(kept)]] != ids or (old and new and not kept):
        update["reset"] = new
        return update
    removed = [m["id"] for m in old if m["id"] not in still]
    replaced = [m for m in kept if m is not before[m["id"]] and m != before[m["id"]]]
    appended = new[len(kept) :]
    if removed:
        update["remove"] = removed
    if replaced:
        update["replace"] = replaced
    if appended:
        update["append"] = appended
    return update if len(update) > 1 else None


def known(content: Any) -> bool:
    return isinstance(content, dict) and content.get("kind") in REQUEST_KINDS


class FrontEndAPI:
    """The chat's side of `Copilot`: requests in, replies, drafts and deltas out."""

    #: The draft whose whole text the chat has (its snapshot, then every delta).
    _streamed: str | None = None

    if TYPE_CHECKING:  # provided by Copilot
        _home: Home
        _run: Run | None
        _events: Events
        is_ready: bool
        comm: Any
        keys: list[str]

        def send_state(self, key: list[str]) -> None: ...

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """The page is a view: it asks with requests and never writes the synced state (the
        thread, its messages and their buttons, the status...). A write, from a stale or a
        hostile page, is refused, and the page gets the kernel's values back."""
        names = [name for name in sync_data if name in self.keys]
        logger.warning("Refused a write to %s from the page", ", ".join(map(repr, sync_data)))
        if names:
            self.send_state(names)

    # -- messages: the whole thread once, then only what changed ---------------------------
    def _should_send_property(self, key: str, value: Any) -> bool:
        # A view gets the whole thread and thread list with the widget's state (when it opens,
        # or reloads); after that a change goes out as the difference (see notify_change).
        if key in SENT_AS_CHANGES:
            return False
        return cast(bool, super()._should_send_property(key, value))  # type: ignore[misc]

    def notify_change(self, change: Any) -> None:
        name = change["name"]
        if name in SENT_AS_CHANGES and self.comm is not None:
            update = list_update(name, change["old"], change["new"])
            if update is not None and name == "messages":
                if "reset" in update:  # another thread: its latest
                    cast(Any, update)["reset"] = recent_messages(update["reset"])
                self._leave_out_streamed_text(cast(Any, update))
            if update is not None:
                self._to_front_end(dict(update))
        super().notify_change(change)  # type: ignore[misc]

    def _leave_out_streamed_text(self, update: dict[str, Any]) -> None:
        """The answer that just finished reached the chat as the draft's deltas: its text is not
        sent a second time (for a long answer, it would double the traffic)."""
        streamed, self._streamed = self._streamed, None
        appended = update.get("append", [])
        for index, message in enumerate(appended):
            if message["id"] != streamed or len(message["content"]) != 1:
                continue
            (part,) = message["content"]
            appended[index] = {
                **message,
                "content": [{**part, "text": {**part["text"], "value": ""}}],
            }
            update["streamed"] = [streamed]

    def _load_messages(self, before: str) -> dict[str, Any]:
        """Earlier messages of the selected thread, for a chat scrolled to its first ones."""
        messages: list[Any] = cast(Any, self).messages
        index = next((i for i, m in enumerate(messages) if m["id"] == before), None)
        if index is None:
            raise InvalidOptionsError(f"No message {quote(before)} in this thread.")
        return {"messages": messages[max(0, index - RECENT) : index]}

    def _on_front_end_message(self, _: Any, content: Any, buffers: Any) -> None:
        # Comm messages may arrive on any kernel thread: the request runs on the engine's loop.
        self._home.call(handle_request, self, content)

    def _view_ready(self) -> None:
        run = self._run
        if run is not None and not run.done():
            self._to_front_end({"kind": "draft", "message": run.draft_snapshot()})
        else:
            self._to_front_end({"kind": "draft", "message": None})
        if not self.is_ready:
            self.is_ready = True
            self._events.emit("isReady.changed", {"old_is_ready": False, "new_is_ready": True})
            self._events.emit("ready", {})

    def _to_front_end(self, payload: dict[str, Any]) -> None:
        # `send` is the copilot's own API here, so custom messages go through Widget.send.
        if self.comm is not None:
            ipywidgets.Widget.send(self, payload)
