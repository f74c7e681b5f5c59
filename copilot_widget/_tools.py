"""The tool pipeline of a run: resolve the action, check the arguments, ask for approval, run
the handler where it belongs, record the result, call the paired frontend action.

Whatever goes wrong with one call (unknown action, invalid arguments, a handler that raises
anything, even `SystemExit`, a result that cannot be serialised, a timeout) fails that call:
the model is told, the run goes on.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pydantic

from . import _buttons as buttons
from ._display import Display, display_of, model_text
from ._messages import Message, ToolCall
from ._output import CallInProgress, current_call
from ._run_events import ActionFailed, CallbackFailed, DraftChanged, RunEvent, RunSettings
from ._schema import ArgumentsError, parse_arguments, problems
from ._serialize import to_json
from ._telemetry import RunTrace, Span

if TYPE_CHECKING:
    from ._actions import Action

logger = logging.getLogger("copilot_widget")
Verdict = Literal["approve", "reject"]


@dataclass(frozen=True)
class UserCall:
    """A call the user made, with no LLM turn before it. `approved`: `run_action` from Python,
    the developer's own code, runs even a `confirm=True` action directly; an action button
    (whatever the model proposed) still asks on the approval card."""

    call: ToolCall
    approved: bool


class Approval:
    """A tool call of a `confirm=True` action waiting for the user's decision; it lives on the
    engine's loop, like the run that waits for it."""

    def __init__(
        self, call: ToolCall, action: Action, arguments: dict[str, Any], run_id: str, thread_id: str
    ) -> None:
        self.call, self.action, self.arguments = call, action, arguments
        self.run_id, self.thread_id = run_id, thread_id
        self.future: asyncio.Future[tuple[Verdict, Any]] = (
            asyncio.get_running_loop().create_future()
        )

    def decide(self, verdict: Verdict, value: Any, edited: dict[str, Any] | None = None) -> bool:
        """Record the decision, once: False if one was already taken (a replay, a second click
        from another view, or the approval expired)."""
        if self.future.done():
            return False
        if edited is not None:
            self.call["arguments"] = json.dumps(edited)  # what runs is what is recorded
        self.future.set_result((verdict, value))
        return True

    def describe(self) -> dict[str, Any]:
        return {
            "tool_call_id": self.call["id"],
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "action": self.action.name,
            "arguments": json.loads(self.call["arguments"] or "{}"),
        }


class ActionExit(Exception):
    """A handler raised a `BaseException` such as `SystemExit`: it fails the call, never the
    kernel."""

    def __init__(self, raised: BaseException) -> None:
        super().__init__(f"The action raised {type(raised).__name__}({raised})")


