"""Servers the tests start on a free loopback port: marimo (`run` or `edit`) and Voilà, each
on a notebook, with a thread store of its own."""

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


def _serve(
    argv: list[str],
    notebook: pathlib.Path,
    port: int,
    env: dict[str, str],
    name: str,
    health: str = "/",
) -> Iterator[str]:
    """Run `argv` until the server answers on `port`; yield its URL; stop it at the end."""
    log_path = notebook.parent / f"{name}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=notebook.parent
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        try:
            while True:
                try:
                    with urllib.request.urlopen(url + health, timeout=2):
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"{name} did not start:\n" + log_path.read_text()
                        ) from None
                    time.sleep(0.25)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def _environment(notebook: pathlib.Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ANYWIDGET_HMR", "OPENAI_API_KEY", "OPENAI_BASE_URL")
    }
    env["JUPYTER_DATA_DIR"] = str(notebook.parent / "jupyter-data")  # the thread store
    return env


@contextlib.contextmanager
def voila_server(notebook: pathlib.Path) -> Iterator[str]:
    """Voilà serving `notebook` as an app (it runs when a page opens it); yields its URL."""
    port = free_port()
    argv = [
        sys.executable, "-m", "voila", str(notebook), "--no-browser",
        f"--port={port}", "--Voila.ip=127.0.0.1",
        # As README's Voilà recipe says (Voilà on its own loads no server extension).
        "--Voila.kernel_websocket_connection_class=copilot_widget_server.KernelConnection",
    ]  # fmt: skip
    yield from _serve(argv, notebook, port, _environment(notebook), "voila")


@contextlib.contextmanager
def marimo_server(command: str, notebook: pathlib.Path) -> Iterator[str]:
    """`marimo run` or `marimo edit` serving `notebook`; yields its URL."""
    port = free_port()
    env = _environment(notebook)
    # marimo's configuration, not the user's: the notebook runs when it opens, in edit mode too.
    config = notebook.parent / "config"
    (config / "marimo").mkdir(parents=True)
    (config / "marimo" / "marimo.toml").write_text("[runtime]\nauto_instantiate = true\n")
    env["XDG_CONFIG_HOME"] = str(config)
    argv = [
        sys.executable, "-m", "marimo", command, str(notebook),
        "--headless", "--no-token", "--no-sandbox", "--no-skew-protection",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    yield from _serve(argv, notebook, port, env, "marimo", health="/health")
