"""A long thread in JupyterLab: it opens at its latest messages, earlier ones come as the user
scrolls up (the message being read stays where it is), and a new answer arrives as a change,
not as the whole thread."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .harness import Jupyter, ask, open_and_run

pytestmark = pytest.mark.browser

SETUP = """\
from copilot_widget import Copilot
from copilot_widget._messages import new_message
from copilot_widget.testing import offline_demo_client, text

copilot = Copilot(client=offline_demo_client(lambda request: text("The newest answer.")),
                  store=":memory:")
copilot.messages = [
    new_message("user" if i % 2 == 0 else "assistant", copilot.thread["id"], None,
                f"Message number {i}.", status="completed")
    for i in range(1_000)
]
copilot
"""

MESSAGES = "[data-testid='message']"


def test_a_long_thread_opens_at_its_end_and_grows_upwards(page: Page, jupyter: Jupyter) -> None:
    name = jupyter.write_notebook("long-thread.ipynb", SETUP)
    open_and_run(page, jupyter.lab_url(name), new_thread=False)
    messages = page.locator(MESSAGES)
    expect(messages).to_have_count(300)
    expect(messages.last).to_contain_text("Message number 999.")
    expect(messages.last).to_be_in_viewport()
    expect(messages.first).to_contain_text("Message number 700.")

    # Scrolling to the top shows 300 earlier messages; what the user was reading stays put.
    reading = page.locator(f"{MESSAGES}[data-message-id]").first
    reading_id = reading.get_attribute("data-message-id")
    page.get_by_test_id("message-list").evaluate("list => { list.scrollTop = 0; }")
    expect(messages).to_have_count(600)
    expect(messages.first).to_contain_text("Message number 400.")
    kept = page.locator(f"{MESSAGES}[data-message-id='{reading_id}']")
    expect(kept).to_be_in_viewport()

    # A new answer: it comes at the end, and the earlier messages stay shown.
    page.get_by_test_id("message-list").evaluate("list => { list.scrollTop = list.scrollHeight; }")
    ask(page, "And now?")
    expect(messages.last).to_contain_text("The newest answer.", timeout=20_000)
    expect(messages).to_have_count(602)
