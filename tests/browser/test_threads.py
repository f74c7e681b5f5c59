"""Threads in the browser: a kernel restart brings the conversation back; the picker switches
threads and never shows the previous thread's messages; History finds a thread by its text and
exports the conversation as a file."""

from __future__ import annotations

import json
import pathlib
import re

import pytest
from playwright.sync_api import Page, expect

from .harness import Jupyter, ask, open_and_run, run_all

pytestmark = pytest.mark.browser

ANSWERS = "[data-testid='message'][data-role='assistant']"
re_time = re.compile(r"^(\d\d:\d\d|Yesterday)$")  # a thread active today shows its time


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


def download(page: Page, testid: str) -> str:
    """Click an export button; the text of the file the browser downloads."""
    with page.expect_download() as started:
        page.get_by_test_id(testid).click()
    return pathlib.Path(started.value.path()).read_text(encoding="utf-8")


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_find_a_thread_and_export_it(page: Page, jupyter: Jupyter, app: str) -> None:
    name = jupyter.copy_notebook("01_quickstart.ipynb", f"export-{app}.ipynb")
    open_and_run(page, jupyter.lab_url(name) if app == "lab" else jupyter.notebook_url(name))
    ask(page, "Who is user 2?")
    expect(page.locator(f"{ANSWERS}[data-status='completed']").last).to_contain_text(
        "Ada Lovelace", timeout=20_000
    )
    page.get_by_test_id("new-thread-button").click()
    ask(page, "Who is user 3?")
    expect(page.locator(ANSWERS).last).to_contain_text("Grace Hopper", timeout=20_000)
    expect(page.get_by_test_id("send-button")).to_be_visible()

    # History lists both threads with a preview; typing finds the one that mentions Ada.
    page.get_by_test_id("thread-history-button").click()
    items = page.get_by_test_id("thread-item")
    expect(items).to_have_count(2)
    expect(items.first.get_by_test_id("thread-item-preview")).to_contain_text("Grace Hopper")
    expect(items.first.get_by_test_id("thread-item-date")).to_have_text(re_time)
    page.get_by_test_id("thread-search").fill("lovelace")
    expect(items).to_have_count(1)
    expect(items.first.get_by_test_id("thread-item-snippet")).to_contain_text("Ada Lovelace")
    expect(items.first.locator("mark")).to_have_text("Lovelace")
    items.first.click()
    expect(page.get_by_test_id("message-list")).to_contain_text("Ada Lovelace")
    expect(page.get_by_test_id("message-list")).not_to_contain_text("Grace")

    page.get_by_test_id("thread-history-button").click()
    markdown = download(page, "export-markdown-button")
    assert markdown.startswith("# Who is user 2?")
    assert "## User" in markdown and "Who is user 2?" in markdown
    assert "That is **Ada Lovelace**" in markdown  # the answer
    assert "### Tool call `fetch_user` (completed)" in markdown
    assert '"email": "ada@example.com"' in markdown  # the call's result
    assert "Grace" not in markdown and "api_key" not in markdown

    exported = json.loads(download(page, "export-json-button"))
    calls = [call for message in exported["messages"] for call in message["tool_calls"]]
    assert [call["name"] for call in calls] == ["fetch_user"]
    assert json.loads(calls[0]["result"]) == {"name": "Ada Lovelace", "email": "ada@example.com"}
    assert exported["thread"]["title"] == "Who is user 2?"
    assert "api_key" not in json.dumps(exported)
