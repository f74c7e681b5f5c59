"""Thread store cost per completed message, with a store already holding 100,000 messages:
SQLite and PostgreSQL side by side.

Every completed message is written once (an upsert of its JSON and text, and the thread's
activity time, in one transaction). This measures that write on a SQLite file in WAL mode and
on a PostgreSQL server on loopback (started here with initdb and pg_ctl, default durability
settings), each on an empty store and on one holding 100,000 messages across 1,000 threads.
Goal: at most 2 ms median.

    python bench/store.py [--messages 100000] [--writes 2000] [--postgres URL]

Without --postgres, a throwaway server is started (PostgreSQL must be installed; see
scripts/setup.sh); with it, the given database is used (its copilot tables are filled).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import pathlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from copilot_widget._messages import new_message, new_thread, text_of
from copilot_widget._store import Store, ThreadStore
from copilot_widget._threads import open_store

SCOPE = ("bench", "user", "")
THREADS = 1000


def rows(messages: int) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Threads and their messages, `messages` in all."""
    per_thread = max(1, messages // THREADS)
    for t in range(THREADS):
        thread = new_thread(f"thread {t}")
        yield (
            thread,
            [
                new_message("user", thread["id"], None, f"message {i} " * 30)
                for i in range(per_thread)
            ],
        )


def fill_sqlite(store: ThreadStore, messages: int) -> None:
    db = store._db
    assert db is not None
    db.execute("BEGIN")  # one transaction: filling is setup, not the measure
    for thread, batch in rows(messages):
        db.execute(
            "INSERT INTO threads (id, app_id, user_id, company_id, title, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (thread["id"], *SCOPE, thread["title"], thread["created_at"], time.time()),
        )
        db.executemany(
            "INSERT INTO messages (id, thread_id, body, text) VALUES (?, ?, ?, ?)",
            [(m["id"], thread["id"], json.dumps(m), text_of(m)) for m in batch],
        )
    db.execute("COMMIT")


def fill_postgres(url: str, messages: int) -> None:
    import psycopg

    with psycopg.connect(url) as db, db.cursor() as cur:  # one transaction
        for thread, batch in rows(messages):
            cur.execute(
                "INSERT INTO copilot_threads (id, app_id, user_id, company_id, title, "
                "title_folded, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    thread["id"],
                    *SCOPE,
                    thread["title"],
                    thread["title"].casefold(),
                    thread["created_at"],
                    time.time(),
                ),
            )
            with cur.copy(
                "COPY copilot_messages (id, thread_id, body, text, folded) FROM STDIN"
            ) as copy:
                for m in batch:
                    value = text_of(m)
                    copy.write_row((m["id"], thread["id"], json.dumps(m), value, value.casefold()))
        cur.execute("ANALYZE")


def per_write_ms(store: Store, writes: int) -> list[float]:
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


def report(kind: str, name: str, times: list[float]) -> None:
    print(
        f"  {kind:>10} {name:>18}: median {statistics.median(times):.3f} ms, "
        f"p95 {statistics.quantiles(times, n=20)[-1]:.3f} ms per completed message "
        f"({len(times)} writes; goal <= 2 ms median)"
    )


def measure(
    kind: str, empty: Store, full: Store, fill: Callable[[], None], messages: int, writes: int
) -> None:
    start = time.perf_counter()
    fill()
    print(
        f"{kind}: filled a store with {messages:,} messages in {time.perf_counter() - start:.1f} s"
    )
    for name, store in (("empty store", empty), (f"{messages:,} messages", full)):
        report(kind, name, per_write_ms(store, writes))
    start = time.perf_counter()
    loaded = full.messages(full.threads(SCOPE)[-1]["id"])
    elapsed_ms = (time.perf_counter() - start) * 1000
    print(
        f"  {kind:>10} listing the threads and loading one of {len(loaded)} messages: "
        f"{elapsed_ms:.1f} ms"
    )
    start = time.perf_counter()
    hits = full.search(SCOPE, "message 1 ")
    elapsed_ms = (time.perf_counter() - start) * 1000
    print(f"  {kind:>10} searching {messages:,} messages ({len(hits)} hits): {elapsed_ms:.1f} ms")
    empty.close()
    full.close()


@contextlib.contextmanager
def postgres_databases(url: str | None) -> Iterator[tuple[str, str]]:
    """Two databases (empty, full): on the server of `url`, else on a throwaway server."""
    if url is not None:
        yield url, url  # one database: the measured thread is new in each pass
        return
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))
    from postgres import PostgresServer  # the tests' throwaway server

    server = PostgresServer()
    server.start()
    try:
        yield server.new_database(), server.new_database()
    finally:
        server.close()


def main(messages: int, writes: int, postgres: str | None, sqlite_only: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        empty = ThreadStore(pathlib.Path(tmp) / "empty.sqlite3")
        full = ThreadStore(pathlib.Path(tmp) / "full.sqlite3")
        measure("SQLite", empty, full, lambda: fill_sqlite(full, messages), messages, writes)
    if sqlite_only:
        return
    with postgres_databases(postgres) as (empty_url, full_url):
        empty_pg, full_pg = open_store(empty_url), open_store(full_url)
        measure(
            "PostgreSQL",
            empty_pg,
            full_pg,
            lambda: fill_postgres(full_url, messages),
            messages,
            writes,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--postgres", help="a postgresql:// URL (default: a throwaway server)")
    parser.add_argument("--sqlite-only", action="store_true")
    options = parser.parse_args()
    main(options.messages, options.writes, options.postgres, options.sqlite_only)
