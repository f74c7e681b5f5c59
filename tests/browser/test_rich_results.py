"""Rich results in a real browser: an action's DataFrame is a table, its figure an image, its
widget a live widget wired to the kernel (also after a page reload); markup hidden in a
result runs nothing; an action's `render=` shows its progress, then its result."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Dialog, Locator, Page, expect

from .harness import Jupyter, add_cell_and_run, ask, open_and_run, run_all

pytestmark = pytest.mark.browser

SETUP = """\
import asyncio

import ipywidgets
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from copilot_widget import Copilot
from copilot_widget.testing import call, offline_demo_client, text, tool_calls

slider = ipywidgets.IntSlider(value=3, min=0, max=10, description="level")
moves = []
slider.observe(lambda change: moves.append(change["new"]), names="value")
release = asyncio.Event()

XSS = "<img src=x onerror=\\"window.pwned='cell'\\"><script>window.pwned='cell-script'</script>"


class Hostile:
    def _repr_html_(self):
        return (
            "<p>hostile markup</p><img src=x onerror=\\"window.pwned='repr'\\">"
            "<script>window.pwned='repr-script'</script><svg onload=alert('svg')></svg>"
            "<img src=x onerror=alert('repr')>"
            "<a href=\\"javascript:window.pwned='link'\\">link</a>"
        )


TOOLS = {
    "table": "show_table",
    "chart": "show_chart",
    "slider": "show_slider",
    "hostile": "show_hostile",
    "report": "build_report",
}


def script(request: dict):
    last = request["messages"][-1]
    if last["role"] == "tool":
        return text("Here it is.")
    content = last["content"]
    if isinstance(content, list):
        content = " ".join(part.get("text", "") for part in content)
    return tool_calls(call(TOOLS[content.strip()], {}))
