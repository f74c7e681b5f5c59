"""The thread store on a PostgreSQL server: one database shared by a team's kernels.

The same store as the SQLite one (`ThreadStore`), for deployments where many users and
machines share one database: threads scoped by (app_id, user_id, company_id), one row per
message holding its JSON and its text, previews and search computed by the server, one run at
a time per thread across kernels, a versioned schema migrated when a store is opened.

The server may go away and come back: an operation that cannot reach it raises
`StoreUnavailable`, and the next operation connects again. (`Threads` keeps what could not be
written and writes it again once the server answers.)

Needs `psycopg` 3: `pip install "copilot-widget[postgres]"`.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

try:
    import psycopg
except ImportError as exc:  # an optional dependency: `Copilot(store=...)` says what to install
    raise ImportError(
        'The PostgreSQL thread store needs psycopg 3: pip install "copilot-widget[postgres]"'
    ) from exc

from ._messages import Message, Thread, text_of
from ._store import (
    MAX_SEARCH_RESULTS,
    PREVIEW_CHARS,
    Claim,
    RunOwner,
    Scope,
    SearchHit,
    StoreError,
    StoreUnavailable,
    ThreadEntry,
    _Damaged,
    _entry,
    _fold,
    _Kind,
    _message,
    _thread,
    search_hits,
)

SCHEMA_VERSION = 1
#: How long connecting may take before the server counts as unreachable.
CONNECT_TIMEOUT_SECONDS = 5
#: The advisory lock that makes kernels opening the same store at once migrate it one by one.
_MIGRATION_LOCK = 0x636F70696C6F74  # "copilot"


def _v1(cur: psycopg.Cursor[Any]) -> None:
    # Titles and texts are also kept case-folded (by Python's `str.casefold`, whatever the
    # database's locale), so the search matches exactly what the SQLite store matches.
    for statement in (
        """CREATE TABLE copilot_threads (
            id TEXT PRIMARY KEY,
            app_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            company_id TEXT NOT NULL,
            title TEXT NOT NULL,
            title_folded TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            seq BIGSERIAL NOT NULL
        )""",
        "CREATE INDEX copilot_threads_by_scope ON copilot_threads "
        "(app_id, user_id, company_id, updated_at)",
        """CREATE TABLE copilot_messages (
            seq BIGSERIAL PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            thread_id TEXT NOT NULL REFERENCES copilot_threads(id) ON DELETE CASCADE,
            body TEXT NOT NULL,
            text TEXT NOT NULL DEFAULT '',
            folded TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX copilot_messages_by_thread ON copilot_messages (thread_id, seq)",
        """CREATE TABLE copilot_runs (
            thread_id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            started_at DOUBLE PRECISION NOT NULL,
            active BOOLEAN NOT NULL
        )""",
    ):
        cur.execute(statement)


#: MIGRATIONS[n] brings a store from schema version n to n + 1.
MIGRATIONS: dict[int, Callable[[psycopg.Cursor[Any]], None]] = {0: _v1}

#: The columns of a `ThreadEntry` (threads as `t`): as in the SQLite store.
_ENTRY_COLUMNS = (
    "t.id, t.title, t.created_at, t.updated_at, (SELECT substr(m.text, 1, 4 * "
    f"{PREVIEW_CHARS}) FROM copilot_messages m WHERE m.thread_id = t.id AND m.text != '' "
    "ORDER BY m.seq DESC LIMIT 1)"
)


def redacted(url: str) -> str:
    """The URL without its password (it is shown in warnings)."""
    return re.sub(r"^([a-z]+://[^:/@]*):[^@/]*@", r"\1:***@", url)


def _plain(text: str) -> str:
    """Text that PostgreSQL can hold (its text type refuses NUL characters)."""
    return text.replace("\x00", "")


