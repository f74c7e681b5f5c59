"""A marimo server for the tests: `marimo run` or `marimo edit` on a notebook, on a free
loopback port, with a thread store and a marimo configuration of its own."""

from __future__ import annotations

import contextlib
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def marimo_server(command: str, notebook: pathlib.Path) -> Iterator[str]:
    """`marimo run` or `marimo edit` serving `notebook` on a free loopback port; yields its
    URL."""
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ANYWIDGET_HMR", "OPENAI_API_KEY", "OPENAI_BASE_URL")
    }
    env["JUPYTER_DATA_DIR"] = str(notebook.parent / "jupyter-data")  # the thread store
    # marimo's configuration, not the user's: the notebook runs when it opens, in edit mode too.
    config = notebook.parent / "config"
    (config / "marimo").mkdir(parents=True)
    (config / "marimo" / "marimo.toml").write_text("[runtime]\nauto_instantiate = true\n")
    env["XDG_CONFIG_HOME"] = str(config)
    log_path = notebook.parent / "marimo.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "marimo", command, str(notebook),
                "--headless", "--no-token", "--no-sandbox", "--no-skew-protection",
                "--host", "127.0.0.1", "--port", str(port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=notebook.parent,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/health", timeout=2):
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            "marimo did not start:\n" + log_path.read_text()
                        ) from None
                    time.sleep(0.25)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
