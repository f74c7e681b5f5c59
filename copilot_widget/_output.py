"""Outputs the copilot owns: an output area in the notebook that actions update.

`display(..., display_id=True)` handles are not re-bound after a page reload, so an action that
updates one silently stops changing what the user sees. A `CopilotOutput` is a widget: the
host renders its content exactly as a cell output (through an `ipywidgets.Output`), and every
view, including one opened after a reload, shows the latest update. Each update made while a
tool call runs is recorded on that call, and the output shows which call changed it last.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any

import anywidget
import ipywidgets
import traitlets

from ._messages import new_id


@dataclass
class CallInProgress:
    """The tool call whose handler is running: outputs it updates are recorded on it."""

    id: str
    name: str
    outputs: list[str] = field(default_factory=list)


#: Set around each action handler (and paired action) by the tool pipeline.
current_call: contextvars.ContextVar[CallInProgress | None] = contextvars.ContextVar(
    "copilot_widget_current_call", default=None
)

# The mark above the content: which call changed it, with a link to that call in the chat,
# and a flash when the chat's tool card asks to be shown the output. Page events connect the
# two views, which are separate widgets (and may be in different cells).
_MARK_ESM = """
export default {
  render({ model, el }) {
    const mark = document.createElement("div");
    mark.className = "cw-output-mark";
    mark.dataset.testid = "output-mark";
    const show = () => {
      const by = model.get("changed_by");
      mark.hidden = !by;
      if (!by) return;
      const link = document.createElement("button");
      link.type = "button";
      link.className = "cw-output-link";
      link.dataset.testid = "output-call-link";
      link.textContent = by.name;
      link.title = "Show this call in the chat";
      link.addEventListener("click", () => {
        window.dispatchEvent(new CustomEvent("copilot-widget:show-call", {
          detail: { tool_call_id: by.tool_call_id },
        }));
      });
      mark.replaceChildren("Changed by the copilot: ", link);
    };
    const reveal = (event) => {
      if (event.detail?.output_id !== model.get("output_id")) return;
      const box = el.closest(".widget-vbox") ?? el;
      box.scrollIntoView({ block: "center", behavior: "smooth" });
      box.classList.remove("cw-output-flash");
      void box.offsetWidth;  // restart the animation
      box.classList.add("cw-output-flash");
    };
    el.dataset.outputId = model.get("output_id");
    model.on("change:changed_by", show);
    window.addEventListener("copilot-widget:show-output", reveal);
    show();
    el.append(mark);
    return () => window.removeEventListener("copilot-widget:show-output", reveal);
  },
};
"""

_MARK_CSS = """
.cw-output-mark { font: 12px/1.4 var(--jp-ui-font-family, sans-serif);
  color: var(--jp-ui-font-color2, #666); margin: 2px 0; }
.cw-output-link { font: inherit; color: var(--jp-content-link-color, #1a73e8); background: none;
  border: 0; padding: 0; cursor: pointer; text-decoration: underline; }
@keyframes cw-output-flash { from { box-shadow: 0 0 0 3px var(--jp-brand-color1, #1a73e8); }
  to { box-shadow: 0 0 0 3px transparent; } }
.cw-output-flash { animation: cw-output-flash 1.6s ease-out; border-radius: 4px; }
"""


class _OutputMark(anywidget.AnyWidget):
    _esm = _MARK_ESM
    _css = _MARK_CSS
    output_id = traitlets.Unicode().tag(sync=True)
    #: {"tool_call_id", "name"} of the call that changed the output last; None: not the copilot.
    changed_by = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)


class CopilotOutput(ipywidgets.VBox):  # type: ignore[misc]
    """An output area in the notebook that the copilot's actions update with `update(obj)`:
    any object a cell can display, widgets included. Display it once; it keeps updating after
    a page reload. Undo can restore it with the rest of your app's state:
    `copilot.track_state(get=out.state, set=out.restore)`."""

    def __init__(self, initial: Any = None) -> None:
        self._mark = _OutputMark(output_id=new_id("output"))
        self._area = ipywidgets.Output()
        super().__init__([self._mark, self._area])
        if initial is not None:
            self.update(initial)

    @property
    def output_id(self) -> str:
        return str(self._mark.output_id)

    def update(self, obj: Any) -> None:
        """Show `obj` instead of what was shown. From an action, the update is recorded on
        its tool call, and the output links to that call."""
        data, metadata = _format(obj)
        call = current_call.get()
        changed_by = None if call is None else {"tool_call_id": call.id, "name": call.name}
        self._show(
            ({"output_type": "display_data", "data": data, "metadata": metadata},), changed_by
        )
        if call is not None and self.output_id not in call.outputs:
            call.outputs.append(self.output_id)

    def state(self) -> dict[str, Any]:
        """What is shown, as plain data (a widget in it is referred to, not copied)."""
        return {"outputs": list(self._area.outputs), "changed_by": self._mark.changed_by}

    def restore(self, state: dict[str, Any]) -> None:
        """Show again what `state()` returned."""
        self._show(tuple(state["outputs"]), state["changed_by"])

    def _show(self, outputs: tuple[dict[str, Any], ...], changed_by: dict[str, str] | None) -> None:
        # Setting `outputs` (not `with area: display(...)`) works from any thread, with or
        # without a cell running.
        self._area.outputs = outputs
        self._mark.set_trait("changed_by", changed_by)


def _format(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The mime bundle a cell would show for `obj`, with the running shell's formatters (so
    `%matplotlib inline` figures and registered types work), or IPython's defaults."""
    from IPython import get_ipython
    from IPython.core.formatters import DisplayFormatter

    shell = get_ipython()
    formatter = shell.display_formatter if shell is not None else DisplayFormatter()
    data, metadata = formatter.format(obj)
    return dict(data), dict(metadata)
