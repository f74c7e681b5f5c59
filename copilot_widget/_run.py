"""A run: LLM steps with streaming and tool calls, as one asyncio task on the engine's loop.

A run takes what it needs (the client, the actions, the thread's history, its settings) and
emits typed events (`_run_events`); it never touches the widget. Each step streams one
assistant message (the draft); it joins the thread when the step ends and every tool call it
made has a result, so the thread is valid for the next request after any ending: completion,
`max_steps`, cancellation, a provider error or a bug.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

import openai

from ._client import check_stream_response
from ._errors import CopilotError, InternalError, ProviderError, provider_error
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
from ._run_events import (
    DraftChanged,
    DraftCheckpoint,
    DraftDelta,
    MessageCompleted,
    RunEnded,
    RunEvent,
    RunSettings,
    StatusChanged,
)
from ._stream import Chunk, ToolCallDelta, read_chunks
from ._telemetry import RunTrace, assistant_output, capture_content
from ._tools import ToolCalls, UserCall
from ._usage import Totals, totals, usage_of

if TYPE_CHECKING:
    from ._actions import Action
    from ._tools import Approval

logger = logging.getLogger("copilot_widget")

RunStatus = Literal[
    "in_progress", "requires_action", "completed", "cancelled", "failed", "incomplete"
]

#: Seconds between two deltas sent to the front end while tokens stream in.
DELTA_INTERVAL = 0.03
#: Seconds between two saves of the streaming draft (what a killed kernel can lose at most).
SAVE_INTERVAL = 0.5
#: The longest the stream holds the event loop. The chunks already in the read buffer are read
#: without giving the loop a turn (a fast provider's reply arrives in large reads), and in a
#: kernel that loop also runs the user's cells and the chat's requests.
YIELD_INTERVAL = 0.001


def ms(seconds: float) -> int:
    return round(seconds * 1000)


class Run:
    """One run of the copilot: `await run` gives the last assistant message, from any loop."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        settings: RunSettings,
        *,
        thread_id: str,
        actions: Callable[[], Mapping[str, Action]],
        history: Callable[[], list[Message]],
        system_prompt: Callable[[], str],
        emit: Callable[[RunEvent], None],
        user_call: UserCall | None = None,
    ) -> None:
        self.id = new_id("run")
        self.status: RunStatus = "in_progress"
        self.messages: list[Message] = []
        self.error: CopilotError | None = None
        self.thread_id = thread_id
        self._client, self._settings = client, settings
        self._history, self._system_prompt, self._emit = history, system_prompt, emit
        self._user_call = user_call  # an action the user ran: one tool call, no LLM turn first
        self._tools = ToolCalls(
            settings,
            run_id=self.id,
            thread_id=thread_id,
            actions=actions,
            emit=emit,
            paused=self._pause,
        )
        self._task: asyncio.Task[Message | None] | None = None
        self._done: concurrent.futures.Future[Message | None] = concurrent.futures.Future()
        #: Set while the run waits for the user (an approval) and once it has ended.
        self._settled = threading.Event()
        self._draft: Message | None = None
        self._text: list[str] = []
        self._pending_text: list[str] = []
        self._pending_calls: list[dict[str, Any]] = []
        self._flush_handle: asyncio.TimerHandle | None = None
        self._saved_at = 0.0
        self._trace = RunTrace.off()
        #: The last reply's model, id and finish reason, as the provider gave them.
        self._response: tuple[str | None, str | None, str | None] = (None, None, None)

    # -- public -------------------------------------------------------------------------
    @property
    def message(self) -> Message | None:
        """The last assistant message of the run (None before it has one)."""
        return next((m for m in reversed(self.messages) if m["role"] == "assistant"), None)

    @property
    def usage(self) -> Totals:
        """What the run used so far: tokens, cost (with `Copilot(prices=...)`) and time."""
        return totals(self.messages)

    @property
    def approvals(self) -> dict[str, Approval]:
        """Tool calls of this run waiting for the user, by tool call id."""
        return self._tools.approvals

    def done(self) -> bool:
        return self._done.done()

    async def settled(self) -> None:
        """Wait (from any loop) until the run ends or waits for the user."""
        while not self._settled.is_set():  # noqa: ASYNC110 - a thread-safe event, awaited from any loop
            await asyncio.sleep(0.01)

    def cancel(self) -> None:
        """Stop the run: the partial message is kept as incomplete. From any thread (the
        task is cancelled on its own loop)."""
        task = self._task
        if task is not None and not task.done() and not task.get_loop().is_closed():
            task.get_loop().call_soon_threadsafe(task.cancel)

    def __await__(self) -> Generator[Any, None, Message | None]:
        return self._result().__await__()

    async def _result(self) -> Message | None:
        if self._task is not None and asyncio.get_running_loop() is self._task.get_loop():
            return await self._task  # cancelling the awaiter cancels the task
        try:
            return await asyncio.shield(asyncio.wrap_future(self._done))
        except asyncio.CancelledError:  # e.g. a timeout around the await: the run stops too
            self.cancel()
            raise

    def __repr__(self) -> str:
        return f"<Run {self.id} status={self.status!r} messages={len(self.messages)}>"

    # -- the loop -----------------------------------------------------------------------
    def start(self) -> None:
        """Start the run's task; call on the engine's loop."""
        settings = self._settings
        self._trace = RunTrace(
            agent_name=settings.agent_name,
            model=settings.model,
            base_url=settings.base_url,
            thread_id=self.thread_id,
            run_id=self.id,
            content=capture_content(settings.trace_content),
            provider=settings.tracer_provider,
        )
        self._tools.trace = self._trace if self._trace.on else None
        self._task = asyncio.get_running_loop().create_task(self._main())
        self._task.add_done_callback(self._ended)

    async def _main(self) -> Message | None:
        try:
            if self._user_call is not None:
                message = await self._user_step(self._user_call)
                if not self._settings.button_follow_up:
                    return self._finish("completed")
            for _ in range(self._settings.max_steps):
                message = await self._step()
                if not message["tool_calls"]:
                    return self._finish("completed")
            steps = self._settings.max_steps
            self._end_message(
                new_message(
                    "assistant",
                    self.thread_id,
                    self.id,
                    f"I stopped after {steps} steps without a final answer (max_steps={steps}). "
                    "Send a message to let me continue.",
                ),
                "max_steps",
            )
            return self._finish("incomplete")
        except asyncio.CancelledError:
            self._interrupt("run_cancelled")
            return self._finish("cancelled")
        except CopilotError as error:
            return self._fail(error)
        except Exception as exc:
            logger.exception("Run %s failed inside copilot-widget", self.id)
            return self._fail(InternalError(f"copilot-widget failed: {type(exc).__name__}: {exc}"))
        finally:
            self._cancel_flush()

    def _fail(self, error: CopilotError) -> Message | None:
        logger.warning("Run %s failed: %s", self.id, error)
        self.error = error
        self._interrupt("run_failed")
        return self._finish("failed")

    def _finish(self, status: RunStatus) -> Message | None:
        self.status = status
        return self.message

    def _ended(self, task: asyncio.Task[Message | None]) -> None:
        if task.cancelled():  # cancelled before it started: nothing was written
            self.status = "cancelled"
        self._trace.ended(self.status, self.error, totals(self.messages))
        message = self.message
        self._emit(RunEnded(self.id, self.status, message["id"] if message else None, self.error))
        self._done.set_result(message)
        self._settled.set()

    async def _step(self) -> Message:
        # The context and the action list are read fresh before every step.
        tools = self._tools.definitions()  # first: the history's calls are read against them
        request = [
            {"role": "system", "content": self._system_prompt()},
            *history(self._history(), self._tools.vision),
        ]
        window = self._settings.window
        request, left_out, chars = window.fit(request) if window else (request, 0, 0)
        message = self._new_draft()
        if left_out:
            message["left_out"] = left_out
        started = time.monotonic()
        span = self._trace.chat(request)
        try:
            first_token = await self._stream(message, request, tools)
        except CopilotError as error:
            span.fail(error.type, str(error))
            raise
        finally:
            if self._trace.on:
                self._trace.chat_done(
                    span,
                    response_model=self._response[0],
                    response_id=self._response[1],
                    finish_reason=self._response[2],
                    usage=cast(Any, message.get("usage")),
                    output=assistant_output(message),
                )
            span.end()
        usage = message.get("usage")
        if window is not None and usage is not None:
            window.calibrate(chars, usage["input_tokens"])
        await self._tools.run_all(message)
        message["timings"] = {
            "first_token_ms": None if first_token is None else ms(first_token - started),
            "duration_ms": ms(time.monotonic() - started),
        }
        self._end_message(message, None)
        return message

    async def _user_step(self, user: UserCall) -> Message:
        message = self._new_draft()
        message["tool_calls"].append(user.call)
        await self._tools.run_all(message, user)
        self._end_message(message, None)
        return message

    def _new_draft(self) -> Message:
        message = new_message("assistant", self.thread_id, self.id)
        self._draft, self._text = message, []
        self._emit(DraftChanged(message))
        return message

    # -- streaming ----------------------------------------------------------------------
    async def _stream(
        self, message: Message, request: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> float | None:
        """Stream one reply into `message`; returns when its first token came (monotonic)."""
        calls: dict[int | str | None, ToolCall] = {}
        first_token: float | None = None
        self._response = (None, None, None)  # set by the finish chunk (for traces)
        try:
            async with self._client.chat.completions.with_streaming_response.create(
                model=self._settings.model,
                messages=cast(Any, request),
                stream=True,
                # The last chunk then reports the tokens used (the answer's usage footer).
                stream_options={"include_usage": True},
                **cast(Any, {"tools": tools} if tools else {}),
            ) as response:
                check_stream_response(response.http_response, self._settings.base_url)
                turn = time.monotonic()
                async with contextlib.aclosing(read_chunks(response)) as chunks:
                    async for chunk in chunks:
                        if time.monotonic() - turn > YIELD_INTERVAL:
                            await asyncio.sleep(0)  # a turn for the cells and requests waiting
                            turn = time.monotonic()
                        if self._read_chunk(message, calls, chunk) and first_token is None:
                            first_token = time.monotonic()
                        self._schedule_flush()
        except (asyncio.CancelledError, CopilotError):
            raise
        except Exception as exc:
            raise self._provider_error(exc) from exc
        self._flush()
        message["content"][0]["text"]["value"] = "".join(self._text)
        if self._response[2] is None:
            raise ProviderError(
                "The provider's stream ended before the reply was complete.",
                "server_error",
                retryable=True,
            )
        return first_token

    def _provider_error(self, exc: Exception) -> ProviderError:
        return provider_error(exc, secrets=self._settings.secrets, model=self._settings.model)

    def _read_chunk(
        self, message: Message, calls: dict[int | str | None, ToolCall], chunk: Chunk
    ) -> bool:
        """Add a chunk to the draft; whether it carried a token (text or a tool call's part)."""
        report = chunk.get("usage")
        if report:  # servers that ignore stream_options send none
            message["usage"] = usage_of(
                report, self._settings.prices, self._settings.model, chunk.get("model")
            )
        choices = chunk.get("choices")
        if not choices:
            return False
        choice = choices[0]
        delta = choice.get("delta") or {}
        content = delta.get("content")
        if content is not None:
            self._text.append(content)
            self._pending_text.append(content)
        parts = delta.get("tool_calls") or ()
        for part in parts:
            self._add_call_delta(message, calls, part)
        finish_reason = choice.get("finish_reason")
        if finish_reason:
            self._response = (chunk.get("model"), chunk.get("id"), finish_reason)
        return bool(content or parts)

    def _add_call_delta(
        self, message: Message, calls: dict[int | str | None, ToolCall], part: ToolCallDelta
    ) -> None:
        key: int | str | None = part.get("index")
        id = part.get("id")
        if key is None:
            # Servers that leave `index` out: a new id starts a call, a part without one adds to
            # the last call.
            key = id if id else next(reversed(calls), None)
        call = calls.get(key)
        if call is None:
            call = calls[key] = {
                "id": id or new_id("call"),
                "name": "",
                "arguments": "",
                "status": "pending",
                "result": None,
                "error": None,
                "display": None,
                "outputs": [],
            }
            message["tool_calls"].append(call)
        elif id:
            call["id"] = id
        # The front end addresses calls by their position in the message.
        out: dict[str, Any] = {"index": message["tool_calls"].index(call)}
        if id:
            out["id"] = id
        function = part.get("function") or {}
        name = function.get("name")
        if name:
            call["name"] += name
            out["name"] = call["name"]
        arguments = function.get("arguments") or ""
        call["arguments"] += arguments
        out["arguments"] = arguments
        self._pending_calls.append(out)

    def _schedule_flush(self) -> None:
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(DELTA_INTERVAL, self._flush)

    def _flush(self) -> None:
        """Send the text and arguments gathered since the last delta, as one event."""
        self._cancel_flush()
        draft = self._draft
        if draft is None or not (self._pending_text or self._pending_calls):
            return
        self._emit(DraftDelta(draft["id"], "".join(self._pending_text), list(self._pending_calls)))
        self._pending_text.clear()
        self._pending_calls.clear()
        if time.monotonic() - self._saved_at >= SAVE_INTERVAL:
            self._saved_at = time.monotonic()
            draft["content"][0]["text"]["value"] = "".join(self._text)
            self._emit(DraftCheckpoint(draft))

    def _cancel_flush(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None

    def draft_snapshot(self) -> Message | None:
        """The draft as it stands, after the deltas sent so far (for a view that just
        connected); on the engine's loop."""
        self._flush()
        if self._draft is not None:
            self._draft["content"][0]["text"]["value"] = "".join(self._text)
        return self._draft

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
        self._emit(MessageCompleted(message))

    def _interrupt(self, reason: IncompleteReason) -> None:
        """Keep the partial draft as incomplete; every unfinished call gets a result."""
        message = self._draft
        if message is None:
            return
        self._flush()
        message["content"][0]["text"]["value"] = "".join(self._text)
        finish_interrupted(message, reason)
        self._tools.interrupted(message)
        self._end_message(message, reason)

    def _pause(self, paused: bool) -> None:
        """The run waits for the user (an approval), or goes on."""
        self.status = "requires_action" if paused else "in_progress"
        if paused:
            self._settled.set()
        else:
            self._settled.clear()
        self._emit(StatusChanged("requires_action" if paused else "working"))
