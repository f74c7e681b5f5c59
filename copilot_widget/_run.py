"""A run: LLM steps with streaming and tool calls, as one asyncio task.

Each step streams one assistant message (the draft). Text and tool-call arguments travel to the
front end as batched deltas; the message joins the thread when the step ends and every tool
call it made has a result. The thread is valid for the next request after any ending:
completion, `max_steps`, cancellation or a provider error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Literal, cast

import openai
import pydantic
from openai.types.chat import ChatCompletionChunk

from . import _buttons as buttons
from ._errors import CopilotError, ProviderError, provider_error
from ._messages import (
    IncompleteReason,
    Message,
    ToolCall,
    finish_interrupted,
    history,
    new_id,
    new_message,
    now,
)
from ._schema import problems
from ._serialize import to_json

if TYPE_CHECKING:
    from ._actions import Action
    from ._widget import Copilot

logger = logging.getLogger("copilot_widget")

RunStatus = Literal[
    "in_progress", "requires_action", "completed", "cancelled", "failed", "incomplete"
]

#: Seconds between two deltas sent to the front end while tokens stream in.
DELTA_INTERVAL = 0.03
#: Seconds between two saves of the streaming draft (what a killed kernel can lose at most).
SAVE_INTERVAL = 0.5


class Approval:
    """A tool call of a `confirm=True` action waiting for the user's decision."""

    def __init__(self, run: Run, call: ToolCall, action: Action, arguments: dict[str, Any]) -> None:
        self.run, self.call, self.action, self.arguments = run, call, action, arguments
        self.thread_id = run._copilot.thread["id"]
        self.future: asyncio.Future[tuple[str, Any]] = asyncio.get_running_loop().create_future()
        self._decided = False
        self._lock = threading.Lock()

    def decide(self, verdict: str, value: Any, edited: dict[str, Any] | None = None) -> bool:
        """Record the user's decision, once: False if one was already taken (a replay, or a
        second click from another view arriving on another thread)."""
        with self._lock:
            if self._decided or self.future.done():
                return False
            self._decided = True
        self.run.on_loop(self._resolve, verdict, value, edited)
        return True

    def _resolve(self, verdict: str, value: Any, edited: dict[str, Any] | None) -> None:
        if not self.future.done():
            if edited is not None:
                self.call["arguments"] = json.dumps(edited)  # what runs is what is recorded
            self.future.set_result((verdict, value))

    def describe(self) -> dict[str, Any]:
        return {
            "tool_call_id": self.call["id"],
            "run_id": self.run.id,
            "thread_id": self.thread_id,
            "action": self.action.name,
            "arguments": json.loads(self.call["arguments"] or "{}"),
        }


