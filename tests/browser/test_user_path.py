"""The README's path through the quickstart, as a user takes it, in JupyterLab 4 and Notebook 7.

Run all cells, click a suggestion, then keep going in the same conversation: type questions,
`await copilot.send(...)` in a new cell, and chat again, several rounds. No "New chat" in
between: the copilot's connections to the model are reused from turn to turn, and with
ipykernel 7 the chat's messages can arrive on a subshell thread with an event loop of its
own, while cells run on the main one. Every answer must complete with no error shown.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from .harness import (
    Jupyter,
    add_cell_and_run,
    ask,
    errors_seen,
    output_texts,
    run_all,
    running_jupyter,
    watch_for_errors,
)

pytestmark = pytest.mark.browser

USERS = {"1": "Darth Doe", "2": "Ada Lovelace", "3": "Grace Hopper"}
# What the quickstart's offline script says to a question that names no user id.
NO_ID_ANSWER = "Ask me about a user by id, for example Who is user 2?"
ROUNDS = 5

MESSAGES = "[data-testid='message']"
QUESTIONS = f"{MESSAGES}[data-role='user']"
STDERR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"


@pytest.fixture
def fresh_jupyter(tmp_path: pathlib.Path) -> Iterator[Jupyter]:
    """A server of its own: a new user's empty thread store, as after installing."""
    with running_jupyter(tmp_path) as server:
        yield server


def expect_no_errors(page: Page) -> None:
    errors = errors_seen(page)
    assert not errors, errors
    expect(page.get_by_test_id("error-banner")).to_be_hidden()
    texts = output_texts(page)
    assert not [t for t in texts if "Traceback" in t or "Error:" in t], texts
    stderr = page.locator(f".jp-Notebook {STDERR}").all_inner_texts()
    assert not stderr, stderr


ANSWERED_OR_FAILED = """([questions, answer]) => {
  if ((window.copilotErrors ?? []).length > 0) return true;
  const messages = [...document.querySelectorAll("[data-testid='message']")];
  const last = messages.at(-1);
  return messages.filter((m) => m.dataset.role === "user").length === questions
    && last?.dataset.role === "assistant" && last.dataset.status !== "in_progress"
    && last.textContent.includes(answer);
}"""


def expect_answer(page: Page, questions: int, answer: str) -> None:
    """The `questions`-th question is in the thread and answered with `answer`; the copilot is
    idle again and nothing went wrong."""
    try:
        page.wait_for_function(ANSWERED_OR_FAILED, arg=[questions, answer], timeout=20_000)
    except PlaywrightTimeoutError:
        pass  # the expectations below say what is missing
    errors = errors_seen(page)
    if errors:
        page.wait_for_timeout(1_000)  # the error banner may follow the failed answer
        errors = errors_seen(page)
    assert not errors, f"question {questions} (expected {answer!r}) failed: {errors}"
    expect(page.locator(QUESTIONS)).to_have_count(questions)
    last = page.locator(MESSAGES).last
    expect(last).to_have_attribute("data-role", "assistant", timeout=20_000)
    expect(last).to_have_attribute("data-status", "completed", timeout=20_000)
    expect(last).to_contain_text(answer, timeout=20_000)
    expect(page.get_by_test_id("send-button")).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("stop-button")).to_be_hidden()
    expect(page.get_by_test_id("composer-input")).to_have_value("")
    expect_no_errors(page)


def ask_about(page: Page, questions: int, user: str) -> None:
    ask(page, f"Who is user {user}?")
    expect_answer(page, questions, USERS[user])
    expect(page.locator("#greeting")).to_have_text(f"hello {USERS[user]}")


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_chat_and_cells_take_turns_in_one_conversation(
    page: Page, fresh_jupyter: Jupyter, app: str
) -> None:
    jupyter = fresh_jupyter
    name = jupyter.copy_notebook("01_quickstart.ipynb", f"user-path-{app}.ipynb")
    page.goto(jupyter.lab_url(name) if app == "lab" else jupyter.notebook_url(name))
    watch_for_errors(page)
    run_all(page)
    expect(page.get_by_test_id("offline-badge")).to_be_visible()
    expect(page.locator(MESSAGES)).to_have_count(0)  # a new user: an empty thread

    # The README's first step: click the suggestion.
    page.get_by_test_id("suggestion").filter(has_text="Who is user 2?").click()
    expect_answer(page, 1, "Ada Lovelace")
    expect(page.locator("#greeting")).to_have_text("hello Ada Lovelace")
    # The conversation has started: the suggestions step aside.
    expect(page.get_by_test_id("suggestion").first).to_be_hidden()
    questions = 1

    for n in range(ROUNDS):
        # Type a question and press Enter, then another one.
        questions += 1
        ask_about(page, questions, "3")
        questions += 1
        ask(page, "Thanks! And who else is there?")  # names no id: the script's hint
        expect_answer(page, questions, NO_ID_ANSWER)

        # Ask from code, in a new cell.
        questions += 1
        cell = add_cell_and_run(
            page,
            'msg = await copilot.send("Who is user 1?")\n'
            'print("status:", msg["status"])\n'
            'print("text:", "".join(part["text"]["value"] for part in msg["content"]))',
        )
        printed = cell.locator(".jp-OutputArea-output").filter(has_text="text:")
        stderr = cell.locator(STDERR)
        expect(printed.or_(stderr).first).to_be_visible(timeout=20_000)
        failed = stderr.all_inner_texts()
        assert not failed, f"question {questions}, from a cell, failed: {failed}"
        expect(printed).to_contain_text("status: completed")
        expect(printed).to_contain_text("text: That is **Darth Doe** (darth@example.com).")
        expect_answer(page, questions, "Darth Doe")  # the chat shows it too

        # Back to the chat.
        questions += 1
        ask_about(page, questions, str(n % 2 + 2))

    # The quickstart's event callback runs when the chat asks, outside any cell: what it
    # prints appears under the cell that registered it, once per completed message.
    registering = page.locator(".jp-Notebook .jp-Cell").filter(
        has_text='copilot.on("message.completed"'
    )
    printed_by_callback = registering.locator(".jp-OutputArea-output").filter(
        has_text="completed: assistant"
    )
    expect(printed_by_callback.first).to_be_visible()
    expect(printed_by_callback.first).to_contain_text("completed: user")
