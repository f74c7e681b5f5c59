"""Speed inside the kernel, side by side in one run: where the time of a streamed reply goes.

A 5,000-token reply streams at full speed from the scripted server, in a process of its own as
a real provider is (in the kernel's process, its thread would compete with the kernel's for the
interpreter); all three clients use the same server. Reported, medians of N runs:
- (a) the raw async openai client in a plain Python process: request to last token;
- (b) the same raw client in a notebook cell (`await` in the cell): request to last token;
- (c) the copilot in JupyterLab: Enter to the last token on screen;
- a trivial cell (`1 + 1`) while idle and during a stream: sent from the page through the
  Jupyter server, and straight to the kernel over ZMQ as a console does; during the
  full-speed stream (c) when one falls within it, and during a paced stream (the same reply
  with a millisecond between tokens, about 1,000 a second: ten times a fast real provider),
  which lasts long enough for several cells; and again in a JupyterLab whose server runs
  without copilot-widget's server extension (Tornado's default: small messages delayed);
- websocket bytes from the kernel to the page during a stream, against the reply's text.

    python bench/kernel_stream.py [--tokens 5000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import nbformat
from jupyter_client import BlockingKernelClient
from playwright.sync_api import Page, expect, sync_playwright

# The repository (for tests.browser.harness), and its tests folder for the modules the
# harness imports as pytest finds them.
sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "tests"))
sys.path.insert(0, str(pathlib.Path(__file__).parent.parent))
from browser_stream import ASK_KERNEL, WATCH  # the last token on screen, a cell's output

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, open_and_run, running_jupyter

# The provider: the scripted server in a process of its own, as a real provider is not in the
# kernel's process (there, its thread would compete with the kernel's for the interpreter).
SERVER = """
import sys
from copilot_widget.testing import ScriptedServer, text

def reply(request):
    # The last token names the prompt, so each run's end is told apart from earlier ones.
    prompt = request["messages"][-1]["content"]
    words = [f"word{i} " for i in range(int(sys.argv[1]) - 1)]
    return text(*words, f"END-{prompt}", delay=0.001 if prompt.startswith("paced") else 0)

with ScriptedServer(reply) as server:
    print(server.base_url, flush=True)
    sys.stdin.read()  # until the benchmark closes it
"""

SETUP = """
import time
import openai
from copilot_widget import Copilot

copilot = Copilot(client=openai.AsyncOpenAI(base_url={base_url!r}, api_key="x", max_retries=0),
                  store=":memory:")
raw_client = openai.AsyncOpenAI(base_url={base_url!r}, api_key="x", max_retries=0)


async def raw_stream(prompt):
    start = time.perf_counter()
    stream = await raw_client.chat.completions.create(
        model="bench", messages=[{{"role": "user", "content": prompt}}], stream=True
    )
    async for _ in stream:
        pass
    return time.perf_counter() - start

copilot
"""

PLAIN = """
import asyncio, json, sys, time
import openai

async def main(base_url, repeats):
    client = openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0)
    times = []
    for i in range(repeats + 1):  # the first warms up
        start = time.perf_counter()
        stream = await client.chat.completions.create(
            model="bench", messages=[{"role": "user", "content": f"plain{i}"}], stream=True
        )
        async for _ in stream:
            pass
        times.append(time.perf_counter() - start)
    await client.close()
    print(json.dumps(times[1:]))

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""

# A cell sent straight to the kernel: its round trip, from the page.
TRIVIAL = """async () => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const start = performance.now();
  await kernel.requestExecute({ code: "1 + 1", silent: true, store_history: false }).done;
  return performance.now() - start;
}"""


# Whether the copilot is still streaming: its Stop button shows (it is hidden when idle).
STREAMING = """() => {
  const stop = document.querySelector("[data-testid='stop-button']");
  return stop !== null && !stop.hidden;
}"""


def trivial_cell(page: Page, pause: int = 300) -> float:
    """A trivial cell's round trip (ms), after a pause: the page's kernel connection answers
    calls made back to back some 40 ms later than spaced ones, idle or not."""
    page.wait_for_timeout(pause)
    return float(page.evaluate(TRIVIAL))


@contextlib.contextmanager
def provider(tokens: int) -> Iterator[str]:
    """The scripted server in a process of its own; yields its base URL."""
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tokens)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdin is not None
        yield server.stdout.readline().strip()
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=30)


def plain_process(base_url: str, repeats: int) -> list[float]:
    done = subprocess.run(
        [sys.executable, "-c", PLAIN, base_url, str(repeats)],
        capture_output=True,
        text=True,
        check=True,
    )
    return [float(t) for t in json.loads(done.stdout)]


def copilot_stream(
    page: Page,
    prompt: str,
    frames: list[int],
    cells: int = 3,
    kernel: Any = None,
    pause: int = 100,
) -> tuple[float, list[float], list[float]]:
    """Enter to the last token on screen (s), and the round trips of trivial cells that
    started and ended while the stream was still going: from the page, and (given a
    `kernel` client) straight over ZMQ."""
    page.evaluate(WATCH, f"END-{prompt}")
    frames.clear()
    composer = page.get_by_test_id("composer-input")
    composer.fill(prompt)
    start = page.evaluate("() => Date.now()")
    composer.press("Enter")
    from_page: list[float] = []
    direct: list[float] = []
    while len(from_page) < cells:
        took = trivial_cell(page, pause)
        took_direct = kernel_cell(kernel) if kernel is not None else None
        if not page.evaluate(STREAMING):
            break
        from_page.append(took)
        if took_direct is not None:
            direct.append(took_direct)
    seen = page.evaluate("() => window.lastTokenSeen")
    expect(page.get_by_test_id("send-button")).to_be_visible(timeout=60_000)
    return (seen - start) / 1000, from_page, direct


