"""Outputs the copilot owns, in a real browser: a paired action keeps updating the quickstart's
greeting after a page reload, the output says which call changed it, and the call and the
output link to each other."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .harness import Jupyter, ask, open_and_run

pytestmark = pytest.mark.browser

ANSWER = "[data-testid='message'][data-role='assistant']"
CARD = "[data-testid='tool-call'][data-name='fetch_user']"


def ask_about(page: Page, user: str, name: str) -> None:
    ask(page, f"Who is user {user}?")
    expect(page.locator(ANSWER).last).to_contain_text(name, timeout=20_000)
    expect(page.locator("#greeting")).to_have_text(f"hello {name}", timeout=20_000)


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_a_paired_action_updates_its_output_after_a_page_reload(
    page: Page, jupyter: Jupyter, app: str
) -> None:
    name = jupyter.copy_notebook("01_quickstart.ipynb", f"outputs-{app}.ipynb")
    url = jupyter.lab_url(name) if app == "lab" else jupyter.notebook_url(name)
    open_and_run(page, url)
    mark = page.get_by_test_id("output-mark")
    expect(mark).to_be_hidden()  # nothing changed by the copilot yet
    ask_about(page, "2", "Ada Lovelace")
    expect(mark).to_have_text("Changed by the copilot: fetch_user")

    # A reload while the kernel lives: the output is a widget, so it is still bound.
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.reload()
    expect(page.locator("#greeting")).to_have_text("hello Ada Lovelace", timeout=60_000)
    expect(page.get_by_test_id("composer-input")).to_be_enabled(timeout=60_000)
    ask_about(page, "3", "Grace Hopper")
    expect(mark).to_have_text("Changed by the copilot: fetch_user")


def test_the_call_and_the_output_it_changed_link_to_each_other(
    page: Page, jupyter: Jupyter
) -> None:
    name = jupyter.copy_notebook("01_quickstart.ipynb", "outputs-links.ipynb")
    open_and_run(page, jupyter.lab_url(name))
    ask_about(page, "2", "Ada Lovelace")
    greeting_box = page.locator(".widget-vbox").filter(has=page.locator("#greeting"))

    # From the tool card to the output: the notebook scrolls to it and it flashes.
    page.get_by_test_id("copilot-root").scroll_into_view_if_needed()
    page.locator(CARD).get_by_test_id("tool-call-output-link").first.click()
    expect(greeting_box).to_be_in_viewport()
    expect(greeting_box).to_have_class(re.compile(r"\bcw-output-flash\b"), timeout=5_000)

    # From the output back to the call: the chat shows its card.
    page.get_by_test_id("output-call-link").click()
    expect(page.locator(CARD)).to_be_in_viewport()
    expect(page.locator(CARD)).to_have_attribute("data-highlighted", "true", timeout=5_000)
