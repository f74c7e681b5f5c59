"""notebooks/04_app_navigation.ipynb as its user sees it, in JupyterLab and served with Voilà:
what the app shows is what the model receives, and an action off its page takes the user there
after one approval."""

from __future__ import annotations

import contextlib
import pathlib
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from .harness import ROOT, Jupyter, ask, in_voila, open_and_run

pytestmark = pytest.mark.browser

ANSWERS = "[data-testid='message'][data-role='assistant']"


@contextlib.contextmanager
def opened(page: Page, app: str, jupyter: Jupyter, tmp_path: pathlib.Path) -> Iterator[None]:
    if app == "lab":
        name = jupyter.copy_notebook("04_app_navigation.ipynb", "orders-app.ipynb")
        open_and_run(page, jupyter.lab_url(name))
        yield
        return
    notebook = tmp_path / "orders-app.ipynb"
    shutil.copy(ROOT / "notebooks" / "04_app_navigation.ipynb", notebook)
    with in_voila(page, notebook):
        yield


@pytest.mark.parametrize("app", ["lab", "voila"])
def test_the_copilot_sees_the_page_and_takes_the_user_where_the_action_is(
    page: Page, app: str, jupyter: Jupyter, tmp_path: pathlib.Path
) -> None:
    def button(label: str):  # the app's own buttons (ipywidgets), not the chat's
        return page.locator(".jupyter-button", has_text=label)

    with opened(page, app, jupyter, tmp_path):
        button("Open #3").click()
        expect(page.get_by_text("Order #3: Alan")).to_be_visible()
        # What the copilot sees, on request: the page the user is on.
        page.get_by_test_id("context-button").click()
        seen = page.get_by_test_id("context-text")
        expect(seen).to_contain_text("Pages the user has open")
        expect(seen).to_contain_text('"order_id": 3')
        page.get_by_test_id("context-close").click()
        expect(page.get_by_test_id("context-panel")).to_be_hidden()
        ask(page, "What is wrong with this order?")
        # The model answered from the page it was given: the order on screen.
        expect(page.locator(ANSWERS).last).to_contain_text(
            "Order 3 has no shipping address", timeout=30_000
        )

        button("Back").click()
        expect(button("Open #4")).to_be_visible()
        ask(page, "Set the latest unpaid order to shipped")
        card = page.get_by_test_id("approval-card")
        expect(card).to_be_visible(timeout=30_000)
        # One plan, both steps' arguments on the card; nothing has moved yet.
        expect(card).to_contain_text("set_status")
        expect(card).to_contain_text("order_id")
        expect(button("Open #4")).to_be_visible()
        page.get_by_test_id("approve-button").click()
        expect(page.locator(ANSWERS).last).to_contain_text("order 4 is now shipped", timeout=30_000)
        # The app went to the order's page, which shows the new status.
        expect(page.get_by_text("Order #4: Edsger, 230.00, shipped")).to_be_visible()
        expect(page.get_by_test_id("approval-card")).to_have_count(0)
