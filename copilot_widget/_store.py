"""The thread store: threads and their messages in SQLite, so no conversation is ever lost.

One file per user by default (in the Jupyter data directory), shared by every kernel of that
user: WAL mode lets readers and a writer work at once, and a busy timeout makes concurrent
writers wait instead of failing. Each message is one row holding its JSON, written (upserted)
whenever it changes state; its row id keeps the thread's order.
"""

from __future__ import annotations

import json
import os
import pathlib
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from ._messages import Message, Thread

SCHEMA_VERSION = 2
MEMORY = ":memory:"


def default_path() -> pathlib.Path:
    """`<Jupyter data dir>/copilot_widget/threads.sqlite3` (one file per user)."""
    try:
        from jupyter_core.paths import jupyter_data_dir

        base = pathlib.Path(jupyter_data_dir())
    except ImportError:  # pragma: no cover - jupyter_core comes with every Jupyter install
        base = pathlib.Path.home() / ".local" / "share" / "jupyter"
    return base / "copilot_widget" / "threads.sqlite3"


def _run_script(db: sqlite3.Connection, script: str) -> None:
    # One statement at a time: `executescript` would commit the migration's transaction.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        CREATE TABLE threads (
            id TEXT PRIMARY KEY,
            app_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            company_id TEXT NOT NULL,
            title TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE messages (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            thread_id TEXT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
            body TEXT NOT NULL
        );
        CREATE INDEX messages_by_thread ON messages(thread_id, seq);
        """,
    )


def _v2(db: sqlite3.Connection) -> None:
    # "Most recent thread" means most recently active, not most recently created.
    _run_script(
        db,
        """
        ALTER TABLE threads ADD COLUMN updated_at REAL NOT NULL DEFAULT 0;
        UPDATE threads SET updated_at = created_at;
        CREATE INDEX threads_by_scope ON threads(app_id, user_id, company_id, updated_at);
        """,
    )


#: MIGRATIONS[n] brings a store from schema version n to n + 1.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {0: _v1, 1: _v2}


class StoreError(Exception):
    """The store file cannot be opened, read or written."""


class ThreadStore:
    """Threads scoped by (app_id, user_id, company_id), and their messages."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = str(path) if path is not None else str(default_path())
        self._lock = threading.Lock()
        try:
            if self.path != MEMORY:
                pathlib.Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=10, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA busy_timeout = 10000")
            if self.path != MEMORY:
                self._db.execute("PRAGMA journal_mode = WAL")
                # In WAL mode NORMAL survives a crashed or killed kernel; it only skips the
                # per-commit fsync that guards against a power cut.
                self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"The thread store {self.path!r} cannot be used: {exc}") from exc

    def _migrate(self) -> None:
        with self._transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"The thread store {self.path!r} has schema version {version}, newer than "
                    f"this copilot-widget understands ({SCHEMA_VERSION}); upgrade the package."
                )
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](db)
                version += 1
                db.execute(f"PRAGMA user_version = {version}")

    def _transaction(self) -> _Transaction:
        return _Transaction(self)

    def close(self) -> None:
        self._db.close()

    # -- threads ------------------------------------------------------------------------
    def threads(self, scope: tuple[str, str, str]) -> list[Thread]:
        """Threads in scope, most recently active first."""
        rows = self._read(
            "SELECT id, title, created_at FROM threads WHERE app_id = ? AND user_id = ? "
            "AND company_id = ? ORDER BY updated_at DESC, rowid DESC",
            scope,
        )
        return [_thread(row) for row in rows]

    def thread(self, thread_id: str, scope: tuple[str, str, str]) -> Thread | None:
        rows = self._read(
            "SELECT id, title, created_at FROM threads WHERE id = ? AND app_id = ? "
            "AND user_id = ? AND company_id = ?",
            (thread_id, *scope),
        )
        return _thread(rows[0]) if rows else None

    def create_thread(self, thread: Thread, scope: tuple[str, str, str]) -> None:
        self._write(
            "INSERT INTO threads (id, app_id, user_id, company_id, title, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (thread["id"], *scope, thread["title"], thread["created_at"], time.time()),
        )

    def rename_thread(self, thread_id: str, title: str) -> None:
        self._write("UPDATE threads SET title = ? WHERE id = ?", (title, thread_id))

    def delete_thread(self, thread_id: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM messages WHERE thread_id = ?", (thread_id,))
            db.execute("DELETE FROM threads WHERE id = ?", (thread_id,))

    # -- messages -----------------------------------------------------------------------
    def messages(self, thread_id: str) -> list[Message]:
        rows = self._read(
            "SELECT body FROM messages WHERE thread_id = ? ORDER BY seq", (thread_id,)
        )
        return [json.loads(row[0]) for row in rows]

    def save_message(self, message: Message) -> None:
        """Insert or update a message (its place in the thread is where it was first saved)."""
        body = json.dumps(message, separators=(",", ":"))
        with self._transaction() as db:
            db.execute(
                "INSERT INTO messages (id, thread_id, body) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET body = excluded.body",
                (message["id"], message["thread_id"], body),
            )
            db.execute(
                "UPDATE threads SET updated_at = ? WHERE id = ?",
                (time.time(), message["thread_id"]),
            )

    def delete_message(self, message_id: str) -> None:
        self._write("DELETE FROM messages WHERE id = ?", (message_id,))

    # -- plumbing -----------------------------------------------------------------------
    def _read(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"Reading the thread store {self.path!r} failed: {exc}") from exc

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._transaction() as db:
            db.execute(sql, params)


class _Transaction:
    """`BEGIN IMMEDIATE` ... `COMMIT`: takes the write lock up front, so two kernels writing at
    once queue on the busy timeout instead of failing halfway."""

    def __init__(self, store: ThreadStore) -> None:
        self._store = store

    def __enter__(self) -> sqlite3.Connection:
        self._store._lock.acquire()
        try:
            self._store._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._store._lock.release()
            raise StoreError(
                f"The thread store {self._store.path!r} is not writable: {exc}"
            ) from exc
        return self._store._db

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        db = self._store._db
        try:
            if exc_type is None:
                db.execute("COMMIT")
            else:
                db.execute("ROLLBACK")
        except sqlite3.Error as error:
            raise StoreError(
                f"Writing the thread store {self._store.path!r} failed: {error}"
            ) from error
        finally:
            self._store._lock.release()
        if isinstance(exc, sqlite3.Error):
            raise StoreError(
                f"Writing the thread store {self._store.path!r} failed: {exc}"
            ) from exc


def _thread(row: tuple[Any, ...]) -> Thread:
    return {"id": row[0], "object": "thread", "title": row[1], "created_at": int(row[2])}
