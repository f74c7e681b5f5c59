"""In marimo, `mo.ui.anywidget(copilot).value` follows the conversation.

marimo reads the wrapper's `value` from the widget's traits, but it re-runs the cells that read
it only when the page sends the element a new value. The copilot's page never writes state, and
its messages change in the kernel, so nothing told marimo. Here each change of `messages` asks
the kernel to treat the wrapper as updated, as `mo.ui.chat` does for its own history: the cells
that read `chat.value` re-run (or turn stale in lazy mode), exactly as after a user's input.

The update carries only the model's id (the wrapper's initial value), so marimo hands nothing to
the widget's `set_state`: the kernel stays the authority on the copilot's state.

marimo is not a dependency: nothing here imports it unless a marimo kernel already has.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("copilot_widget")


def follow_in_marimo(widget: Any) -> None:
    """When `widget` is created in a marimo kernel, re-run the cells that read its
    `mo.ui.anywidget` wrapper each time its messages change (from any thread)."""
    if "marimo" not in sys.modules:
        return
    enqueue = _kernel_enqueue()
    if enqueue is None:
        return

    def messages_changed(change: dict[str, Any]) -> None:
        _announce(change["owner"], enqueue)

    widget.observe(messages_changed, names="messages")


def _kernel_enqueue() -> Callable[[Any], None] | None:
    """The running marimo kernel's control queue (thread safe), or None outside a kernel (a
    script run with `python notebook.py`, another notebook that imported marimo)."""
    try:
        from marimo._runtime.context import safe_get_context
        from marimo._runtime.context.kernel_context import KernelRuntimeContext
    except ImportError:  # pragma: no cover - another marimo layout
        logger.debug("This marimo version is not supported: value will not follow")
        return None
    ctx = safe_get_context()
    if not isinstance(ctx, KernelRuntimeContext):
        return None
    enqueue: Callable[[Any], None] = ctx._kernel.enqueue_control_request
    return enqueue


def _announce(widget: Any, enqueue: Callable[[Any], None]) -> None:
    comm: Any = getattr(widget, "comm", None)
    element_id = getattr(comm, "ui_element_id", None)  # set once `mo.ui.anywidget` wraps it
    if not element_id:
        return
    try:
        from marimo._runtime.commands import UpdateUIElementCommand

        enqueue(
            UpdateUIElementCommand(
                object_ids=[element_id], values=[{"model_id": comm.comm_id}], request=None
            )
        )
    except Exception:  # never let marimo's internals break the conversation
        logger.warning("Could not tell marimo that the messages changed", exc_info=True)
