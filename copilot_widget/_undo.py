"""Undo and redo: the app state (`track_state`) captured before and after each run."""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from ._errors import CallbackError, InvalidOptionsError
from ._messages import Message

if TYPE_CHECKING:
    from ._events import Events
    from ._loop import Home
    from ._threads import Threads

logger = logging.getLogger("copilot_widget")
_NOTHING: Any = object()


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """The tracked app state before and after one run that changed it."""

    message_id: str
    before: Any
    after: Any


class UndoTracker:
    """At most one undoable and one redoable run: the last one."""

    def __init__(
        self,
        report: Callable[[CallbackError], None],
        flag: Callable[[str, bool, bool], None],
    ) -> None:
        self._report, self._flag = report, flag
        self._state: tuple[Callable[[], Any], Callable[[Any], Any]] | None = None
        self._before: Any = _NOTHING  # the tracked state when the current run started
        self._undo: Snapshot | None = None
        self._redo: Snapshot | None = None

    def track(self, get: Callable[[], Any], set: Callable[[Any], Any]) -> None:
        if not callable(get) or not callable(set):
            raise InvalidOptionsError("track_state(get=..., set=...) needs two callables.")
        self._state = (get, set)

    def run_started(self) -> None:
        """A new run makes the previous one final."""
        self.forget()
        self._before = self._read()

    def run_ended(self, message_id: str | None) -> None:
        """A run that changed the tracked state can be undone, however it ended (a run
        stopped halfway may have changed it too); one that changed nothing offers no undo."""
        before, self._before = self._before, _NOTHING
        if before is _NOTHING or message_id is None:
            return
        after = self._read()
        if after is not _NOTHING and _changed(before, after):
            self._undo = Snapshot(message_id, before, after)
            self._flag(message_id, True, False)

    def forget(self) -> None:
        for snapshot in (self._undo, self._redo):
            if snapshot is not None:
                self._flag(snapshot.message_id, False, False)
        self._undo = self._redo = None

    def reset(self) -> None:
        """Another thread was opened: snapshots belong to the thread they were made in."""
        self._undo = self._redo = None

    def undo(self) -> None:
        snapshot = self._check(self._undo, "undo")
        self._write(snapshot.before)
        self._undo, self._redo = None, snapshot
        self._flag(snapshot.message_id, False, True)

    def redo(self) -> None:
        snapshot = self._check(self._redo, "redo")
        self._write(snapshot.after)
        self._undo, self._redo = snapshot, None
        self._flag(snapshot.message_id, True, False)

    def _check(self, snapshot: Snapshot | None, verb: str) -> Snapshot:
        if self._state is None:
            raise InvalidOptionsError(f"Nothing to {verb}: call track_state(get=..., set=...).")
        if snapshot is None:
            raise InvalidOptionsError(f"Nothing to {verb}.")
        return snapshot

    def _read(self) -> Any:
        if self._state is None:
            return _NOTHING
        try:
            return copy.deepcopy(self._state[0]())
        except Exception as exc:
            logger.warning("track_state: get() failed", exc_info=True)
            self._report(
                CallbackError(f"Reading the tracked state (track_state get) failed: {exc!r}")
            )
            return _NOTHING

    def _write(self, state: Any) -> None:
        assert self._state is not None
        try:
            self._state[1](copy.deepcopy(state))
        except Exception as exc:
            error = CallbackError(f"Restoring the tracked state (track_state set) failed: {exc!r}")
            self._report(error)
            raise error from exc


def _changed(before: Any, after: Any) -> bool:
    try:
        return bool(before != after)
    except Exception:  # a state that cannot be compared (arrays...): assume it changed
        return True


class UndoAPI:
    """Undo and redo of `Copilot`, and the message flags (`is_undoable`, `is_redoable`)."""

    if TYPE_CHECKING:  # provided by Copilot
        _home: Home
        _undo: UndoTracker
        _threads: Threads
        _events: Events
        messages: list[Message]

        def _check_no_run(self, what: str) -> None: ...

    def track_state(self, get: Callable[[], Any], set: Callable[[Any], Any]) -> None:
        """Make runs undoable: `get()` is read (and deep-copied) before and after each run;
        `undo()` passes the state from before the last run that changed it to `set`, `redo()`
        the state after it."""
        self._undo.track(get, set)

    def undo(self) -> None:
        """Restore the app state from before the last run that changed it."""
        self._home.call(self._restore, "undo")

    def redo(self) -> None:
        """Re-apply the app state that the last undone run had made."""
        self._home.call(self._restore, "redo")

    def _restore(self, verb: str) -> None:
        self._check_no_run(verb)
        (self._undo.undo if verb == "undo" else self._undo.redo)()

    def _flag(self, message_id: str, is_undoable: bool, is_redoable: bool) -> None:
        messages = list(self.messages)
        for i, message in enumerate(messages):
            if message["id"] == message_id:
                flagged = cast(
                    Message, {**message, "is_undoable": is_undoable, "is_redoable": is_redoable}
                )
                messages[i] = flagged
                self._threads.save(flagged)
                self.messages = messages
                self._events.emit(
                    "snapshot.changed",
                    {"message_id": message_id, "is_undoable": is_undoable,
                     "is_redoable": is_redoable},
                )  # fmt: skip
                return
