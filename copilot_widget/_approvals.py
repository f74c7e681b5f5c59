"""Approvals: a tool call of a `confirm=True` action waits for the user's decision."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pydantic

from ._errors import InvalidOptionsError, quote
from ._messages import MAX_REASON_CHARS
from ._options import check_str
from ._schema import ArgumentsError, parse_arguments, problems

if TYPE_CHECKING:
    from ._loop import Home
    from ._run import Run

logger = logging.getLogger("copilot_widget")


class ApprovalAPI:
    """The approvals of `Copilot`: list, approve, reject. Only a call pending in the current
    run and thread can be decided, once."""

    if TYPE_CHECKING:  # provided by Copilot
        _home: Home
        _run: Run | None
        thread: dict[str, Any]
        error: dict[str, Any] | None

        def _settle(self, run: Run) -> Run: ...

    @property
    def pending_approvals(self) -> list[dict[str, Any]]:
        """Tool calls of `confirm=True` actions waiting for the user: `tool_call_id`,
        `run_id`, `thread_id`, `action`, `arguments`."""
        return self._home.call(
            lambda: [a.describe() for a in (self._run.approvals if self._run else {}).values()]
        )

    def approve(self, tool_call_id: str, arguments: dict[str, Any] | None = None) -> None:
        """Let a pending action run, with its arguments or edited ones (validated again)."""
        self._settle(self._home.call(self._decide, "approve", tool_call_id, arguments))

    def reject(self, tool_call_id: str, reason: str = "") -> None:
        """Decline a pending action: the model is told (with the reason) and goes on."""
        check_str("reject(): reason", reason, max_chars=MAX_REASON_CHARS)
        self._settle(self._home.call(self._decide, "reject", tool_call_id, reason))

    def _decide(self, verdict: str, tool_call_id: Any, value: Any) -> Run:
        run = self._run
        pending = run.approvals if run is not None else {}
        approval = pending.get(tool_call_id) if isinstance(tool_call_id, str) else None
        if run is None or approval is None or approval.thread_id != self.thread.get("id"):
            # Unknown, already decided, or another thread's: never acted on.
            logger.warning(
                "Refused to %s tool call %s: no pending approval", verdict, quote(tool_call_id)
            )
            raise InvalidOptionsError(
                f"Cannot {verdict} {quote(tool_call_id)}: it is not a tool call waiting for "
                f"approval in this thread (unknown, already decided, or from another thread)."
            )
        if verdict == "approve":
            edited = value
            value = approval.arguments
            if edited is not None:
                if not isinstance(edited, dict):
                    raise InvalidOptionsError("approve(): arguments must be a dict.")
                try:
                    parse_arguments(json.dumps(edited))  # the bounds the model's calls have
                    value = approval.action.schema.validate(edited)
                except ArgumentsError as exc:
                    raise InvalidOptionsError(
                        f"The edited arguments of {approval.action.name!r} are not valid: {exc}"
                    ) from exc
                except pydantic.ValidationError as exc:
                    raise InvalidOptionsError(
                        f"The edited arguments of {approval.action.name!r} are not valid: "
                        f"{problems(exc)}"
                    ) from exc
            decided = approval.decide("approve", value, edited)
        else:
            decided = approval.decide("reject", value)
        if not decided:
            raise InvalidOptionsError(
                f"Cannot {verdict} {quote(tool_call_id)}: it was decided already."
            )
        run._settled.clear()  # the run goes on: a script waits for its next pause or its end
        self.error = None
        return run
