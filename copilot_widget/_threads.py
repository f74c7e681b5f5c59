"""The threads of one scope and the store that keeps them.

Writes go to one writer thread in order, so a busy store (another kernel writing, a slow
server) never freezes the notebook; reads wait for the writes before them. When the store
fails, the copilot goes on with an in-memory store holding the current thread as it is
(nothing in front of the user is lost) and says so once. A store that is only unreachable for a
while (a database server restarting) is tried again: what could not be written is kept, in
order, and written once the store answers again.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import gc
import itertools
import logging
import os
import queue
import socket
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterator
from typing import Any, TypeVar, cast

from ._display import reopened
from ._messages import Message, Thread, finish_interrupted, new_id
from ._store import (
    MEMORY,
    POSTGRES_SCHEMES,
    Claim,
    RunOwner,
    SearchHit,
    Store,
    StoreError,
    StoreUnavailable,
    ThreadEntry,
    ThreadStore,
)

logger = logging.getLogger("copilot_widget")
T = TypeVar("T")
Scope = tuple[str, str, str]
Write = Callable[[Store], Any]

#: How often an unreachable store is tried again while writes wait for it.
RETRY_SECONDS = 1.0


def open_store(location: str | os.PathLike[str] | None) -> Store:
    """The store at `location`: a PostgreSQL URL, a SQLite path, ":memory:", or None (the
    per-user default SQLite file)."""
    if isinstance(location, str) and location.startswith(POSTGRES_SCHEMES):
        from ._store_postgres import PostgresStore  # psycopg is only needed here

        return PostgresStore(location)
    return ThreadStore(location)


#: Every open store of this process: a read waits for the writes of all copilots on the same
#: file (read your writes, as a new copilot in the same kernel expects), and at exit the
#: queued writes are finished, so a script that ends right after `send` loses nothing.
_OPEN: weakref.WeakSet[Threads] = weakref.WeakSet()


#: The copilots of this process with a run going on: a claim of this process is live only then.
_RUNNING: set[str] = set()
_HOST = socket.gethostname()
#: How long a run claimed on another machine holds its thread: whether that kernel still lives
#: cannot be seen from here.
REMOTE_CLAIM_SECONDS = 3600.0
CLAIM_WAIT_SECONDS = 0.25


def _is_live(owner: RunOwner) -> bool:
    """Whether the run that `owner` claimed may still be going on."""
    if owner.host != _HOST:
        return time.time() - owner.started_at < REMOTE_CLAIM_SECONDS
    if owner.pid == os.getpid():
        return owner.owner in _RUNNING
    try:
        os.kill(owner.pid, 0)  # no signal is sent: this only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user
        return True
    except OSError:
        return False
    return True


@atexit.register
def _finish_writes() -> None:
    for threads in list(_OPEN):
        threads.close()


class Threads:
    """Threads of `scope`, saved in a store with an in-memory fallback."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        scope: Scope,
        *,
        post: Callable[..., None],
        on_failure: Callable[[str], None],
        current: Callable[[], tuple[Thread, list[Message]]],
        on_recovery: Callable[[], None] | None = None,
    ) -> None:
        self.scope = scope
        self._post, self._on_failure, self._current = post, on_failure, current
        self._on_recovery = on_recovery
        self._owner = new_id("copilot")  # who claims this copilot's runs in the store
        self.saved = (
            False  # whether the current thread is in the store (saved with its first message)
        )
        self._queue: queue.Queue[tuple[Hashable, Write] | None] = queue.Queue()
        self._writer: threading.Thread | None = None
        self._keys = itertools.count()
        #: While the store cannot be reached: the store, and the writes it has not had yet
        #: (in order; a message saved again replaces its earlier write in place).
        self._down: Store | None = None
        self._pending: dict[Hashable, Write] = {}
        self._outage = 0  # counts the outages: a late fallback for one that is over is skipped
        self._last_try = 0.0
        self._state = threading.Lock()
        self.store: Store
        try:
            self.store = open_store(path)
        except StoreError as exc:  # nothing to move yet: start in memory
            self.store = ThreadStore(MEMORY)
            self._warn(exc)
        self._closed = False
        _OPEN.add(self)

    @property
    def path(self) -> str:
        return self.store.path

    # -- reads (on the engine's loop; they wait for the writes queued before them) ---------
    def in_scope(self) -> list[ThreadEntry]:
        """Threads in scope, most recently active first, with their dates and previews."""
        return self._read(lambda store: store.threads(self.scope), [])

    def search(self, query: str) -> list[SearchHit]:
        """Threads in scope whose title or text contains `query`, most recently active first."""
        return self._read(lambda store: store.search(self.scope, query), [])

    def get(self, thread_id: str) -> Thread | None:
        return self._read(lambda store: store.thread(thread_id, self.scope), None)

    def messages(self, thread_id: str) -> list[Message]:
        """A thread's messages. One still in progress was cut off by a kernel that stopped, or
        is being written by another live kernel: it is shown as interrupted here, and never
        rewritten (its owner may still complete it). A live widget shown by a call is kept only
        if it is alive in this kernel: the page never asks for a widget that is gone."""
        with collection_paused():
            messages: list[Message] = self._read(lambda store: store.messages(thread_id), [])
        for message in messages:
            message["is_undoable"] = message["is_redoable"] = False  # snapshots live in memory
            for call in message["tool_calls"]:
                call["display"] = reopened(call["display"])
            if message["status"] == "in_progress":
                finish_interrupted(message, "run_interrupted")
        return messages

    def _read(self, operation: Callable[[Store], T], default: T) -> T:
        self._queue.join()
        if self.store.path != MEMORY:
            for other in list(_OPEN):
                if other is not self and other.store.path == self.store.path:
                    other._queue.join()
        try:
            return operation(self.store)
        except StoreUnavailable as exc:
            with self._state:
                if self._down is None:
                    self._down, self._last_try = self.store, time.monotonic()
                    self._outage += 1
                outage = self._outage
            self._fall_back(exc, outage)
            if not self._closed:
                self._start_writer()  # it tries the store again now and then, writes or not
        except StoreError as exc:
            self._failed(exc)
            return default
        try:  # the store went away: what this copilot has in memory
            return operation(self.store)
        except StoreError:
            return default

    # -- runs: one at a time per thread, across the kernels that share the store -------------
    def claim_run(self, thread_id: str) -> Claim:
        """Take the thread for a run of this copilot, unless a live run of another copilot
        (another kernel, or another copilot of this one) holds it."""
        me = RunOwner(self._owner, _HOST, os.getpid(), time.time())
        try:
            # Never waits long: a busy store (another kernel writing) must not hold up a run.
            claim = self.store.claim_run(thread_id, me, _is_live, wait=CLAIM_WAIT_SECONDS)
        except StoreError as exc:  # the run goes on unclaimed; a failing store shows on writes
            logger.info("The thread was not claimed for the run: %s", exc)
            return Claim(None, others_ran=False)
        if claim.holder is None:
            _RUNNING.add(self._owner)
        return claim

    def release_run(self, thread_id: str) -> None:
        _RUNNING.discard(self._owner)
        self._write(lambda store: store.release_run(thread_id, self._owner))

    # -- writes (queued, in order) --------------------------------------------------------
    def save(self, message: Message) -> None:
        """Save a message (creating the current thread with its first message)."""
        if not self.saved:
            self.saved = True
            thread = cast(Thread, dict(self._current()[0]))
            self._write(lambda store: store.create_thread(thread, self.scope))
        body = copy.deepcopy(message)
        self._write(lambda store: store.save_message(body), key=("message", body["id"]))

    def rename(self, thread_id: str, title: str) -> None:
        self._write(lambda store: store.rename_thread(thread_id, title))

    def delete(self, thread_id: str) -> None:
        self._write(lambda store: store.delete_thread(thread_id))

    def delete_message(self, message_id: str) -> None:
        self._write(lambda store: store.delete_message(message_id))

    def _write(self, operation: Write, *, key: Hashable = None) -> None:
        """Queue a write. `key`: what it writes (a later write of the same key supersedes it
        while the store cannot be reached); None for a write of its own."""
        if self._closed:
            logger.debug("A write after the store was closed was dropped")
            return
        self._start_writer()
        self._queue.put((next(self._keys) if key is None else key, operation))

    def _start_writer(self) -> None:
        if self._writer is None:
            self._writer = threading.Thread(target=self._drain, name="copilot-store", daemon=True)
            self._writer.start()

    def _drain(self) -> None:
        while True:
            try:
                # While the store is away, it is tried again now and then, writes or not.
                item = self._queue.get(timeout=None if self._down is None else RETRY_SECONDS)
            except queue.Empty:
                try:
                    self._recover()
                except Exception:  # a bug must not stop the writer
                    logger.exception("Saving to the thread store failed")
                continue
            try:
                if item is None:
                    self._recover(last=True)
                    return
                key, operation = item
                if self._down is not None:
                    self._pending[key] = operation
                    self._in_memory(operation)
                    self._recover()
                else:
                    operation(self.store)
            except StoreUnavailable as exc:
                assert item is not None
                self._went_down(exc, *item)
            except StoreError as exc:
                self._post(self._failed, exc)
            except Exception:  # a bug must not stop the writer: later writes still happen
                logger.exception("Saving to the thread store failed")
            finally:
                self._queue.task_done()

    # -- an unreachable store (on the writer thread) -----------------------------------------
    def _went_down(self, exc: StoreUnavailable, key: Hashable, operation: Write) -> None:
        with self._state:
            first = self._down is None
            if first:
                self._down, self._last_try = self.store, time.monotonic()
                self._outage += 1
            outage = self._outage
            self._pending[key] = operation
        if first:
            self._post(self._fall_back, exc, outage)

    def _in_memory(self, operation: Write) -> None:
        """Apply a write to the in-memory store that stands in (reads see it)."""
        store = self.store
        if store is not self._down:
            try:
                operation(store)
            except StoreError:  # already there (the thread the fallback started with)
                pass

    def _recover(self, *, last: bool = False) -> None:
        """Try the unreachable store again (at most every `RETRY_SECONDS`, unless this is the
        `last` chance): write what it missed, in order, then use it again."""
        down = self._down
        if down is None or (not last and time.monotonic() - self._last_try < RETRY_SECONDS):
            return
        self._last_try = time.monotonic()
        with self._state:
            pending = list(self._pending.items())
        try:
            for key, operation in pending:
                operation(down)
                self._pending.pop(key, None)
        except StoreUnavailable as exc:
            if last:
                logger.warning(
                    "%d writes to the thread store were lost: it could not be reached (%s)",
                    len(self._pending),
                    exc,
                )
            return
        except StoreError as exc:  # it answers, but refuses: go on in memory for good
            with self._state:
                self._down = None
                self._pending.clear()
            _close_quietly(down)
            self._post(self._warn, exc)
            return
        with self._state:
            self._down = None
            self.store = down
        self._post(self._recovered)

    # -- the fallback (on the loop) ------------------------------------------------------
    def _fall_back(self, exc: StoreUnavailable, outage: int) -> None:
        """The store cannot be reached: go on in memory until it answers again, and say so."""
        with self._state:
            if self._down is None or outage != self._outage:
                return  # it answered again before this ran
            if self.store is self._down:
                self.store = self._memory_copy()
        self._warn(exc, retrying=True)

    def _recovered(self) -> None:
        logger.warning("The thread store %r answers again: conversations are saved", self.path)
        if self._on_recovery is not None:
            self._on_recovery()

    def _failed(self, exc: StoreError) -> None:
        """Go on in memory with the current thread as it is, and say so (on the loop)."""
        with self._state:
            down, self._down = self._down, None
            self._pending.clear()
        if down is not None:
            _close_quietly(down)
        if self.store.path != MEMORY:
            broken, self.store = self.store, self._memory_copy()
            _close_quietly(broken)
        self._warn(exc)

    def _memory_copy(self) -> Store:
        """An in-memory store holding the current thread as the copilot shows it."""
        memory = ThreadStore(MEMORY)
        thread, messages = self._current()
        if thread.get("id"):  # none yet while the copilot opens its first thread
            memory.create_thread(thread, self.scope)
            for message in messages:
                memory.save_message(message)
            self.saved = True
        return memory

    def _warn(self, exc: StoreError, *, retrying: bool = False) -> None:
        logger.warning("%s", exc)
        if retrying:
            self._on_failure(
                f"{exc}. Conversations are kept in memory until it answers again; then they "
                "are saved."
            )
        else:
            self._on_failure(
                f"{exc}. Conversations are kept in memory only: they will not survive a restart."
            )

    def close(self) -> None:
        """Finish the queued writes, then release the store."""
        self._closed = True
        _OPEN.discard(self)
        _RUNNING.discard(self._owner)
        if self._writer is not None and self._writer.is_alive():
            self._queue.put(None)
            self._writer.join(timeout=30)
        self._writer = None
        with self._state:
            down, self._down = self._down, None
        if down is not None:
            _close_quietly(down)
        self.store.close()


def _close_quietly(store: Store) -> None:
    try:
        store.close()
    except Exception:  # it is broken already
        pass


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a thread's rows become messages. Each
    message is a few new dicts and lists, so a long thread triggers collection after
    collection, each walking every object of the kernel (its DataFrames' too): with it paused,
    a 20,000-message thread is read in half the time. Nothing of the read is cyclic garbage."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
