"""marimo in a real browser: `mo.ui.anywidget(copilot).value` follows the conversation, and
the cells that read it re-run as the user chats (as with `mo.ui.chat`)."""

from __future__ import annotations

import contextlib
import os
import pathlib
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from copilot_widget.testing import ScriptedServer, text

from .harness import ask

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def marimo_server(command: str, notebook: pathlib.Path) -> Iterator[str]:
    """`marimo run` or `marimo edit` serving `notebook` on a free loopback port; yields its
    URL."""
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ANYWIDGET_HMR", "OPENAI_API_KEY", "OPENAI_BASE_URL")
    }
    env["JUPYTER_DATA_DIR"] = str(notebook.parent / "jupyter-data")  # the thread store
    # marimo's configuration, not the user's: the notebook runs when it opens, in edit mode too.
    config = notebook.parent / "config"
    (config / "marimo").mkdir(parents=True)
    (config / "marimo" / "marimo.toml").write_text("[runtime]\nauto_instantiate = true\n")
    env["XDG_CONFIG_HOME"] = str(config)
    log_path = notebook.parent / "marimo.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "marimo", command, str(notebook),
                "--headless", "--no-token", "--no-sandbox", "--no-skew-protection",
                "--host", "127.0.0.1", "--port", str(port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=notebook.parent,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/health", timeout=2):
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            "marimo did not start:\n" + log_path.read_text()
                        ) from None
                    time.sleep(0.25)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


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
