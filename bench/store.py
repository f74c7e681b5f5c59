"""Thread store cost per completed message, with a store already holding 100,000 messages.

Every completed message is written once (an upsert of its JSON and the thread's activity time,
in one transaction). This measures that write on a file store in WAL mode, side by side on an
empty store and on one holding 100,000 messages across 1,000 threads. Goal: at most 2 ms.

    python bench/store.py [--messages 100000] [--writes 2000]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import tempfile
import time

from copilot_widget._messages import new_message, new_thread
from copilot_widget._store import ThreadStore

SCOPE = ("bench", "user", "")


def fill(store: ThreadStore, messages: int, threads: int = 1000) -> None:
    per_thread = max(1, messages // threads)
    with store._transaction() as db:  # one transaction: filling is setup, not the measure
        for t in range(threads):
            thread = new_thread(f"thread {t}")
            db.execute(
                "INSERT INTO threads (id, app_id, user_id, company_id, title, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (thread["id"], *SCOPE, thread["title"], thread["created_at"], time.time()),
            )
            for i in range(per_thread):
                message = new_message("user", thread["id"], None, f"message {i} " * 30)
                db.execute(
                    "INSERT INTO messages (id, thread_id, body) VALUES (?, ?, ?)",
                    (message["id"], thread["id"], json.dumps(message)),
                )


def per_write_ms(store: ThreadStore, writes: int) -> list[float]:
    thread = new_thread("measured")
    store.create_thread(thread, SCOPE)
    times = []
    for i in range(writes):
        message = new_message("assistant", thread["id"], "run", f"answer {i} " * 60)
        message["status"] = "completed"
        start = time.perf_counter()
        store.save_message(message)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main(messages: int, writes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        empty = ThreadStore(pathlib.Path(tmp) / "empty.sqlite3")
        full = ThreadStore(pathlib.Path(tmp) / "full.sqlite3")
        start = time.perf_counter()
        fill(full, messages)
        print(f"filled a store with {messages:,} messages in {time.perf_counter() - start:.1f} s")
        for name, store in (("empty store", empty), (f"{messages:,} messages", full)):
            times = per_write_ms(store, writes)
            print(
                f"  {name:>18}: median {statistics.median(times):.3f} ms, "
                f"p95 {statistics.quantiles(times, n=20)[-1]:.3f} ms per completed message "
                f"({writes} writes; goal <= 2 ms)"
            )
        start = time.perf_counter()
        loaded = full.messages(full.threads(SCOPE)[-1]["id"])
        elapsed_ms = (time.perf_counter() - start) * 1000
        print(f"  loading a thread of {len(loaded)} messages: {elapsed_ms:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--writes", type=int, default=2000)
    options = parser.parse_args()
    main(options.messages, options.writes)
