"""The `Copilot` widget: synced chat state, actions, readables, runs and events."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import logging
import os
import pathlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast, overload

import anywidget
import ipywidgets
import openai
import pydantic
import traitlets

from . import _serialize
from ._actions import ACTION_OPTIONS, Action
from ._errors import CopilotError, InvalidOptionsError, ProviderError, RunInProgressError
from ._events import Callback, Events
from ._messages import (
    Message,
    Thread,
    ToolCall,
    finish_interrupted,
    new_id,
    new_message,
    new_thread,
    text_of,
)
from ._run import Approval, Run
from ._schema import problems
from ._store import MEMORY, StoreError, ThreadStore

logger = logging.getLogger("copilot_widget")
T = TypeVar("T")

_STATIC = pathlib.Path(__file__).parent / "static"
_MISSING_BUNDLE = """
export default { render({ el }) {
  el.textContent = "copilot-widget: the front end is not built (npm install && npm run build).";
} };
"""
DEFAULT_MODEL = "gpt-5-mini"
SYSTEM_PROMPT = (
    "You are a helpful copilot inside a Jupyter notebook. Use the available tools (actions) "
    "to look things up and to act for the user; do not invent results a tool can give. "
    "Answer concisely in Markdown."
)
OPTIONS = (
    "model",
    "instructions",
    "client",
    "api_key",
    "base_url",
    "store",
    "app_id",
    "user_id",
    "company_id",
    "thread_id",
    "suggestions",
    "max_steps",
    "title",
    "actions",
    "approval_timeout",
    "action_buttons",
    "button_follow_up",
)


class Readable:
    """A piece of app state given to the model as context; `remove()` takes it away."""

    def __init__(self, copilot: Copilot, description: str, value: Any) -> None:
        self.description = description
        self.value = value
        self._copilot = copilot

    def remove(self) -> None:
        if self in self._copilot._readables:
            self._copilot._readables.remove(self)

    def render(self) -> str:
        try:
            value = self.value() if callable(self.value) else self.value
            text = _serialize.to_json(value, max_chars=_serialize.MAX_CHARS // 2)
        except Exception as exc:
            logger.warning("Readable %r failed", self.description, exc_info=True)
            text = json.dumps({"error": f"unavailable: {type(exc).__name__}: {exc}"})
        return f"## {self.description}\n{text}"


class Copilot(anywidget.AnyWidget):
    """A chat copilot in a notebook. Display it as a cell's last expression."""

    _esm = _STATIC / "widget.js" if (_STATIC / "widget.js").exists() else _MISSING_BUNDLE
    _css = _STATIC / "widget.css" if (_STATIC / "widget.css").exists() else ""

    thread = traitlets.Dict().tag(sync=True)
    """The selected thread: `id`, `object`, `title`, `created_at`."""
    threads: traitlets.List[dict[str, Any]] = traitlets.List().tag(sync=True)
    """The threads in scope."""
    status = traitlets.Unicode("idle").tag(sync=True)
    """`idle`, `working`, `cancelling` or `requires_action`."""
    messages: traitlets.List[Message] = traitlets.List().tag(sync=True)
    """The selected thread's messages; updated at message boundaries, never per token."""
    is_ready = traitlets.Bool(False).tag(sync=True)
    """True once a view is connected and the copilot can take prompts."""
    error: traitlets.Dict[str, Any] | None = traitlets.Dict(
        allow_none=True, default_value=None
    ).tag(sync=True)
    """The last error shown to the user: `type`, `message`, `retryable`; None when clear."""
    suggestions = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """Prompts shown as clickable chips."""
    title = traitlets.Unicode("Copilot").tag(sync=True)
    """The chat's header."""
    action_specs: traitlets.List[dict[str, Any]] = traitlets.List().tag(sync=True)
    """Public descriptions of the actions (names, descriptions, schemas; never handlers)."""
    offline_demo = traitlets.Bool(False).tag(sync=True)
    """True when the copilot talks to an offline scripted server (shows a badge)."""
    needs_setup = traitlets.Bool(False).tag(sync=True)
    """True when no credentials are configured (the chat shows a setup card)."""
    store_warning = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    """Why conversations are not being saved (the store failed), or None when they are."""

    def __init__(
        self,
        model: str | None = None,
        *,
        instructions: str = "",
        client: openai.AsyncOpenAI | openai.OpenAI | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        store: str | os.PathLike[str] | None = None,
        app_id: str = "default",
        user_id: str | None = None,
        company_id: str | None = None,
        thread_id: str | None = None,
        suggestions: Sequence[str] = (),
        max_steps: int = 10,
        title: str = "Copilot",
        actions: Mapping[str, Callable[..., Any]] | None = None,
        approval_timeout: float | None = None,
        action_buttons: bool = False,
        button_follow_up: bool = False,
        **unknown: Any,
    ) -> None:
        if unknown:
            raise TypeError(
                f"Copilot() got unexpected keyword argument(s) {', '.join(sorted(unknown))}; "
                f"accepted: {', '.join(OPTIONS)}."
            )
        if model is None:
            model = os.environ.get("COPILOT_WIDGET_MODEL") or DEFAULT_MODEL
        _check_str("model", model, empty_ok=False)
        _check_str("instructions", instructions)
        _check_str("title", title)
        _check_str("app_id", app_id, empty_ok=False)
        for name, value in (
            ("api_key", api_key),
            ("base_url", base_url),
            ("thread_id", thread_id),
            ("user_id", user_id),
            ("company_id", company_id),
        ):
            if value is not None:
                _check_str(name, value, empty_ok=False)
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise InvalidOptionsError(f"max_steps must be a whole number >= 1, got {max_steps!r}.")
        if isinstance(suggestions, str) or not all(isinstance(s, str) for s in suggestions):
            raise InvalidOptionsError("suggestions must be a list of strings.")
        if client is not None and not isinstance(client, openai.AsyncOpenAI | openai.OpenAI):
            raise InvalidOptionsError(
                f"client must be an openai.AsyncOpenAI or openai.OpenAI instance, got {client!r}."
            )
        if client is not None and (api_key or base_url):
            raise InvalidOptionsError("Pass either client= or api_key=/base_url=, not both.")
        if actions is not None and not isinstance(actions, Mapping):
            raise InvalidOptionsError("actions must be a dict of name -> function.")
        if approval_timeout is not None and (
            isinstance(approval_timeout, bool)
            or not isinstance(approval_timeout, int | float)
            or approval_timeout <= 0
        ):
            raise InvalidOptionsError(
                f"approval_timeout must be a positive number of seconds or None, "
                f"got {approval_timeout!r}."
            )
        if store is not None and not isinstance(store, str | os.PathLike):
            raise InvalidOptionsError(f"store must be a path or ':memory:', got {store!r}.")

        super().__init__(suggestions=list(suggestions), title=title)
        self._events = Events(self._report_callback_error)
        self.model = model
        self.instructions = instructions
        self.max_steps = max_steps
        self.approval_timeout = approval_timeout
        for name, flag in (
            ("action_buttons", action_buttons),
            ("button_follow_up", button_follow_up),
        ):
            if not isinstance(flag, bool):
                raise InvalidOptionsError(f"{name} must be True or False, got {flag!r}.")
        #: Offer the model a tool to answer with buttons the user clicks (OpenCUI's explicit
        #: mode).
        self.action_buttons = action_buttons
        #: After a clicked action button runs, let the model take a turn.
        self.button_follow_up = button_follow_up
        self._approvals: dict[str, Approval] = {}
        self._state: tuple[Callable[[], Any], Callable[[Any], Any]] | None = None
        self._before: Any = _NOTHING  # the tracked state when the current run started
        self._undo: _Snapshot | None = None
        self._redo: _Snapshot | None = None
        self.app_id, self.user_id, self.company_id = app_id, user_id, company_id
        self._scope = (app_id, user_id or "", company_id or "")
        self._store = self._open_store(store)
        self._saved_thread = False  # a new thread is written with its first message
        self._open_thread(thread_id)
        self._client = _make_client(client, api_key, base_url)
        self.needs_setup = self._client is None
        self.offline_demo = self._client is not None and _is_offline_demo(self._client)
        self._actions: dict[str, Action] = {}
        self._readables: list[Readable] = []
        self._run: Run | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None  # for blocking sends
        for name, fn in (actions or {}).items():
            self.action(fn, name=name)
        self.on_msg(self._on_front_end_message)

    # -- actions ------------------------------------------------------------------------
    @overload
    def action(self, fn: Callable[..., Any], /) -> Callable[..., Any]: ...
    @overload
    def action(self, fn: Callable[..., Any], /, **options: Any) -> Callable[..., Any]: ...
    @overload
    def action(self, /, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...

    def action(self, fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        """Register a function as an action: `@copilot.action` or `@copilot.action(name=...)`.

        Options: name, description, parameters (a CopilotKit list or a pydantic model),
        available ("enabled", "disabled", "frontend"), paired_action, kind ("backend",
        "frontend"), confirm, timeout (seconds). Returns the function unchanged.
        """
        unknown = set(options) - set(ACTION_OPTIONS)
        if unknown:
            raise TypeError(
                f"action() got unexpected keyword argument(s) {', '.join(sorted(unknown))}; "
                f"accepted: {', '.join(ACTION_OPTIONS)}."
            )

        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            action = Action(handler, **options)
            if action.name in self._actions:
                raise InvalidOptionsError(
                    f"An action named {action.name!r} is already registered; "
                    f"remove it first with remove_action({action.name!r}) or pick another name."
                )
            action._on_change = self._sync_actions
            self._actions[action.name] = action
            self._sync_actions()
            return handler

        return register if fn is None else register(fn)

    def remove_action(self, name: str) -> None:
        """Unregister an action."""
        if name not in self._actions:
            raise KeyError(f"No action named {name!r}; registered: {', '.join(self._actions)}.")
        self._actions.pop(name)._on_change = None
        self._sync_actions()

    @property
    def actions(self) -> dict[str, Action]:
        """The registered actions by name (a copy); set `.available` on one to change it."""
        return dict(self._actions)

    def _sync_actions(self) -> None:
        self.action_specs = [action.spec() for action in self._actions.values()]

    # -- context ------------------------------------------------------------------------
    def readable(self, description: str, value: Any) -> Readable:
        """Give the model a piece of app state (a value, or a callable read before each step)."""
        _check_str("description", description, empty_ok=False)
        handle = Readable(self, description, value)
        self._readables.append(handle)
        return handle

    def _system_prompt(self) -> str:
        parts = [SYSTEM_PROMPT]
        if self.instructions:
            parts.append(self.instructions)
        if self._readables:
            parts.append("# Current state of the notebook app")
            parts.extend(readable.render() for readable in self._readables)
        return "\n\n".join(parts)

    # -- runs ---------------------------------------------------------------------------
    def send(self, text: str) -> Run:
        """Send a user message and start a run. In a notebook it returns at once (`await` the
        run for its final message); with no running event loop it runs to completion, or to
        the first approval it needs (then `approve` / `reject` carry it on)."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidOptionsError("Cannot send an empty message: type a prompt first.")
        self._check_can_run()
        message = new_message("user", self.thread["id"], None, text, status="completed")
        self._commit(message)
        return self._start()

    def retry(self) -> Run:
        """Run again from the thread as it is, after an error (a failed partial answer is
        replaced by the new one)."""
        self._check_can_run()
        if not self.messages:
            raise InvalidOptionsError("There is nothing to retry: the thread is empty.")
        last = self.messages[-1]
        details = last["incomplete_details"]
        if last["role"] == "assistant" and details and details["reason"] == "run_failed":
            self._persist(self._store.delete_message, last["id"])
            self.messages = self.messages[:-1]
        return self._start()

    def run_action(self, name: str, /, **arguments: Any) -> Run:
        """Run an action as if the user clicked it: no LLM turn. Its call and result are
        recorded in the thread, so the model sees them next turn. Returns the run (awaitable
        in a notebook; with no running event loop it has finished)."""
        action = self._actions.get(name)
        if action is None or action.available == "disabled":
            raise InvalidOptionsError(
                f"No enabled action named {name!r}; registered: {', '.join(self._actions)}."
            )
        try:
            action.schema.validate(arguments)
        except pydantic.ValidationError as exc:
            raise InvalidOptionsError(f"Invalid arguments for {name!r}: {problems(exc)}") from exc
        self._check_can_run()
        call: ToolCall = {
            "id": new_id("call"),
            "name": name,
            "arguments": json.dumps(arguments),
            "status": "pending",
            "result": None,
            "error": None,
        }
        return self._start(clicked=call)

    def click_button(self, message_id: str, button_id: str) -> Run:
        """Do what an action button of a message in this thread says: run its action (as
        `run_action`) or send its reply."""
        message = next((m for m in self.messages if m["id"] == message_id), None)
        offered: list[Any] = message.get("buttons", []) if message is not None else []
        button = next((b for b in offered if b["id"] == button_id), None)
        if message is None or button is None:
            logger.warning("Refused a click on unknown button %r of %r", button_id, message_id)
            raise InvalidOptionsError(
                f"No button {button_id!r} on message {message_id!r} in this thread."
            )
        if button["action"]:
            return self.run_action(button["action"], **(button["arguments"] or {}))
        return self.send(button["reply"])

    def cancel(self) -> None:
        """Stop the current run (nothing happens when none is in progress)."""
        if self._run is not None:
            self._run.cancel()

    @property
    def run(self) -> Run | None:
        """The current run, or the last one (None before the first)."""
        return self._run

    def _check_can_run(self) -> None:
        if self._run is not None and not self._run.done():
            raise RunInProgressError(
                "A run is in progress: wait for it (await copilot.run) or stop it with "
                "copilot.cancel() before sending another message."
            )
        if self._client is None:
            error = ProviderError(_SETUP_HINT, "authentication_error", retryable=False)
            self._report_error(error)
            raise error

    def _start(self, clicked: ToolCall | None = None) -> Run:
        run = Run(self, clicked)
        self._run = run
        self.error = None
        self._forget_snapshots()
        self._before = self._read_state()
        self._set_status("working")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            task = run.start(loop)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return run
        # No running loop (a script or a plain test): run to completion on a private loop,
        # kept across runs because the client's connections belong to it.
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        run.start(self._loop)
        self._drive(run)
        return run

    def _drive(self, run: Run) -> None:
        """With no running event loop, run the private loop until the run ends or waits for
        an approval (then `approve` / `reject` drive it on)."""
        try:
            asyncio.get_running_loop()
            return  # the notebook's loop runs the task
        except RuntimeError:
            pass
        assert self._loop is not None
        self._loop.run_until_complete(run.settled())

    def _client_for_run(self) -> openai.AsyncOpenAI:
        assert self._client is not None
        return self._client

    def _run_finished(self, run: Run) -> None:
        self._to_front_end({"kind": "draft", "message": None})
        message = run.message
        if run.status == "completed" and self._before is not _NOTHING and message is not None:
            after = self._read_state()
            if after is not _NOTHING:
                self._undo = _Snapshot(run.id, message["id"], self._before, after)
                self._flag(message["id"], is_undoable=True, is_redoable=False)
        self._before = _NOTHING
        self._set_status("idle")

    # -- state the run changes -----------------------------------------------------------
    def _set_status(self, status: str) -> None:
        old = self.status
        if old != status:
            self.status = status
            self._events.emit("status.changed", {"old_status": old, "new_status": status})

    def _commit(self, message: Message) -> None:
        """Add a finished message to the thread (one sync of `messages`) and save it."""
        if message["role"] == "user" and not any(m["role"] == "user" for m in self.messages):
            title = " ".join(text_of(message).split())
            self.thread = {**self.thread, "title": title[:60] + ("…" if len(title) > 60 else "")}
            if self._saved_thread:
                self._persist(self._store.rename_thread, self.thread["id"], self.thread["title"])
        self._save(message)
        self.messages = [*self.messages, message]
        self._refresh_threads()
        if message["status"] == "incomplete":
            self._events.emit("message.incomplete", dict(message))
        else:
            self._events.emit("message.completed", dict(message))
        self._events.emit("messages.changed", {"messages": list(self.messages)})

    def _show_draft(self, message: Message | None) -> None:
        self._to_front_end({"kind": "draft", "message": message})
        if message is not None:
            self._save(message)  # an in-progress message survives a kernel restart

    def _to_front_end(self, payload: dict[str, Any]) -> None:
        # `send` is the copilot's own API here, so custom messages go through Widget.send.
        ipywidgets.Widget.send(self, payload)

    def _report_error(self, error: CopilotError) -> None:
        retryable = bool(getattr(error, "retryable", False))
        data = {"type": error.type, "message": str(error), "retryable": retryable}
        self.error = data
        self._events.emit("error", dict(data))

    def _report_action_error(self, action: str, tool_call_id: str, message: str) -> None:
        self._events.emit(
            "error",
            {
                "type": "action_error",
                "message": message,
                "action": action,
                "tool_call_id": tool_call_id,
            },
        )

    def _report_callback_error(self, event_type: str, exc: BaseException) -> None:
        if event_type == "error":
            return  # never loop: a failing error callback is only logged
        self._report_error(CopilotError(f"A callback for the {event_type!r} event failed: {exc!r}"))

    # -- undo and redo ------------------------------------------------------------------
    def track_state(self, get: Callable[[], Any], set: Callable[[Any], Any]) -> None:
        """Make runs undoable: `get()` is read (and deep-copied) before and after each run;
        `undo()` passes the state from before the last completed run to `set`, `redo()` the
        state after it."""
        if not callable(get) or not callable(set):
            raise InvalidOptionsError("track_state(get=..., set=...) needs two callables.")
        self._state = (get, set)

    def undo(self) -> None:
        """Restore the app state from before the last completed run."""
        snapshot = self._check_snapshot(self._undo, "undo")
        self._write_state(snapshot.before)
        self._undo, self._redo = None, snapshot
        self._flag(snapshot.message_id, is_undoable=False, is_redoable=True)

    def redo(self) -> None:
        """Re-apply the app state that the last undone run had made."""
        snapshot = self._check_snapshot(self._redo, "redo")
        self._write_state(snapshot.after)
        self._undo, self._redo = snapshot, None
        self._flag(snapshot.message_id, is_undoable=True, is_redoable=False)

    def _check_snapshot(self, snapshot: _Snapshot | None, verb: str) -> _Snapshot:
        if self._run is not None and not self._run.done():
            raise RunInProgressError(f"Cannot {verb} while a run is in progress: stop it first.")
        if self._state is None:
            raise InvalidOptionsError(f"Nothing to {verb}: call track_state(get=..., set=...).")
        if snapshot is None:
            raise InvalidOptionsError(f"Nothing to {verb}.")
        return snapshot

    def _read_state(self) -> Any:
        if self._state is None:
            return _NOTHING
        try:
            return copy.deepcopy(self._state[0]())
        except Exception as exc:
            logger.warning("track_state: get() failed", exc_info=True)
            self._report_error(CopilotError(f"Reading the tracked state failed: {exc!r}"))
            return _NOTHING

    def _write_state(self, state: Any) -> None:
        assert self._state is not None
        try:
            self._state[1](copy.deepcopy(state))
        except Exception as exc:
            self._report_error(CopilotError(f"Restoring the tracked state failed: {exc!r}"))
            raise

    def _forget_snapshots(self) -> None:
        """A new run makes the previous one final."""
        for snapshot in (self._undo, self._redo):
            if snapshot is not None:
                self._flag(snapshot.message_id, is_undoable=False, is_redoable=False)
        self._undo = self._redo = None

    def _flag(self, message_id: str, *, is_undoable: bool, is_redoable: bool) -> None:
        messages = list(self.messages)
        for i, message in enumerate(messages):
            if message["id"] == message_id:
                flagged = cast(
                    Message, {**message, "is_undoable": is_undoable, "is_redoable": is_redoable}
                )
                messages[i] = flagged
                self._persist(self._store.save_message, flagged)
                self.messages = messages
                self._events.emit(
                    "snapshot.changed",
                    {"message_id": message_id, "is_undoable": is_undoable,
                     "is_redoable": is_redoable},
                )  # fmt: skip
                return

    # -- approvals ----------------------------------------------------------------------
    @property
    def pending_approvals(self) -> list[dict[str, Any]]:
        """Tool calls of `confirm=True` actions waiting for the user: `tool_call_id`,
        `run_id`, `thread_id`, `action`, `arguments`."""
        return [approval.describe() for approval in self._approvals.values()]

    def approve(self, tool_call_id: str, arguments: dict[str, Any] | None = None) -> None:
        """Let a pending action run, with its arguments or edited ones (validated again)."""
        approval = self._pending(tool_call_id, "approve")
        kwargs = approval.arguments
        if arguments is not None:
            if not isinstance(arguments, dict):
                raise InvalidOptionsError("approve(): arguments must be a dict.")
            try:
                kwargs = approval.action.schema.validate(arguments)
            except pydantic.ValidationError as exc:
                raise InvalidOptionsError(
                    f"The edited arguments of {approval.action.name!r} are not valid: "
                    f"{problems(exc)}"
                ) from exc
        if not approval.decide("approve", kwargs, arguments):
            raise self._refused(tool_call_id, "approve")
        self.error = None
        self._drive(approval.run)

    def reject(self, tool_call_id: str, reason: str = "") -> None:
        """Decline a pending action: the model is told (with the reason) and goes on."""
        if not isinstance(reason, str):
            raise InvalidOptionsError("reject(): reason must be a string.")
        approval = self._pending(tool_call_id, "reject")
        if not approval.decide("reject", reason):
            raise self._refused(tool_call_id, "reject")
        self.error = None
        self._drive(approval.run)

    def _pending(self, tool_call_id: Any, verb: str) -> Approval:
        approval = self._approvals.get(tool_call_id) if isinstance(tool_call_id, str) else None
        if approval is None or approval.thread_id != self.thread.get("id"):
            raise self._refused(tool_call_id, verb)
        return approval

    @staticmethod
    def _refused(tool_call_id: Any, verb: str) -> InvalidOptionsError:
        # Unknown, already decided, or another thread's: never acted on.
        logger.warning("Refused to %s tool call %r: no such pending approval", verb, tool_call_id)
        return InvalidOptionsError(
            f"Cannot {verb} {tool_call_id!r}: it is not a tool call waiting for approval "
            f"in this thread (unknown, already decided, or from another thread)."
        )

    # -- threads ------------------------------------------------------------------------
    def new_thread(self) -> Thread:
        """Start a new, empty thread and select it (it is saved with its first message)."""
        self._check_idle("start a new thread")
        old = self.thread["id"]
        with self.hold_sync():
            self._select(new_thread(), [], saved=False)
        self._events.emit("thread.created", dict(self.thread))
        self._emit_selection(old)
        return cast(Thread, self.thread)

    def select_thread(self, thread_id: str) -> Thread:
        """Open a thread of this scope: its messages replace the current ones at once."""
        self._check_idle("switch threads")
        thread = self._known_thread(thread_id)
        old = self.thread["id"]
        if thread_id != old:
            messages = self._load_messages(thread_id)
            with self.hold_sync():
                self._select(thread, messages, saved=True)
            self._emit_selection(old)
        return cast(Thread, self.thread)

    def rename_thread(self, thread_id: str, title: str) -> Thread:
        """Give a thread a new title."""
        _check_str("title", title, empty_ok=False)
        title = " ".join(title.split())
        thread = self._known_thread(thread_id)
        thread = {**thread, "title": title}
        if thread_id == self.thread["id"]:
            self.thread = dict(thread)
        if thread_id != self.thread["id"] or self._saved_thread:
            self._persist(self._store.rename_thread, thread_id, title)
        self._refresh_threads()
        return thread

    def delete_thread(self, thread_id: str) -> None:
        """Delete a thread and its messages; deleting the selected one opens the most recent
        other thread (or a new one)."""
        self._known_thread(thread_id)
        if thread_id == self.thread["id"]:
            self._check_idle("delete the thread in use")
        self._persist(self._store.delete_thread, thread_id)
        if thread_id != self.thread["id"]:
            self._refresh_threads()
            return
        old = self.thread["id"]
        remaining = self._stored_threads()
        with self.hold_sync():
            if remaining:
                self._select(remaining[0], self._load_messages(remaining[0]["id"]), saved=True)
            else:
                self._select(new_thread(), [], saved=False)
        if not remaining:
            self._events.emit("thread.created", dict(self.thread))
        self._emit_selection(old)

    def _check_idle(self, what: str) -> None:
        if self._run is not None and not self._run.done():
            raise RunInProgressError(f"Cannot {what} while a run is in progress: stop it first.")

    def _known_thread(self, thread_id: str) -> Thread:
        if thread_id == self.thread.get("id"):
            return cast(Thread, dict(self.thread))
        thread = self._persist(self._store.thread, thread_id, self._scope)
        if thread is None:
            raise InvalidOptionsError(
                f"No thread {thread_id!r} for app_id={self.app_id!r}, user_id={self.user_id!r}, "
                f"company_id={self.company_id!r} in the store {self._store.path!r}."
            )
        return thread

    def _select(self, thread: Thread, messages: list[Message], *, saved: bool) -> None:
        self._undo = self._redo = None  # snapshots belong to the thread they were made in
        self._saved_thread = saved
        self._to_front_end({"kind": "draft", "message": None})
        self.thread = dict(thread)
        self.messages = messages
        self._refresh_threads()

    def _emit_selection(self, old: str) -> None:
        self.error = None  # an error belongs to the thread it happened in
        self._events.emit(
            "selectedThreadId.changed",
            {"old_selected_thread_id": old, "new_selected_thread_id": self.thread["id"]},
        )
        self._events.emit("messages.changed", {"messages": list(self.messages)})

    def _stored_threads(self) -> list[Thread]:
        return self._persist(self._store.threads, self._scope) or []

    def _refresh_threads(self) -> None:
        stored = [t for t in self._stored_threads() if t["id"] != self.thread["id"]]
        threads: list[dict[str, Any]] = [dict(self.thread), *(dict(t) for t in stored)]
        if threads != self.threads:
            self.threads = threads
            self._events.emit("threads.changed", {"threads": list(threads)})

    def _open_thread(self, thread_id: str | None) -> None:
        if thread_id is not None:
            thread: Thread | None = self._known_thread(thread_id)
        else:
            stored = self._stored_threads()
            thread = stored[0] if stored else None
        if thread is None:
            self._select(new_thread(), [], saved=False)
        else:
            self._select(thread, self._load_messages(thread["id"]), saved=True)

    def _load_messages(self, thread_id: str) -> list[Message]:
        messages: list[Message] = self._persist(self._store.messages, thread_id) or []
        for message in messages:
            # Undo snapshots live in memory: a loaded thread has none.
            message["is_undoable"] = message["is_redoable"] = False
            # A message still in progress was cut off by a kernel that stopped mid-run.
            if message["status"] == "in_progress":
                finish_interrupted(message, "run_interrupted")
                self._persist(self._store.save_message, message)
        return messages

    # -- the store ----------------------------------------------------------------------
    def _open_store(self, store: str | os.PathLike[str] | None) -> ThreadStore:
        self.store_warning = None
        try:
            return ThreadStore(store)
        except StoreError as exc:
            self._store_failed(exc)
            return ThreadStore(MEMORY)

    def _store_failed(self, exc: StoreError) -> None:
        logger.warning("%s", exc)
        self.store_warning = (
            f"{exc}. Conversations are kept in memory only: they will not survive a restart."
        )
        self._report_error(InvalidOptionsError(self.store_warning))

    def _save(self, message: Message) -> None:
        if not self._saved_thread:
            self._saved_thread = True
            self._persist(self._store.create_thread, cast(Thread, self.thread), self._scope)
        self._persist(self._store.save_message, message)

    def _persist(self, operation: Callable[..., T], *args: Any) -> T | None:
        """Run a store operation; if the store fails, go on in memory (saying so) with the
        thread as it is, so nothing in front of the user is lost."""
        try:
            return operation(*args)
        except StoreError as exc:
            self._store_failed(exc)
            memory = ThreadStore(MEMORY)
            self._store = memory
            memory.create_thread(cast(Thread, self.thread), self._scope)
            for message in self.messages:
                memory.save_message(message)
            self._saved_thread = True
            return None

    # -- events -------------------------------------------------------------------------
    def on(self, type: str, callback: Callback) -> None:
        """Call `callback(event)` on each event of `type` (copilotjs names)."""
        self._events.on(type, callback)

    def off(self, type: str, callback: Callback | None = None) -> None:
        """Remove a callback (or all callbacks of `type`)."""
        self._events.off(type, callback)

    # -- the front end ------------------------------------------------------------------
    def _on_front_end_message(self, _: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("kind")
        try:
            if kind == "ready":
                self._view_ready()
            elif kind == "send":
                self.send(content.get("text", ""))
            elif kind == "cancel":
                self.cancel()
            elif kind == "retry":
                self.retry()
            elif kind == "dismiss_error":
                self.error = None
            elif kind == "approve":
                arguments = content.get("arguments")
                self.approve(content.get("tool_call_id"), arguments)  # type: ignore[arg-type]
            elif kind == "reject":
                self.reject(content.get("tool_call_id"), str(content.get("reason") or ""))  # type: ignore[arg-type]
            elif kind == "click_button":
                self.click_button(str(content.get("message_id")), str(content.get("button_id")))
            elif kind == "undo":
                self.undo()
            elif kind == "redo":
                self.redo()
            elif kind == "new_thread":
                self.new_thread()
            elif kind in ("select_thread", "rename_thread", "delete_thread"):
                thread_id = content.get("thread_id")
                if not isinstance(thread_id, str):
                    raise InvalidOptionsError(f"{kind} needs a thread_id string.")
                if kind == "select_thread":
                    self.select_thread(thread_id)
                elif kind == "rename_thread":
                    self.rename_thread(thread_id, str(content.get("title", "")))
                else:
                    self.delete_thread(thread_id)
            else:
                logger.warning("Ignored an unknown message from the front end: %r", kind)
        except CopilotError as exc:
            if exc.type != "authentication_error":  # already reported with the setup card
                self._report_error(exc)

    def _send_draft(self, run: Run) -> None:
        self._to_front_end({"kind": "draft", "message": run.draft_snapshot()})

    def _view_ready(self) -> None:
        run = self._run
        if run is not None and not run.done():
            # The draft belongs to the run's loop: snapshot it there.
            run.on_loop(
                lambda: self._to_front_end({"kind": "draft", "message": run.draft_snapshot()})
            )
        else:
            self._to_front_end({"kind": "draft", "message": None})
        if not self.is_ready:
            self.is_ready = True
            self._events.emit("isReady.changed", {"old_is_ready": False, "new_is_ready": True})
            self._events.emit("ready", {})


_NOTHING: Any = object()


@dataclasses.dataclass(frozen=True)
class _Snapshot:
    """The tracked app state before and after one completed run."""

    run_id: str
    message_id: str
    before: Any
    after: Any


_SETUP_HINT = (
    "No credentials are configured. Set the OPENAI_API_KEY environment variable, or pass "
    "api_key=... (and base_url=... for Ollama, vLLM or another OpenAI-compatible server) "
    "or client=openai.AsyncOpenAI(...) to Copilot()."
)


def _check_str(name: str, value: Any, *, empty_ok: bool = True) -> None:
    if not isinstance(value, str) or (not empty_ok and not value.strip()):
        kind = "a string" if empty_ok else "a non-empty string"
        raise InvalidOptionsError(f"{name} must be {kind}, got {value!r}.")


def _make_client(
    client: openai.AsyncOpenAI | openai.OpenAI | None, api_key: str | None, base_url: str | None
) -> openai.AsyncOpenAI | None:
    if isinstance(client, openai.AsyncOpenAI):
        return client
    if isinstance(client, openai.OpenAI):
        # Runs stream on the event loop, so a sync client is re-created as an async one.
        return openai.AsyncOpenAI(
            api_key=client.api_key,
            organization=client.organization,
            project=client.project,
            base_url=client.base_url,
            timeout=client.timeout,
            max_retries=client.max_retries,
        )
    api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
    if api_key is None and base_url is None:
        return None
    # Local servers (Ollama, vLLM, llama.cpp) take any key.
    return openai.AsyncOpenAI(api_key=api_key or "unused", base_url=base_url)


def _is_offline_demo(client: openai.AsyncOpenAI) -> bool:
    from . import testing

    return testing.is_offline_demo(client)
