"""The thread operations of `Copilot`: new, select, rename, delete, search, export, and the
synced `thread`, `threads` and `messages` they change. Every method runs on the engine's loop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from ._errors import InvalidOptionsError, RunInProgressError, quote
from ._export import Download, check_format, download, export
from ._loop import Home
from ._messages import MAX_TITLE_CHARS, Message, Thread, new_thread, text_of
from ._options import check_str
from ._store import MAX_QUERY_CHARS, ThreadEntry, preview_of, snippet_of

if TYPE_CHECKING:
    from ._events import Events
    from ._run import Run
    from ._threads import Threads
    from ._undo import UndoTracker


class ThreadAPI:
    """Threads of the copilot's scope (app_id, user_id, company_id), saved in the store."""

    if TYPE_CHECKING:  # provided by Copilot
        thread: dict[str, Any]
        threads: list[dict[str, Any]]
        messages: list[Message]
        error: dict[str, Any] | None
        app_id: str
        user_id: str | None
        company_id: str | None
        _home: Home
        _threads: Threads
        _events: Events
        _run: Run | None
        _undo: UndoTracker
        _others: list[dict[str, Any]]  # the scope's other threads, as last read

        def hold_sync(self) -> Any: ...
        def _to_front_end(self, payload: dict[str, Any]) -> None: ...

    def new_thread(self) -> Thread:
        """Start a new, empty thread and select it (it is saved with its first message)."""
        return self._home.call(self._new_thread)

    def _new_thread(self) -> Thread:
        self._check_no_run("start a new thread")
        old = self.thread["id"]
        with self.hold_sync():
            self._select(new_thread(), [], saved=False)
        self._events.emit("thread.created", dict(self.thread))
        self._emit_selection(old)
        return cast(Thread, dict(self.thread))

    def select_thread(self, thread_id: str) -> Thread:
        """Open a thread of this scope: its messages replace the current ones at once."""
        return self._home.call(self._select_thread, thread_id)

    def _select_thread(self, thread_id: str) -> Thread:
        self._check_no_run("switch threads")
        thread = self._known_thread(thread_id)
        old = self.thread["id"]
        if thread_id != old:
            messages = self._threads.messages(thread_id)
            with self.hold_sync():
                self._select(thread, messages, saved=True)
            self._emit_selection(old)
        return cast(Thread, dict(self.thread))

    def rename_thread(self, thread_id: str, title: str) -> Thread:
        """Give a thread a new title."""
        check_str("title", title, empty_ok=False, max_chars=MAX_TITLE_CHARS)
        return self._home.call(self._rename_thread, thread_id, " ".join(title.split()))

    def _rename_thread(self, thread_id: str, title: str) -> Thread:
        thread = cast(Thread, {**self._known_thread(thread_id), "title": title})
        current = thread_id == self.thread["id"]
        if current:
            self.thread = dict(thread)
        if not current or self._threads.saved:
            self._threads.rename(thread_id, title)
        self._refresh_threads(reload=not current)
        return thread

    def delete_thread(self, thread_id: str) -> None:
        """Delete a thread and its messages; deleting the selected one opens the most recent
        other thread (or a new one)."""
        self._home.call(self._delete_thread, thread_id)

    def _delete_thread(self, thread_id: str) -> None:
        self._known_thread(thread_id)
        if thread_id == self.thread["id"]:
            self._check_no_run("delete the thread in use")
        self._threads.delete(thread_id)
        if thread_id != self.thread["id"]:
            self._refresh_threads(reload=True)
            return
        old = self.thread["id"]
        remaining = self._threads.in_scope()
        with self.hold_sync():
            if remaining:
                first = remaining[0]
                self._select(first, self._threads.messages(first["id"]), saved=True)
            else:
                self._select(new_thread(), [], saved=False)
        if not remaining:
            self._events.emit("thread.created", dict(self.thread))
        self._emit_selection(old)

    def search_threads(self, query: str) -> list[dict[str, Any]]:
        """The threads of this scope whose title or any message's text contains `query`
        (ignoring case), most recently active first (at most 50): each as listed in `threads`
        (`id`, `title`, `created_at`, `updated_at`, `preview`) with a `snippet`, the text
        around the first match on one line."""
        check_str("query", query, empty_ok=False, max_chars=MAX_QUERY_CHARS)
        return self._home.call(self._search_threads, query.strip())

    def _search_threads(self, query: str) -> list[dict[str, Any]]:
        return [
            {**hit.thread, "snippet": snippet_of(hit.text, query)}
            for hit in self._threads.search(query)
        ]

    def export_thread(self, thread_id: str | None = None, format: str = "markdown") -> str:
        """A thread of this scope (None: the selected one) as Markdown (`format="markdown"`) or
        JSON (`"json"`: `{"version": 1, "thread": {...}, "messages": [...]}`, the messages as
        stored), tool calls included with their arguments, results and errors."""
        checked = check_format(format)
        return self._home.call(lambda: export(*self._thread_and_messages(thread_id), checked))

    def _export_for_download(self, thread_id: str, format: str) -> Download:
        """The chat's Export: the file's name (from the title), mime type and text."""
        checked = check_format(format)
        return self._home.call(lambda: download(*self._thread_and_messages(thread_id), checked))

    def _thread_and_messages(self, thread_id: str | None) -> tuple[Thread, list[Message]]:
        thread = self._known_thread(self.thread["id"] if thread_id is None else thread_id)
        if thread["id"] == self.thread["id"]:
            return thread, list(self.messages)
        return thread, self._threads.messages(thread["id"])

    # -- plumbing ---------------------------------------------------------------------------
    def _check_no_run(self, what: str) -> None:
        if self._run is not None and not self._run.done():
            raise RunInProgressError(f"Cannot {what} while a run is in progress: stop it first.")

    def _known_thread(self, thread_id: Any) -> Thread:
        """A thread of this scope, or a refusal: ids from the page are never trusted."""
        if not isinstance(thread_id, str):
            raise InvalidOptionsError(f"A thread id must be a string, got {quote(thread_id)}.")
        if thread_id == self.thread.get("id"):
            return cast(Thread, dict(self.thread))
        thread = self._threads.get(thread_id)
        if thread is None:
            raise InvalidOptionsError(
                f"No thread {quote(thread_id)} for app_id={self.app_id!r}, "
                f"user_id={self.user_id!r}, company_id={self.company_id!r} in the store "
                f"{self._threads.path!r}."
            )
        return thread

    def _open_thread(self, thread_id: str | None) -> None:
        if thread_id is not None:
            thread: Thread | None = self._known_thread(thread_id)
        else:
            stored = self._threads.in_scope()
            thread = stored[0] if stored else None
        if thread is None:
            self._select(new_thread(), [], saved=False)
        else:
            self._select(thread, self._threads.messages(thread["id"]), saved=True)

    def _select(self, thread: Thread, messages: list[Message], *, saved: bool) -> None:
        self._undo.reset()
        self._threads.saved = saved
        self._to_front_end({"kind": "draft", "message": None})
        # The listing's fields (date, preview) are for `threads`, not the selected `thread`.
        self.thread = {key: thread[key] for key in ("id", "object", "title", "created_at")}
        self.messages = messages
        self._refresh_threads(reload=True)

    def _emit_selection(self, old: str) -> None:
        self.error = None  # an error belongs to the thread it happened in
        self._events.emit(
            "selectedThreadId.changed",
            {"old_selected_thread_id": old, "new_selected_thread_id": self.thread["id"]},
        )
        self._events.emit("messages.changed", {"messages": list(self.messages)})

    def _refresh_threads(self, *, reload: bool = False) -> None:
        """The current thread first, then the others of the scope (read from the store only
        when they may have changed, not on every message), each with its date and preview."""
        if reload:
            self._others = [
                dict(t) for t in self._threads.in_scope() if t["id"] != self.thread["id"]
            ]
        threads = [dict(self._current_entry()), *self._others]
        if threads != self.threads:
            self.threads = threads
            self._events.emit("threads.changed", {"threads": list(threads)})

    def _current_entry(self) -> ThreadEntry:
        """The selected thread as `threads` lists it, from the messages in memory."""
        thread = cast(Thread, self.thread)
        updated_at = thread["created_at"]
        preview = ""
        if self.messages:
            last = self.messages[-1]
            updated_at = max(updated_at, last["completed_at"] or last["created_at"])
        for message in reversed(self.messages):
            text = text_of(message)
            if text:  # like the store: the last message that has text
                preview = preview_of(text)
                break
        return {**thread, "updated_at": updated_at, "preview": preview}

    def _name_thread(self, message: Message) -> None:
        """A thread is named after its first user message."""
        if message["role"] != "user" or any(m["role"] == "user" for m in self.messages):
            return
        title = " ".join(text_of(message).split())
        self.thread = {**self.thread, "title": title[:60] + ("…" if len(title) > 60 else "")}
        if self._threads.saved:
            self._threads.rename(self.thread["id"], self.thread["title"])
