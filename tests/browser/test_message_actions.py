"""Message actions in a real browser, in JupyterLab 4 and Notebook 7: copy a message, regenerate
the last answer, edit and resend a question (after confirming that later messages go), and rate
an answer with a comment that the notebook collects; all of it after a page reload too."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .harness import Jupyter, add_cell_and_run, ask, open_and_run

pytestmark = pytest.mark.browser

SETUP = """\
from copilot_widget import Copilot
from copilot_widget.testing import call, offline_demo_client, text, tool_calls

answers = 0
shapes = []
feedback = []


def script(request: dict):
    global answers
    last = request["messages"][-1]
    if last["role"] == "tool":
        return text(f"Added shape {last['content']}.")
    if "shape" in last["content"]:
        return tool_calls(call("add_shape", {}))
    answers += 1
    return text(f"Answer {answers} to: {last['content']}")


copilot = Copilot(client=offline_demo_client(script), title="Message actions")


@copilot.action
def add_shape() -> int:
    shapes.append("square")
    return len(shapes)


copilot.track_state(get=lambda: list(shapes), set=lambda s: shapes.__setitem__(slice(None), s))


def collect(event):
    feedback.append((event["data"]["rating"], event["data"]["comment"]))


copilot.on("message.feedback", collect)
copilot
"""

MESSAGES = "[data-testid='message']"
ANSWERS = f"{MESSAGES}[data-role='assistant']"
QUESTIONS = f"{MESSAGES}[data-role='user']"


def bodies(page: Page) -> list[str]:
    return [t.strip() for t in page.locator(f"{MESSAGES} .cw-message-body").all_inner_texts()]


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_copy_regenerate_edit_and_rate(page: Page, jupyter: Jupyter, app: str) -> None:
    name = jupyter.write_notebook(f"message-actions-{app}.ipynb", SETUP)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_and_run(page, jupyter.lab_url(name) if app == "lab" else jupyter.notebook_url(name))

    ask(page, "What is 2+2?")
    expect(page.locator(ANSWERS).last).to_contain_text("Answer 1 to: What is 2+2?")
    ask(page, "And 3+3?")
    expect(page.locator(ANSWERS).last).to_contain_text("Answer 2 to: And 3+3?")
    # Each answer says what it cost (the server reports usage, as providers do) and took.
    expect(page.locator("[data-testid='usage']:visible")).to_have_count(2)
    usage = page.locator(ANSWERS).last.get_by_test_id("usage")
    expect(usage).to_have_text(re.compile(r"^[\d,]+ in · [\d,]+ out · [\d.]+ s$"))
    # The header shows the thread's totals; a click hides the answers' usage lines.
    totals = page.get_by_test_id("thread-usage")
    expect(totals).to_have_text(re.compile(r"^[\d,]+ tokens$"))
    totals.click()
    expect(usage).to_be_hidden()
    totals.click()
    expect(usage).to_be_visible()

    # Copy puts the message's Markdown on the clipboard.
    last_answer = page.locator(ANSWERS).last
    last_answer.get_by_test_id("copy-message").click()
    expect(last_answer.get_by_test_id("copy-message")).to_have_text("Copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == "Answer 2 to: And 3+3?"

    # Regenerate: only on the last answer; a new answer replaces it.
    regenerate = page.locator("[data-testid='regenerate']:visible")
    expect(regenerate).to_have_count(1)
    regenerate.click()
    expect(page.locator(ANSWERS).last).to_contain_text("Answer 3 to: And 3+3?", timeout=20_000)
    assert bodies(page) == [
        "What is 2+2?",
        "Answer 1 to: What is 2+2?",
        "And 3+3?",
        "Answer 3 to: And 3+3?",
    ]

    # Edit the first question: the chat asks before the three later messages go.
    first = page.locator(QUESTIONS).first
    first.hover()
    first.get_by_test_id("edit-message").click()
    editor = page.get_by_test_id("edit-input")
    expect(editor).to_be_focused()
    expect(editor).to_have_value("What is 2+2?")
    cells = page.locator(".jp-Notebook .jp-Cell").count()
    editor.fill("What is 5+5?")  # typed into the chat, not run as notebook shortcuts
    assert page.locator(".jp-Notebook .jp-Cell").count() == cells
    page.get_by_test_id("edit-send").click()
    expect(page.get_by_test_id("edit-confirmation")).to_have_text(
        "Sending this edit removes the 3 messages after it from the thread."
    )
    assert len(bodies(page)) == 4  # nothing sent yet
    page.get_by_test_id("edit-send").click()
    expect(page.locator(ANSWERS).last).to_contain_text("Answer 4 to: What is 5+5?", timeout=20_000)
    assert bodies(page) == ["What is 5+5?", "Answer 4 to: What is 5+5?"]

    # Rate the answer down with a comment: the notebook's callback collects it.
    answer = page.locator(ANSWERS).last
    answer.get_by_test_id("feedback-down").click()
    expect(answer.get_by_test_id("feedback-down")).to_have_attribute("aria-pressed", "true")
    comment = answer.get_by_test_id("feedback-comment")
    expect(comment).to_be_focused()
    comment.fill("The sum is right but too terse")
    comment.press("Enter")
    expect(comment).to_be_hidden()
    cell = add_cell_and_run(page, "print(feedback)")
    expect(cell.locator(".jp-OutputArea-output")).to_have_text(
        "[('down', ''), ('down', 'The sum is right but too terse')]", timeout=20_000
    )

    # All of it is in the kernel: a reloaded page shows the same thread and the rating.
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.reload()
    answer = page.locator(ANSWERS).last
    expect(answer.get_by_test_id("feedback-down")).to_have_attribute(
        "aria-pressed", "true", timeout=60_000
    )
    assert bodies(page) == ["What is 5+5?", "Answer 4 to: What is 5+5?"]


def test_regenerate_undoes_what_the_old_answer_changed(page: Page, jupyter: Jupyter) -> None:
    name = jupyter.write_notebook("regenerate-undo.ipynb", SETUP)
    open_and_run(page, jupyter.lab_url(name))
    ask(page, "Add a shape")
    expect(page.locator(ANSWERS).last).to_contain_text("Added shape 1.", timeout=20_000)
    old = page.locator(ANSWERS).last.get_attribute("data-message-id")
    page.locator("[data-testid='regenerate']:visible").click()
    # The old answer's square was taken back first: the new answer adds the first one again.
    new_answer = page.locator(f"{ANSWERS}:not([data-message-id='{old}'])").last
    expect(new_answer).to_contain_text("Added shape 1.", timeout=20_000)
    expect(page.locator(f"{ANSWERS}[data-message-id='{old}']")).to_have_count(0)
    expect(page.get_by_test_id("undo-button")).to_be_visible()
    cell = add_cell_and_run(page, "print(shapes)")
    expect(cell.locator(".jp-OutputArea-output")).to_have_text("['square']", timeout=20_000)
    page.get_by_test_id("undo-button").click()
    expect(page.get_by_test_id("redo-button")).to_be_visible(timeout=20_000)
    cell = add_cell_and_run(page, "print(shapes)")
    expect(cell.locator(".jp-OutputArea-output")).to_have_text("[]", timeout=20_000)
