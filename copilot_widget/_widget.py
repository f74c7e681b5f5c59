"""The `Copilot` widget: synced chat state and the public API.

The widget is a listener: runs (`_run.py`) do the work on the engine's loop (`_loop.py`) and
emit typed events that become synced traits and copilotjs events here. Every public method hands
its work to that loop, whichever thread or loop calls it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pathlib
import socket
from typing import Any, cast

import anywidget
import pydantic
import traitlets
from typing_extensions import Unpack

from ._actions import Action, ActionAPI
from ._approvals import ApprovalAPI
from ._button_api import ButtonAPI
from ._client import is_offline_demo, make_client
from ._context import Readable, system_prompt
from ._errors import (
    CallbackError,
    CopilotError,
    InvalidOptionsError,
    ProviderError,
    RunInProgressError,
    quote,
)
from ._events import Callback, Events
from ._frontend import FrontEndAPI, recent_messages
from ._loop import Home, running_loop
from ._marimo import follow_in_marimo
from ._message_api import MessageAPI
from ._messages import MAX_TEXT_CHARS, Message, ToolCall, new_id, new_message
from ._navigation import NavigationAPI
from ._options import CopilotOptions, check_height, check_options, check_str
from ._output import CopilotOutput
from ._pages import PageStack
from ._run import Run
from ._run_events import (
    ActionFailed,
    CallbackFailed,
    DraftChanged,
    DraftCheckpoint,
    DraftDelta,
    MessageCompleted,
    RunEnded,
    RunEvent,
    RunSettings,
    StatusChanged,
)
from ._schema import ArgumentsError, parse_arguments, problems
from ._serialize import clean_text
from ._thread_api import ThreadAPI
from ._threads import Threads
from ._tools import UserCall
from ._undo import UndoAPI, UndoTracker
from ._usage import Totals, totals
from ._window import ContextWindow, known_window

logger = logging.getLogger("copilot_widget")

_STATIC = pathlib.Path(__file__).parent / "static"
_MISSING_BUNDLE = """
export default { render({ el }) {
  el.textContent = "copilot-widget: the front end is not built (npm install && npm run build).";
} };
"""
_SETUP_HINT = (
    "No credentials are configured. Set the OPENAI_API_KEY environment variable, or pass "
    "api_key=... (and base_url=... for Ollama, vLLM or another OpenAI-compatible server) "
    "or client=openai.AsyncOpenAI(...) to Copilot()."
)


def _bundle(name: str, missing: str) -> str | pathlib.Path:
    """The built front end. As text: anywidget keeps every widget whose bundle is a path
    alive forever (to reload it when the file changes), so paths only with ANYWIDGET_HMR."""
    path = _STATIC / name
    if not path.exists():
        return missing
    return path if os.environ.get("ANYWIDGET_HMR") else path.read_text(encoding="utf-8")


class Copilot(
    ActionAPI,
    NavigationAPI,
    ApprovalAPI,
    ButtonAPI,
    MessageAPI,
    UndoAPI,
    ThreadAPI,
    FrontEndAPI,
    anywidget.AnyWidget,
):
    """A chat copilot in a notebook. Display it as a cell's last expression."""

    _esm = _bundle("widget.js", _MISSING_BUNDLE)
    _css = _bundle("widget.css", "")

    thread = traitlets.Dict().tag(sync=True)
    """The selected thread: `id`, `object`, `title`, `created_at`."""
    threads: traitlets.List[dict[str, Any]] = traitlets.List().tag(sync=True)
    """The threads in scope."""
    status = traitlets.Unicode("idle").tag(sync=True)
    """`idle`, `working`, `cancelling` or `requires_action`."""
    messages: traitlets.List[Message] = traitlets.List().tag(sync=True, to_json=recent_messages)
    """The selected thread's messages; updated at message boundaries, never per token. The chat
    gets the latest ones, then what changes, and earlier ones as the user scrolls up."""
    message_count = traitlets.Int(0).tag(sync=True)
    """How many messages the selected thread has (the chat may have only the latest)."""
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
    height = traitlets.Unicode("").tag(sync=True)
    """The chat's height: a CSS length, `fill` (its container's height), or "" (the default)."""
    model = traitlets.Unicode("").tag(sync=True)
    """The model the copilot asks (its name is shown in the chat's header)."""
    action_specs: traitlets.List[dict[str, Any]] = traitlets.List().tag(sync=True)
    """Public descriptions of the actions (names, descriptions, schemas; never handlers)."""
    offline_demo = traitlets.Bool(False).tag(sync=True)
    """True when the copilot talks to an offline scripted server (shows a badge)."""
    needs_setup = traitlets.Bool(False).tag(sync=True)
    """True when no credentials are configured (the chat shows a setup card)."""
    store_warning = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    """Why conversations are not being saved (the store failed), or None when they are."""

    def __init__(self, model: str | None = None, **options: Unpack[CopilotOptions]) -> None:
        o = check_options(model, options)
        super().__init__(
            suggestions=list(o.suggestions), title=o.title, height=check_height(o.height)
        )
        self.model, self.instructions, self.max_steps = o.model, o.instructions, o.max_steps
        self.approval_timeout = o.approval_timeout
        #: Offer the model a tool to answer with buttons the user clicks (OpenCUI's explicit
        #: mode).
        self.action_buttons = o.action_buttons
        #: After a clicked action button runs, let the model take a turn.
        self.button_follow_up = o.button_follow_up
        #: Let the model see the images that calls show (an action's `vision=` overrides it).
        self.vision = o.vision
        #: Prices per million tokens by model (`{"input": .., "output": .., "cached_input": ..}`),
        #: for the cost of each answer.
        self.prices = o.prices
        #: The most tokens a request may take; None: the model's known window (if known).
        self.max_context_tokens = o.max_context_tokens
        #: Record prompts, answers, arguments and results in OpenTelemetry spans.
        self.trace_content = o.trace_content
        #: The OpenTelemetry TracerProvider runs are traced with (None: the app's global one).
        self.tracer_provider = o.tracer_provider
        self._window = ContextWindow(None)
        self.app_id, self.user_id, self.company_id = o.app_id, o.user_id, o.company_id
        self._closed = False
        self._home = Home()
        self._events = Events(self._report_callback_error)
        self._actions: dict[str, Action] = {}
        self._readables: list[Readable] = []
        self._navigations: dict[str, Action] = {}
        self._ways: dict[tuple[Action, Action, str], Action] = {}  # see _navigation.py
        self._pages = PageStack()
        self._pages_off = self._pages.on_change(self._pages_changed)
        self._run: Run | None = None
        self._undo = UndoTracker(self._report_error, self._flag)
        self._threads = Threads(
            o.store,
            (o.app_id, o.user_id or "", o.company_id or ""),
            post=self._home.post,
            on_failure=self._store_failed,
            on_recovery=self._store_recovered,
            current=lambda: (cast(Any, self.thread), list(self.messages)),
        )
        self._open_thread(o.thread_id)
        self._own_client = o.client is None
        self._client = make_client(o.client, o.api_key, o.base_url)
        self.needs_setup = self._client is None
        self.offline_demo = self._client is not None and is_offline_demo(self._client)
        for name, fn in (o.actions or {}).items():
            self.action(fn, name=name)
        self.on_msg(self._on_front_end_message)
        self.observe(self._count_messages, names="messages")
        self.message_count = len(self.messages)
        follow_in_marimo(self)  # in marimo, cells reading mo.ui.anywidget(copilot).value re-run

    # -- context ------------------------------------------------------------------------
    def readable(self, description: str, value: Any) -> Readable:
        """Give the model a piece of app state (a value, or a callable read before each step)."""
        check_str("description", description, empty_ok=False)
        handle = Readable(self._readables, description, value)
        self._readables.append(handle)
        return handle

    @property
    def pages(self) -> PageStack:
        """Where the user is in the notebook app (OpenCUI's page stack), given to the model
        before every step: declare the page types with `pages.declare(cls)`, then `push`,
        `replace` and `pop` pages as the user navigates. An app that keeps its own state
        assigns `PageStack.from_getter(...)` instead. Every change emits `pages.changed`."""
        return self._pages

    @pages.setter
    def pages(self, stack: PageStack) -> None:
        if not isinstance(stack, PageStack):
            raise InvalidOptionsError(
                f"pages must be a PageStack (PageStack() or PageStack.from_getter(...)), got "
                f"{type(stack).__name__}."
            )
        old = self._pages.snapshot(max_chars=None)
        self._pages_off()
        self._pages = stack
        self._pages_off = stack.on_change(self._pages_changed)
        self._pages_changed(old, stack.snapshot(max_chars=None))

    def _pages_changed(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        # The app navigates from any thread (a widget's callback, a cell): the event is
        # delivered on the engine's loop, like every other.
        data = {"old_pages": old["pages"], "new_pages": new["pages"]}
        self._home.post(self._events.emit, "pages.changed", data)

    def context(self) -> str:
        """What the model is given before its next step: the system prompt, with the app's
        instructions, its readables and the pages the user has open, read now. The chat's
        Context button shows the same."""
        return self._home.call(self._context)

    def _context(self) -> str:
        """The system prompt of the next step: instructions, readables, and the pages."""
        pages = self._pages.snapshot()
        return system_prompt(
            self.instructions, self._readables, self._pages.render() if pages["pages"] else ""
        )

    def output(self, initial: Any = None) -> CopilotOutput:
        """An output area for the notebook that actions update with `out.update(obj)` (any
        displayable or widget). Show it as a cell's last expression or with `display(out)`;
        unlike a display handle, it keeps updating after a page reload. The chat links each
        call to the outputs it changed."""
        return CopilotOutput(initial)

    # -- runs ---------------------------------------------------------------------------
    def send(self, text: str) -> Run:
        """Send a user message and start a run. In a notebook it returns at once (`await` the
        run for its final message); with no running event loop it runs to completion, or to
        the first approval it needs (then `approve` / `reject` carry it on)."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidOptionsError("Cannot send an empty message: type a prompt first.")
        check_str("The message", text, max_chars=MAX_TEXT_CHARS)
        return self._settle(self._home.call(self._send_text, clean_text(text)))

    def _send_text(self, text: str) -> Run:
        self._check_can_run()
        self._commit(new_message("user", self.thread["id"], None, text, status="completed"))
        return self._start()

    def retry(self) -> Run:
        """Run again from the thread as it is, after an error (a failed partial answer is
        replaced by the new one)."""
        return self._settle(self._home.call(self._retry))

    def _retry(self) -> Run:
        if not self.messages:
            raise InvalidOptionsError("There is nothing to retry: the thread is empty.")
        self._check_can_run()
        last = self.messages[-1]
        details = last["incomplete_details"]
        if last["role"] == "assistant" and details and details["reason"] == "run_failed":
            self._threads.delete_message(last["id"])
            self.messages = self.messages[:-1]
        return self._start()

    def run_action(self, name: str, /, **arguments: Any) -> Run:
        """Run an action as if the user clicked it: no LLM turn. Its call and result are
        recorded in the thread, so the model sees them next turn. This is your own code, so a
        `confirm=True` action runs without asking. Returns the run (awaitable in a notebook;
        with no running event loop it has finished)."""
        return self._settle(self._home.call(self._run_action, name, arguments))

    def _run_action(self, name: str, arguments: dict[str, Any]) -> Run:
        # From where the user is: an action off its page comes with the way there.
        action = self._offered_actions().get(name)
        registered = self._actions.get(name)
        if action is None and registered is not None and registered.page is not None:
            raise InvalidOptionsError(
                f"Action {name!r} acts on the page {registered.page!r}, which is not open, and "
                "no navigation leads there (copilot.navigation)."
            )
        if action is None or action.available == "disabled":
            raise InvalidOptionsError(
                f"No enabled action named {quote(name)}; registered: {', '.join(self._actions)}."
            )
        return self._start_user_call(action, arguments, approved=True)

    def _start_user_call(self, action: Action, arguments: dict[str, Any], *, approved: bool) -> Run:
        text = json.dumps(arguments)
        try:
            parse_arguments(text)  # the bounds the model's calls have
            action.schema.validate(arguments)
        except ArgumentsError as exc:
            raise InvalidOptionsError(f"Invalid arguments for {action.name!r}: {exc}") from exc
        except pydantic.ValidationError as exc:
            raise InvalidOptionsError(
                f"Invalid arguments for {action.name!r}: {problems(exc)}"
            ) from exc
        self._check_can_run()
        call: ToolCall = {
            "id": new_id("call"),
            "name": action.name,
            "arguments": text,
            "status": "pending",
            "result": None,
            "error": None,
            "display": None,
            "outputs": [],
        }
        return self._start(UserCall(call, approved=approved))

    def cancel(self) -> None:
        """Stop the current run (nothing happens when none is in progress). With no running
        event loop, it returns once the run has ended."""
        run = self._home.call(self._cancel)
        if run is not None and running_loop() is None:
            self._wait(run)

    def _cancel(self) -> Run | None:
        run = self._run
        if run is None or run.done():
            return None
        self._set_status("cancelling")
        run.cancel()
        run._settled.clear()
        return run

    @property
    def usage(self) -> Totals:
        """The selected thread's usage: tokens, cost (with `prices=`) and time of its answers."""
        return totals(self.messages)

    @property
    def run(self) -> Run | None:
        """The current run, or the last one (None before the first)."""
        return self._run

    def _check_can_run(self) -> None:
        if self._closed:
            raise InvalidOptionsError("This copilot is closed.")
        if self._run is not None and not self._run.done():
            raise RunInProgressError(
                "A run is in progress: wait for it (await copilot.run) or stop it with "
                "copilot.cancel() before sending another message."
            )
        if self._client is None:
            error = ProviderError(_SETUP_HINT, "authentication_error", retryable=False)
            self._report_error(error)
            raise error
        self._claim_thread()  # last: from here on the run starts

    def _claim_thread(self) -> None:
        """One run at a time per thread, across every kernel that shares the store: another
        kernel's run (waiting for its approval, say) is never disturbed."""
        claim = self._threads.claim_run(self.thread["id"])
        holder = claim.holder
        if holder is not None:
            who = (
                "Another copilot of this kernel"
                if (holder.host, holder.pid) == (socket.gethostname(), os.getpid())
                else f"Another kernel (process {holder.pid} on {holder.host})"
            )
            raise RunInProgressError(
                f"{who} is running this thread: wait for its run to end, or start a new thread."
            )
        if claim.others_ran and self._threads.saved:  # what they added since we read it
            self.messages = self._threads.messages(self.thread["id"])

    def _start(self, user_call: UserCall | None = None) -> Run:
        assert self._client is not None
        settings = RunSettings(
            model=self.model,
            max_steps=self.max_steps,
            approval_timeout=self.approval_timeout,
            action_buttons=self.action_buttons,
            button_follow_up=self.button_follow_up,
            base_url=str(self._client.base_url),
            secrets=(self._client.api_key,),
            vision=self.vision,
            prices=self.prices,
            window=self._context_window(),
            agent_name=self.title,
            trace_content=self.trace_content,
            tracer_provider=self.tracer_provider,
        )
        run = Run(
            self._client,
            settings,
            thread_id=self.thread["id"],
            actions=self._offered_actions,
            history=lambda: list(self.messages),
            system_prompt=self._context,
            emit=self._on_run_event,
            user_call=user_call,
        )
        self._run = run
        self.error = None
        self._undo.run_started()
        self._set_status("working")
        run.start()
        return run

    def _context_window(self) -> ContextWindow:
        """The window of the model asked now (the calibration carries over from run to run)."""
        self._window.max_tokens = self.max_context_tokens or known_window(self.model)
        return self._window

    def _settle(self, run: Run) -> Run:
        """With no running event loop (a script), wait until the run ends or waits for the
        user; Ctrl-C cancels it cleanly."""
        if running_loop() is not None:
            return run
        try:
            self._wait(run)
        except KeyboardInterrupt:
            self.cancel()
            raise
        return run

    def _wait(self, run: Run) -> None:
        """Block until the run ends or waits for the user, and its events are handled."""
        while not run._settled.wait(0.05):  # short waits: Ctrl-C is seen at once
            pass
        self._home.call(lambda: None)

    # -- what a run tells -----------------------------------------------------------------
    def _on_run_event(self, event: RunEvent) -> None:
        if isinstance(event, DraftDelta):
            payload: dict[str, Any] = {"kind": "delta", "message_id": event.message_id}
            if event.text:
                payload["text"] = event.text
            if event.tool_calls:
                payload["tool_calls"] = event.tool_calls
            self._to_front_end(payload)
        elif isinstance(event, DraftChanged):
            self._to_front_end({"kind": "draft", "message": event.message})
            self._streamed = event.message["id"]
            self._threads.save(event.message)  # an in-progress message survives a restart
        elif isinstance(event, DraftCheckpoint):
            self._threads.save(event.message)
        elif isinstance(event, MessageCompleted):
            self._commit(event.message)
        elif isinstance(event, StatusChanged):
            self._set_status(event.status)
        elif isinstance(event, ActionFailed):
            self._events.emit(
                "error",
                {"type": "action_error", "message": event.message, "action": event.action,
                 "tool_call_id": event.tool_call_id},
            )  # fmt: skip
        elif isinstance(event, CallbackFailed):
            self._report_error(CallbackError(event.message))
        elif isinstance(event, RunEnded):
            self._run_ended(event)

    def _run_ended(self, event: RunEnded) -> None:
        self._threads.release_run(self._run.thread_id if self._run else self.thread["id"])
        self._buttons_to_the_answer(event.run_id)
        self._to_front_end({"kind": "draft", "message": None})
        self._undo.run_ended(event.message_id)
        error = event.error
        self._set_status("idle")
        if error is not None:
            self._report_error(error)

    def _set_status(self, status: str) -> None:
        old = self.status
        if old != status:
            self.status = status
            self._events.emit("status.changed", {"old_status": old, "new_status": status})

    def _commit(self, message: Message) -> None:
        """Add a finished message to the thread (one sync of `messages`) and save it."""
        self._name_thread(message)
        self._threads.save(message)
        self.messages = [*self.messages, message]
        self._refresh_threads()
        if message["status"] == "incomplete":
            self._events.emit("message.incomplete", dict(message))
        else:
            self._events.emit("message.completed", dict(message))
        self._events.emit("messages.changed", {"messages": list(self.messages)})

    def _count_messages(self, change: Any) -> None:
        self.message_count = len(change["new"])

    # -- events -------------------------------------------------------------------------
    def on(self, type: str, callback: Callback) -> None:
        """Call `callback(event)` on each event of `type` (copilotjs names). In a notebook,
        what the callback prints appears under the cell that registered it."""
        self._events.on(type, callback)

    def off(self, type: str, callback: Callback | None = None) -> None:
        """Remove a callback (or all callbacks of `type`)."""
        self._events.off(type, callback)

    def _report_error(self, error: CopilotError) -> None:
        data = {"type": error.type, "message": str(error), "retryable": error.retryable}
        self.error = data
        self._events.emit("error", dict(data))

    def _report_callback_error(self, event_type: str, exc: BaseException) -> None:
        if event_type == "error":
            return  # never loop: a failing error callback is only logged
        self._report_error(
            CallbackError(f"Your callback for the {event_type!r} event failed: {exc!r}")
        )

    def _store_failed(self, warning: str) -> None:
        self.store_warning = warning
        self._report_error(InvalidOptionsError(warning))

    def _store_recovered(self) -> None:
        """The store answers again and has what it missed: the chat no longer says otherwise."""
        warning, self.store_warning = self.store_warning, None
        if self.error is not None and self.error.get("message") == warning:
            self.error = None

    # -- closing ------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the run, save what is pending, release the store, the client and the loop.
        Safe from any thread and at interpreter exit (it never waits on the loop for long)."""
        if getattr(self, "_closed", True):
            super().close()
            return
        self._closed = True  # no new run starts from here on
        run = self._run
        if run is not None and not run.done():
            run.cancel()
            if self._home.here():  # the run ends on this loop, after this call: then release
                run._done.add_done_callback(lambda _: self._home.post(self._release))
                super().close()
                return
            run._settled.wait(5)  # its partial answer is saved
        self._release()
        super().close()

    def _release(self) -> None:
        self._threads.close()
        if self._own_client and self._client is not None and self._home.loop.is_running():
            client, self._client = self._client, None
            asyncio.run_coroutine_threadsafe(client.close(), self._home.loop)
        self._home.close()