"""

COPILOT = '''\
copilot = Copilot(client=offline_demo_client(script), title="Results")


@copilot.action
def show_table() -> pd.DataFrame:
    """Show the sales table."""
    return pd.DataFrame(
        {"region": ["North", "South", XSS], "sales": [120, 95, 7]},
        index=["a", "b", "c"],
    )


@copilot.action
def show_chart():
    """Plot the sales."""
    figure, axes = plt.subplots(figsize=(4, 3))
    axes.bar(["North", "South"], [120, 95])
    plt.close(figure)
    return figure


@copilot.action
def show_slider():
    """Show the level slider."""
    return slider


@copilot.action
def show_hostile():
    """Show something hostile."""
    return Hostile()


def progress(arguments, result, status):
    if status == "completed":
        return f"**Report ready:** {result}"
    return "working…"


@copilot.action(render=progress)
async def build_report() -> str:
    """Build the report."""
    await asyncio.wait_for(release.wait(), 60)
    return "42 rows"


copilot
'''

ANSWERS = "[data-testid='message'][data-role='assistant']"


def card(page: Page, name: str) -> Locator:
    return page.locator(f"[data-testid='tool-call'][data-name='{name}']").last


def display(page: Page, name: str) -> Locator:
    """What the last call of `name` shows, right under its card."""
    return card(page, name).locator("xpath=following-sibling::*[@data-testid='tool-display'][1]")


def ask_and_wait(page: Page, prompt: str, tool: str) -> None:
    count = page.locator(ANSWERS).count()
    ask(page, prompt)
    # One message holds the call, the next the answer.
    expect(page.locator(ANSWERS)).to_have_count(count + 2, timeout=30_000)
    expect(page.locator(ANSWERS).last).to_contain_text("Here it is.")
    expect(card(page, tool)).to_have_attribute("data-status", "completed")


def install_pwned_watch(page: Page) -> list[str]:
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return dialogs


def expect_not_pwned(page: Page, dialogs: list[str]) -> None:
    page.wait_for_timeout(300)  # an image error handler would have fired by now
    assert page.evaluate("() => window.pwned") is None
    assert dialogs == []


def kernel_value(page: Page, expression: str) -> str:
    """What `print(expression)` prints in a new cell."""
    cell = add_cell_and_run(page, f"print('VALUE', {expression})")
    output = cell.locator(".jp-OutputArea-output")
    expect(output).to_contain_text("VALUE", timeout=20_000)
    match = re.search(r"VALUE (.*)", output.inner_text())
    assert match is not None
    return match.group(1).strip()


def expect_live_slider(page: Page) -> None:
    """The slider of the last show_slider call is a live ipywidgets slider."""
    shown = display(page, "show_slider")
    expect(shown).to_have_attribute("data-mime", "application/vnd.jupyter.widget-view+json")
    live = shown.get_by_test_id("live-widget")
    expect(live.locator(".widget-slider")).to_be_visible(timeout=20_000)
    expect(live.locator(".widget-readout")).to_have_text("3")
    expect(shown.get_by_test_id("display-note")).to_be_hidden()


def move_slider(page: Page, steps: int) -> None:
    handle = display(page, "show_slider").locator(".noUi-handle").first
    handle.focus()
    for _ in range(steps):
        handle.press("ArrowRight")


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_a_table_a_figure_and_hostile_markup(page: Page, jupyter: Jupyter, app: str) -> None:
    name = jupyter.write_notebook(f"rich-results-{app}.ipynb", SETUP, COPILOT)
    dialogs = install_pwned_watch(page)
    open_and_run(page, jupyter.lab_url(name) if app == "lab" else jupyter.notebook_url(name))

    ask_and_wait(page, "table", "show_table")
    table = display(page, "show_table")
    expect(table).to_be_visible()  # without opening the card
    expect(table).to_have_attribute("data-mime", "text/html")
    expect(table.locator("table")).to_have_count(1)
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table.locator("tbody td").first).to_have_text("North")
    expect(table.locator("thead th").filter(has_text="sales")).to_have_count(1)
    # The cell's markup is text: pandas escapes it, and nothing in it ran.
    expect(table.locator("tbody")).to_contain_text("<img src=x")
    expect(table.locator("img, script")).to_have_count(0)
    # The raw result is still in the card.
    card(page, "show_table").locator("summary").click()
    expect(card(page, "show_table").locator(".cw-tool-result")).to_be_visible()

    ask_and_wait(page, "chart", "show_chart")
    figure = display(page, "show_chart").locator("img")
    expect(figure).to_have_count(1)
    expect(figure).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=figure.element_handle(), timeout=10_000
    )

    ask_and_wait(page, "hostile", "show_hostile")
    hostile = display(page, "show_hostile")
    expect(hostile).to_contain_text("hostile markup")
    expect(hostile.locator("script")).to_have_count(0)
    expect(hostile.locator("[onerror]")).to_have_count(0)
    hostile.get_by_text("link").click()
    expect_not_pwned(page, dialogs)


def test_render_shows_progress_then_the_result(page: Page, jupyter: Jupyter) -> None:
    name = jupyter.write_notebook("rich-render.ipynb", SETUP, COPILOT)
    open_and_run(page, jupyter.lab_url(name))
    ask(page, "report")
    progress = display(page, "build_report")
    expect(progress).to_have_text("working…", timeout=30_000)
    expect(card(page, "build_report")).to_have_attribute("data-status", "running")
    add_cell_and_run(page, "release.set()")
    expect(page.locator(ANSWERS).last).to_contain_text("Here it is.", timeout=30_000)
    final = display(page, "build_report")
    expect(final).to_contain_text("Report ready: 42 rows")
    expect(final.locator("strong")).to_have_text("Report ready:")
    expect(card(page, "build_report")).to_have_attribute("data-status", "completed")


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_a_live_widget_drives_the_kernel(page: Page, jupyter: Jupyter, app: str) -> None:
    name = jupyter.write_notebook(f"rich-widget-{app}.ipynb", SETUP, COPILOT)
    open_and_run(page, jupyter.lab_url(name) if app == "lab" else jupyter.notebook_url(name))
    ask_and_wait(page, "slider", "show_slider")
    expect_live_slider(page)
    move_slider(page, 2)
    expect(display(page, "show_slider").locator(".widget-readout")).to_have_text("5")
    assert kernel_value(page, "slider.value") == "5"

    # A reload while the kernel lives: the page's manager fetches the models again, and the
    # slider in the chat is live again.
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.reload()
    expect(page.get_by_test_id("copilot-root")).to_be_visible(timeout=60_000)
    shown = display(page, "show_slider")
    expect(shown.get_by_test_id("live-widget").locator(".widget-readout")).to_have_text(
        "5", timeout=30_000
    )
    move_slider(page, 1)
    expect(shown.locator(".widget-readout")).to_have_text("6")
    assert kernel_value(page, "slider.value") == "6"
    assert kernel_value(page, "moves") == "[4, 5, 6]"


def test_rich_results_come_back_after_a_kernel_restart(page: Page, jupyter: Jupyter) -> None:
    name = jupyter.write_notebook("rich-restart.ipynb", SETUP, COPILOT)
    open_and_run(page, jupyter.lab_url(name))
    for prompt, tool in (
        ("table", "show_table"),
        ("chart", "show_chart"),
        ("slider", "show_slider"),
    ):
        ask_and_wait(page, prompt, tool)
    expect_live_slider(page)

    page.evaluate(
        "async () => {"
        " const panel = window.jupyterapp.shell.currentWidget;"
        " await panel.sessionContext.session.kernel.restart(); }"
    )
    run_all(page)
    # The new kernel's copilot reopened the thread from the store, with what each call showed.
    expect(display(page, "show_table").locator("tbody tr")).to_have_count(3, timeout=30_000)
    expect(display(page, "show_table").locator("tbody td").first).to_have_text("North")
    figure = display(page, "show_chart").locator("img")
    expect(figure).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=figure.element_handle()
    )
    # The slider ended with its kernel: its static form, and a note that says so.
    slider = display(page, "show_slider")
    expect(slider).to_have_attribute("data-mime", "text/plain")
    expect(slider).to_contain_text("IntSlider")
    expect(slider.get_by_test_id("display-note")).to_have_text(
        "A live widget: it ended with its kernel."
    )
