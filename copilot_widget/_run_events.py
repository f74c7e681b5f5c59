"""What a run is given (its settings) and what it tells the world: typed events, turned into
synced state and copilotjs events by the widget (the run never touches the widget)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from ._errors import CopilotError
from ._messages import Message
from ._window import ContextWindow


@dataclasses.dataclass(frozen=True)
class RunSettings:
    model: str
    max_steps: int
    approval_timeout: float | None
    action_buttons: bool
    button_follow_up: bool
    base_url: str
    vision: bool = False
    secrets: tuple[str, ...] = ()
    prices: Mapping[str, Mapping[str, float]] | None = None  # per million tokens, by model
    window: ContextWindow | None = None  # shared by the copilot's runs (its calibration)
    agent_name: str = "Copilot"  # in traces
    trace_content: bool = False  # prompts and results in traces
    tracer_provider: Any = None  # an OpenTelemetry TracerProvider; None: the global one


@dataclasses.dataclass(frozen=True)
class DraftChanged:
    """The message being written started, or one of its tool calls changed state."""

    message: Message


@dataclasses.dataclass(frozen=True)
class DraftDelta:
    """Text and tool-call arguments streamed since the last delta (batched, O(1) each)."""

    message_id: str
    text: str
    tool_calls: list[dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class DraftCheckpoint:
    """The streaming draft as it stands, to save (what a killed kernel may lose at most)."""

    message: Message


@dataclasses.dataclass(frozen=True)
class MessageCompleted:
    """A message joins the thread: completed, or incomplete with a reason."""

    message: Message


@dataclasses.dataclass(frozen=True)
class StatusChanged:
    status: Literal["working", "requires_action"]


@dataclasses.dataclass(frozen=True)
class ActionFailed:
    """An action (or its paired frontend action) failed; the run goes on."""

    action: str
    tool_call_id: str
    message: str


@dataclasses.dataclass(frozen=True)
class CallbackFailed:
    """The user's own code called by the run (an action's `render=`) failed; the run goes on."""

    message: str


@dataclasses.dataclass(frozen=True)
class RunEnded:
    """The run ended with `status`; `message_id` is its last answer; `error` when it failed."""

    run_id: str
    status: str
    message_id: str | None
    error: CopilotError | None


RunEvent = (
    DraftChanged
    | DraftDelta
    | DraftCheckpoint
    | MessageCompleted
    | StatusChanged
    | ActionFailed
    | CallbackFailed
    | RunEnded
)
