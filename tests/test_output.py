"""Outputs the copilot owns: actions update them, each update is recorded on its tool call,
and undo restores them with the rest of the tracked state."""

from __future__ import annotations

from typing import Any

import ipywidgets
from IPython.display import HTML

from copilot_widget import CopilotOutput
from copilot_widget.testing import call, text, tool_calls


def shown(out: CopilotOutput) -> dict[str, Any]:
    (output,) = out._area.outputs
    return dict(output["data"])


def test_an_output_shows_what_a_cell_would_and_says_which_call_changed_it(
    scripted: Any,
) -> None:
    copilot, _ = scripted(
        [tool_calls(call("greet", {"name": "Ada"})), text("Greeted."), text("Nothing to do.")]
    )
    greeting = copilot.output(HTML("<h1>hello</h1>"))
    assert shown(greeting)["text/html"] == "<h1>hello</h1>"
    assert greeting._mark.changed_by is None  # the notebook's own update

    @copilot.action
    def greet(name: str) -> str:  # a sync action: runs in a worker thread
        """Greet someone."""
        greeting.update(HTML(f"<h1>hello {name}</h1>"))
        return "done"

    copilot.send("greet Ada")
    (recorded,) = copilot.messages[1]["tool_calls"]
    assert shown(greeting)["text/html"] == "<h1>hello Ada</h1>"
    assert greeting._mark.changed_by == {"tool_call_id": recorded["id"], "name": "greet"}
    assert recorded["outputs"] == [greeting.output_id]
    copilot.send("and now?")  # a run that touches no output records none
    assert all(not c["outputs"] for c in copilot.messages[-1]["tool_calls"])


def test_a_paired_frontend_action_records_the_output_on_its_backend_call(
    scripted: Any,
) -> None:
    copilot, _ = scripted([tool_calls(call("fetch", {})), text("Shown.")])
    out = CopilotOutput("nothing yet")

    @copilot.action
    async def fetch() -> dict:
        """Fetch a user."""
        return {"name": "Grace"}

    @copilot.action(paired_action="fetch", available="frontend")
    def show(name: str) -> None:
        out.update(f"user: {name}")

    copilot.send("fetch")
    (recorded,) = copilot.messages[1]["tool_calls"]
    assert shown(out)["text/plain"] == "'user: Grace'"
    assert recorded["outputs"] == [out.output_id]


def test_a_widget_in_an_output_is_live_and_undo_restores_the_output(scripted: Any) -> None:
    copilot, _ = scripted([tool_calls(call("chart", {})), text("Here.")])
    out = copilot.output("empty")
    copilot.track_state(get=out.state, set=out.restore)
    slider = ipywidgets.IntSlider(value=3)

    @copilot.action
    def chart() -> str:
        """Show a slider."""
        out.update(slider)
        return "shown"

    copilot.send("show it")
    view = shown(out)["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == slider.model_id
    copilot.undo()
    assert shown(out) == {"text/plain": "'empty'"} and out._mark.changed_by is None
    copilot.redo()
    assert shown(out)["application/vnd.jupyter.widget-view+json"] == view
