"""The thread stores (SQLite, PostgreSQL): round trips, migrations, failures, concurrent
kernels. The tests of what both stores do run on each of them (`where`)."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import pathlib
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from copilot_widget import Copilot, InvalidOptionsError
from copilot_widget._messages import new_message, new_thread, text_of
from copilot_widget._store import (
    MAX_SEARCH_RESULTS,
    MIGRATIONS,
    PREVIEW_CHARS,
    SCHEMA_VERSION,
    Store,
    StoreError,
    ThreadStore,
    _v1,
    default_path,
    snippet_of,
)
from copilot_widget._threads import open_store
from copilot_widget.testing import ScriptedServer, call, cut, text, tool_calls

from fds import open_fds
from waiting import wait_until, wait_until_async

SCOPE = ("app", "ada", "")


def is_postgres(where: str) -> bool:
    return where.startswith("postgresql://")


def insert_raw(where: str, row_id: str, thread_id: str, body: Any) -> None:
    """Write a message row as something other than this store would (an older version, a
    hand edit)."""
    if is_postgres(where):
        import psycopg

        with psycopg.connect(where, autocommit=True) as pg:
            pg.execute(
                "INSERT INTO copilot_messages (id, thread_id, body) VALUES (%s, %s, %s)",
                (row_id, thread_id, body),
            )
        return
    with contextlib.closing(sqlite3.connect(where, isolation_level=None)) as db:
        db.execute(
            "INSERT INTO messages (id, thread_id, body) VALUES (?, ?, ?)",
            (row_id, thread_id, body),
        )


def stored_bodies(where: str) -> list[str]:
    """Every message body in the store, read directly (not through a store)."""
    if is_postgres(where):
        import psycopg

        try:
            with psycopg.connect(where, autocommit=True) as pg:
                return [row[0] for row in pg.execute("SELECT body FROM copilot_messages")]
        except psycopg.Error:  # not created yet
            return []
    try:
        with contextlib.closing(sqlite3.connect(where)) as db:
            return [row[0] for row in db.execute("SELECT body FROM messages")]
    except sqlite3.Error:  # not created yet, or busy
        return []


def stored(path: pathlib.Path | str, thread_id: str) -> list[Any]:
    """The messages of a thread as another kernel reads them now."""
    store = open_store(str(path))
    try:
        return store.messages(thread_id)
    finally:
        store.close()


def full_message(thread_id: str) -> Any:
    message = new_message("assistant", thread_id, "run_1", "Hello *there*")
    message["status"] = "incomplete"
    message["incomplete_details"] = {"reason": "run_cancelled"}
    message["completed_at"] = 123
    message["tool_calls"] = [
        {
            "id": "call_1",
            "name": "fetch_user",
            "arguments": '{"user_id": "1"}',
            "status": "completed",
            "result": '{"name": "Ada"}',
            "error": None,
            "display": {
                "data": {"text/html": "<b>Ada</b>", "text/plain": "Ada"},
                "note": "The image was too large to show (1.6 MB); showing the HTML view.",
            },
            "outputs": ["output_1"],
        },
        {
            "id": "call_2",
            "name": "boom",
            "arguments": "{}",
            "status": "failed",
            "result": '{"error": "x"}',
            "error": "x",
            "display": None,
            "outputs": [],
        },
    ]
    message["is_undoable"] = True
    return message


def test_round_trip_of_every_message_field(where: str) -> None:
    store = open_store(where)
    thread = new_thread("Round trip")
    store.create_thread(thread, SCOPE)
    user = new_message("user", thread["id"], None, "Hi", status="completed")
    assistant = full_message(thread["id"])
    store.save_message(user)
    store.save_message(assistant)
    assistant["content"][0]["text"]["value"] += " again"  # saved twice: updated in place
    store.save_message(assistant)
    store.close()

    reopened = open_store(where)
    (listed,) = reopened.threads(SCOPE)
    assert listed == {
        **thread,
        "updated_at": listed["updated_at"],
        "preview": "Hello *there* again",
    }
    assert listed["updated_at"] >= thread["created_at"]
    assert reopened.messages(thread["id"]) == [user, assistant]
    assert reopened.threads(("app", "someone else", "")) == []  # scoped


def test_threads_are_listed_most_recently_active_first(where: str) -> None:
    store = open_store(where)
    old, new = new_thread("old"), new_thread("new")
    store.create_thread(old, SCOPE)
    store.create_thread(new, SCOPE)
    assert [t["title"] for t in store.threads(SCOPE)] == ["new", "old"]
    store.save_message(new_message("user", old["id"], None, "bump", status="completed"))
    assert [t["title"] for t in store.threads(SCOPE)] == ["old", "new"]
    store.rename_thread(old["id"], "renamed")
    store.delete_thread(new["id"])
    assert [t["title"] for t in store.threads(SCOPE)] == ["renamed"]


def test_migrates_a_store_of_an_older_schema_version(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    _v1(db)
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO threads VALUES ('thread_a', 'app', 'ada', '', 'Old chat', 1000)")
    body = new_message("user", "thread_a", None, "from v1", status="completed")
    db.execute(
        "INSERT INTO messages (id, thread_id, body) VALUES (?, ?, ?)",
        (body["id"], "thread_a", json.dumps(body)),
    )
    db.close()

    store = ThreadStore(path)
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert [t["title"] for t in store.threads(SCOPE)] == ["Old chat"]
    assert [text_of(m) for m in store.messages("thread_a")] == ["from v1"]
    # Messages saved before the store kept their text are previewed and found all the same.
    assert store.threads(SCOPE)[0]["preview"] == "from v1"
    assert [hit.thread["id"] for hit in store.search(SCOPE, "FROM V1")] == ["thread_a"]


def test_the_text_of_every_message_is_filled_in_when_a_store_is_upgraded(
    tmp_path: pathlib.Path,
) -> None:
    path = tmp_path / "v3.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    for version in range(3):
        MIGRATIONS[version](db)
    db.execute("PRAGMA user_version = 3")
    db.execute("INSERT INTO threads VALUES ('thread_a', 'app', 'ada', '', 'Chat', 1000, 1000)")
    texts = ["first question", "", "the answer"]  # the empty one: a tool step
    for value in texts:
        body = new_message("user", "thread_a", None, value, status="completed")
        db.execute(
            "INSERT INTO messages (id, thread_id, body) VALUES (?, ?, ?)",
            (body["id"], "thread_a", json.dumps(body)),
        )
    db.close()

    store = ThreadStore(path)
    rows = store._db.execute("SELECT text FROM messages ORDER BY seq").fetchall()
    assert [row[0] for row in rows] == texts
    assert store.threads(SCOPE)[0]["preview"] == "the answer"
    store.close()


def test_a_newer_schema_is_refused_and_the_widget_keeps_working_in_memory(where: str) -> None:
    if is_postgres(where):
        import psycopg

        with psycopg.connect(where, autocommit=True) as pg:
            pg.execute("CREATE TABLE copilot_schema (version INTEGER NOT NULL)")
            pg.execute("INSERT INTO copilot_schema VALUES (99)")
    else:
        sqlite3.connect(where).execute("PRAGMA user_version = 99").connection.close()
    copilot = Copilot(api_key="k", store=where)
    assert copilot.store_warning is not None and "newer" in copilot.store_warning
    assert copilot.error is not None and "in memory" in copilot.error["message"]


@pytest.mark.parametrize("problem", ["corrupt", "directory", "unwritable"])
def test_a_store_that_cannot_be_used_falls_back_to_memory_and_says_so(
    tmp_path: pathlib.Path, scripted: Any, problem: str
) -> None:
    path = tmp_path / "store.sqlite3"
    if problem == "corrupt":
        path.write_bytes(b"this is not a database" * 100)
    elif problem == "directory":
        path.mkdir()
    else:
        path = pathlib.Path("/proc/no-such-dir/store.sqlite3")
    copilot, _ = scripted([text("still works")], store=path)
    assert copilot.store_warning is not None and "memory only" in copilot.store_warning
    assert copilot.error is not None and copilot.error["type"] == "invalid_options_error"
    assert copilot.send("hi").status == "completed"
    assert text_of(copilot.messages[-1]) == "still works"


def test_unknown_thread_id_is_a_clear_error(where: str) -> None:
    with pytest.raises(InvalidOptionsError, match="No thread 'thread_nope'"):
        Copilot(api_key="k", store=where, thread_id="thread_nope")


def _client(server: ScriptedServer) -> Any:
    import openai

    return openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0)


def test_a_new_copilot_on_the_same_store_continues_the_thread(where: str) -> None:
    store = where
    with ScriptedServer(
        [tool_calls(call("add", {"a": 1, "b": 2})), text("3"), text("6")]
    ) as server:
        first = Copilot(client=_client(server), store=store, app_id="calc")

        @first.action
        def add(a: int, b: int) -> int:
            return a + b

        assert first.send("1+2?").status == "completed"

        second = Copilot(client=_client(server), store=store, app_id="calc")
        assert second.thread == first.thread
        assert second.messages == first.messages
        second.send("times 2?")
        sent = server.requests[-1]["messages"]
        assert [m["role"] for m in sent] == [
            "system",
            "user",
            "assistant",
            "tool",
            "assistant",
            "user",
        ]
        assert Copilot(api_key="k", store=store, app_id="other").messages == []


RESTART_SCRIPT = textwrap.dedent(
    """
    import sys, openai
    from copilot_widget import Copilot
    base_url, store, prompt = sys.argv[1:4]
    client = openai.AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0)
    copilot = Copilot(client=client, store=store)
    def weather(city: str) -> dict:
        return {"city": city, "temp": 21}
    copilot.action(weather)
    print(copilot.send(prompt).status, flush=True)
    """
)


def test_restart_in_another_process_sends_the_whole_valid_history(where: str) -> None:
    store = where
    with ScriptedServer(
        [tool_calls(call("weather", {"city": "Oslo"})), text("21 in Oslo"), text("Still 21")]
    ) as server:
        for prompt in ("Weather in Oslo?", "And now?"):
            out = subprocess.run(
                [sys.executable, "-c", RESTART_SCRIPT, server.base_url, store, prompt],
                capture_output=True, text=True, check=True, timeout=60,
            )  # fmt: skip
            assert out.stdout.strip() == "completed"
        last = server.requests[-1]["messages"]
    assert [m["role"] for m in last] == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert last[3]["tool_call_id"] == last[2]["tool_calls"][0]["id"]
    assert json.loads(last[3]["content"]) == {"city": "Oslo", "temp": 21}


def _writer(path: str, worker: int, count: int) -> None:
    store = open_store(path)
    thread = new_thread(f"worker {worker}")
    store.create_thread(thread, SCOPE)
    for i in range(count):
        store.save_message(
            new_message("user", thread["id"], None, f"{worker}:{i}", status="completed")
        )


def test_two_processes_writing_one_store_lose_nothing(where: str) -> None:
    path = where
    open_store(path).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, w, 300)) for w in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    store = open_store(path)
    threads = store.threads(SCOPE)
    assert len(threads) == 2
    for thread in threads:
        worker = thread["title"].split()[-1]
        assert [text_of(m) for m in store.messages(thread["id"])] == [
            f"{worker}:{i}" for i in range(300)
        ]


# -- partial messages are kept ---------------------------------------------------------------
async def test_cancel_keeps_the_partial_message_in_the_store(where: str, scripted: Any) -> None:
    path = where
    copilot, _ = scripted([text(*["word "] * 300, delay=0.01)], store=path)
    run = copilot.send("go")
    thread_id = copilot.thread["id"]
    # Cancel once the stream is under way: two words of the answer have been saved.
    await wait_until_async(
        lambda: any("word word" in text_of(m) for m in stored(path, thread_id)),
        message="the partial answer in the store",
    )
    assert not run.done()
    run.cancel()
    await run
    copilot.close()  # its queued writes are finished (a raw store read does not wait for them)
    saved = stored(where, thread_id)
    assert saved[-1]["status"] == "incomplete"
    assert saved[-1]["incomplete_details"] == {"reason": "run_cancelled"}
    assert text_of(saved[-1]).startswith("word word")


def test_provider_error_keeps_the_partial_message_in_the_store(where: str, scripted: Any) -> None:
    copilot, _ = scripted([cut(text("half ", "an answer"))], store=where)
    run = copilot.send("go")
    # The connection was cut mid-stream: the run failed with a provider error...
    assert run.status == "failed"
    assert copilot.error is not None and copilot.error["type"] == "server_error"
    # ...and what had arrived is in the store (saving may finish just after the run).
    path, thread_id = where, copilot.thread["id"]
    wait_until(
        lambda: [m["status"] for m in stored(path, thread_id)] == ["completed", "incomplete"],
        timeout=10,
        message="the failed answer saved as incomplete",
    )
    saved = stored(path, thread_id)
    assert text_of(saved[-1]) == "half an answer"
    assert saved[-1]["incomplete_details"] == {"reason": "run_failed"}
    assert saved[-1]["id"] == copilot.messages[-1]["id"] == run.messages[-1]["id"]


KILLED_SCRIPT = textwrap.dedent(
    """
    import sys, openai
    from copilot_widget import Copilot
    base_url, store = sys.argv[1:3]
    client = openai.AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0)
    Copilot(client=client, store=store).send("tell me a long story")
    """
)


def test_a_process_killed_mid_stream_leaves_the_partial_message(where: str) -> None:
    store = where
    with ScriptedServer([text(*[f"w{i} " for i in range(400)], delay=0.02)]) as server:
        process = subprocess.Popen([sys.executable, "-c", KILLED_SCRIPT, server.base_url, store])

        def streamed_far_enough() -> bool:
            return any("w20 " in body for body in stored_bodies(store))

        try:
            wait_until(streamed_far_enough, message="20 streamed words in the store")
            assert process.poll() is None  # still streaming: the kill cuts the run
        finally:
            process.kill()
        process.wait()
    copilot = Copilot(api_key="k", store=store)
    last = copilot.messages[-1]
    assert last["status"] == "incomplete"
    assert last["incomplete_details"] == {"reason": "run_interrupted"}
    assert text_of(last).startswith("w0 w1 w2 ")
    # The row is left as the dead kernel wrote it: a reader never rewrites a message that a
    # live kernel may still be writing.
    assert stored(store, copilot.thread["id"])[-1]["status"] == "in_progress"


# -- a damaged store never breaks the widget ---------------------------------------------------
def filled_store(path: pathlib.Path) -> list[str]:
    """A real store: a few threads with messages (the last thread is the most recent)."""
    store = ThreadStore(path)
    thread_ids = []
    for t in range(3):
        thread = new_thread(f"thread {t}")
        store.create_thread(thread, SCOPE)
        for i in range(40):
            store.save_message(full_message(thread["id"]))
            store.save_message(
                new_message("user", thread["id"], None, f"{t}:{i} " * 80, status="completed")
            )
        thread_ids.append(thread["id"])
    store.close()
    return thread_ids


def damage(path: pathlib.Path, problem: str) -> None:
    """Damage a store file the way disks, crashes and hand edits do."""
    if problem == "damaged pages":
        data = bytearray(path.read_bytes())
        middle = len(data) // 2 // 4096 * 4096
        data[middle : middle + 4096] = bytes(range(256)) * 16
        path.write_bytes(bytes(data))
        return
    if problem == "not sqlite":
        path.write_bytes(b"this is not a database\n" * 400)
        return
    bodies = {
        "garbage body": "{not json at all",
        "body lacking keys": json.dumps({"role": "user", "content": "hi"}),
    }
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        last = db.execute("SELECT max(seq) FROM messages").fetchone()[0]
        db.execute("UPDATE messages SET body = ? WHERE seq = ?", (bodies[problem], last))


def read_everything(store: ThreadStore) -> None:
    for thread in store.threads(SCOPE):
        store.messages(thread["id"])


@pytest.mark.parametrize("problem", ["damaged pages", "not sqlite"])
def test_a_damaged_file_is_refused_when_opened_and_left_as_it_is(
    tmp_path: pathlib.Path, problem: str
) -> None:
    path = tmp_path / "threads.sqlite3"
    filled_store(path)
    damage(path, problem)
    before = path.read_bytes()
    with pytest.raises(StoreError) as caught:
        # The structure is checked on opening: nothing is read from or written to a damaged
        # file, so the error comes before the first operation.
        ThreadStore(path)
    message = str(caught.value)
    assert str(path) in message and "looks damaged" in message and "cannot be used" in message
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["threads.sqlite3"]  # no -wal, -shm
    assert open_fds(path) == []  # while the error (and its traceback) is still alive


@pytest.mark.parametrize(
    "body",
    [
        "{not json at all",
        json.dumps({"role": "user", "content": "hi"}),  # lacks keys
        "[1, 2, 3]",
        '"a string"',
        "null",
        "[" * 100_000,  # too deep to parse
        b"\xff\xfe binary",
    ],
)
def test_a_malformed_message_row_is_a_store_error(tmp_path: pathlib.Path, body: Any) -> None:
    path = tmp_path / "threads.sqlite3"
    thread_ids = filled_store(path)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("UPDATE messages SET body = ? WHERE seq = 5", (body,))
    before = path.read_bytes()
    store = ThreadStore(path)  # the structure is sound: the row is found when it is read
    assert store.messages(thread_ids[1])  # other threads read as before
    with pytest.raises(StoreError, match="looks damaged") as caught:
        store.messages(thread_ids[0])
    assert str(path) in str(caught.value) and "message row" in str(caught.value)
    # From then on the store refuses everything, and never writes to the file.
    with pytest.raises(StoreError, match="looks damaged"):
        store.save_message(new_message("user", thread_ids[1], None, "x", status="completed"))
    with pytest.raises(StoreError, match="looks damaged"):
        store.threads(SCOPE)
    assert open_fds(path) == []
    store.close()
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda m: m.update(id="msg_other"), "does not match"),
        (lambda m: m.update(thread_id="thread_other"), "does not match"),
        (lambda m: m.update(role="system"), "unknown role"),
        (lambda m: m.update(status="done"), "unknown role or status"),
        (lambda m: m.update(content="hello"), "malformed content"),
        (lambda m: m["content"][0]["text"].pop("value"), "malformed content"),
        (lambda m: m["tool_calls"][0].pop("name"), "malformed tool call"),
        (lambda m: m["tool_calls"][0].update(status="nope"), "malformed tool call"),
        (lambda m: m.update(created_at="yesterday"), "'created_at'"),
        (lambda m: m.update(buttons={"a": 1}), "'buttons'"),
        (lambda m: m.pop("tool_calls"), "lacks 'tool_calls'"),
    ],
)
def test_a_message_of_the_wrong_shape_is_a_store_error(
    where: str, change: Callable[[Any], Any], expected: str
) -> None:
    store = open_store(where)
    thread = new_thread()
    store.create_thread(thread, SCOPE)
    message = full_message(thread["id"])
    row_id = message["id"]
    change(message)
    insert_raw(where, row_id, thread["id"], json.dumps(message))
    with pytest.raises(StoreError, match="looks damaged") as caught:
        store.messages(thread["id"])
    assert expected in str(caught.value)


def test_a_malformed_thread_row_is_a_store_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "threads.sqlite3"
    filled_store(path)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("UPDATE threads SET created_at = 'last tuesday' WHERE title = 'thread 1'")
    with pytest.raises(StoreError, match=r"looks damaged.*thread row"):
        ThreadStore(path).threads(SCOPE)


def test_a_message_from_an_older_version_gets_the_keys_it_lacks(where: str) -> None:
    store = open_store(where)
    thread = new_thread()
    store.create_thread(thread, SCOPE)
    message = full_message(thread["id"])
    old = {k: v for k, v in message.items() if k not in ("buttons", "is_redoable", "object")}
    for key in ("result", "error", "display", "outputs"):
        del old["tool_calls"][0][key]
    del old["content"][0]["text"]["annotations"]
    insert_raw(where, message["id"], thread["id"], json.dumps(old))
    loaded = store.messages(thread["id"])[0]
    assert loaded["buttons"] == [] and loaded["is_redoable"] is False
    assert loaded["object"] == "thread.message"
    assert loaded["tool_calls"][0]["result"] is None and loaded["tool_calls"][0]["error"] is None
    assert loaded["tool_calls"][0]["display"] is None  # saved before calls had a display
    assert loaded["tool_calls"][0]["outputs"] == []
    assert loaded["content"][0]["text"] == {"value": "Hello *there*", "annotations": []}


@pytest.mark.parametrize(
    "problem",
    [
        "damaged pages",
        "not sqlite",
        "garbage body",
        "body lacking keys",
    ],
)
def test_a_damaged_store_never_breaks_the_widget(tmp_path: pathlib.Path, problem: str) -> None:
    path = tmp_path / "threads.sqlite3"
    filled_store(path)
    damage(path, problem)
    before = path.read_bytes()
    copilot = Copilot(api_key="k", store=path, app_id="app", user_id="ada")  # SCOPE
    warning = copilot.store_warning
    assert warning is not None and str(path) in warning
    assert "looks damaged" in warning and "cannot be used" in warning and "in memory" in warning
    assert copilot.error is not None and copilot.error["type"] == "invalid_options_error"
    assert copilot.messages == []
    assert path.read_bytes() == before


# -- close ---------------------------------------------------------------------------------
def test_close_releases_the_file_and_later_operations_are_store_errors(
    where: str, tmp_path: pathlib.Path
) -> None:
    path = pathlib.Path(where)
    store = open_store(where)
    thread = new_thread()
    store.create_thread(thread, SCOPE)
    message = new_message("user", thread["id"], None, "hi", status="completed")
    store.save_message(message)
    if not is_postgres(where):
        assert open_fds(path)  # the database, its -wal and -shm
    store.close()
    store.close()  # twice is fine
    if not is_postgres(where):
        assert open_fds(path) == []
        assert sorted(p.name for p in tmp_path.iterdir()) == ["threads.sqlite3"]
    operations: list[Callable[[], Any]] = [
        lambda: store.threads(SCOPE),
        lambda: store.thread(thread["id"], SCOPE),
        lambda: store.create_thread(new_thread(), SCOPE),
        lambda: store.rename_thread(thread["id"], "x"),
        lambda: store.delete_thread(thread["id"]),
        lambda: store.messages(thread["id"]),
        lambda: store.save_message(message),
        lambda: store.delete_message(message["id"]),
    ]
    for operation in operations:
        with pytest.raises(StoreError, match=r"thread store .* is closed$"):
            operation()
    assert stored(where, thread["id"]) == [message]  # nothing was lost
    if not is_postgres(where):
        path.unlink()  # nothing holds the file


def test_close_waits_for_an_operation_in_another_thread(where: str) -> None:
    path = where
    store = open_store(path)
    thread = new_thread()
    store.create_thread(thread, SCOPE)
    errors: list[BaseException] = []
    saved = 0
    started = threading.Event()

    def write() -> None:
        nonlocal saved
        while True:
            try:
                store.save_message(new_message("user", thread["id"], None, "x"))
            except BaseException as exc:
                errors.append(exc)
                return
            saved += 1
            started.set()

    writer = threading.Thread(target=write)
    writer.start()
    assert started.wait(10)
    store.close()
    writer.join(10)
    assert [type(e) for e in errors] == [StoreError] and "is closed" in str(errors[0])
    assert len(stored(path, thread["id"])) == saved


# -- private to the user -------------------------------------------------------------------
def mode(path: pathlib.Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)  # the usual umask: new files readable by everyone
    yield
    os.umask(old)


@pytest.mark.usefixtures("umask_022")
def test_the_default_store_is_private_to_the_user() -> None:
    path = default_path()
    assert not path.parent.exists()
    store = ThreadStore(None)
    store.create_thread(new_thread(), SCOPE)  # a write: the -wal and -shm files exist
    assert store.path == str(path)
    assert mode(path.parent) == 0o700
    for name in ("", "-wal", "-shm"):
        assert mode(f"{path}{name}") == 0o600, name
    store.close()


@pytest.mark.usefixtures("umask_022")
def test_an_existing_store_with_wider_permissions_is_tightened(tmp_path: pathlib.Path) -> None:
    path = default_path()
    path.parent.mkdir(parents=True, mode=0o755)
    os.chmod(path.parent, 0o755)
    # A store written before it was private, and still open in another kernel.
    other_kernel = sqlite3.connect(path, isolation_level=None)
    other_kernel.execute("PRAGMA journal_mode = WAL")
    other_kernel.execute("CREATE TABLE t (x)")
    assert {mode(f"{path}{name}") for name in ("", "-wal", "-shm")} == {0o644}
    store = ThreadStore(None)
    assert mode(path.parent) == 0o700
    for name in ("", "-wal", "-shm"):
        assert mode(f"{path}{name}") == 0o600, name
    store.close()
    other_kernel.close()


@pytest.mark.usefixtures("umask_022")
def test_a_store_in_a_folder_the_user_chose_leaves_the_folder_alone(
    tmp_path: pathlib.Path,
) -> None:
    project = tmp_path / "project"
    project.mkdir(mode=0o755)
    os.chmod(project, 0o755)
    store = ThreadStore(project / "chats.sqlite3")
    assert mode(project) == 0o755  # theirs
    assert mode(project / "chats.sqlite3") == 0o600  # holds every prompt: ours to protect
    store.close()
    nested = tmp_path / "new" / "place" / "chats.sqlite3"
    ThreadStore(nested).close()
    assert mode(tmp_path / "new") == mode(nested.parent) == 0o700  # created by the store


# -- concurrent kernels ----------------------------------------------------------------------
def test_a_writer_waits_for_another_kernels_write_lock(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "threads.sqlite3"
    store = ThreadStore(path)
    thread = new_thread()
    store.create_thread(thread, SCOPE)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    locked, order = threading.Event(), []

    def other_kernel() -> None:
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE threads SET title = 'other kernel'")
            locked.set()
            time.sleep(0.5)  # holds the write lock a while
            order.append("other kernel committed")
            db.execute("COMMIT")

    holder = threading.Thread(target=other_kernel)
    holder.start()
    assert locked.wait(10)
    assert store.threads(SCOPE)[0]["title"] == thread["title"]  # WAL: reading is not blocked
    store.save_message(new_message("user", thread["id"], None, "hi", status="completed"))
    order.append("saved")
    holder.join(10)
    assert order == ["other kernel committed", "saved"]
    assert store.threads(SCOPE)[0]["title"] == "other kernel"
    assert len(store.messages(thread["id"])) == 1


def test_many_threads_and_two_stores_writing_at_once_lose_nothing(where: str) -> None:
    stores = [open_store(where), open_store(where)]  # as two kernels would
    thread = new_thread()
    stores[0].create_thread(thread, SCOPE)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(50):
                message = new_message("user", thread["id"], None, f"{worker}:{i}")
                stores[worker % 2].save_message(message)
                message["status"] = "completed"
                stores[(worker + 1) % 2].save_message(message)
                stores[worker % 2].messages(thread["id"])
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert errors == []
    saved = stores[1].messages(thread["id"])
    assert len(saved) == 400 and {m["status"] for m in saved} == {"completed"}
    assert sorted(text_of(m) for m in saved) == sorted(
        f"{w}:{i}" for w in range(8) for i in range(50)
    )
    for store in stores:
        store.close()


# -- listing, previews and search -----------------------------------------------------------
def _thread_with(store: Store, title: str, *texts: str, scope: Any = SCOPE) -> str:
    thread = new_thread(title)
    store.create_thread(thread, scope)
    for i, value in enumerate(texts):
        role = "user" if i % 2 == 0 else "assistant"
        store.save_message(new_message(role, thread["id"], None, value, status="completed"))
    return thread["id"]


def test_the_listing_shows_the_last_text_on_one_line_bounded(where: str) -> None:
    store = open_store(where)
    long = "word " * 100
    short = _thread_with(store, "Short", "How are\n  you?", "**Fine**,\n`thanks`.")
    tool_step = _thread_with(store, "Tool step", "Who is user 2?", "Ada Lovelace.")
    # An answer that only calls a tool has no text: the preview is the last message with text.
    step = new_message("assistant", tool_step, None, "", status="completed")
    store.save_message(step)
    bounded = _thread_with(store, "Long", long)
    empty = _thread_with(store, "Empty")
    if isinstance(store, ThreadStore):
        statements: list[str] = []
        assert store._db is not None
        store._db.set_trace_callback(statements.append)
        store.threads(SCOPE)
        store._db.set_trace_callback(None)
        assert len(statements) == 1  # one query, whatever the number of threads and messages
    listed = {t["id"]: t for t in store.threads(SCOPE)}

    assert listed[short]["preview"] == "Fine, thanks."
    assert listed[tool_step]["preview"] == "Ada Lovelace."
    assert listed[empty]["preview"] == ""
    preview = listed[bounded]["preview"]
    assert len(preview) == PREVIEW_CHARS and preview.endswith("…")
    assert long.startswith(preview[:-1])
    for thread in listed.values():
        assert thread["updated_at"] >= thread["created_at"]
        assert set(thread) == {"id", "object", "title", "created_at", "updated_at", "preview"}


def test_search_finds_titles_and_text_ignoring_case_most_recent_first(where: str) -> None:
    store = open_store(where)
    titled = _thread_with(store, "Revenue by REGION", "Plot it.")
    texted = _thread_with(store, "Sales", "Which region grew most?", "The north region.")
    accented = _thread_with(store, "Schools", "Où est l'ÉCOLE ?")
    _thread_with(store, "Unrelated", "Nothing to see.")
    _thread_with(store, "Other scope", "region", scope=("app", "grace", ""))

    hits = store.search(SCOPE, "Region")
    assert [hit.thread["id"] for hit in hits] == [texted, titled]  # the newest first
    # The first message that matches, in the thread's order; the title when only it matches.
    assert hits[0].text == "Which region grew most?"
    assert hits[1].text == "Revenue by REGION"
    assert hits[0].thread["preview"] == "The north region."
    assert [hit.thread["id"] for hit in store.search(SCOPE, "école")] == [accented]
    assert store.search(SCOPE, "no such words") == []
    # LIKE's wildcards are plain characters here.
    assert store.search(SCOPE, "%") == [] and store.search(SCOPE, "_") == []


def test_search_returns_the_most_recent_matches_only(where: str) -> None:
    store = open_store(where)
    ids = [_thread_with(store, f"Chat {i}", "same words") for i in range(MAX_SEARCH_RESULTS + 5)]
    hits = store.search(SCOPE, "SAME")
    assert [hit.thread["id"] for hit in hits] == ids[::-1][:MAX_SEARCH_RESULTS]


@pytest.mark.parametrize(
    ("text", "query", "snippet"),
    [
        ("short match text", "MATCH", "short match text"),
        ("line one\nline two match\n\tend", "match", "line one line two match end"),
        ("word " * 60 + "The MATCH here " + "after " * 60, "match", None),
        ("a" * 300 + " needle", "needle", None),
    ],
)
def test_a_snippet_is_one_line_around_the_match(text: str, query: str, snippet: Any) -> None:
    got = snippet_of(text, query)
    if snippet is not None:
        assert got == snippet
    assert "\n" not in got and len(got) <= 162
    assert query.casefold() in got.casefold()
    if len(text) > 200:
        assert got.startswith("…")