def kernel_cell(kernel: Any) -> float:
    """A trivial cell's round trip (ms) straight to the kernel over ZMQ, as a console does:
    no Jupyter server, no page."""
    start = time.perf_counter()
    msg_id = kernel.execute("1 + 1", silent=True, store_history=False)
    while kernel.get_shell_msg(timeout=30)["parent_header"].get("msg_id") != msg_id:
        pass
    return (time.perf_counter() - start) * 1000


@contextlib.contextmanager
def lab(
    tmp: pathlib.Path, base_url: str, frames: list[int], *, extension: bool
) -> Iterator[tuple[Page, Any]]:
    """JupyterLab with the benchmark's notebook run, with the server extension on or off;
    yields the page and a ZMQ client of its kernel. The sizes of the websocket frames the page
    receives are added to `frames`."""
    tmp.mkdir()
    if not extension:  # the user's configuration turns it off, as `jupyter server extension
        config = tmp / "jupyter-config"  # disable copilot_widget_server` does
        config.mkdir()
        off = {"ServerApp": {"jpserver_extensions": {"copilot_widget_server": False}}}
        (config / "jupyter_server_config.json").write_text(json.dumps(off))
    with running_jupyter(tmp) as jupyter, sync_playwright() as playwright:
        cell = nbformat.v4.new_code_cell(SETUP.format(base_url=base_url))
        nb = nbformat.v4.new_notebook(cells=[cell])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        nbformat.write(nb, jupyter.root / "bench.ipynb")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(len(f))))
        open_and_run(page, jupyter.lab_url("bench.ipynb"))
        (connection_file,) = (tmp / "jupyter-data" / "runtime").glob("kernel-*.json")
        kernel = BlockingKernelClient()
        kernel.load_connection_file(str(connection_file))
        kernel.start_channels()
        kernel.wait_for_ready(timeout=30)
        try:
            yield page, kernel
        finally:
            kernel.stop_channels()
            browser.close()


def main(tokens: int, repeats: int) -> None:
    with provider(tokens) as base_url, tempfile.TemporaryDirectory() as tmp:
        plain = plain_process(base_url, repeats)
        frames: list[int] = []
        in_cell, copilot, ws_bytes = [], [], []
        idle, during, idle_direct, paced, paced_direct = [], [], [], [], []
        with lab(pathlib.Path(tmp) / "on", base_url, frames, extension=True) as (page, kernel):
            page.evaluate(ASK_KERNEL, "import asyncio; print(await raw_stream('warm'))")
            for i in range(repeats):  # interleaved, so drift affects all alike
                idle.append(statistics.median(trivial_cell(page) for _ in range(3)))
                idle_direct.append(statistics.median(kernel_cell(kernel) for _ in range(3)))
                took = page.evaluate(ASK_KERNEL, f"print(await raw_stream('cell{i}'))")
                in_cell.append(float(took))
                # The stream lasts a few tenths of a second: its cell goes soon after Enter.
                seconds, trivial, _ = copilot_stream(page, f"run{i}", frames, 1, pause=30)
                copilot.append(seconds)
                during.extend(trivial)
                ws_bytes.append(sum(frames))
                _, trivial, direct = copilot_stream(page, f"paced{i}", frames, 10, kernel)
                paced.extend(trivial)
                paced_direct.extend(direct)
        # The same page measures with the server extension off (Tornado's default).
        idle_off, paced_off = [], []
        with lab(pathlib.Path(tmp) / "off", base_url, frames, extension=False) as (page, _):
            for i in range(repeats):
                idle_off.append(statistics.median(trivial_cell(page) for _ in range(3)))
                paced_off.extend(copilot_stream(page, f"paced{i}", frames, 10)[1])

    def med(values: list[float]) -> float:
        return statistics.median(values) if values else float("nan")

    text_bytes = len("".join(f"word{i} " for i in range(tokens - 1))) + len("END-run0")
    a, b, c = (statistics.median(x) for x in (plain, in_cell, copilot))
    w = statistics.median(ws_bytes)
    print(f"{tokens} tokens, medians of {repeats} runs")
    print(f"  (a) raw client, plain process       : {a * 1e3:7.0f} ms")
    print(f"  (b) raw client, in a kernel cell    : {b * 1e3:7.0f} ms   b/a {b / a:5.2f}")
    print(
        f"  (c) copilot, last token on screen   : {c * 1e3:7.0f} ms   c/a {c / a:5.2f}"
        f"  c/b {c / b:5.2f}  (goal c/a <= 1.25)"
    )
    print("  a trivial cell, idle / during a stream (goal <= 2):")
    rows = [
        ("from the page, full-speed stream", idle, during),
        ("from the page, paced stream", idle, paced),
        ("straight to the kernel, paced", idle_direct, paced_direct),
        ("from the page, paced, extension off", idle_off, paced_off),
    ]
    for name, before, after in rows:
        i, d = med(before), med(after)
        print(f"    {name:<38}: {i:5.1f} / {d:5.1f} ms   ratio {d / i:5.2f}   ({len(after)} cells)")
    print(
        f"  websocket bytes per stream          : {w:7.0f}   text {text_bytes}"
        f"   ratio {w / text_bytes:5.2f}  (goal <= 2)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    main(options.tokens, options.repeats)
