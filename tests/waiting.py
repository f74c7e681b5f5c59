"""Wait for a condition, with a deadline: what a test asserts next has happened, on a slow
machine as on a fast one (a sleep of a fixed length is either too short or wasted)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

TIMEOUT = 10.0
INTERVAL = 0.005


def _failure(condition: Callable[[], Any], timeout: float, message: str | None) -> AssertionError:
    what = message or getattr(condition, "__name__", "the condition")
    return AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def wait_until(
    condition: Callable[[], Any], *, timeout: float = TIMEOUT, message: str | None = None
) -> Any:
    """Poll `condition` until it returns something truthy, and return that; fail the test
    after `timeout` seconds. For code running on other threads: this blocks the caller."""
    deadline = time.monotonic() + timeout
    while True:
        if result := condition():
            return result
        if time.monotonic() > deadline:
            raise _failure(condition, timeout, message)
        time.sleep(INTERVAL)


async def wait_until_async(
    condition: Callable[[], Any], *, timeout: float = TIMEOUT, message: str | None = None
) -> Any:
    """`wait_until` for async tests: the event loop keeps running (and a run on it keeps
    streaming) between two checks."""
    deadline = time.monotonic() + timeout
    while True:
        if result := condition():
            return result
        if time.monotonic() > deadline:
            raise _failure(condition, timeout, message)
        await asyncio.sleep(INTERVAL)