class ToolCalls:
    """Runs the tool calls of one run's messages, one after the other."""

    def __init__(
        self,
        settings: RunSettings,
        *,
        run_id: str,
        thread_id: str,
        actions: Callable[[], Mapping[str, Action]],
        emit: Callable[[RunEvent], None],
        paused: Callable[[bool], None],
    ) -> None:
        self._settings, self._run_id, self._thread_id = settings, run_id, thread_id
        self._actions, self._emit, self._paused = actions, emit, paused
        self.approvals: dict[str, Approval] = {}
        self._message: Message | None = None
        #: Calls shown by their action's `render=`: (action, arguments) by call id.
        self._rendered: dict[str, tuple[Action, dict[str, Any]]] = {}
        self._render_failed: set[str] = set()  # calls whose render failure was reported
        #: The run's trace (no spans unless the app set up OpenTelemetry).
        self.trace: RunTrace | None = None
        self._spans: dict[str, Span] = {}  # the span of each call being run, by call id
        #: The actions offered in the current step (None: no step, e.g. a call the user made).
        self._offered: Mapping[str, Action] | None = None

    def vision(self, call: ToolCall) -> bool:
        """Whether the model sees the images of `call`'s display."""
        action = (self._offered or self._actions()).get(call["name"])
        if action is not None and action.vision is not None:
            return action.vision
        return self._settings.vision

    def definitions(self) -> list[dict[str, Any]]:
        """The tools offered to the model for the next step. The step's calls are checked
        against these very actions, even if the user moves to another page meanwhile."""
        self._offered = self._actions()
        tools = [action.tool() for action in self._offered.values() if action.offered]
        if self._settings.action_buttons and tools:
            tools.append(buttons.TOOL)
        return tools

    async def run_all(self, message: Message, user: UserCall | None = None) -> None:
        """Run every call of `message`. `user`: the call the user made (it alone may name an
        action the model is not offered, and count as approved)."""
        self._message = message
        for call in message["tool_calls"]:
            span = self._start_span(call)
            try:
                if user is not None and call is user.call:
                    await self._run_one(call, clicked=True, approved=user.approved)
                else:
                    await self._run_one(call, clicked=False, approved=False)
            finally:
                self._spans.pop(call["id"], None)
                if self.trace is not None:  # a cancelled call ends its span as cancelled
                    self.trace.tool_done(span, call)
        self._offered = None  # the next step offers what it finds then

    def _start_span(self, call: ToolCall) -> Span:
        if self.trace is None:
            return Span()
        action = self._actions().get(call["name"])
        span = self.trace.tool(dict(call), action.description if action else None)
        self._spans[call["id"]] = span
        return span

    async def _run_one(self, call: ToolCall, *, clicked: bool, approved: bool) -> None:
        actions = self._offered if self._offered is not None and not clicked else self._actions()
        if call["name"] == buttons.TOOL_NAME and self._settings.action_buttons:
            self._offer_buttons(call, actions)
            return
        action = actions.get(call["name"])
        if action is None or not (action.offered or (clicked and action.available != "disabled")):
            offered = ", ".join(a.name for a in actions.values() if a.offered)
            self._fail(
                call,
                f"Unknown action {call['name']!r}. Available actions: {offered or 'none'}.",
                "unknown_action",
            )
            return
        try:
            arguments = action.schema.validate(parse_arguments(call["arguments"]))
        except ArgumentsError as exc:
            self._fail(call, str(exc), "invalid_arguments")
            return
        except pydantic.ValidationError as exc:
            self._fail(call, f"Invalid arguments: {problems(exc)}", "invalid_arguments")
            return
        if callable(action.render):
            self._rendered[call["id"]] = (action, arguments)
            self._set(call, display=self._display(call, "pending"))
        if action.navigation is not None:  # offered with the way to its page: say so
            call["spec"] = action.spec()
        if action.confirm and not approved:
            decided = await self._ask_approval(call, action, arguments)
            if decided is None:
                return
            arguments = decided
            if call["id"] in self._rendered:
                self._rendered[call["id"]] = (action, arguments)
        if not clicked and not self._still_offered(call, action):
            return
        self._set(call, status="running", display=self._display(call, "running"))
        started = time.monotonic()
        try:
            try:
                value = await self._invoke(call, action, (), arguments)
            finally:
                call["duration_ms"] = round((time.monotonic() - started) * 1000)
        except TimeoutError:
            self._fail(call, f"The action timed out after {action.timeout:g} s.", "timeout", action)
            return
        except Exception as exc:
            logger.warning("Action %r failed", action.name, exc_info=True)
            self._fail(call, str(exc) or type(exc).__name__, type(exc).__name__, action)
            return
        try:
            result = model_text(value)
        except Exception as exc:
            self._fail(call, f"The result cannot be sent to the model: {exc}", "bad_result", action)
            return
        if action.render is False:
            display = None
        else:
            display = self._display(call, "completed", value, own=lambda: display_of(value))
        self._set(call, status="completed", result=result, display=display)
        await self._call_paired(action, call, value)

    def _display(
        self,
        call: ToolCall,
        status: str,
        value: Any = None,
        *,
        own: Callable[[], Display | None] = lambda: None,
    ) -> Display | None:
        """What `call` shows at `status`: what its action's `render=` returns, or `own()` (the
        result's own display) when it has none, or when it fails (reported, never failing the
        call)."""
        rendered = self._rendered.get(call["id"])
        if rendered is None:
            return own()
        action, arguments = rendered
        render = action.render
        if not callable(render):  # render=False or None
            return own()
        try:
            shown = render(dict(arguments), value, status)
        except Exception as exc:
            logger.warning("render= of action %r failed (%s)", action.name, status, exc_info=True)
            if call["id"] not in self._render_failed:
                self._render_failed.add(call["id"])
                self._emit(
                    CallbackFailed(
                        f"The render function of action {action.name!r} failed while the call "
                        f"was {status}: {exc!r}. The call shows its result instead."
                    )
                )
            return own()
        return display_of(shown, rendered=True)

    def interrupted(self, message: Message) -> None:
        """The run was cut short: calls shown by `render=` show their final status."""
        for call in message["tool_calls"]:
            if call["id"] in self._rendered and call["status"] == "cancelled":
                call["display"] = self._display(call, call["status"])

    def _offer_buttons(self, call: ToolCall, actions: Mapping[str, Action]) -> None:
        assert self._message is not None
        try:
            raw = parse_arguments(call["arguments"])
        except ArgumentsError as exc:
            self._fail(call, str(exc), "invalid_arguments")
            return
        shown, refused = buttons.check_buttons(raw, dict(actions))
        self._message["buttons"].extend(shown)
        result = to_json({"shown": [b["label"] for b in shown], "refused": refused})
        self._set(call, status="completed", result=result)

    async def _ask_approval(
        self, call: ToolCall, action: Action, arguments: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Pause until the user approves (the arguments to run with) or rejects (None). Only
        `Copilot.approve` resolves an approval, and only for a call pending in this run."""
        approval = Approval(call, action, arguments, self._run_id, self._thread_id)
        self.approvals[call["id"]] = approval
        span = self._spans.get(call["id"], Span())
        span.event("copilot_widget.approval.requested")
        self._set(call, status="requires_action", display=self._display(call, "requires_action"))
        self._paused(True)
        expired = False
        try:
            verdict, value = await asyncio.wait_for(
                asyncio.shield(approval.future), self._settings.approval_timeout
            )
        except TimeoutError:
            expired = approval.decide("reject", "no decision in time (the approval expired)")
            verdict, value = approval.future.result()
        finally:
            self.approvals.pop(call["id"], None)
        self._paused(False)
        if verdict == "approve":
            edited = dict(value) != arguments
            call["approval"] = {"decision": "approved", "reason": "", "edited": edited}
            span.event("copilot_widget.approval.decided", decision="approved", edited=edited)
            return dict(value)
        reason = str(value).strip()
        decision: Literal["expired", "rejected"] = "expired" if expired else "rejected"
        call["approval"] = {
            "decision": decision,
            "reason": "" if expired else reason,
            "edited": False,
        }
        span.event("copilot_widget.approval.decided", decision=decision)
        self._set(
            call,
            status="rejected",
            result=to_json(
                {
                    "error": "The user declined this action; it did not run.",
                    "type": "rejected",
                    "reason": reason or None,
                }
            ),
            error=f"Rejected{': ' + reason if reason else ''}",
            display=self._display(call, "rejected"),
        )
        return None

    def _still_offered(self, call: ToolCall, action: Action) -> bool:
        """The step offered `action`; it runs only if the kernel offers it now too: not
        removed or disabled meanwhile (an approval can take a while), and its page still open,
        or the way there still part of it."""
        now = self._actions().get(call["name"])
        if (
            now is not None
            and now.offered
            and (now.original or now) is (action.original or action)
            and (action.navigation is not None or now.navigation is None)
        ):
            return True
        why = "it was removed or disabled meanwhile"
        if action.page is not None and action.navigation is None:
            why += f", or the {action.page!r} page it acts on is no longer open"
        self._fail(call, f"Action {call['name']!r} was not run: {why}.", "unknown_action")
        return False

    async def _call_paired(self, backend: Action, call: ToolCall, value: Any) -> None:
        for offered in list(self._actions().values()):
            action = offered.original or offered  # paired actions run as registered
            if action.paired_action != backend.name or action.available == "disabled":
                continue
            args, kwargs = action.paired_arguments(value)
            try:
                await self._invoke(call, action, args, kwargs)
            except Exception as exc:
                logger.warning("Paired action %r failed", action.name, exc_info=True)
                message = f"The paired action {action.name!r} failed: {exc}"
                self._set(call, error=message)
                self._emit(ActionFailed(action.name, call["id"], message))

    async def _invoke(
        self, call: ToolCall, action: Action, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Run a handler for `call`; the copilot outputs it updates are recorded on the call
        (the context variable reaches a handler's worker thread too)."""
        progress = CallInProgress(call["id"], call["name"])
        token = current_call.set(progress)
        try:
            return await invoke(action, args, kwargs)
        finally:
            current_call.reset(token)
            if progress.outputs:
                changed = [*call["outputs"], *progress.outputs]
                self._set(call, outputs=list(dict.fromkeys(changed)))

    def _set(self, call: ToolCall, **changes: Any) -> None:
        call.update(changes)  # type: ignore[typeddict-item]
        if self._message is not None:
            self._emit(DraftChanged(self._message))

    def _fail(self, call: ToolCall, message: str, type: str, action: Action | None = None) -> None:
        self._set(
            call,
            status="failed",
            error=message,
            result=to_json({"error": message, "type": type}),
            display=self._display(call, "failed") if call["id"] in self._rendered else None,
        )
        if action is not None:
            self._emit(ActionFailed(action.name, call["id"], message))


async def invoke(action: Action, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run a handler where it belongs: a sync backend handler in a thread of its own (the
    kernel stays free, and a hung one holds no shared pool), async handlers and frontend
    actions on the engine's loop (where display output is routed)."""
    try:
        if action.is_async:
            work: Any = action.handler(*args, **kwargs)
        elif action.kind == "backend":
            work = in_thread(action.handler, args, kwargs)
        else:
            value = action.handler(*args, **kwargs)
            if not asyncio.iscoroutine(value):
                return value
            work = value
        return await asyncio.wait_for(work, action.timeout)
    except (SystemExit, KeyboardInterrupt, GeneratorExit) as exc:
        raise ActionExit(exc) from exc


async def in_thread(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """`fn(*args, **kwargs)` in a new daemon thread. Unlike `asyncio.to_thread`, a call that
    hangs (and is cancelled or times out) never takes a worker from a shared pool."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()

    def settle(ok: bool, outcome: Any) -> None:
        if future.done():
            return
        if ok:
            future.set_result(outcome)
        elif isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:  # SystemExit and the like must not reach the loop as themselves
            future.set_exception(ActionExit(outcome))

    def work() -> None:
        try:
            ok, outcome = True, context.run(fn, *args, **kwargs)
        except BaseException as exc:
            ok, outcome = False, exc
        try:
            loop.call_soon_threadsafe(settle, ok, outcome)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    threading.Thread(
        target=work, name=f"copilot-action-{getattr(fn, '__name__', 'fn')}", daemon=True
    ).start()
    return await future
