"""Which files this process has open: what a closed store must have released."""

from __future__ import annotations

import os
import pathlib


def open_fds(path: pathlib.Path) -> list[str]:
    """The files of this process open on `path` or its -wal / -shm files."""
    names = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            names.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue
    return [name for name in names if name.startswith(str(path))]
