"""Buttons in OpenCUI's universal message shape, shown by the notebook (as an OpenCUI-style
backend would), render in the chat and run when clicked; in JupyterLab and served with Voilà."""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import Iterator

import nbformat
import pytest
from playwright.sync_api import Page, expect

from .harness import Jupyter, in_voila, open_and_run

pytestmark = pytest.mark.browser

APP = '''\
import json

from IPython.display import HTML, display

from copilot_widget import Copilot
from copilot_widget.testing import offline_demo_client, text

copilot = Copilot(client=offline_demo_client(lambda request: text("Done.")), action_buttons=True)
shapes = []
canvas = copilot.output(HTML("<p id='shapes'>no shapes</p>"))
display(canvas)


@copilot.action
def create_shape(kind: str, size: int) -> str:
    """Add a shape to the canvas."""
    shapes.append(f"{kind} {size}")
    canvas.update(HTML(f"<p id='shapes'>{', '.join(shapes)}</p>"))
    return f"added a {kind}"


copilot
'''

SHOW = """\
copilot.show_buttons({
    "type": "rich",
    "title": "Next steps",
    "description": "Pick a shape.",
    "insideActions": [
        {"type": "click", "url": "", "display": "Big square", "payload": json.dumps(
            {"action": "create_shape", "arguments": {"kind": "square", "size": 9}})},
        {"display": "Small circle", "clickAction": "custom",
         "targetAction": {"action": "create_shape", "kind": "circle", "size": 1}},
        {"type": "click", "url": "", "display": "Forged",
         "payload": json.dumps({"action": "rm_rf", "arguments": {}})},
    ],
})
"""


@contextlib.contextmanager
def opened(page: Page, app: str, jupyter: Jupyter, tmp_path: pathlib.Path) -> Iterator[None]:
    if app == "lab":
        name = jupyter.write_notebook(f"opencui-{tmp_path.name}.ipynb", APP, SHOW)
        open_and_run(page, jupyter.lab_url(name), new_thread=False)
        yield
        return
    notebook = tmp_path / "opencui-app.ipynb"
    document = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(APP), nbformat.v4.new_code_cell(SHOW)]
    )
    document.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(document, notebook)
    with in_voila(page, notebook):
        yield


@pytest.mark.parametrize("app", ["lab", "voila"])
def test_an_opencui_button_renders_and_runs(
    page: Page, app: str, jupyter: Jupyter, tmp_path: pathlib.Path
) -> None:
    with opened(page, app, jupyter, tmp_path):
        answer = page.locator("[data-testid='message'][data-role='assistant']").last
        expect(answer).to_contain_text("Pick a shape.", timeout=30_000)
        labels = answer.get_by_test_id("action-button-label")
        # Both OpenCUI shapes render; the forged button (an action that does not exist) does not.
        expect(labels).to_have_text(["Big square", "Small circle"])
        answer.get_by_test_id("action-button").nth(1).click()
        expect(page.locator("#shapes")).to_have_text("circle 1", timeout=30_000)
        call = page.locator("[data-testid='tool-call'][data-name='create_shape']")
        expect(call).to_have_attribute("data-status", "completed")
