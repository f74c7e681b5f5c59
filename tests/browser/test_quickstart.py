"""The quickstart in a real browser: JupyterLab 4 and Notebook 7, offline scripted model."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .harness import RESULTS, Jupyter, ask, open_and_run

pytestmark = pytest.mark.browser


def chat_turn_with_paired_action(page: Page) -> None:
    expect(page.get_by_test_id("offline-badge")).to_be_visible()
    expect(page.get_by_test_id("model-name")).to_have_text("gpt-5-mini")  # the default model
    ask(page, "Who is user 2?")
    card = page.locator("[data-testid='tool-call'][data-name='fetch_user']")
    expect(card).to_have_attribute("data-status", "completed", timeout=20_000)
    answer = page.locator("[data-testid='message'][data-role='assistant']").last
    expect(answer).to_contain_text("Ada Lovelace", timeout=20_000)
    expect(answer.locator("strong")).to_have_text("Ada Lovelace")  # markdown rendered
    # The paired frontend action updated the greeting in the notebook.
    expect(page.locator("#greeting")).to_have_text("hello Ada Lovelace")
    expect(page.get_by_test_id("composer-input")).to_have_value("")


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_prompt_streams_calls_the_tool_and_updates_the_notebook(
    page: Page, jupyter: Jupyter, app: str
) -> None:
    name = jupyter.copy_notebook("01_quickstart.ipynb", f"quickstart-{app}.ipynb")
    open_and_run(page, jupyter.lab_url(name) if app == "lab" else jupyter.notebook_url(name))
    chat_turn_with_paired_action(page)


def test_stop_during_a_slow_stream_then_continue(page: Page, jupyter: Jupyter) -> None:
    name = jupyter.copy_notebook("01_quickstart.ipynb", "quickstart-stop.ipynb")
    open_and_run(page, jupyter.lab_url(name))
    ask(page, "Write a long poem about data")
    draft = page.get_by_test_id("draft")
    expect(draft).to_contain_text("data flows through", timeout=20_000)  # text streams in
    first = draft.inner_text()
    expect(draft).not_to_have_text(first, timeout=5_000)  # ...and keeps streaming
    page.get_by_test_id("stop-button").click()
    stopped = page.locator("[data-testid='message'][data-status='incomplete']")
    expect(stopped).to_have_count(1, timeout=10_000)
    expect(stopped).to_contain_text("Stopped")
    expect(page.get_by_test_id("send-button")).to_be_visible()
    partial = stopped.inner_text()
    assert len(partial) < len("data flows through notebooks bright " * 400)
    # The conversation goes on after a stop.
    chat_turn_with_paired_action(page)


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_enter_during_a_run_keeps_the_text_and_escape_stops_the_run(
    page: Page, jupyter: Jupyter, app: str
) -> None:
    name = jupyter.copy_notebook("01_quickstart.ipynb", f"quickstart-escape-{app}.ipynb")
    open_and_run(page, jupyter.lab_url(name) if app == "lab" else jupyter.notebook_url(name))
    ask(page, "Write a long poem about data")
    expect(page.get_by_test_id("draft")).to_contain_text("data flows through", timeout=20_000)
    composer = page.get_by_test_id("composer-input")
    composer.fill("Who is user 2?")
    composer.press("Enter")  # a run is going on: kept, and the composer says why
    expect(composer).to_have_value("Who is user 2?")
    expect(page.get_by_test_id("composer-reason")).to_contain_text("Not sent yet")
    composer.press("Escape")
    stopped = page.locator("[data-testid='message'][data-status='incomplete']")
    expect(stopped).to_have_count(1, timeout=10_000)
    expect(page.get_by_test_id("send-button")).to_be_visible()
    expect(page.get_by_test_id("composer-reason")).to_be_hidden()
    composer.press("Enter")  # now it goes
    expect(page.locator("#greeting")).to_have_text("hello Ada Lovelace", timeout=20_000)
    expect(composer).to_have_value("")


def test_keystrokes_in_the_composer_do_not_reach_notebook_shortcuts(
    page: Page, jupyter: Jupyter
) -> None:
    name = jupyter.copy_notebook("01_quickstart.ipynb", "quickstart-keys.ipynb")
    open_and_run(page, jupyter.lab_url(name))
    cells = page.locator(".jp-Notebook .jp-Cell")
    count = cells.count()
    composer = page.get_by_test_id("composer-input")
    composer.click()
    # In command mode, "a"/"b" insert cells and "d d" deletes one; here they are just text.
    composer.press_sequentially("abdd")
    composer.press("Shift+Enter")
    composer.press_sequentially("x")
    expect(composer).to_have_value("abdd\nx")
    assert cells.count() == count


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshot_in_light_and_dark_theme(page: Page, jupyter: Jupyter, theme: str) -> None:
    name = jupyter.copy_notebook("01_quickstart.ipynb", f"quickstart-{theme}.ipynb")
    open_and_run(page, jupyter.lab_url(name))
    if theme == "dark":
        page.evaluate(
            "() => window.jupyterapp.commands.execute('apputils:change-theme',"
            " {theme: 'JupyterLab Dark'})"
        )
        expect(page.locator("body")).to_have_attribute(
            "data-jp-theme-light", "false", timeout=20_000
        )
    chat_turn_with_paired_action(page)
    root = page.get_by_test_id("copilot-root")
    background = root.evaluate("el => getComputedStyle(el).backgroundColor")
    channels = [int(c) for c in re.findall(r"\d+", background)[:3]]
    # The chat follows the theme: a dark background in the dark theme, light otherwise.
    assert (sum(channels) / 3 < 100) == (theme == "dark"), background
    root.scroll_into_view_if_needed()
    # Into the git-ignored results folder; scripts/screenshots.sh copies them into docs/.
    RESULTS.mkdir(exist_ok=True)
    root.screenshot(path=str(RESULTS / f"screenshot-{theme}.png"))
