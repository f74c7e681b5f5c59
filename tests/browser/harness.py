"""A real Jupyter server on loopback and the system Chromium, for browser tests and benchmarks.

Every test works on a fresh copy of a notebook in the server's temporary root, so autosave
never touches the repository's notebooks.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import nbformat
from playwright.sync_api import Locator, Page, expect

from servers import voila_server

ROOT = pathlib.Path(__file__).parent.parent.parent
# Screenshots and other files the tests leave behind (git-ignored).
RESULTS = ROOT / "test-results"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Jupyter:
    """A running Jupyter server (JupyterLab and Notebook 7 pages) on loopback."""

    def __init__(self, root: pathlib.Path, port: int, token: str) -> None:
        self.root, self.port, self.token = root, port, token
        self.base = f"http://127.0.0.1:{port}"

    def copy_notebook(self, name: str, new_name: str) -> str:
        shutil.copy(ROOT / "notebooks" / name, self.root / new_name)
        return new_name

    def lab_url(self, name: str) -> str:
        return f"{self.base}/lab/tree/{name}?reset&token={self.token}"

    def write_notebook(self, name: str, *cells: str) -> str:
        """A notebook of code `cells` in the server's root, for a test to open."""
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nbformat.write(notebook, self.root / name)
        return name

    def notebook_url(self, name: str) -> str:
        return f"{self.base}/notebooks/{name}?token={self.token}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_jupyter(workdir: pathlib.Path) -> Iterator[Jupyter]:
    """Start JupyterLab (which also serves Notebook 7 pages) with its root under `workdir`."""
    root = workdir / "root"
    root.mkdir()
    # The news and update checks put a notification over part of the page: turn them off.
    settings = workdir / "lab-settings"
    plugin = settings / "@jupyterlab" / "apputils-extension"
    plugin.mkdir(parents=True)
    (plugin / "notification.jupyterlab-settings").write_text(
        json.dumps({"checkForUpdates": False, "fetchNews": "false"})
    )
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ANYWIDGET_HMR", "OPENAI_API_KEY", "OPENAI_BASE_URL")
    }
    env["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
    env["JUPYTER_CONFIG_DIR"] = str(workdir / "jupyter-config")
    # The kernels' default thread store lives here, not in the user's own data directory.
    env["JUPYTER_DATA_DIR"] = str(workdir / "jupyter-data")
    log = open(workdir / "jupyter.log", "w")  # closed when the server stops
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab",
            "--allow-root", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            "--JupyterNotebookApp.expose_app_in_browser=True",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    server = Jupyter(root, port, token)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{server.base}/api/status?token={token}", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log.close()
                raise RuntimeError(
                    "Jupyter did not start:\n" + (workdir / "jupyter.log").read_text()
                ) from None
            time.sleep(0.25)
    try:
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


RUN_ALL = """async () => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await panel.context.ready;
  await panel.sessionContext.ready;
  await app.commands.execute('notebook:run-all-cells');
}"""


def open_and_run(page: Page, url: str, *, new_thread: bool = True) -> None:
    """Open a notebook page, wait for its kernel, run every cell, wait for the chat; then
    start a new thread, so that earlier tests' conversations (the store persists) are not
    in the way."""
    page.goto(url)
    run_all(page)
    if new_thread:
        page.get_by_test_id("new-thread-button").click()
        expect(page.get_by_test_id("message")).to_have_count(0)


def run_all(page: Page) -> None:
    """Wait for the notebook's kernel, run every cell, wait for the chat."""
    page.wait_for_function(
        "() => window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel"
        "?.status === 'idle'",
        timeout=60_000,
    )
    page.evaluate(RUN_ALL)
    expect(page.get_by_test_id("copilot-root")).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("composer-input")).to_be_enabled(timeout=30_000)


# Records every error the page shows from the moment it is installed: the copilot's error
# banner (each time it becomes visible, with its text) and answers that end as failed.
WATCH_ERRORS = """() => {
  window.copilotErrors = [];
  const seen = new WeakSet();
  const check = () => {
    for (const banner of document.querySelectorAll("[data-testid='error-banner']")) {
      if (!banner.hidden && !seen.has(banner)) {
        seen.add(banner);
        const text = banner.querySelector(".cw-error-text") ?? banner;
        window.copilotErrors.push("error banner: " + text.textContent.trim());
      } else if (banner.hidden) {
        seen.delete(banner);
      }
    }
    const failed = "[data-testid='message'][data-status='incomplete']";
    for (const m of document.querySelectorAll(failed)) {
      if (!seen.has(m)) {
        seen.add(m);
        window.copilotErrors.push("incomplete message: " + m.textContent.trim());
      }
    }
  };
  new MutationObserver(check).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["hidden", "data-status"],
  });
  check();
}"""


def watch_for_errors(page: Page) -> None:
    """Record every error banner and failed answer the page shows from now on (see
    `errors_seen`)."""
    page.evaluate(WATCH_ERRORS)


def errors_seen(page: Page) -> list[str]:
    return page.evaluate("() => window.copilotErrors ?? []")


@contextlib.contextmanager
def in_voila(page: Page, notebook: pathlib.Path) -> Iterator[None]:
    """`notebook` served as an app by Voilà, open in `page` with its chat ready."""
    with voila_server(notebook) as url:
        page.goto(url)
        expect(page.get_by_test_id("composer-input")).to_be_enabled(timeout=60_000)
        yield


def ask(page: Page, prompt: str) -> None:
    """Type a prompt into the composer and press Enter, once the previous run has ended."""
    expect(page.get_by_test_id("send-button")).to_be_visible(timeout=20_000)
    composer = page.get_by_test_id("composer-input")
    composer.click()
    composer.fill(prompt)
    composer.press("Enter")


ADD_CELL = """async (source) => {
  const panel = window.jupyterapp.shell.currentWidget;
  const notebook = panel.content;
  const index = notebook.model.sharedModel.cells.length;
  notebook.model.sharedModel.insertCell(index, { cell_type: "code", source });
  notebook.activeCellIndex = index;
  notebook.deselectAll();
  return index;
}"""


def add_cell_and_run(page: Page, source: str) -> Locator:
    """Add a code cell at the end of the open notebook, run it, and return the cell (its
    outputs come in as the kernel sends them)."""
    index = page.evaluate(ADD_CELL, source)
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    expect(cell).to_be_attached()
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")
    return cell


def output_texts(page: Page) -> list[str]:
    """The text of every cell output in the open notebook."""
    return page.locator(".jp-Notebook .jp-OutputArea-output").all_inner_texts()
