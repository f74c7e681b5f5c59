"""Approvals in a real browser: a confirm=True action waits for the approval card, runs with
the arguments edited there, or is rejected with a reason the model hears."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .harness import Jupyter, ask, open_and_run

pytestmark = pytest.mark.browser

SETUP = """\
import html

from IPython.display import HTML, display

from copilot_widget import Copilot
from copilot_widget.testing import call, offline_demo_client, text, tool_calls

deleted = []
report = display(HTML("<p id='deleted'>nothing deleted yet</p>"), display_id=True)


def script(request: dict):
    last = request["messages"][-1]
    if last["role"] == "tool":
        return text("The tool said: ", last["content"])
    return tool_calls(call("delete_rows", {"table": "users", "limit": 5}, split=2))
"""

COPILOT = '''\
copilot = Copilot(client=offline_demo_client(script), title="Approvals")


@copilot.action(confirm=True)
def delete_rows(table: str, limit: int) -> str:
    """Delete rows from a table.

    Args:
        table: The table to delete rows from.
        limit: How many rows to delete at most.
    """
    deleted.append((table, limit))
    done = f"deleted {limit} rows from {table}"
    report.update(HTML(f"<p id='deleted'>{html.escape(done)}</p>"))
    return done


copilot
'''

TOOL_CARD = "[data-testid='tool-call'][data-name='delete_rows']"
ANSWERS = "[data-testid='message'][data-role='assistant']"


def wait_for_the_card(page: Page) -> None:
    ask(page, "Clean up the users table")
    card = page.get_by_test_id("approval-card")
    expect(card).to_be_visible(timeout=20_000)
    expect(card).to_contain_text("delete_rows")
    expect(card).to_contain_text("Delete rows from a table.")
    expect(page.locator(TOOL_CARD)).to_have_attribute("data-status", "requires_action")
    expect(page.get_by_test_id("composer-reason")).to_contain_text("waiting for your approval")
    expect(page.get_by_test_id("stop-button")).to_be_visible()


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_approve_edited_arguments_runs_the_action(page: Page, jupyter: Jupyter, app: str) -> None:
    name = jupyter.write_notebook(f"approve-{app}.ipynb", SETUP, COPILOT)
    open_and_run(page, jupyter.lab_url(name) if app == "lab" else jupyter.notebook_url(name))
    wait_for_the_card(page)
    expect(page.locator("#deleted")).to_have_text("nothing deleted yet")
    arguments = page.get_by_test_id("approval-arguments")
    expect(arguments).to_have_value('{\n  "table": "users",\n  "limit": 5\n}')

    arguments.fill('{\n  "table": "users",\n  "limit": 7\n}')
    page.get_by_test_id("approve-button").click()
    expect(page.locator(TOOL_CARD)).to_have_attribute("data-status", "completed", timeout=20_000)
    expect(page.locator("#deleted")).to_have_text("deleted 7 rows from users", timeout=20_000)
    expect(page.get_by_test_id("approval-card")).to_have_count(0)
    expect(page.locator(TOOL_CARD).get_by_test_id("tool-call-decision")).to_have_text(
        "approved by you, with your edits"
    )
    expect(page.locator(ANSWERS).last).to_contain_text("deleted 7 rows from users")
    expect(page.get_by_test_id("send-button")).to_be_visible()
    expect(page.get_by_test_id("composer-reason")).to_be_hidden()


def test_reject_with_a_reason_tells_the_model(page: Page, jupyter: Jupyter) -> None:
    name = jupyter.write_notebook("reject.ipynb", SETUP, COPILOT)
    open_and_run(page, jupyter.lab_url(name))
    wait_for_the_card(page)

    page.get_by_test_id("reject-button").click()
    reason = page.get_by_test_id("reject-reason")
    expect(reason).to_be_focused()
    # Typed into the card, not run as notebook shortcuts ("a", "b", "d d" in command mode).
    cells = page.locator(".jp-Notebook .jp-Cell")
    count = cells.count()
    reason.press_sequentially("not on Fridays, add a backup")
    assert cells.count() == count
    page.get_by_test_id("confirm-reject-button").click()

    expect(page.locator(TOOL_CARD)).to_have_attribute("data-status", "rejected", timeout=20_000)
    expect(page.get_by_test_id("approval-card")).to_have_count(0)
    expect(page.locator(TOOL_CARD).get_by_test_id("tool-call-decision")).to_have_text(
        "rejected: not on Fridays, add a backup"
    )
    answer = page.locator(ANSWERS).last
    expect(answer).to_contain_text("not on Fridays, add a backup", timeout=20_000)
    expect(answer).to_contain_text("declined")
    page.locator(TOOL_CARD).locator("summary").click()
    expect(page.locator(TOOL_CARD).locator(".cw-tool-error")).to_have_text(
        "Rejected: not on Fridays, add a backup"
    )
    expect(page.locator("#deleted")).to_have_text("nothing deleted yet")


def test_a_reloaded_page_shows_the_card_and_approves(page: Page, jupyter: Jupyter) -> None:
    name = jupyter.write_notebook("approve-reload.ipynb", SETUP, COPILOT)
    open_and_run(page, jupyter.lab_url(name))
    wait_for_the_card(page)
    # The card comes back from the draft snapshot Python sends to a page opened later.
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.reload()
    arguments = page.get_by_test_id("approval-arguments")
    expect(arguments).to_be_visible(timeout=60_000)
    expect(arguments).to_have_value('{\n  "table": "users",\n  "limit": 5\n}')
    page.get_by_test_id("approve-button").click()
    # (Display ids do not survive a reload in JupyterLab: only the chat can show the result.)
    expect(page.locator(TOOL_CARD)).to_have_attribute("data-status", "completed", timeout=20_000)
    expect(page.locator(ANSWERS).last).to_contain_text("deleted 5 rows from users")
