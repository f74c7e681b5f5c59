"""Shared fixtures: a scripted OpenAI-compatible server and a Copilot wired to it."""

from __future__ import annotations

import importlib.util
import os
import pathlib
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from copilot_widget import Copilot
from copilot_widget.testing import ScriptedServer

from postgres import PostgresServer, binaries


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    # Tests never reach a real provider, whatever the machine's environment says, and the
    # default thread store of each test is a file of its own.
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "COPILOT_WIDGET_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))


@pytest.fixture
def serve() -> Iterator[Callable[[Any], ScriptedServer]]:
    """`server = serve([replies...])`: a scripted server, stopped after the test."""
    servers: list[ScriptedServer] = []

    def start(script: Any) -> ScriptedServer:
        server = ScriptedServer(script).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def scripted(
    serve: Callable[[Any], ScriptedServer],
) -> Callable[..., tuple[Copilot, ScriptedServer]]:
    """`copilot, server = scripted([replies...], **copilot_options)`."""

    def make(script: Any, **options: Any) -> tuple[Copilot, ScriptedServer]:
        server = serve(script)
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
        return Copilot(client=client, **options), server

    return make


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test session, on a free loopback port."""
    # In CI both are installed by scripts/setup.sh: a missing one fails there, never skips.
    missing = pytest.fail if os.environ.get("CI") else pytest.skip
    if importlib.util.find_spec("psycopg") is None:
        missing('psycopg is not installed (pip install -e ".[dev]" installs it)')
    if binaries() is None:
        missing("PostgreSQL is not installed (scripts/setup.sh installs it)")
    server = PostgresServer().start()
    yield server
    server.close()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a new, empty database of the session's PostgreSQL server."""
    return postgres_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> str:
    """Where a test's thread store is: a SQLite file, then a new PostgreSQL database (the test
    runs on each)."""
    if request.param == "sqlite":
        return str(tmp_path / "threads.sqlite3")
    return str(request.getfixturevalue("postgres_url"))