class Run:
    """One run of the copilot: `await run` gives the last assistant message."""

    def __init__(self, copilot: Copilot, clicked: ToolCall | None = None) -> None:
        self.id = new_id("run")
        # An action the user ran (`Copilot.run_action`): one tool call, no LLM turn.
        self._clicked = clicked
        self.status: RunStatus = "in_progress"
        self.messages: list[Message] = []
        self.error: CopilotError | None = None
        self._copilot = copilot
        self._task: asyncio.Task[Message | None] | None = None
        self._draft: Message | None = None
        self._draft_text: list[str] = []
        self._pending_text: list[str] = []
        self._pending_calls: list[dict[str, Any]] = []
        self._flush_handle: asyncio.TimerHandle | None = None
        self._saved_at = 0.0
        self._paused = asyncio.Event()  # set while the run waits for an approval

    # -- public -------------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop the run; the partial message is kept as `incomplete` (`run_cancelled`)."""
        if self._task is not None and not self._task.done():
            self._copilot._set_status("cancelling")
            self.on_loop(self._task.cancel)

    def on_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        """Call `fn` on the run's event loop. The kernel may hand a widget message to another
        thread with a loop of its own (ipykernel's subshells), and asyncio objects must only
        be touched from their own loop."""
        assert self._task is not None
        loop = self._task.get_loop()
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop or not loop.is_running():
            fn(*args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    def done(self) -> bool:
        return self._task is not None and self._task.done()

    async def settled(self) -> None:
        """Wait until the run ends or pauses for an approval."""
        assert self._task is not None
        paused = asyncio.ensure_future(self._paused.wait())
        await asyncio.wait({self._task, paused}, return_when=asyncio.FIRST_COMPLETED)
        paused.cancel()

    @property
    def message(self) -> Message | None:
        """The last assistant message of the run (None before it has one)."""
        return next((m for m in reversed(self.messages) if m["role"] == "assistant"), None)

    def __await__(self) -> Generator[Any, None, Message | None]:
        assert self._task is not None, "the run was not started"
        return self._task.__await__()

    def __repr__(self) -> str:
        return f"<Run {self.id} status={self.status!r} messages={len(self.messages)}>"

    # -- the loop ----------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> asyncio.Task[Message | None]:
        self._task = loop.create_task(self._main())
        return self._task

    async def _main(self) -> Message | None:
        copilot = self._copilot
        try:
            if self._clicked is not None:
                message = new_message("assistant", copilot.thread["id"], self.id)
                message["tool_calls"].append(self._clicked)
                self._draft = message
                copilot._show_draft(message)
                await self._call_tools(message)
                self._end_message(message, None)
                if not copilot.button_follow_up:
                    self._finish("completed")
                    return message
            for _ in range(copilot.max_steps):
                message = await self._step()
                if not message["tool_calls"]:
                    self._finish("completed")
                    return message
            note = new_message("assistant", copilot.thread["id"], self.id, "")
            note["content"][0]["text"]["value"] = (
                f"I stopped after {copilot.max_steps} steps without a final answer "
                f"(max_steps={copilot.max_steps}). Send a message to let me continue."
            )
            self._end_message(note, "max_steps")
            self._finish("incomplete")
            return note
        except asyncio.CancelledError:
            self._interrupt("run_cancelled")
            self._finish("cancelled")
            return self.message
        except Exception as exc:
            error = provider_error(exc)
            logger.warning("Run %s failed: %s", self.id, error)
            self.error = error
            self._interrupt("run_failed")
            self._finish("failed")
            copilot._report_error(error)
            return self.message
        finally:
            self._cancel_flush()

    def _finish(self, status: RunStatus) -> None:
        self.status = status
        self._copilot._run_finished(self)

    async def _step(self) -> Message:
        copilot = self._copilot
        # Readables and the action list are read fresh before every step.
        system = copilot._system_prompt()
        tools = [action.tool() for action in copilot._actions.values() if action.offered]
        if copilot.action_buttons and tools:
            tools.append(buttons.TOOL)
        request = [{"role": "system", "content": system}, *history(copilot.messages)]
        message = new_message("assistant", copilot.thread["id"], self.id)
        self._draft = message
        self._draft_text = []
        copilot._show_draft(message)
        await self._stream(message, request, tools)
        if message["tool_calls"]:
            await self._call_tools(message)
        self._end_message(message, None)
        return message

    async def _stream(
        self, message: Message, request: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> None:
        copilot = self._copilot
        options: dict[str, Any] = {"tools": tools} if tools else {}
        calls: dict[int, ToolCall] = {}
        finish_reason: str | None = None
        text = self._draft_text
        pending_text = self._pending_text
        last_flush = time.monotonic()
        try:
            stream: openai.AsyncStream[
                ChatCompletionChunk
            ] = await copilot._client_for_run().chat.completions.create(
                model=copilot.model,
                messages=cast(Any, request),
                stream=True,
                **options,
            )
        except Exception as exc:
            raise provider_error(exc) from exc
        async with stream:
            try:
                async for chunk in stream:
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    delta = choice.delta
                    if delta.content:
                        text.append(delta.content)
                        pending_text.append(delta.content)
                    if delta.tool_calls:
                        for part in delta.tool_calls:
                            self._add_call_delta(message, calls, part)
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
                    if self._flush_handle is None:
                        self._flush_handle = asyncio.get_running_loop().call_later(
                            DELTA_INTERVAL, self._flush
                        )
                    elif time.monotonic() - last_flush >= DELTA_INTERVAL:
                        self._flush()
                        last_flush = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise provider_error(exc) from exc
        self._flush()
        message["content"][0]["text"]["value"] = "".join(text)
        if finish_reason is None:
            raise ProviderError(
                "The provider's stream ended before the reply was complete.",
                "server_error",
                retryable=True,
            )

    def _add_call_delta(self, message: Message, calls: dict[int, ToolCall], part: Any) -> None:
        index = part.index
        function = part.function
        call = calls.get(index)
        if call is None:
            call = {
                "id": part.id or new_id("call"),
                "name": "",
                "arguments": "",
                "status": "pending",
                "result": None,
                "error": None,
            }
            calls[index] = call
            message["tool_calls"].append(call)
        elif part.id:
            call["id"] = part.id
        # The front end addresses calls by their position in the message.
        out: dict[str, Any] = {"index": message["tool_calls"].index(call)}
        if part.id:
            out["id"] = part.id
        if function is not None and function.name:
            call["name"] += function.name
            out["name"] = call["name"]
        arguments = (function.arguments if function is not None else None) or ""
        call["arguments"] += arguments
        out["arguments"] = arguments
        self._pending_calls.append(out)

    def _flush(self) -> None:
        """Send the text and arguments gathered since the last delta, as one message."""
        self._cancel_flush()
        if self._draft is None or not (self._pending_text or self._pending_calls):
            return
        payload: dict[str, Any] = {"kind": "delta", "message_id": self._draft["id"]}
        if self._pending_text:
            payload["text"] = "".join(self._pending_text)
            self._pending_text.clear()
        if self._pending_calls:
            payload["tool_calls"] = list(self._pending_calls)
            self._pending_calls.clear()
        self._copilot._to_front_end(payload)
        now = time.monotonic()
        if now - self._saved_at >= SAVE_INTERVAL:
            self._saved_at = now
            self._draft["content"][0]["text"]["value"] = "".join(self._draft_text)
            self._copilot._save(self._draft)

    def _cancel_flush(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None

    def draft_snapshot(self) -> Message | None:
        """The draft as it stands, for a view that just connected."""
        self._flush()
        if self._draft is None:
            return None
        self._draft["content"][0]["text"]["value"] = "".join(self._draft_text)
        return self._draft

    # -- tool calls ---------------------------------------------------------------------
    async def _call_tools(self, message: Message) -> None:
        for call in message["tool_calls"]:
            await self._call_tool(call)

    def _set_call(self, call: ToolCall, **changes: Any) -> None:
        call.update(changes)  # type: ignore[typeddict-item]
        self._copilot._show_draft(self._draft)

    async def _call_tool(self, call: ToolCall) -> None:
        copilot = self._copilot
        if call["name"] == buttons.TOOL_NAME and copilot.action_buttons:
            self._offer_buttons(call)
            return
        action = copilot._actions.get(call["name"])
        clicked = self._clicked is not None
        if action is None or not (action.offered or (clicked and action.available != "disabled")):
            offered = ", ".join(a.name for a in copilot._actions.values() if a.offered)
            self._fail_call(
                call,
                f"Unknown action {call['name']!r}. Available actions: {offered or 'none'}.",
                "unknown_action",
            )
            return
        try:
            raw = json.loads(call["arguments"] or "{}")
        except json.JSONDecodeError as exc:
            self._fail_call(
                call,
                f"The arguments are not valid JSON ({exc}). Send a JSON object.",
                "invalid_arguments",
            )
            return
        if not isinstance(raw, dict):
            self._fail_call(call, "The arguments must be a JSON object.", "invalid_arguments")
            return
        try:
            arguments = action.schema.validate(raw)
        except pydantic.ValidationError as exc:
            self._fail_call(call, f"Invalid arguments: {problems(exc)}", "invalid_arguments")
            return
        if action.confirm and not clicked:  # a click by the user is their approval
            approved = await self._ask_approval(call, action, arguments)
            if approved is None:
                return
            arguments = approved
        self._set_call(call, status="running")
        try:
            value = await self._invoke(action, (), arguments)
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            self._fail_call(
                call, f"The action timed out after {action.timeout:g} s.", "timeout", action
            )
            return
        except Exception as exc:
            logger.warning("Action %r failed", action.name, exc_info=True)
            self._fail_call(call, str(exc) or type(exc).__name__, type(exc).__name__, action)
            return
        self._set_call(call, status="completed", result=to_json(value))
        await self._call_paired(action, call, value)

    def _offer_buttons(self, call: ToolCall) -> None:
        assert self._draft is not None
        try:
            raw = json.loads(call["arguments"] or "{}")
        except json.JSONDecodeError as exc:
            self._fail_call(call, f"The arguments are not valid JSON ({exc}).", "invalid_arguments")
            return
        shown, refused = buttons.check_buttons(raw, self._copilot._actions)
        self._draft["buttons"].extend(shown)
        self._set_call(
            call,
            status="completed",
            result=to_json({"shown": [b["label"] for b in shown], "refused": refused}),
        )

    async def _ask_approval(
        self, call: ToolCall, action: Action, arguments: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Pause until the user approves (the arguments to run with) or rejects (None). Only
        `Copilot.approve` resolves an approval, and only for a call that is pending here."""
        copilot = self._copilot
        approval = Approval(self, call, action, arguments)
        copilot._approvals[call["id"]] = approval
        self._paused.set()
        self.status = "requires_action"
        self._set_call(call, status="requires_action")
        copilot._set_status("requires_action")
        try:
            verdict, value = await asyncio.wait_for(approval.future, copilot.approval_timeout)
        except TimeoutError:
            verdict, value = "reject", "no decision in time (the approval expired)"
        finally:
            copilot._approvals.pop(call["id"], None)
            self._paused.clear()
            self.status = "in_progress"
            if copilot.status == "requires_action":
                copilot._set_status("working")
        if verdict == "approve":
            return cast(dict[str, Any], value)
        reason = str(value).strip()
        self._set_call(
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
        )
        return None

    async def _invoke(self, action: Action, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run a handler where it belongs: backend sync in a worker thread (the kernel stays
        free), async on the loop, frontend on the loop (where display output is routed)."""
        if action.is_async:
            work: Any = action.handler(*args, **kwargs)
        elif action.kind == "backend":
            work = asyncio.to_thread(action.handler, *args, **kwargs)
        else:
            value = action.handler(*args, **kwargs)
            if not asyncio.iscoroutine(value):
                return value
            work = value
        return await asyncio.wait_for(work, action.timeout)

    async def _call_paired(self, backend: Action, call: ToolCall, value: Any) -> None:
        for action in list(self._copilot._actions.values()):
            if action.paired_action != backend.name or action.available == "disabled":
                continue
            args, kwargs = action.paired_arguments(value)
            try:
                await self._invoke(action, args, kwargs)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("Paired action %r failed", action.name, exc_info=True)
                message = f"The paired action {action.name!r} failed: {exc}"
                self._set_call(call, error=message)
                self._copilot._report_action_error(action.name, call["id"], message)

    def _fail_call(
        self, call: ToolCall, message: str, type: str, action: Action | None = None
    ) -> None:
        self._set_call(
            call,
            status="failed",
            error=message,
            result=to_json({"error": message, "type": type}),
        )
        if action is not None:
            self._copilot._report_action_error(action.name, call["id"], message)

    # -- endings ------------------------------------------------------------------------
    def _end_message(self, message: Message, reason: IncompleteReason | None) -> None:
        if reason is None:
            message["status"] = "completed"
        else:
            message["status"] = "incomplete"
            message["incomplete_details"] = {"reason": reason}
        message["completed_at"] = now()
        self._draft = None
        self.messages.append(message)
        self._copilot._commit(message)

    def _interrupt(self, reason: IncompleteReason) -> None:
        """Keep the partial draft as incomplete; every unfinished call gets a result."""
        message = self._draft
        if message is None:
            return
        self._flush()
        message["content"][0]["text"]["value"] = "".join(self._draft_text)
        finish_interrupted(message, reason)
        self._end_message(message, reason)
