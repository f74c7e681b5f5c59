"""In the browser: opening a long thread (2,000 or 20,000 messages) from the thread picker.

A store holds a thread of N messages (markdown with some code), the same thread with rich
results (every tenth answer has a tool call showing a 20-row table and a chart image), and a
small one; the copilot shows the small one in JupyterLab (headless Chromium). The page then
picks each big thread and records, on every animation frame, when its latest messages are in
the DOM (the chat shows the last 300, and earlier ones as the user scrolls up) and the last one
is visible in the list. Goal: at most 500 ms.

    python bench/browser_thread.py [--messages 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import tempfile

import nbformat
from playwright.sync_api import sync_playwright

# The repository (for tests.browser.harness), and its tests folder for the modules the
# harness imports as pytest finds them.
sys.path.insert(0, str(pathlib.Path(__file__).parent.parent / "tests"))
sys.path.insert(0, str(pathlib.Path(__file__).parent.parent))
from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, run_all, running_jupyter

SETUP = """
import json

import pandas as pd
from matplotlib.figure import Figure

from copilot_widget import Copilot
from copilot_widget._display import display_of
from copilot_widget._messages import new_message, new_thread
from copilot_widget._store import ThreadStore

N = {messages}
figure = Figure(figsize=(4, 2.5))
figure.subplots().plot(range(50), [i * i for i in range(50)])
frame = pd.DataFrame({{"month": range(1, 61), "units": range(60), "revenue": range(0, 600, 10)}})
rich = [display_of(frame), display_of(figure)]
store = ThreadStore("bench-threads.sqlite3")
scope = ("bench", "", "")
big, rich_thread, small = new_thread("Big thread"), new_thread("Rich thread"), new_thread("Small")
for thread in (big, rich_thread, small):
    store.create_thread(thread, scope)
for thread in (big, rich_thread):
    for i in range(N):
        role = "user" if i % 2 == 0 else "assistant"
        body = f"Question {{i}}?" if role == "user" else (
            f"Answer **{{i}}** with a list:\\n\\n- one\\n- two\\n\\n```python\\nprint({{i}})\\n```"
        )
        message = new_message(role, thread["id"], None, body, status="completed")
        if thread is rich_thread and i % 20 == 1:
            message["tool_calls"] = [
                {{"id": f"call_{{i}}_{{k}}", "name": "analyse", "arguments": "{{}}",
                  "status": "completed", "result": json.dumps("done"), "error": None,
                  "display": display, "outputs": []}}
                for k, display in enumerate(rich)
            ]
        store.save_message(message)
store.save_message(new_message("user", small["id"], None, "hello", status="completed"))
copilot = Copilot(api_key="unused", store="bench-threads.sqlite3", app_id="bench",
                  thread_id=small["id"])
copilot
"""

SHOWN = 300  # the latest messages a thread opens with (js/messages.ts WINDOW)

OPEN = """async ([title, count, SHOWN]) => {
  const picker = document.querySelector("[data-testid='thread-picker']");
  const list = document.querySelector("[data-testid='message-list']");
  const option = [...picker.options].find((o) => o.textContent === title);
  const start = performance.now();
  picker.value = option.value;
  picker.dispatchEvent(new Event("change", { bubbles: true }));
  return await new Promise((resolve) => {
    const check = () => {
      const items = list.querySelectorAll("[data-testid='message']");
      if (items.length === Math.min(count, SHOWN)) {
        const last = items[items.length - 1].getBoundingClientRect();
        const box = list.getBoundingClientRect();
        if (last.bottom <= box.bottom + 1 && last.top >= box.top - 1) {
          resolve(performance.now() - start);
          return;
        }
      }
      requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
  });
}"""


def main(messages: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, running_jupyter(pathlib.Path(tmp)) as jupyter:
        cell = nbformat.v4.new_code_cell(SETUP.format(messages=messages))
        nb = nbformat.v4.new_notebook(cells=[cell])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        nbformat.write(nb, jupyter.root / "bench.ipynb")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(jupyter.lab_url("bench.ipynb"))
            run_all(page)
            times: dict[str, list[float]] = {"Big thread": [], "Rich thread": []}
            for i in range(repeats):
                for title, runs in times.items():  # side by side, alternating
                    runs.append(page.evaluate(OPEN, [title, messages, SHOWN]))
                    print(f"  run {i + 1}, {title}: {runs[-1]:.0f} ms")
                    page.evaluate(OPEN, ["Small", 1, SHOWN])
            browser.close()
    plain, rich = (statistics.median(runs) for runs in times.values())
    print(
        f"opening a thread of {messages} messages, until the latest {min(messages, SHOWN)} are in "
        f"the DOM and the last is visible (goal <= 500 ms):\n"
        f"  text only                          : median {plain:.0f} ms\n"
        f"  with {messages // 20 * 2} tables and charts  : median {rich:.0f} ms "
        f"(ratio {rich / plain:.2f})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    main(options.messages, options.repeats)
