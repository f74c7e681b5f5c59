"""marimo: `mo.ui.anywidget(copilot).value` follows the conversation, and the cells that read
it re-run when the messages change, as with `mo.ui.chat`.

A real `marimo run` server runs the notebook in its own kernel; the test connects to it as a
page does (a websocket, which starts the session and runs the notebook) and reads the cells'
outputs from what the server sends. No browser: the copilot is driven by `copilot.send(...)`.
"""

from __future__ import annotations

import contextlib
import pathlib
import re
import textwrap
import time
from collections.abc import Callable
from typing import Any

from websockets.sync.client import ClientConnection, connect

from copilot_widget.testing import ScriptedServer, text

from servers import marimo_server

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
    with (
        marimo_server("run", notebook) as url,
        connect(f"{url.replace('http', 'ws', 1)}/ws?session_id=s-1") as ws,
    ):
        receive_until(ws, frames, lambda: any(n == 6 for n, _ in shown(frames)))

    seen = shown(frames)
    assert seen[0] == (0, "")  # the first run, before any message
    assert seen[-1] == (6, "One? | First. | Two? | Second. | Three? | Third.")
    counts = [n for n, _ in seen]
    assert counts == sorted(counts)  # re-ran as the conversation grew, never behind it
    assert server.remaining == 0
