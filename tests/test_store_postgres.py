"""The PostgreSQL thread store where it differs from SQLite: a server shared by many kernels at
once, a server that goes away and comes back, its schema versions, and choosing it.

(What both stores do is tested on each of them in test_store.py and test_threads.py.)"""

from __future__ import annotations

import multiprocessing
import socket
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from copilot_widget import Copilot, InvalidOptionsError
from copilot_widget._messages import new_message, new_thread, text_of
from copilot_widget._store import StoreError, StoreUnavailable
from copilot_widget._threads import open_store
from copilot_widget.testing import text

from postgres import PostgresServer, binaries
from waiting import wait_until, wait_until_async

psycopg = pytest.importorskip("psycopg")
pytestmark = pytest.mark.skipif(binaries() is None, reason="PostgreSQL is not installed")

from copilot_widget import _store_postgres  # noqa: E402  (needs psycopg)
from copilot_widget._store_postgres import PostgresStore, redacted  # noqa: E402

SCOPE = ("app", "ada", "")


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    """A server of this test alone (it is stopped and started again)."""
    server = PostgresServer().start()
    yield server
    server.close()


def texts(url: str, thread_id: str) -> list[str]:
    store = open_store(url)
    try:
        return [text_of(m) for m in store.messages(thread_id)]
    finally:
        store.close()


# -- choosing the store ---------------------------------------------------------------------
def test_a_postgresql_url_selects_the_postgresql_store(postgres_url: str) -> None:
    copilot = Copilot(api_key="k", store=postgres_url)
    assert isinstance(copilot._threads.store, PostgresStore)
    assert copilot.store_warning is None
    copilot.close()


def test_without_psycopg_the_option_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if it were not installed
    with pytest.raises(InvalidOptionsError, match=r'pip install "copilot-widget\[postgres\]"'):
        Copilot(api_key="k", store="postgresql://ada@db.example/chats")
    Copilot(api_key="k", store=":memory:").close()  # the other stores need nothing more


def test_the_password_is_never_shown() -> None:
    assert redacted("postgresql://ada:s3cret@db:5432/chats") == "postgresql://ada:***@db:5432/chats"
    assert redacted("postgresql://ada@db/chats") == "postgresql://ada@db/chats"


