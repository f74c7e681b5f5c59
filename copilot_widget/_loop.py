"""The engine's home: the one event loop where every run, client and lock of a copilot lives.

ipykernel 7 may deliver widget messages on a subshell thread with an asyncio loop of its own,
and a cell, a script, another thread or `asyncio.run()` may call the copilot from yet another
one. Loop-bound objects (the client's connection pool, futures, events) fail when used from a
loop that is not theirs, so each copilot chooses its home once:

- in a Jupyter kernel, created on the main thread: the kernel's main loop, where cells run and
  display output is routed to the right place;
- anywhere else (a script, a test, marimo, another thread): a private loop in a daemon thread,
  which keeps running between calls (approval timeouts fire, Ctrl-C can cancel cleanly).

Every entry point hands its work to the home with `call` (wait for the result) or `post`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ._errors import CopilotError

T = TypeVar("T")


def running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _kernel_main_loop() -> asyncio.AbstractEventLoop | None:
    """The kernel's main loop, when called from a cell of a Jupyter kernel (main thread)."""
    if "ipykernel" not in sys.modules or threading.current_thread() is not threading.main_thread():
        return None
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover - ipykernel brings IPython
        return None
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    return running_loop()


class Home:
    """One copilot's event loop: the kernel's main loop, or a private one in a thread."""

    def __init__(self) -> None:
        self._private: threading.Thread | None = None
        loop = _kernel_main_loop()
        if loop is None:
            loop = asyncio.new_event_loop()
            ready = threading.Event()
            self._private = threading.Thread(
                target=self._serve, args=(loop, ready), name="copilot-engine", daemon=True
            )
            self._private.start()
            ready.wait()
        self.loop = loop
        self._closed = False

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def here(self) -> bool:
        """True when the caller runs on the home loop (no hand-over needed)."""
        return running_loop() is self.loop

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the home loop and return its result (or raise its exception)."""
        if self.here():
            return fn(*args)
        self._check_open()
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            if done.set_running_or_notify_cancel():
                try:
                    done.set_result(fn(*args))
                except BaseException as exc:  # handed back to the caller, who raises it
                    done.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return wait(done)

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Schedule `fn(*args)` on the home loop without waiting."""
        if self.here():
            self.loop.call_soon(fn, *args)
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn, *args)

    def close(self) -> None:
        """Stop the private loop (the kernel's loop is not ours to stop)."""
        if self._closed:
            return
        self._closed = True
        if self._private is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)
            if threading.current_thread() is not self._private:
                self._private.join(timeout=5)

    def _check_open(self) -> None:
        if self._closed or self.loop.is_closed() or not self.loop.is_running():
            raise CopilotError("This copilot is closed (or its kernel loop has stopped).")


def wait(future: concurrent.futures.Future[T]) -> T:
    """Block until `future` is done, in short waits so that Ctrl-C is not held up."""
    while True:
        try:
            return future.result(timeout=0.1)
        except concurrent.futures.TimeoutError:
            continue
