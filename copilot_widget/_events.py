"""copilotjs events, delivered to Python callbacks registered with `Copilot.on`."""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import traceback
from collections.abc import Callable
from typing import Any, Literal, get_args

from ._errors import InvalidOptionsError

logger = logging.getLogger("copilot_widget")

EventType = Literal[
    "ready",
    "thread.created",
    "message.completed",
    "message.incomplete",
    "error",
    "isReady.changed",
    "snapshot.changed",
    "threads.changed",
    "selectedThreadId.changed",
    "status.changed",
    "messages.changed",
    # Beyond copilotjs: the user rated an answer (an app collects it).
    "message.feedback",
    # Beyond copilotjs: the user moved in the notebook app (OpenCUI's page stack).
    "pages.changed",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
Callback = Callable[[dict[str, Any]], Any]


class Events:
    """Callbacks by event type. A failing callback is logged and reported through
    `on_callback_error`, and never stops the others or the run that emitted the event."""

    def __init__(self, on_callback_error: Callable[[str, BaseException], None]) -> None:
        # Each callback with the output area it prints into (None outside a notebook).
        self._callbacks: dict[str, list[tuple[Callback, Any]]] = {t: [] for t in EVENT_TYPES}
        self._on_callback_error = on_callback_error
        self._cells: dict[str, Any] = {}  # cell (its request id) -> its output area

    def on(self, type: str, callback: Callback) -> None:
        self._check(type)
        if not callable(callback):
            raise InvalidOptionsError(f"on({type!r}, ...) needs a callable, got {callback!r}.")
        self._callbacks[type].append((callback, self._cell_output()))

    def off(self, type: str, callback: Callback | None = None) -> None:
        self._check(type)
        registered = self._callbacks[type]
        registered[:] = [] if callback is None else [(c, o) for c, o in registered if c != callback]

    def emit(self, type: EventType, data: dict[str, Any]) -> None:
        event = {"type": type, "data": data}
        for callback, output in list(self._callbacks[type]):
            out, err = io.StringIO(), io.StringIO()
            try:
                if output is None:
                    callback(event)
                else:
                    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                        callback(event)
            except Exception as exc:
                logger.exception("A %r event callback failed", type)
                err.write(traceback.format_exc())
                self._on_callback_error(type, exc)
            finally:
                if output is not None:
                    if out.getvalue():
                        output.append_stdout(out.getvalue())
                    if err.getvalue():
                        output.append_stderr(err.getvalue())

    def _cell_output(self) -> Any:
        """In a notebook, an output area under the cell that registers callbacks: callbacks
        run when the chat asks, outside any cell, so what they print would go nowhere."""
        if "ipykernel" not in sys.modules:
            return None
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:  # pragma: no cover - ipykernel brings IPython
            return None
        try:
            shell = get_ipython()
            kernel = getattr(shell, "kernel", None)
            if kernel is None:
                return None
            cell = kernel.get_parent()["header"]["msg_id"]
        except Exception:  # not in a cell of a kernel: callbacks print as usual
            return None
        if cell not in self._cells:
            import ipywidgets

            self._cells[cell] = ipywidgets.Output()
            display(self._cells[cell])  # type: ignore[no-untyped-call]
        return self._cells[cell]

    @staticmethod
    def _check(type: str) -> None:
        if type not in EVENT_TYPES:
            raise InvalidOptionsError(
                f"Unknown event type {type!r}; expected one of {', '.join(EVENT_TYPES)}."
            )