def test_an_unreachable_server_falls_back_to_memory_and_says_so(scripted: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there
    url = f"postgresql://ada:s3cret@127.0.0.1:{port}/chats"
    copilot, _ = scripted([text("still works")], store=url)
    warning = copilot.store_warning
    assert warning is not None and "cannot be reached" in warning and "memory" in warning
    assert "s3cret" not in warning and "***" in warning
    assert copilot.send("hi").status == "completed"
    assert text_of(copilot.messages[-1]) == "still works"
    copilot.close()


# -- schema versions --------------------------------------------------------------------------
def test_a_newer_copilot_widget_migrates_an_older_store(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PostgresStore(postgres_url)  # version 1, with a conversation
    thread = new_thread("Old chat")
    store.create_thread(thread, SCOPE)
    message = new_message("user", thread["id"], None, "from v1", status="completed")
    store.save_message(message)
    store.close()

    def v2(cur: Any) -> None:
        cur.execute("ALTER TABLE copilot_threads ADD COLUMN pinned BOOLEAN NOT NULL DEFAULT false")

    monkeypatch.setattr(_store_postgres, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(_store_postgres.MIGRATIONS, 1, v2)
    upgraded = PostgresStore(postgres_url)
    assert upgraded.messages(thread["id"]) == [message]
    assert [hit.thread["id"] for hit in upgraded.search(SCOPE, "FROM V1")] == [thread["id"]]
    upgraded.close()
    with psycopg.connect(postgres_url) as pg:
        assert pg.execute("SELECT version FROM copilot_schema").fetchall() == [(2,)]
        assert pg.execute("SELECT pinned FROM copilot_threads").fetchall() == [(False,)]

    monkeypatch.setattr(_store_postgres, "SCHEMA_VERSION", 1)  # the older package again
    with pytest.raises(StoreError, match="newer than this copilot-widget understands"):
        PostgresStore(postgres_url)


# -- runs: one at a time per thread, across kernels -------------------------------------------
# -- many kernels at once ---------------------------------------------------------------------
WORKERS = 20
PER_THREAD = 25
SHARED = "thread_shared"


def _kernel(url: str, worker: int, start: Any) -> None:
    """A kernel writing to a thread of its own and to the shared one, each message saved as it
    streams (in progress), then completed."""
    start.wait(120)  # all at once, opening a store whose schema no one has made yet
    store = open_store(url)
    shared = {"id": SHARED, "object": "thread", "title": "Shared", "created_at": 1}
    store.create_thread(shared, SCOPE)  # every kernel: a thread that exists is left as it is
    own = new_thread(f"worker {worker}")
    store.create_thread(own, SCOPE)
    for i in range(PER_THREAD):
        for thread_id in (own["id"], SHARED):
            message = new_message("user", thread_id, None, f"{worker}:{i}")
            store.save_message(message)
            message["status"] = "completed"
            store.save_message(message)
    store.close()


def test_twenty_kernels_writing_at_once_lose_and_duplicate_nothing(postgres_url: str) -> None:
    # Forked: each process starts with the package imported (20 imports at once would take
    # most of the test's time on a small machine), and opens connections of its own.
    context = multiprocessing.get_context("fork")
    start = context.Barrier(WORKERS)
    kernels = [
        context.Process(target=_kernel, args=(postgres_url, w, start)) for w in range(WORKERS)
    ]
    for kernel in kernels:
        kernel.start()
    for kernel in kernels:
        kernel.join(300)
    assert [kernel.exitcode for kernel in kernels] == [0] * WORKERS

    store = open_store(postgres_url)
    threads = store.threads(SCOPE)
    assert len(threads) == WORKERS + 1
    for thread in threads:
        saved = store.messages(thread["id"])
        assert {m["status"] for m in saved} == {"completed"}
        if thread["id"] == SHARED:
            assert len(saved) == len({m["id"] for m in saved}) == WORKERS * PER_THREAD
            for worker in range(WORKERS):  # each kernel's messages in the order it wrote them
                mine = [text_of(m) for m in saved if text_of(m).startswith(f"{worker}:")]
                assert mine == [f"{worker}:{i}" for i in range(PER_THREAD)]
        else:
            worker = thread["title"].split()[-1]
            assert [text_of(m) for m in saved] == [f"{worker}:{i}" for i in range(PER_THREAD)]
    store.close()


# -- the server goes away and comes back --------------------------------------------------------
def test_an_operation_while_the_server_is_down_is_unavailable_then_works_again(
    own_server: PostgresServer,
) -> None:
    url = own_server.new_database()
    store = PostgresStore(url)
    thread = new_thread()
    store.create_thread(thread, SCOPE)
    own_server.stop()
    message = new_message("user", thread["id"], None, "hi", status="completed")
    with pytest.raises(StoreUnavailable, match="cannot be reached"):
        store.save_message(message)
    with pytest.raises(StoreUnavailable):
        store.threads(SCOPE)
    own_server.start()
    store.save_message(message)  # connects again
    assert store.messages(thread["id"]) == [message]
    store.close()


async def test_a_server_restart_in_the_middle_of_a_run_loses_nothing(
    own_server: PostgresServer, scripted: Any
) -> None:
    url = own_server.new_database()
    words = [f"w{i} " for i in range(150)]
    copilot, _ = scripted(
        [text(*words, delay=0.02), text("After the restart.")], store=url, app_id="restart"
    )
    run = copilot.send("tell me a story")
    thread_id = copilot.thread["id"]

    def streamed(word: str) -> bool:
        try:
            return any(word in text_of(m) for m in PostgresStore(url).messages(thread_id))
        except StoreError:
            return False

    await wait_until_async(lambda: streamed("w10 "), message="the partial answer in the store")
    await _in_thread(own_server.stop)
    # The run goes on; the chat says that the conversation is kept in memory for now.
    await wait_until_async(lambda: copilot.store_warning, message="the warning")
    assert copilot.store_warning is not None
    assert "cannot be reached" in copilot.store_warning
    assert "until it answers again" in copilot.store_warning
    assert not run.done()
    await _in_thread(own_server.start)
    await run
    assert run.status == "completed"
    assert text_of(copilot.messages[-1]) == "".join(words)
    # Once the server is back, what it missed is written, in order.
    await wait_until_async(
        lambda: texts(url, thread_id) == ["tell me a story", "".join(words)],
        message="the whole answer in the store",
    )
    # ... and the chat no longer says the conversation is not saved.
    await wait_until_async(lambda: copilot.store_warning is None, message="the warning gone")
    follow_up = copilot.send("and then?")
    await follow_up
    assert follow_up.status == "completed"
    copilot.close()

    # A kernel restart: a new copilot opens the thread from the server, nothing lost.
    again = Copilot(api_key="k", store=url, app_id="restart")
    assert again.thread["id"] == thread_id
    assert [text_of(m) for m in again.messages] == [
        "tell me a story",
        "".join(words),
        "and then?",
        "After the restart.",
    ]
    assert {m["status"] for m in again.messages} == {"completed"}
    assert again.store_warning is None
    again.close()


def test_writes_while_the_server_is_down_are_saved_once_it_is_back(
    own_server: PostgresServer, scripted: Any
) -> None:
    """No message is lost when the connection drops between two runs and comes back."""
    url = own_server.new_database()
    copilot, _ = scripted([text("one"), text("two"), text("three")], store=url)
    copilot.send("first")
    thread_id = copilot.thread["id"]
    wait_until(lambda: texts(url, thread_id) == ["first", "one"])
    own_server.stop()
    assert copilot.send("second").status == "completed"  # saved in memory meanwhile
    wait_until(lambda: copilot.store_warning, message="the warning")
    assert [text_of(m) for m in copilot.messages] == ["first", "one", "second", "two"]
    own_server.start()
    wait_until(
        lambda: texts(url, thread_id) == ["first", "one", "second", "two"],
        message="the messages written while it was down",
    )
    wait_until(lambda: copilot.store_warning is None, message="the warning gone")
    assert copilot.error is None  # the banner that said so went with it
    assert copilot.send("third").status == "completed"
    copilot.close()
    assert texts(url, thread_id) == ["first", "one", "second", "two", "third", "three"]


def test_a_server_that_is_down_when_the_copilot_starts_is_used_once_it_is_up(
    own_server: PostgresServer, scripted: Any
) -> None:
    """A kernel that starts before its database: the chat works in memory, and the store
    is used (with what was said meanwhile) as soon as the server answers."""
    url = own_server.new_database()
    own_server.stop()
    copilot, _ = scripted([text("one"), text("two")], store=url)
    warning = copilot.store_warning
    assert warning is not None and "cannot be reached" in warning
    assert "until it answers again" in warning
    assert copilot.send("first").status == "completed"
    thread_id = copilot.thread["id"]
    own_server.start()
    wait_until(lambda: copilot.store_warning is None, message="the warning gone")
    wait_until(lambda: texts(url, thread_id) == ["first", "one"], message="the saved thread")
    assert copilot.send("second").status == "completed"
    copilot.close()
    assert texts(url, thread_id) == ["first", "one", "second", "two"]


def test_a_database_that_does_not_exist_is_refused_not_retried(
    postgres_server: PostgresServer, scripted: Any
) -> None:
    url = postgres_server.url("no_such_database")
    copilot, _ = scripted([text("still works")], store=url)
    warning = copilot.store_warning
    assert warning is not None and "no_such_database" in warning
    assert "memory only" in warning  # a refusal: nothing to wait for
    assert copilot.send("hi").status == "completed"
    copilot.close()


def test_a_title_with_a_nul_character_is_saved(postgres_url: str, scripted: Any) -> None:
    """PostgreSQL's text refuses NUL characters: a title with one must not break the store."""
    copilot, _ = scripted([text("ok")], store=postgres_url)
    copilot.send("before\x00after")
    thread_id = copilot.thread["id"]
    copilot.rename_thread(thread_id, "A\x00B")
    copilot.close()
    assert copilot.store_warning is None
    store = PostgresStore(postgres_url)
    (entry,) = store.threads(copilot._threads.scope)
    assert entry["title"] == "AB"
    assert [text_of(m) for m in store.messages(thread_id)] == ["before\x00after", "ok"]
    store.close()


async def _in_thread(function: Any) -> None:
    import asyncio

    await asyncio.to_thread(function)