class PostgresStore:
    """Threads scoped by (app_id, user_id, company_id), and their messages, in a PostgreSQL
    database given by its URL (`postgresql://user@host:port/db`).

    Safe to share between threads; every method raises `StoreError` when the store cannot do
    what was asked, `StoreUnavailable` when the server cannot be reached (the next operation
    connects again)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._path = redacted(url)
        self._lock = threading.Lock()
        self._db: psycopg.Connection[Any] | None = None
        #: Why every operation is refused (closed, newer schema, damaged); None if usable.
        self._refusal: str | None = None
        #: Whether the server's schema was checked (and migrated): on the first connection.
        self._schema_checked = False
        try:
            with self._session("open"):
                pass
        except StoreUnavailable:
            # A server that is down now may be up in a moment (a kernel that starts before
            # the database): every operation connects again, so the store is kept.
            pass
        except BaseException:
            self._shut()
            raise

    @property
    def path(self) -> str:
        return self._path

    def _migrate(self, db: psycopg.Connection[Any]) -> None:
        with db.transaction(), db.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cur.execute("CREATE TABLE IF NOT EXISTS copilot_schema (version INTEGER NOT NULL)")
            row = cur.execute("SELECT version FROM copilot_schema").fetchone()
            if row is None:
                cur.execute("INSERT INTO copilot_schema (version) VALUES (0)")
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                self._refusal = (
                    f"The thread store {self.path!r} has schema version {version}, newer than "
                    f"this copilot-widget understands ({SCHEMA_VERSION}); upgrade the package."
                )
                raise StoreError(self._refusal)
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](cur)
                version += 1
            cur.execute("UPDATE copilot_schema SET version = %s", (version,))

    def close(self) -> None:
        """Release the connection; later operations raise `StoreError`. Closing again is
        fine."""
        with self._lock:
            self._shut()
            if self._refusal is None:
                self._refusal = f"The thread store {self.path!r} is closed"

    # -- threads ------------------------------------------------------------------------
    def threads(self, scope: Scope) -> list[ThreadEntry]:
        with self._session("read") as cur:
            rows = cur.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM copilot_threads t WHERE app_id = %s AND "
                "user_id = %s AND company_id = %s ORDER BY updated_at DESC, seq DESC",
                scope,
            ).fetchall()
            return [_entry(row) for row in rows]

    def search(self, scope: Scope, query: str) -> list[SearchHit]:
        with self._session("read") as cur:
            rows = cur.execute(
                f"SELECT * FROM (SELECT {_ENTRY_COLUMNS}, (SELECT m.text FROM copilot_messages m"
                " WHERE m.thread_id = t.id AND strpos(m.folded, %(q)s) > 0 ORDER BY m.seq "
                "LIMIT 1) AS hit, t.seq AS row, t.title_folded FROM copilot_threads t "
                "WHERE app_id = %(app)s AND user_id = %(user)s AND company_id = %(company)s) s "
                "WHERE hit IS NOT NULL OR strpos(title_folded, %(q)s) > 0 "
                "ORDER BY updated_at DESC, row DESC LIMIT %(limit)s",
                {
                    "q": _plain(_fold(query)),
                    "app": scope[0],
                    "user": scope[1],
                    "company": scope[2],
                    "limit": MAX_SEARCH_RESULTS,
                },
            ).fetchall()
            return search_hits(rows)

    def thread(self, thread_id: str, scope: Scope) -> Thread | None:
        with self._session("read") as cur:
            rows = cur.execute(
                "SELECT id, title, created_at FROM copilot_threads WHERE id = %s AND "
                "app_id = %s AND user_id = %s AND company_id = %s",
                (thread_id, *scope),
            ).fetchall()
            return _thread(rows[0]) if rows else None

    def create_thread(self, thread: Thread, scope: Scope) -> None:
        # Creating a thread that exists changes nothing: a write that reached the server just
        # before the connection broke is written again once it is back.
        self._write(
            "INSERT INTO copilot_threads (id, app_id, user_id, company_id, title, title_folded,"
            " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (id) DO NOTHING",
            (
                thread["id"],
                *scope,
                _plain(thread["title"]),
                _plain(_fold(thread["title"])),
                thread["created_at"],
                time.time(),
            ),
        )

    def rename_thread(self, thread_id: str, title: str) -> None:
        self._write(
            "UPDATE copilot_threads SET title = %s, title_folded = %s WHERE id = %s",
            (_plain(title), _plain(_fold(title)), thread_id),
        )

    def delete_thread(self, thread_id: str) -> None:
        # One statement, so one transaction: its messages go with it (ON DELETE CASCADE).
        self._write(
            "WITH runs AS (DELETE FROM copilot_runs WHERE thread_id = %s) "
            "DELETE FROM copilot_threads WHERE id = %s",
            (thread_id, thread_id),
        )

    # -- messages -----------------------------------------------------------------------
    def messages(self, thread_id: str) -> list[Message]:
        with self._session("read") as cur:
            rows = cur.execute(
                "SELECT id, thread_id, body FROM copilot_messages WHERE thread_id = %s "
                "ORDER BY seq",
                (thread_id,),
            ).fetchall()
            return [_message(*row) for row in rows]

    def save_message(self, message: Message) -> None:
        """Insert or update a message (its place in the thread is where it was first saved),
        and mark its thread active: one statement, one round trip to the server."""
        text = _plain(text_of(message))
        self._write(
            "WITH saved AS (INSERT INTO copilot_messages (id, thread_id, body, text, folded) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET body = excluded.body, "
            "text = excluded.text, folded = excluded.folded RETURNING thread_id) "
            "UPDATE copilot_threads SET updated_at = %s WHERE id IN (SELECT thread_id FROM saved)",
            (
                message["id"],
                message["thread_id"],
                json.dumps(message, separators=(",", ":")),
                text,
                _fold(text),
                time.time(),
            ),
        )

    def delete_message(self, message_id: str) -> None:
        self._write("DELETE FROM copilot_messages WHERE id = %s", (message_id,))

    # -- runs -----------------------------------------------------------------------------
    def claim_run(
        self,
        thread_id: str,
        me: RunOwner,
        is_live: Callable[[RunOwner], bool],
        *,
        wait: float | None = None,
    ) -> Claim:
        """Take `thread_id` for a run of `me`, unless another owner's run holds it and
        `is_live` says that owner's run is still going. `wait`: how long a busy store may
        keep us waiting (then `StoreError`)."""
        with self._session("write", transaction=True, wait=wait) as cur:
            if wait is not None:
                cur.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(wait * 1000)}",))
            # Kernels claiming the same thread at once take turns (the row may not exist yet).
            cur.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", ("run:" + thread_id,)
            )
            row = cur.execute(
                "SELECT owner, host, pid, started_at, active FROM copilot_runs "
                "WHERE thread_id = %s",
                (thread_id,),
            ).fetchone()
            last = RunOwner(str(row[0]), str(row[1]), int(row[2]), float(row[3])) if row else None
            if last is not None and last.owner != me.owner and row is not None and row[4]:
                if is_live(last):
                    return Claim(last, others_ran=True)
            cur.execute(
                "INSERT INTO copilot_runs (thread_id, owner, host, pid, started_at, active) "
                "VALUES (%s, %s, %s, %s, %s, true) ON CONFLICT (thread_id) DO UPDATE SET "
                "owner = excluded.owner, host = excluded.host, pid = excluded.pid, "
                "started_at = excluded.started_at, active = true",
                (thread_id, *me),
            )
            return Claim(None, others_ran=last is not None and last.owner != me.owner)

    def release_run(self, thread_id: str, owner: str) -> None:
        self._write(
            "UPDATE copilot_runs SET active = false WHERE thread_id = %s AND owner = %s",
            (thread_id, owner),
        )

    # -- plumbing -----------------------------------------------------------------------
    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._session("write") as cur:  # one statement: a transaction of its own
            cur.execute(sql, params)

    def _connection(self) -> psycopg.Connection[Any]:
        db = self._db
        if db is not None and not db.closed and not db.broken:
            return db
        self._shut()
        try:
            self._db = psycopg.connect(
                self._url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                application_name="copilot-widget",
            )
        except psycopg.Error as exc:
            if _refused(exc):  # the server answers, and says no: retrying will not change it
                raise StoreError(
                    f"The thread store {self.path!r} refused the connection: {_detail(exc)}"
                ) from exc
            raise StoreUnavailable(
                f"The thread store {self.path!r} cannot be reached: {_detail(exc)}"
            ) from exc
        return self._db

    @contextlib.contextmanager
    def _session(
        self, kind: _Kind, *, transaction: bool = False, wait: float | None = None
    ) -> Iterator[psycopg.Cursor[Any]]:
        """A cursor, for one operation at a time (connecting first if the connection was
        lost). With `transaction`, inside BEGIN ... COMMIT. Any database error or damaged row
        becomes a `StoreError`: `StoreUnavailable` when the connection is lost."""
        if not self._lock.acquire(timeout=-1 if wait is None else wait):
            raise StoreError(f"The thread store {self.path!r} is busy")
        try:
            if self._refusal is not None:
                raise StoreError(self._refusal)
            db = self._connection()
            try:
                if not self._schema_checked:
                    self._migrate(db)
                    self._schema_checked = True
                with contextlib.ExitStack() as stack:
                    if transaction:
                        stack.enter_context(db.transaction())
                    yield stack.enter_context(db.cursor())
            except _Damaged as exc:
                self._refusal = (
                    f"The thread store {self.path!r} cannot be used: it looks damaged "
                    f"({exc}). It is left as it is, for you to inspect"
                )
                self._shut()
                raise StoreError(self._refusal) from exc
            except psycopg.Error as exc:
                raise self._failure(kind, db, exc) from exc
        finally:
            self._lock.release()

    def _failure(self, kind: _Kind, db: psycopg.Connection[Any], exc: psycopg.Error) -> StoreError:
        detail = _detail(exc)
        if db.closed or db.broken or (isinstance(exc, psycopg.OperationalError) and _lost(exc)):
            self._shut()
            return StoreUnavailable(f"The thread store {self.path!r} cannot be reached: {detail}")
        if kind == "open":
            return StoreError(f"The thread store {self.path!r} cannot be used: {detail}")
        verb = "Reading" if kind == "read" else "Writing"
        return StoreError(f"{verb} the thread store {self.path!r} failed: {detail}")

    def _shut(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(psycopg.Error):
                db.close()


def _refused(exc: psycopg.Error) -> bool:
    """Whether connecting failed for a reason the server gave: a wrong user or password (class
    28), or a database that does not exist (3D000)."""
    state = getattr(exc, "sqlstate", None) or ""
    if state.startswith("28") or state == "3D000":
        return True
    # libpq reports a refusal at connection time without a state: read its message.
    text = str(exc).lower()
    return "password authentication failed" in text or (
        "database" in text and "does not exist" in text
    )


def _lost(exc: psycopg.OperationalError) -> bool:
    """Whether the error says the server went away (rather than, say, a lock timeout)."""
    state = getattr(exc, "sqlstate", None) or ""
    # Class 08: connection exception; 57P01-57P03: the server is shutting down or starting.
    return state.startswith("08") or state in ("57P01", "57P02", "57P03") or not state


def _detail(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:300] + "..."
