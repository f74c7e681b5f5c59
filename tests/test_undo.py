"""Undo and redo of what a run changed, after track_state(get=..., set=...)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from copilot_widget import Copilot, InvalidOptionsError, RunInProgressError
from copilot_widget.testing import call, text, tool_calls


def canvas_copilot(scripted: Any, script: list[Any]) -> tuple[Copilot, dict[str, Any], Any]:
    copilot, server = scripted(script)
    canvas: dict[str, Any] = {"shapes": []}

    @copilot.action
    def create_shape(kind: str) -> int:
        canvas["shapes"].append({"kind": kind})
        return len(canvas["shapes"])

    def restore(state: dict[str, Any]) -> None:
        canvas.clear()
        canvas.update(state)

    copilot.track_state(get=lambda: canvas, set=restore)
    return copilot, canvas, server


def flags(copilot: Copilot) -> list[tuple[bool, bool]]:
    return [(m["is_undoable"], m["is_redoable"]) for m in copilot.messages]


def test_undo_restores_the_state_before_the_last_run_and_redo_reapplies_it(
    scripted: Any,
) -> None:
    copilot, canvas, _ = canvas_copilot(
        scripted, [tool_calls(call("create_shape", {"kind": "circle"})), text("Added.")]
    )
    events: list[dict[str, Any]] = []
    copilot.on("snapshot.changed", lambda e: events.append(e["data"]))
    copilot.send("add a circle")
    assert canvas == {"shapes": [{"kind": "circle"}]}
    assert flags(copilot)[-1] == (True, False) and sum(u for u, _ in flags(copilot)) == 1

    copilot.undo()
    assert canvas == {"shapes": []}
    assert flags(copilot)[-1] == (False, True)
    with pytest.raises(InvalidOptionsError, match="Nothing to undo"):
        copilot.undo()

    copilot._handle_custom_msg({"kind": "redo"}, [])
    assert canvas == {"shapes": [{"kind": "circle"}]}
    assert flags(copilot)[-1] == (True, False)
    assert [(e["is_undoable"], e["is_redoable"]) for e in events] == [
        (True, False),
        (False, True),
        (True, False),
    ]


def test_snapshots_are_copies_not_references(scripted: Any) -> None:
    copilot, canvas, _ = canvas_copilot(
        scripted, [tool_calls(call("create_shape", {"kind": "square"})), text("ok")]
    )
    copilot.send("add")
    canvas["shapes"].append({"kind": "drawn by hand"})  # changed outside the copilot
    copilot.undo()
    assert canvas == {"shapes": []}
    copilot.redo()
    assert canvas == {"shapes": [{"kind": "square"}]}


async def test_undo_is_refused_during_a_run_and_a_new_run_drops_the_old_snapshots(
    scripted: Any,
) -> None:
    copilot, canvas, _ = canvas_copilot(
        scripted,
        [
            tool_calls(call("create_shape", {"kind": "circle"})),
            text("one"),
            text("slow", " answer", delay=0.1),
        ],
    )
    await copilot.send("first")
    run = copilot.send("second")
    with pytest.raises(RunInProgressError, match="Cannot undo while a run is in progress"):
        copilot.undo()
    await run
    # The second run made the first one final, and changed nothing itself: no undo is offered.
    assert flags(copilot).count((True, False)) == 0
    with pytest.raises(InvalidOptionsError, match="Nothing to undo"):
        copilot.undo()
    assert canvas == {"shapes": [{"kind": "circle"}]}


async def test_only_a_run_that_changed_the_state_offers_undo_however_it_ended(
    scripted: Any,
) -> None:
    copilot, canvas, _ = canvas_copilot(
        scripted,
        [
            text("Just an answer."),
            tool_calls(call("wipe", {})),
            text("You said no."),
            tool_calls(call("create_shape", {"kind": "square"}), call("slow", {})),
        ],
    )
    started = threading.Event()  # set on the copilot's own loop, in another thread

    @copilot.action(confirm=True)
    def wipe() -> None:
        canvas["shapes"].clear()

    @copilot.action
    async def slow() -> None:
        started.set()
        await asyncio.sleep(30)

    await copilot.send("a plain question")
    assert flags(copilot) == [(False, False), (False, False)]
    run = copilot.send("wipe it")  # the user rejects: nothing changed
    await run.settled()
    copilot.reject(copilot.pending_approvals[0]["tool_call_id"])
    await run
    assert not any(u for u, _ in flags(copilot))

    # Stopped halfway, after it changed the canvas: undoable like a completed run.
    run = copilot.send("add a square, then take your time")
    assert await asyncio.to_thread(started.wait, 10)
    copilot.cancel()
    await run
    assert run.status == "cancelled" and canvas == {"shapes": [{"kind": "square"}]}
    assert flags(copilot)[-1] == (True, False)
    copilot.undo()
    assert canvas == {"shapes": []}


def test_undo_without_tracked_state_or_history_is_refused(scripted: Any) -> None:
    copilot, _ = scripted([text("hi")])
    with pytest.raises(InvalidOptionsError, match="track_state"):
        copilot.undo()
    copilot.track_state(get=lambda: 1, set=lambda v: None)
    with pytest.raises(InvalidOptionsError, match="Nothing to redo"):
        copilot.redo()
    with pytest.raises(InvalidOptionsError, match="two callables"):
        copilot.track_state(get=1, set=print)  # type: ignore[arg-type]
    copilot._handle_custom_msg({"kind": "undo"}, [])
    assert copilot.error is not None and "Nothing to undo" in copilot.error["message"]
