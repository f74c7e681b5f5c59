"""Threads per notebook: in one JupyterLab and one store, a second notebook's chat opens empty,
not the first notebook's thread; notebooks that pass the same `app_id` share their threads."""

from __future__ import annotations

import re

import nbformat
import pytest
from playwright.sync_api import Page, expect

from .harness import Jupyter, add_cell_and_run, ask, run_all

pytestmark = pytest.mark.browser

ANSWERS = "[data-testid='message'][data-role='assistant']"


def quickstart(jupyter: Jupyter, name: str, app_id: str | None = None) -> str:
    """A copy of the quickstart notebook; with `app_id`, its copilot passes that scope."""
    jupyter.copy_notebook("01_quickstart.ipynb", name)
    if app_id is not None:
        path = jupyter.root / name
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            cell.source = cell.source.replace(
                'title="User lookup",', f'title="User lookup", app_id={app_id!r},'
            )
        assert any(f"app_id={app_id!r}" in cell.source for cell in notebook.cells)
        nbformat.write(notebook, path)
    return name


def app_id(page: Page) -> str:
    cell = add_cell_and_run(page, "print('APP_ID', copilot.app_id)")
    output = cell.locator(".jp-OutputArea-output")
    expect(output).to_contain_text("APP_ID", timeout=20_000)
    match = re.search(r"APP_ID (.*)", output.inner_text())
    assert match is not None
    return match.group(1).strip()


def test_each_notebook_opens_its_own_conversation(page: Page, jupyter: Jupyter) -> None:
    first = quickstart(jupyter, "scope-first.ipynb")
    page.goto(jupyter.lab_url(first))
    run_all(page)
    ask(page, "Who is user 2?")
    expect(page.locator(ANSWERS).last).to_contain_text("Ada Lovelace", timeout=20_000)
    # The scope is the notebook: Jupyter Server gives its kernel the notebook's absolute path.
    assert app_id(page) == str(jupyter.root / first)

    second = quickstart(jupyter, "scope-second.ipynb")
    page.goto(jupyter.lab_url(second))
    run_all(page)
    expect(page.get_by_test_id("message")).to_have_count(0)
    expect(page.get_by_test_id("thread-picker").locator("option")).to_have_count(1)
    page.get_by_test_id("thread-history-button").click()
    expect(page.get_by_test_id("thread-item")).to_have_count(1)
    expect(page.get_by_test_id("thread-history")).not_to_contain_text("Ada")
    assert app_id(page) == str(jupyter.root / second)

    # The first notebook, reopened, still has its conversation.
    page.goto(jupyter.lab_url(first))
    run_all(page)
    expect(page.locator(ANSWERS).last).to_contain_text("Ada Lovelace", timeout=20_000)


def test_notebooks_with_the_same_app_id_share_their_threads(page: Page, jupyter: Jupyter) -> None:
    first = quickstart(jupyter, "shared-first.ipynb", app_id="shared")
    page.goto(jupyter.lab_url(first))
    run_all(page)
    ask(page, "Who is user 3?")
    expect(page.locator(ANSWERS).last).to_contain_text("Grace Hopper", timeout=20_000)
    expect(page.get_by_test_id("send-button")).to_be_visible()
    title = page.get_by_test_id("thread-picker").input_value()

    second = quickstart(jupyter, "shared-second.ipynb", app_id="shared")
    page.goto(jupyter.lab_url(second))
    run_all(page)
    expect(page.locator(ANSWERS).last).to_contain_text("Grace Hopper", timeout=20_000)
    assert page.get_by_test_id("thread-picker").input_value() == title
    assert app_id(page) == "shared"
