"""The thread store: threads and their messages in SQLite, so no conversation is ever lost.

One file per user by default (in the Jupyter data directory), shared by every kernel of that
user: WAL mode lets readers and a writer work at once, and a busy timeout makes concurrent
writers wait instead of failing. Each message is one row holding its JSON, written (upserted)
whenever it changes state; its row id keeps the thread's order.

The store holds every prompt and tool result, so it is private to its user: a directory it
creates is 0700, and the database and its `-wal` / `-shm` files are 0600.

Whatever goes wrong surfaces as a `StoreError` naming the file (the widget then keeps the
conversation in memory and says so): a locked, unreadable or closed store, and a damaged one.
The structure of the file is checked when it is opened, and every row is checked when it is
read. A store that looks damaged is never written to, repaired or deleted: it is closed and
left exactly as it is, for its user to inspect.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import pathlib
import re
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal, NamedTuple, Protocol, cast, get_args

from ._messages import Message, MessageStatus, Thread, ToolCallStatus, text_of

SCHEMA_VERSION = 4
MEMORY = ":memory:"
#: The URL schemes of a PostgreSQL store (`PostgresStore`); any other location is a SQLite
#: path, or ":memory:".
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

logger = logging.getLogger(__name__)


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


def _v3(db: sqlite3.Connection) -> None:
    # One run at a time per thread, across kernels: who runs (or last ran) in each thread.
    _run_script(
        db,
        """
        CREATE TABLE runs (
            thread_id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            started_at REAL NOT NULL,
            active INTEGER NOT NULL
        );
        """,
    )


def _v4(db: sqlite3.Connection) -> None:
    # The text of each message beside its JSON: the picker's previews and the search read it
    # without parsing every message.
    db.execute("ALTER TABLE messages ADD COLUMN text TEXT NOT NULL DEFAULT ''")
    rows = db.execute("SELECT seq, body FROM messages").fetchall()
    db.executemany(
        "UPDATE messages SET text = ? WHERE seq = ?",
        [(text, seq) for seq, body in rows if (text := _stored_text(body))],
    )


def _stored_text(body: Any) -> str:
    """The text of a stored message body ("" for one that is not readable: reading it later
    says what is wrong with it)."""
    try:
        message = json.loads(body)
        return "".join(
            part["text"]["value"]
            for part in message["content"]
            if part["type"] == "text" and isinstance(part["text"]["value"], str)
        )
    except (TypeError, ValueError, KeyError, RecursionError):
        return ""


#: MIGRATIONS[n] brings a store from schema version n to n + 1.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    0: _v1,
    1: _v2,
    2: _v3,
    3: _v4,
}

#: How much of a message the picker shows under a thread's title (one line).
PREVIEW_CHARS = 120
#: How much text around a search's match the picker shows (one line).
SNIPPET_CHARS = 160
#: The longest search query accepted.
MAX_QUERY_CHARS = 200
#: How many threads a search returns at most (the most recent ones).
MAX_SEARCH_RESULTS = 50


class ThreadEntry(Thread):
    """A thread as the picker lists it: when it was last active, and the start of its last
    message that has text (one line)."""

    updated_at: int
    preview: str


class SearchHit(NamedTuple):
    """A thread that matches a search, and the text the first match is in: the first message
    (in the thread's order) whose text matches, else the title."""

    thread: ThreadEntry
    text: str


class RunOwner(NamedTuple):
    """Who runs in a thread: a copilot (`owner`) of the kernel `pid` on `host`."""

    owner: str
    host: str
    pid: int
    started_at: float


class Claim(NamedTuple):
    """The answer to `claim_run`: `holder` is another owner whose live run holds the thread
    (nothing was taken); else the thread is ours, and `others_ran` says whether another owner
    ran in it since our last run (our copy of its messages may be out of date)."""

    holder: RunOwner | None
    others_ran: bool


class StoreError(Exception):
    """The store cannot be opened, read or written."""


class StoreUnavailable(StoreError):
    """The store cannot be reached now (its server is down or the connection broke); the
    same operation may succeed later."""


Scope = tuple[str, str, str]


class Store(Protocol):
    """What the copilot asks of a thread store (SQLite: `ThreadStore`; PostgreSQL:
    `PostgresStore`). Safe to share between threads; every method raises `StoreError` when
    the store cannot do what was asked (`StoreUnavailable` when it may work again later)."""

    @property
    def path(self) -> str:
        """Where the store is, as shown to the user (never with a password)."""
        ...

    def threads(self, scope: Scope) -> list[ThreadEntry]:
        """Threads in scope, most recently active first, with their previews."""
        ...

    def search(self, scope: Scope, query: str) -> list[SearchHit]:
        """Threads in scope whose title or any message's text contains `query` (ignoring
        case), most recently active first, at most `MAX_SEARCH_RESULTS` of them."""
        ...

    def thread(self, thread_id: str, scope: Scope) -> Thread | None: ...

    def create_thread(self, thread: Thread, scope: Scope) -> None: ...

    def rename_thread(self, thread_id: str, title: str) -> None: ...

    def delete_thread(self, thread_id: str) -> None: ...

    def messages(self, thread_id: str) -> list[Message]:
        """A thread's messages, in the order they were first saved."""
        ...

    def save_message(self, message: Message) -> None:
        """Insert or update a message (its place in the thread is where it was first saved)."""
        ...

    def delete_message(self, message_id: str) -> None: ...

    def claim_run(
        self,
        thread_id: str,
        me: RunOwner,
        is_live: Callable[[RunOwner], bool],
        *,
        wait: float | None = None,
    ) -> Claim:
        """Take `thread_id` for a run of `me`, unless another owner's run holds it and
        `is_live` says that owner's run is still going."""
        ...

    def release_run(self, thread_id: str, owner: str) -> None: ...

    def close(self) -> None:
        """Release the store; later operations raise `StoreError`. Closing again is fine."""
        ...


class _Damaged(Exception):
    """The file holds something this store never writes."""


_Kind = Literal["open", "read", "write"]

#: SQLite's primary result codes for a damaged file: SQLITE_CORRUPT and SQLITE_NOTADB.
_DAMAGE_CODES = (11, 26)
_DAMAGE_WORDS = ("malformed", "not a database", "could not decode")


def _looks_damaged(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if isinstance(code, int) and code & 0xFF in _DAMAGE_CODES:
        return True
    text = str(exc).lower()
    return any(word in text for word in _DAMAGE_WORDS)


class ThreadStore:
    """Threads scoped by (app_id, user_id, company_id), and their messages.

    Safe to share between threads; every method raises `StoreError` when the store cannot do
    what was asked."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = str(path) if path is not None else str(default_path())
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        #: Why every operation is refused (closed, or the file looks damaged); None if usable.
        self._refusal: str | None = None
        in_memory = self.path == MEMORY
        try:
            if not in_memory:
                file = pathlib.Path(self.path)
                _prepare_private_file(file, ours=path is None or file == default_path())
            self._db = sqlite3.connect(
                self.path, timeout=10, isolation_level=None, check_same_thread=False
            )
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"The thread store {self.path!r} cannot be used: {exc}") from exc
        try:
            self._setup(in_memory)
        except BaseException:
            self._shut()  # a store that failed to open keeps no file open
            raise

    def _setup(self, in_memory: bool) -> None:
        with self._session("open") as db:
            db.execute("PRAGMA busy_timeout = 10000")
            if not in_memory:
                # Before anything is written: a damaged file is refused, not made worse.
                problems = [str(row[0]) for row in db.execute("PRAGMA quick_check(3)")]
                if problems != ["ok"]:
                    lines = "\n".join(problems).splitlines()
                    raise _Damaged("; ".join(line for line in lines if not line.startswith("*")))
                db.execute("PRAGMA journal_mode = WAL")
                # In WAL mode NORMAL survives a crashed or killed kernel; it only skips the
                # per-commit fsync that guards against a power cut.
                db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            db.create_function("cw_fold", 1, _fold, deterministic=True)
        self._migrate()
        if not in_memory:
            for suffix in ("-wal", "-shm", "-journal"):
                # SQLite gives these the database's mode; older ones may be wider.
                _tighten(pathlib.Path(self.path + suffix))

    def _migrate(self) -> None:
        with self._session("open", transaction=True) as db:
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

    def close(self) -> None:
        """Release the file; later operations raise `StoreError`. Closing again is fine."""
        with self._lock:
            self._shut()
            if self._refusal is None:
                self._refusal = f"The thread store {self.path!r} is closed"

    # -- threads ------------------------------------------------------------------------
    def threads(self, scope: tuple[str, str, str]) -> list[ThreadEntry]:
        """Threads in scope, most recently active first, with their previews (one query)."""
        with self._session("read") as db:
            rows = db.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM threads t WHERE app_id = ? AND user_id = ? "
                "AND company_id = ? ORDER BY updated_at DESC, rowid DESC",
                scope,
            ).fetchall()
            return [_entry(row) for row in rows]

    def search(self, scope: tuple[str, str, str], query: str) -> list[SearchHit]:
        """Threads in scope whose title or any message's text contains `query` (ignoring
        case), most recently active first, at most `MAX_SEARCH_RESULTS` of them."""
        folded = query.casefold()
        with self._session("read") as db:
            rows = db.execute(
                f"SELECT * FROM (SELECT {_ENTRY_COLUMNS}, (SELECT m.text FROM messages m "
                "WHERE m.thread_id = t.id AND instr(cw_fold(m.text), :q) > 0 "
                "ORDER BY m.seq LIMIT 1) AS hit, t.rowid AS row FROM threads t "
                "WHERE app_id = :app AND user_id = :user AND company_id = :company) "
                "WHERE hit IS NOT NULL OR instr(cw_fold(title), :q) > 0 "
                "ORDER BY updated_at DESC, row DESC LIMIT :limit",
                {
                    "q": folded,
                    "app": scope[0],
                    "user": scope[1],
                    "company": scope[2],
                    "limit": MAX_SEARCH_RESULTS,
                },
            ).fetchall()
            return search_hits(rows)

    def thread(self, thread_id: str, scope: tuple[str, str, str]) -> Thread | None:
        with self._session("read") as db:
            rows = db.execute(
                "SELECT id, title, created_at FROM threads WHERE id = ? AND app_id = ? "
                "AND user_id = ? AND company_id = ?",
                (thread_id, *scope),
            ).fetchall()
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
        with self._session("write", transaction=True) as db:
            db.execute("DELETE FROM messages WHERE thread_id = ?", (thread_id,))
            db.execute("DELETE FROM runs WHERE thread_id = ?", (thread_id,))
            db.execute("DELETE FROM threads WHERE id = ?", (thread_id,))

    # -- messages -----------------------------------------------------------------------
    def messages(self, thread_id: str) -> list[Message]:
        with self._session("read") as db:
            rows = db.execute(
                "SELECT id, thread_id, body FROM messages WHERE thread_id = ? ORDER BY seq",
                (thread_id,),
            ).fetchall()
            return [_message(*row) for row in rows]

    def save_message(self, message: Message) -> None:
        """Insert or update a message (its place in the thread is where it was first saved)."""
        body = json.dumps(message, separators=(",", ":"))
        text = text_of(message)
        with self._session("write", transaction=True) as db:
            db.execute(
                "INSERT INTO messages (id, thread_id, body, text) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET body = excluded.body, text = excluded.text",
                (message["id"], message["thread_id"], body, text),
            )
            db.execute(
                "UPDATE threads SET updated_at = ? WHERE id = ?",
                (time.time(), message["thread_id"]),
            )

    def delete_message(self, message_id: str) -> None:
        self._write("DELETE FROM messages WHERE id = ?", (message_id,))

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
        with self._session("write", transaction=True, wait=wait) as db:
            row = db.execute(
                "SELECT owner, host, pid, started_at, active FROM runs WHERE thread_id = ?",
                (thread_id,),
            ).fetchone()
            last = RunOwner(str(row[0]), str(row[1]), int(row[2]), float(row[3])) if row else None
            if last is not None and last.owner != me.owner and row[4] and is_live(last):
                return Claim(last, others_ran=True)
            db.execute(
                "INSERT INTO runs (thread_id, owner, host, pid, started_at, active) "
                "VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT(thread_id) DO UPDATE SET "
                "owner = excluded.owner, host = excluded.host, pid = excluded.pid, "
                "started_at = excluded.started_at, active = 1",
                (thread_id, *me),
            )
            return Claim(None, others_ran=last is not None and last.owner != me.owner)

    def release_run(self, thread_id: str, owner: str) -> None:
        self._write(
            "UPDATE runs SET active = 0 WHERE thread_id = ? AND owner = ?", (thread_id, owner)
        )

    # -- plumbing -----------------------------------------------------------------------
    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._session("write", transaction=True) as db:
            db.execute(sql, params)

    @contextlib.contextmanager
    def _session(
        self, kind: _Kind, *, transaction: bool = False, wait: float | None = None
    ) -> Iterator[sqlite3.Connection]:
        """The connection, for one operation at a time. With `transaction`, inside
        `BEGIN IMMEDIATE` ... `COMMIT`: the write lock is taken up front, so two kernels
        writing at once queue on the busy timeout instead of failing halfway. `wait`: give up
        after that many seconds instead (the store is busy). Any SQLite error or damaged row
        becomes a `StoreError`; the transaction is rolled back."""
        if not self._lock.acquire(timeout=-1 if wait is None else wait):
            raise StoreError(f"The thread store {self.path!r} is busy")
        try:
            db = self._db
            if db is None:
                raise StoreError(self._refusal or f"The thread store {self.path!r} is closed")
            try:
                if wait is not None:
                    db.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
                if transaction:
                    db.execute("BEGIN IMMEDIATE")
                yield db
                if transaction:
                    db.execute("COMMIT")
            except (sqlite3.Error, _Damaged) as exc:
                _roll_back(db)
                raise self._failure(kind, exc) from exc
            except BaseException:
                _roll_back(db)
                raise
            finally:
                if wait is not None and self._db is not None:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("PRAGMA busy_timeout = 10000")
        finally:
            self._lock.release()

    def _failure(self, kind: _Kind, exc: sqlite3.Error | _Damaged) -> StoreError:
        """The error to raise for `exc`. A store that looks damaged is closed for good (it is
        left as it is, for its user to inspect); call with the lock held."""
        detail = str(exc) if len(str(exc)) <= 300 else str(exc)[:300] + "..."
        if isinstance(exc, _Damaged) or _looks_damaged(exc):
            self._refusal = (
                f"The thread store {self.path!r} cannot be used: it looks damaged ({detail}). "
                "It is left as it is, for you to inspect; move it away to start a new store"
            )
            self._shut()
            return StoreError(self._refusal)
        if kind == "open":
            return StoreError(f"The thread store {self.path!r} cannot be used: {detail}")
        verb = "Reading" if kind == "read" else "Writing"
        return StoreError(f"{verb} the thread store {self.path!r} failed: {detail}")

    def _shut(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()


def _roll_back(db: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        if db.in_transaction:
            db.execute("ROLLBACK")


# -- privacy ------------------------------------------------------------------------------
def _prepare_private_file(path: pathlib.Path, *, ours: bool) -> None:
    """Create the store's missing directories (0700) and its file (0600). A file we own is
    made private if it is not; so is an existing directory when it is the default store's
    (a directory the user chose for the file is theirs: it is left alone)."""
    missing: list[pathlib.Path] = []
    directory = path.parent
    while not directory.exists() and directory != directory.parent:
        missing.append(directory)
        directory = directory.parent
    for new in reversed(missing):
        new.mkdir(mode=0o700, exist_ok=True)  # another kernel may create it at the same time
    if missing or ours:
        _tighten(path.parent, directory=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    _tighten(path)


def _tighten(path: pathlib.Path, *, directory: bool = False) -> None:
    """Take the group's and others' permissions from a file (or directory) that we own."""
    if not hasattr(os, "getuid"):  # pragma: no cover - Windows: POSIX modes do not apply
        return
    try:
        info = os.stat(path)
    except OSError:  # gone, or not ours to look at
        return
    right_kind = stat.S_ISDIR(info.st_mode) if directory else stat.S_ISREG(info.st_mode)
    if not right_kind or info.st_uid != os.getuid() or not info.st_mode & 0o077:
        return
    try:
        os.chmod(path, stat.S_IMODE(info.st_mode) & ~0o077)
    except OSError as exc:
        logger.warning("Could not make %s private to its user: %s", path, exc)


# -- rows ---------------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


#: The columns of a `ThreadEntry` (threads as `t`). The preview is the last message with
#: text: the messages index finds it from the end of the thread.
_ENTRY_COLUMNS = (
    "t.id, t.title, t.created_at, t.updated_at, (SELECT substr(m.text, 1, 4 * "
    f"{PREVIEW_CHARS}) FROM messages m WHERE m.thread_id = t.id AND m.text != '' "
    "ORDER BY m.seq DESC LIMIT 1)"
)


def _fold(text: Any) -> str:
    """Text as the search compares it (SQLite's own `lower` folds ASCII letters only)."""
    return text.casefold() if isinstance(text, str) else ""


#: Markdown's emphasis and code marks, which a one-line preview shows as plain text.
_MARKS = re.compile(r"\*\*|__|`+")


def preview_of(text: str) -> str:
    """The start of a message's text on one line, without Markdown's emphasis and code marks,
    at most `PREVIEW_CHARS` characters."""
    line = " ".join(_MARKS.sub("", text[: 4 * PREVIEW_CHARS]).split())
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1].rstrip() + "…"


def snippet_of(text: str, query: str) -> str:
    """The text around the first match of `query` on one line, at most `SNIPPET_CHARS`
    characters, with `…` where it was cut."""
    found = re.search(re.escape(query), text, re.IGNORECASE)
    # Case folding can change lengths (ß, ss): without an exact match, the start of the text.
    at, end = (found.start(), found.end()) if found else (0, 0)
    start = max(at - SNIPPET_CHARS // 3, end - SNIPPET_CHARS)  # some context before the match
    start = max(0, min(start, len(text) - SNIPPET_CHARS))  # a full snippet near the end too
    stop = min(len(text), start + SNIPPET_CHARS)
    if start > 0:  # begin on a word
        space = text.find(" ", start, at)
        start = space + 1 if space != -1 and space - start < 20 else start
    if stop < len(text):
        space = text.rfind(" ", max(end, stop - 20), stop)
        stop = space if space != -1 else stop
    line = " ".join(text[start:stop].split())
    return ("…" if start > 0 else "") + line + ("…" if stop < len(text) else "")


def search_hits(rows: list[tuple[Any, ...]]) -> list[SearchHit]:
    """Search rows (a thread's listing, then the matching text or None) as hits: a thread that
    matched by its title alone shows its title."""
    hits = []
    for row in rows:
        entry = _entry(row[:5])
        hit = row[5]
        hits.append(SearchHit(entry, hit if isinstance(hit, str) else entry["title"]))
    return hits


def _entry(row: tuple[Any, ...]) -> ThreadEntry:
    thread = _thread(row[:3])
    updated_at, preview = row[3], row[4]
    if not (_is_number(updated_at) and (preview is None or isinstance(preview, str))):
        raise _Damaged(f"the thread row {thread['id'][:60]!r} is malformed")
    return {
        **thread,
        "updated_at": int(max(updated_at, thread["created_at"])),
        "preview": preview_of(preview or ""),
    }


def _thread(row: tuple[Any, ...]) -> Thread:
    thread_id, title, created_at = row
    if not (isinstance(thread_id, str) and isinstance(title, str) and _is_number(created_at)):
        raise _Damaged(f"the thread row {str(thread_id)[:60]!r} is malformed")
    return {"id": thread_id, "object": "thread", "title": title, "created_at": int(created_at)}


_MESSAGE_STATUSES = get_args(MessageStatus)
_CALL_STATUSES = get_args(ToolCallStatus)
_REQUIRED = ("id", "thread_id", "role", "status", "created_at", "content", "tool_calls")
#: Keys a message may lack (a row from an older version): their value when absent, and
#: what a present value must be.
_OPTIONAL: dict[str, tuple[Callable[[], Any], Callable[[Any], bool]]] = {
    "object": (lambda: "thread.message", lambda v: v == "thread.message"),
    "run_id": (lambda: None, lambda v: v is None or isinstance(v, str)),
    "incomplete_details": (lambda: None, lambda v: v is None or isinstance(v, dict)),
    "completed_at": (lambda: None, lambda v: v is None or _is_number(v)),
    "is_undoable": (lambda: False, lambda v: isinstance(v, bool)),
    "is_redoable": (lambda: False, lambda v: isinstance(v, bool)),
    "buttons": (list, lambda v: isinstance(v, list)),
}


def _message(row_id: Any, row_thread_id: Any, body: Any) -> Message:
    name = str(row_id)[:60]
    try:
        message = json.loads(body)
    except (TypeError, ValueError, RecursionError) as exc:
        raise _Damaged(f"the message row {name!r} is not valid JSON") from exc
    problem = _message_problem(message, row_id, row_thread_id)
    if problem is not None:
        raise _Damaged(f"the message row {name!r} {problem}")
    return cast(Message, message)


def _message_problem(message: Any, row_id: Any, row_thread_id: Any) -> str | None:
    """What is wrong with a stored message (None if nothing); fills in the optional keys."""
    if not isinstance(message, dict):
        return "is not a JSON object"
    missing = [key for key in _REQUIRED if key not in message]
    if missing:
        return "lacks " + ", ".join(repr(key) for key in missing)
    if message["id"] != row_id or message["thread_id"] != row_thread_id:
        return "does not match its id or thread"
    if message["role"] not in ("user", "assistant") or message["status"] not in _MESSAGE_STATUSES:
        return "has an unknown role or status"
    if not _is_number(message["created_at"]):
        return "has a malformed 'created_at'"
    content, calls = message["content"], message["tool_calls"]
    if not isinstance(content, list) or not all(_content_ok(part) for part in content):
        return "has malformed content"
    if not isinstance(calls, list) or not all(_tool_call_ok(call) for call in calls):
        return "has a malformed tool call"
    for key, (default, valid) in _OPTIONAL.items():
        if key not in message:
            message[key] = default()
        elif not valid(message[key]):
            return f"has a malformed {key!r}"
    return None


def _content_ok(part: Any) -> bool:
    if not isinstance(part, dict) or not isinstance(part.get("type"), str):
        return False
    if part["type"] != "text":
        return True
    text = part.get("text")
    if not isinstance(text, dict) or not isinstance(text.get("value"), str):
        return False
    text.setdefault("annotations", [])
    return isinstance(text["annotations"], list)


def _tool_call_ok(call: Any) -> bool:
    if not isinstance(call, dict):
        return False
    call.setdefault("result", None)
    call.setdefault("error", None)
    call.setdefault("display", None)  # saved before calls had one
    call.setdefault("outputs", [])
    return (
        all(isinstance(call.get(key), str) for key in ("id", "name", "arguments"))
        and call.get("status") in _CALL_STATUSES
        and all(call[key] is None or isinstance(call[key], str) for key in ("result", "error"))
        and _display_ok(call["display"])
        and isinstance(call["outputs"], list)
        and all(isinstance(output, str) for output in call["outputs"])
    )


def _display_ok(display: Any) -> bool:
    if display is None:
        return True
    if not isinstance(display, dict) or not isinstance(display.get("data"), dict):
        return False
    note = display.setdefault("note", None)
    return (note is None or isinstance(note, str)) and all(
        isinstance(mime, str) for mime in display["data"]
    )
