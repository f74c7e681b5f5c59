"""marimo in a real browser: `mo.ui.anywidget(copilot).value` follows the conversation, and
the cells that read it re-run as the user chats (as with `mo.ui.chat`)."""

from __future__ import annotations

import pathlib
import textwrap

import pytest
from playwright.sync_api import Page, expect

from copilot_widget.testing import ScriptedServer, text

from .harness import ask
from servers import marimo_server

pytestmark = pytest.mark.browser

NOTEBOOK = """
import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
    import openai

    from copilot_widget import Copilot
    return Copilot, mo, openai


@app.cell
def _(Copilot, openai):
    client = openai.AsyncOpenAI(base_url={base_url!r}, api_key="sk-test", max_retries=0)
    copilot = Copilot(client=client)
    return (copilot,)


@app.cell
def _(copilot, mo):
    chat = mo.ui.anywidget(copilot)
    chat
    return (chat,)


@app.cell
def _(chat, mo):
    mo.md(f"The value holds {{len(chat.value['messages'])}} messages.")
    return
"""


@pytest.mark.parametrize("command", ["run", "edit"])
def test_cells_reading_the_value_rerun_as_the_user_chats(
    page: Page, tmp_path: pathlib.Path, command: str
) -> None:
    with ScriptedServer([text("First answer."), text("Second answer.")]) as server:
        notebook = tmp_path / "chat.py"
        notebook.write_text(textwrap.dedent(NOTEBOOK).format(base_url=server.base_url))
        with marimo_server(command, notebook) as url:
            page.goto(url)
            expect(page.get_by_text("The value holds 0 messages.")).to_be_visible(timeout=60_000)
            expect(page.get_by_test_id("composer-input")).to_be_enabled(timeout=30_000)

            ask(page, "First question")
            expect(page.get_by_text("The value holds 2 messages.")).to_be_visible(timeout=20_000)
            answers = page.locator("[data-testid='message'][data-role='assistant']")
            expect(answers.last).to_contain_text("First answer.")

            ask(page, "Second question")
            expect(page.get_by_text("The value holds 4 messages.")).to_be_visible(timeout=20_000)
            expect(answers.last).to_contain_text("Second answer.")
            expect(page.get_by_test_id("message")).to_have_count(4)
        assert server.remaining == 0
