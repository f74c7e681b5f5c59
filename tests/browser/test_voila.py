"""A notebook app served with Voilà, as its end user sees it: the chat renders, streams, runs an
action and its paired action (which updates the app), and asks before a confirm=True action."""

from __future__ import annotations

import pathlib

import nbformat
import pytest
from playwright.sync_api import Page, expect

from .harness import ask
from servers import voila_server

pytestmark = pytest.mark.browser

APP = '''\
from IPython.display import HTML, display

from copilot_widget import Copilot
from copilot_widget.testing import call, offline_demo_client, text, tool_calls


def script(request: dict):
    last = request["messages"][-1]
    if last["role"] == "tool":
        return text("Done:", " ", last["content"], delay=0.3)
    if "delete" in last["content"]:
        return tool_calls(call("delete_rows", {"table": "users"}))
    return tool_calls(call("fetch_user", {"user_id": "2"}))


copilot = Copilot(client=offline_demo_client(script), title="Voila app")
greeting = copilot.output(HTML("<h1 id='greeting'>hello</h1>"))
display(greeting)


@copilot.action
def fetch_user(user_id: str) -> dict:
    """Fetch a user by id."""
    return {"name": "Ada Lovelace"}


@copilot.action(paired_action="fetch_user", available="frontend")
def show_user(name: str) -> None:
    greeting.update(HTML(f"<h1 id='greeting'>hello {name}</h1>"))


@copilot.action(confirm=True)
def delete_rows(table: str) -> str:
    """Delete rows from a table."""
    return f"deleted rows from {table}"


copilot
'''

ANSWERS = "[data-testid='message'][data-role='assistant']"


def test_an_app_served_with_voila_chats_runs_actions_and_asks(
    page: Page, tmp_path: pathlib.Path
) -> None:
    notebook = tmp_path / "app.ipynb"
    document = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(APP)])
    document.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(document, notebook)
    with voila_server(notebook) as url:
        page.goto(url)
        expect(page.get_by_test_id("copilot-root")).to_be_visible(timeout=60_000)
        expect(page.get_by_test_id("composer-input")).to_be_enabled(timeout=30_000)
        # No notebook around it: only the app's outputs.
        expect(page.locator(".jp-Notebook .jp-InputArea")).to_have_count(0)

        ask(page, "Who is user 2?")
        # The answer streams: the draft shows its first piece before the message is done.
        draft = page.get_by_test_id("draft")
        expect(draft).to_contain_text("Done:", timeout=20_000)
        expect(page.locator(ANSWERS).last).to_contain_text('"name": "Ada Lovelace"', timeout=20_000)
        expect(page.locator("[data-testid='tool-call'][data-name='fetch_user']")).to_have_attribute(
            "data-status", "completed"
        )
        # The paired action updated the app around the chat.
        expect(page.locator("#greeting")).to_have_text("hello Ada Lovelace")

        ask(page, "delete the old rows")
        card = page.get_by_test_id("approval-card")
        expect(card).to_be_visible(timeout=20_000)
        expect(card).to_contain_text("delete_rows")
        page.get_by_test_id("approve-button").click()
        expect(page.locator(ANSWERS).last).to_contain_text(
            "deleted rows from users", timeout=20_000
        )
        decision = page.locator("[data-testid='tool-call'][data-name='delete_rows']")
        expect(decision.get_by_test_id("tool-call-decision")).to_have_text("approved by you")
