"""The shapes canvas in a real browser: approve and reject from the card, Stop during a slow
action, Undo and Redo from the chat."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .harness import Jupyter, ask, open_and_run

pytestmark = pytest.mark.browser

CANVAS = "#canvas"
ANSWERS = "[data-testid='message'][data-role='assistant']"


def add_three_circles(page: Page) -> None:
    ask(page, "Add 3 circles")
    expect(page.locator(CANVAS)).to_have_attribute("data-count", "3", timeout=20_000)
    expect(page.locator(ANSWERS).last).to_contain_text("Done", timeout=20_000)


def open_canvas(page: Page, jupyter: Jupyter, name: str) -> None:
    open_and_run(page, jupyter.lab_url(jupyter.copy_notebook("02_shapes_canvas.ipynb", name)))


def test_approve_and_reject_delete_all_from_the_card(page: Page, jupyter: Jupyter) -> None:
    open_canvas(page, jupyter, "canvas-approve.ipynb")
    add_three_circles(page)
    ask(page, "Delete all shapes")
    card = page.get_by_test_id("approval-card")
    expect(card).to_be_visible(timeout=20_000)
    expect(page.locator(CANVAS)).to_have_attribute("data-count", "3")  # nothing ran yet
    page.get_by_test_id("reject-button").click()
    page.get_by_test_id("reject-reason").fill("keep them")
    page.get_by_test_id("confirm-reject-button").click()
    expect(page.locator(ANSWERS).last).to_contain_text("keep them", timeout=20_000)
    expect(page.locator(CANVAS)).to_have_attribute("data-count", "3")

    ask(page, "Delete all shapes")
    expect(card).to_be_visible(timeout=20_000)
    page.get_by_test_id("approve-button").click()
    expect(page.locator(CANVAS)).to_have_attribute("data-count", "0", timeout=20_000)
    expect(page.locator(ANSWERS).last).to_contain_text("deleted 3 shapes", timeout=20_000)


def test_undo_restores_the_canvas_and_redo_reapplies_it(page: Page, jupyter: Jupyter) -> None:
    open_canvas(page, jupyter, "canvas-undo.ipynb")
    add_three_circles(page)
    page.get_by_test_id("undo-button").click()
    expect(page.locator(CANVAS)).to_have_attribute("data-count", "0", timeout=10_000)
    page.get_by_test_id("redo-button").click()
    expect(page.locator(CANVAS)).to_have_attribute("data-count", "3", timeout=10_000)
    expect(page.get_by_test_id("undo-button")).to_be_visible()


def test_stop_during_a_slow_action(page: Page, jupyter: Jupyter) -> None:
    open_canvas(page, jupyter, "canvas-stop.ipynb")
    add_three_circles(page)
    ask(page, "Tidy up")
    tidy = page.locator("[data-testid='tool-call'][data-name='tidy_up']")
    expect(tidy).to_have_attribute("data-status", "running", timeout=20_000)
    page.get_by_test_id("stop-button").click()
    expect(tidy).to_have_attribute("data-status", "cancelled", timeout=10_000)
    expect(page.get_by_test_id("send-button")).to_be_visible()
    # The conversation goes on after the stop.
    ask(page, "List shapes")
    expect(page.locator(ANSWERS).last).to_contain_text("circle", timeout=20_000)


def test_click_an_action_button_runs_it_without_a_model_turn(page: Page, jupyter: Jupyter) -> None:
    open_canvas(page, jupyter, "canvas-buttons.ipynb")
    ask(page, "Suggest something")
    row = page.locator("[data-testid='action-buttons']:not([hidden])")
    expect(row).to_be_visible(timeout=20_000)
    # The button naming an unknown action was refused before it could be shown.
    expect(row.get_by_test_id("action-button-label")).to_have_text(
        ["Add a big square", "List them"]
    )
    # Each button shows what it does, not only on hover.
    expect(row.get_by_test_id("action-button-runs")).to_have_text(
        ['Runs create_shape(kind="square", x=240, y=120, size=100)', "Sends: List shapes"]
    )
    answers = page.locator(ANSWERS).count()
    row.get_by_test_id("action-button").first.click()
    expect(page.locator(CANVAS)).to_have_attribute("data-count", "1", timeout=10_000)
    created = page.locator("[data-testid='tool-call'][data-name='create_shape']")
    expect(created).to_have_attribute("data-status", "completed")
    expect(page.locator(ANSWERS)).to_have_count(answers + 1)  # the recorded call, no reply
    row.get_by_test_id("action-button").nth(1).click()  # a reply button sends its text
    expect(page.locator(ANSWERS).last).to_contain_text("Done", timeout=20_000)
    # The reply moved the conversation on: the buttons of that answer are stale now.
    expect(row.get_by_test_id("action-button").first).to_be_disabled()
    expect(row).to_have_attribute("data-stale", "true")
