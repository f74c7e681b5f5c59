"""copilotjs events, delivered to Python callbacks registered with `Copilot.on`."""

from __future__ import annotations

import logging
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
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
Callback = Callable[[dict[str, Any]], Any]


class Events:
    """Callbacks by event type. A failing callback is logged and reported through
    `on_callback_error`, and never stops the others or the run that emitted the event."""

    def __init__(self, on_callback_error: Callable[[str, BaseException], None]) -> None:
        self._callbacks: dict[str, list[Callback]] = {t: [] for t in EVENT_TYPES}
        self._on_callback_error = on_callback_error

    def on(self, type: str, callback: Callback) -> None:
        self._check(type)
        if not callable(callback):
            raise InvalidOptionsError(f"on({type!r}, ...) needs a callable, got {callback!r}.")
        self._callbacks[type].append(callback)

    def off(self, type: str, callback: Callback | None = None) -> None:
        self._check(type)
        if callback is None:
            self._callbacks[type].clear()
        elif callback in self._callbacks[type]:
            self._callbacks[type].remove(callback)

    def emit(self, type: EventType, data: dict[str, Any]) -> None:
        event = {"type": type, "data": data}
        for callback in list(self._callbacks[type]):
            try:
                callback(event)
            except Exception as exc:
                logger.exception("A %r event callback failed", type)
                self._on_callback_error(type, exc)

    @staticmethod
    def _check(type: str) -> None:
        if type not in EVENT_TYPES:
            raise InvalidOptionsError(
                f"Unknown event type {type!r}; expected one of {', '.join(EVENT_TYPES)}."
            )
