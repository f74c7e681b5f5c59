"""Threads in the browser: a kernel restart brings the conversation back; the picker switches
threads and never shows the previous thread's messages."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .harness import Jupyter, ask, open_and_run, run_all

pytestmark = pytest.mark.browser

ANSWERS = "[data-testid='message'][data-role='assistant']"


def test_restart_the_kernel_and_the_conversation_is_back(page: Page, jupyter: Jupyter) -> None:
    name = jupyter.copy_notebook("01_quickstart.ipynb", "restart.ipynb")
    open_and_run(page, jupyter.lab_url(name))
    ask(page, "Who is user 2?")
    # Restart only once the answer is finished (a restart mid-answer keeps it as incomplete).
    done = page.locator(f"{ANSWERS}[data-status='completed']").last
    expect(done).to_contain_text("Ada Lovelace", timeout=20_000)
    expect(page.get_by_test_id("send-button")).to_be_visible()
    title = page.get_by_test_id("thread-picker").input_value()

    page.evaluate(
        "async () => {"
        " const panel = window.jupyterapp.shell.currentWidget;"
        " await panel.sessionContext.session.kernel.restart(); }"
    )
    run_all(page)
    # The restarted kernel's copilot opened the same thread, with everything in it.
    expect(page.locator(ANSWERS).last).to_contain_text("Ada Lovelace", timeout=20_000)
    expect(page.locator("[data-testid='tool-call'][data-name='fetch_user']")).to_have_count(1)
    assert page.get_by_test_id("thread-picker").input_value() == title
    ask(page, "Who is user 3?")
    expect(page.locator(ANSWERS).last).to_contain_text("Grace Hopper", timeout=20_000)
    expect(page.get_by_test_id("message")).to_have_count(6)  # 2 x (user, tool step, answer)


WATCH_MIX = """() => {
  const list = document.querySelector("[data-testid='message-list']");
  window.mixed = [];
  new MutationObserver(() => {
    const text = list.textContent;
    if (text.includes("Ada Lovelace") && text.includes("Grace Hopper")) window.mixed.push(text);
  }).observe(list, { childList: true, subtree: true, characterData: true });
}"""


def test_switching_threads_never_shows_the_previous_threads_messages(
    page: Page, jupyter: Jupyter
) -> None:
    name = jupyter.copy_notebook("01_quickstart.ipynb", "switch.ipynb")
    open_and_run(page, jupyter.lab_url(name))
    ask(page, "Who is user 2?")
    expect(page.locator(ANSWERS).last).to_contain_text("Ada Lovelace", timeout=20_000)
    first = page.get_by_test_id("thread-picker").input_value()
    page.evaluate(WATCH_MIX)

    page.get_by_test_id("new-thread-button").click()
    expect(page.get_by_test_id("message")).to_have_count(0)
    ask(page, "Who is user 3?")
    expect(page.locator(ANSWERS).last).to_contain_text("Grace Hopper", timeout=20_000)
    second = page.get_by_test_id("thread-picker").input_value()
    assert first != second

    for thread, shown, hidden in ((first, "Ada", "Grace"), (second, "Grace", "Ada")) * 2:
        page.get_by_test_id("thread-picker").select_option(thread)
        expect(page.get_by_test_id("message-list")).to_contain_text(shown)
        expect(page.get_by_test_id("message-list")).not_to_contain_text(hidden)
    assert page.evaluate("() => window.mixed") == []

    # Rename, then delete with confirmation: the other thread opens.
    page.get_by_test_id("rename-thread-button").click()
    page.get_by_test_id("rename-thread-input").fill("Grace's thread")
    page.get_by_test_id("rename-thread-input").press("Enter")
    expect(page.get_by_test_id("thread-picker").locator("option:checked")).to_have_text(
        "Grace's thread"
    )
    page.get_by_test_id("delete-thread-button").click()
    page.get_by_test_id("confirm-delete-button").click()
    expect(page.get_by_test_id("message-list")).to_contain_text("Ada Lovelace")
    expect(page.get_by_test_id("thread-picker").locator("option", has_text="Grace")).to_have_count(
        0
    )
