"""The threads of one scope and the store that keeps them.

Writes go to one writer thread in order, so a busy SQLite file (another kernel writing) never
freezes the notebook; reads wait for the writes before them. When the store fails, the copilot
goes on with an in-memory store holding the current thread as it is (nothing in front of the
user is lost) and says so once.
"""

from __future__ import annotations

import atexit
import copy
import logging
import os
import queue
import socket
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar, cast

from ._display import reopened
from ._messages import Message, Thread, finish_interrupted, new_id
from ._store import MEMORY, Claim, RunOwner, SearchHit, StoreError, ThreadEntry, ThreadStore

logger = logging.getLogger("copilot_widget")
T = TypeVar("T")
Scope = tuple[str, str, str]
Write = Callable[[ThreadStore], Any]

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
    ) -> None:
        self.scope = scope
        self._post, self._on_failure, self._current = post, on_failure, current
        self._owner = new_id("copilot")  # who claims this copilot's runs in the store
        self.saved = (
            False  # whether the current thread is in the store (saved with its first message)
        )
        self._queue: queue.Queue[Write | None] = queue.Queue()
        self._writer: threading.Thread | None = None
        try:
            self.store = ThreadStore(path)
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
        messages: list[Message] = self._read(lambda store: store.messages(thread_id), [])
        for message in messages:
            message["is_undoable"] = message["is_redoable"] = False  # snapshots live in memory
            for call in message["tool_calls"]:
                call["display"] = reopened(call["display"])
            if message["status"] == "in_progress":
                finish_interrupted(message, "run_interrupted")
        return messages

    def _read(self, operation: Callable[[ThreadStore], T], default: T) -> T:
        self._queue.join()
        if self.store.path != MEMORY:
            for other in list(_OPEN):
                if other is not self and other.store.path == self.store.path:
                    other._queue.join()
        try:
            return operation(self.store)
        except StoreError as exc:
            self._failed(exc)
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
        self._write(lambda store: store.save_message(body))

    def rename(self, thread_id: str, title: str) -> None:
        self._write(lambda store: store.rename_thread(thread_id, title))

    def delete(self, thread_id: str) -> None:
        self._write(lambda store: store.delete_thread(thread_id))

    def delete_message(self, message_id: str) -> None:
        self._write(lambda store: store.delete_message(message_id))

    def _write(self, operation: Write) -> None:
        if self._closed:
            logger.debug("A write after the store was closed was dropped")
            return
        if self._writer is None:
            self._writer = threading.Thread(target=self._drain, name="copilot-store", daemon=True)
            self._writer.start()
        self._queue.put(operation)

    def _drain(self) -> None:
        while True:
            operation = self._queue.get()
            try:
                if operation is None:
                    return
                operation(self.store)
            except StoreError as exc:
                self._post(self._failed, exc)
            except Exception:  # a bug must not stop the writer: later writes still happen
                logger.exception("Saving to the thread store failed")
            finally:
                self._queue.task_done()

    # -- the fallback ---------------------------------------------------------------------
    def _failed(self, exc: StoreError) -> None:
        """Go on in memory with the current thread as it is, and say so (on the loop)."""
        if self.store.path != MEMORY:
            broken, self.store = self.store, ThreadStore(MEMORY)
            thread, messages = self._current()
            if thread.get("id"):  # none yet while the copilot opens its first thread
                self.store.create_thread(thread, self.scope)
                for message in messages:
                    self.store.save_message(message)
                self.saved = True
            try:
                broken.close()
            except Exception:  # it is broken already
                pass
        self._warn(exc)

    def _warn(self, exc: StoreError) -> None:
        logger.warning("%s", exc)
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
        self.store.close()
