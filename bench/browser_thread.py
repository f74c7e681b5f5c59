"""In the browser: opening a thread of 2,000 messages from the thread picker.

A store holds a thread of 2,000 messages (markdown with some code) and a small one; the copilot
shows the small one in JupyterLab (headless Chromium). The page then picks the big thread and
records, on every animation frame, when all 2,000 messages are in the DOM and the last one is
visible in the list. Goal: at most 500 ms.

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

sys.path.insert(0, str(pathlib.Path(__file__).parent.parent))
from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, run_all, running_jupyter

SETUP = """
from copilot_widget import Copilot
from copilot_widget._messages import new_message, new_thread
from copilot_widget._store import ThreadStore

N = {messages}
store = ThreadStore("bench-threads.sqlite3")
scope = ("bench", "", "")
big, small = new_thread("Big thread"), new_thread("Small thread")
for thread in (big, small):
    store.create_thread(thread, scope)
for i in range(N):
    role = "user" if i % 2 == 0 else "assistant"
    body = f"Question {{i}}?" if role == "user" else (
        f"Answer **{{i}}** with a list:\\n\\n- one\\n- two\\n\\n```python\\nprint({{i}})\\n```"
    )
    store.save_message(new_message(role, big["id"], None, body, status="completed"))
store.save_message(new_message("user", small["id"], None, "hello", status="completed"))
copilot = Copilot(api_key="unused", store="bench-threads.sqlite3", app_id="bench",
                  thread_id=small["id"])
copilot
"""

OPEN = """async ([title, count]) => {
  const picker = document.querySelector("[data-testid='thread-picker']");
  const list = document.querySelector("[data-testid='message-list']");
  const option = [...picker.options].find((o) => o.textContent === title);
  const start = performance.now();
  picker.value = option.value;
  picker.dispatchEvent(new Event("change", { bubbles: true }));
  return await new Promise((resolve) => {
    const check = () => {
      const items = list.querySelectorAll("[data-testid='message']");
      if (items.length === count) {
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
            times = []
            for i in range(repeats):
                times.append(page.evaluate(OPEN, ["Big thread", messages]))
                print(f"  run {i + 1}: {times[-1]:.0f} ms")
                page.evaluate(OPEN, ["Small thread", 1])
            browser.close()
    print(
        f"opening a thread of {messages} messages: median {statistics.median(times):.0f} ms "
        f"until all are in the DOM and the last is visible (goal <= 500 ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    main(options.messages, options.repeats)
