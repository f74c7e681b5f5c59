"""In the browser: time from the last chunk of a reply to its last token in the DOM.

A 5,000-token reply streams at full speed from the scripted server into a Copilot displayed in
JupyterLab (headless Chromium). The page records, on every animation frame, when the reply's
last token first appears in the chat. Two starting points are reported, both on this machine's
wall clock:
- the kernel has read the last chunk (the `message.completed` event of the reply): what the
  widget adds on top of the openai client;
- the scripted server has handed its last chunk to the socket (`ScriptedServer.finished_at`).
  The server lives in the kernel process and its socket buffer holds most of the reply, so it
  finishes before the client has parsed everything, and this figure can be negative.
Goal: at most 100 ms.

    python bench/browser_stream.py [--tokens 5000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import tempfile

import nbformat
from playwright.sync_api import Page, expect, sync_playwright

# The repository (for tests.browser.harness), and its tests folder for the modules the
# harness imports as pytest finds them.
sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "tests"))
sys.path.insert(0, str(pathlib.Path(__file__).parent.parent))
from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, open_and_run, running_jupyter

SETUP = """
import time
import openai
from copilot_widget import Copilot
from copilot_widget.testing import ScriptedServer, text

N = {tokens}
def reply(request):
    # The last token names the prompt, so each run's end is told apart from earlier ones.
    prompt = request["messages"][-1]["content"]
    return text(*[f"word{{i}} " for i in range(N - 1)], f"END-{{prompt}}")
server = ScriptedServer(reply)
server.start()
copilot = Copilot(client=openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0))
read_at = []
copilot.on("message.completed", lambda event: read_at.append(time.time()))
copilot
"""

# Checked on every frame, so it reads only the end of the last message's text: reading the
# whole list's text would cost the page more than the chat does.
WATCH = """(last) => { window.lastTokenSeen = new Promise((resolve) => {
  const list = document.querySelector("[data-testid='message-list']");
  const check = () => {
    const bodies = list.querySelectorAll(".cw-message-body");
    let node = bodies[bodies.length - 1];
    while (node && node.nodeType !== Node.TEXT_NODE) {  // its last text that is not blank
      let child = node.lastChild;
      while (child && child.nodeType === Node.TEXT_NODE && !child.data.trim()) {
        child = child.previousSibling;
      }
      node = child;
    }
    if (node && node.data.slice(-100).includes(last)) resolve(Date.now());
    else requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
}); }"""

ASK_KERNEL = """async (code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  let out = "";
  const future = kernel.requestExecute({ code });
  future.onIOPub = (msg) => { if (msg.header.msg_type === "stream") out += msg.content.text; };
  await future.done;
  return out.trim();
}"""


def one_stream(page: Page, index: int) -> tuple[float, float, float]:
    prompt = f"run{index}"
    page.evaluate(WATCH, f"END-{prompt}")
    composer = page.get_by_test_id("composer-input")
    composer.fill(prompt)
    composer.press("Enter")
    seen_ms = page.evaluate("() => window.lastTokenSeen")
    expect(page.get_by_test_id("send-button")).to_be_visible(timeout=60_000)
    sent = float(page.evaluate(ASK_KERNEL, "print(server.finished_at[-1])"))
    read = float(page.evaluate(ASK_KERNEL, "print(read_at[-1])"))
    seen = seen_ms / 1000
    return seen - read, seen - sent, read - sent


def main(tokens: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, running_jupyter(pathlib.Path(tmp)) as jupyter:
        nb = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(SETUP.format(tokens=tokens))]
        )
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        nbformat.write(nb, jupyter.root / "bench.ipynb")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            open_and_run(page, jupyter.lab_url("bench.ipynb"))
            from_read, from_sent = [], []
            for i in range(repeats):
                after_read, after_sent, read_lag = one_stream(page, i)
                from_read.append(after_read)
                from_sent.append(after_sent)
                print(
                    f"  run {i + 1}: last token in the DOM {after_read * 1000:.0f} ms after the "
                    f"kernel read the last chunk, {after_sent * 1000:.0f} ms after the server "
                    f"sent it (the client read it {read_lag * 1000:.0f} ms after it was sent)"
                )
            browser.close()
    print(
        f"{tokens} tokens, median of {repeats}: last token in the DOM "
        f"{statistics.median(from_read) * 1000:.0f} ms after the kernel read the last chunk, "
        f"{statistics.median(from_sent) * 1000:.0f} ms after the server sent it (goal <= 100 ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    main(options.tokens, options.repeats)
