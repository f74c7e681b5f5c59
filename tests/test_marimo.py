"""marimo: `mo.ui.anywidget(copilot).value` follows the conversation, and the cells that read
it re-run when the messages change, as with `mo.ui.chat`.

A real `marimo run` server runs the notebook in its own kernel; the test connects to it as a
page does (a websocket, which starts the session and runs the notebook) and reads the cells'
outputs from what the server sends. No browser: the copilot is driven by `copilot.send(...)`.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

from websockets.sync.client import ClientConnection, connect

from copilot_widget.testing import ScriptedServer, text

NOTEBOOK = """
import marimo

app = marimo.App()


@app.cell
def _():
    import threading

    import marimo as mo
    import openai

    from copilot_widget import Copilot
    return Copilot, mo, openai, threading


@app.cell
def _(Copilot, openai, threading):
    client = openai.AsyncOpenAI(base_url={base_url!r}, api_key="sk-test", max_retries=0)
    copilot = Copilot(client=client)
    shown = threading.Event()
    return copilot, shown


@app.cell
def _(copilot, mo):
    chat = mo.ui.anywidget(copilot)
    chat
    return (chat,)


@app.cell
def _(chat, mo, shown):
    _texts = [
        "".join(p["text"]["value"] for p in m["content"] if p["type"] == "text")
        for m in chat.value["messages"]
    ]
    shown.set()
    mo.plain_text(f"value: {{len(_texts)}} messages: {{' | '.join(_texts)}};")
    return


@app.cell
def _(copilot, shown, threading):
    def _ask():
        shown.wait(60)  # the cell above has shown the empty conversation
        for _question in ("One?", "Two?", "Three?"):
            copilot.send(_question)  # a thread without an event loop: returns once answered

    threading.Thread(target=_ask, daemon=True).start()
    return
"""

SHOWN = re.compile(r"value: (\d+) messages: ([^;]*);")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def marimo_run(notebook: pathlib.Path) -> Iterator[int]:
    """`marimo run` serving `notebook` on a free loopback port; yields the port."""
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ANYWIDGET_HMR", "OPENAI_API_KEY", "OPENAI_BASE_URL")
    }
    log_path = notebook.parent / "marimo.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "marimo", "run", str(notebook),
                "--headless", "--no-token", "--no-sandbox", "--no-skew-protection",
                "--host", "127.0.0.1", "--port", str(port),
            ],
            env=env,  # JUPYTER_DATA_DIR (the thread store) is the test's own (conftest)
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=notebook.parent,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            "marimo did not start:\n" + log_path.read_text()
                        ) from None
                    time.sleep(0.25)
            yield port
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def receive_until(
    ws: ClientConnection, frames: list[str], done: Callable[[], Any], timeout: float = 30
) -> None:
    """Read what the server sends into `frames` until `done()` holds (or fail at `timeout`)."""
    deadline = time.monotonic() + timeout
    while not done():
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out; the cells showed {shown(frames)}")
        with contextlib.suppress(TimeoutError):
            frames.append(str(ws.recv(timeout=left)))


def shown(frames: list[str]) -> list[tuple[int, str]]:
    """What the cell reading `chat.value` showed, each time it ran: (count, texts)."""
    return [(int(n), texts) for frame in frames for n, texts in SHOWN.findall(frame)]


def test_cells_reading_the_value_rerun_as_messages_are_sent(
    serve: Callable[[Any], ScriptedServer], tmp_path: pathlib.Path
) -> None:
    server = serve([text("First."), text("Second."), text("Third.")])
    notebook = tmp_path / "chat.py"
    notebook.write_text(textwrap.dedent(NOTEBOOK).format(base_url=server.base_url))
    frames: list[str] = []
    with marimo_run(notebook) as port, connect(f"ws://127.0.0.1:{port}/ws?session_id=s-1") as ws:
        receive_until(ws, frames, lambda: any(n == 6 for n, _ in shown(frames)))

    seen = shown(frames)
    assert seen[0] == (0, "")  # the first run, before any message
    assert seen[-1] == (6, "One? | First. | Two? | Second. | Three? | Third.")
    counts = [n for n, _ in seen]
    assert counts == sorted(counts)  # re-ran as the conversation grew, never behind it
    assert server.remaining == 0
