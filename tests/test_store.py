"""The SQLite thread store: round trips, migrations, failures, concurrent kernels."""

from __future__ import annotations

import json
import multiprocessing
import pathlib
import sqlite3
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

from copilot_widget import Copilot, InvalidOptionsError
from copilot_widget._messages import new_message, new_thread, text_of
from copilot_widget._store import SCHEMA_VERSION, ThreadStore, _v1
from copilot_widget.testing import ScriptedServer, call, cut, error, text, tool_calls

SCOPE = ("app", "ada", "")


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
        },
        {
            "id": "call_2",
            "name": "boom",
            "arguments": "{}",
            "status": "failed",
            "result": '{"error": "x"}',
            "error": "x",
        },
    ]
    message["is_undoable"] = True
    return message


def test_round_trip_of_every_message_field(tmp_path: pathlib.Path) -> None:
    store = ThreadStore(tmp_path / "threads.sqlite3")
    thread = new_thread("Round trip")
    store.create_thread(thread, SCOPE)
    user = new_message("user", thread["id"], None, "Hi", status="completed")
    assistant = full_message(thread["id"])
    store.save_message(user)
    store.save_message(assistant)
    assistant["content"][0]["text"]["value"] += " again"  # saved twice: updated in place
    store.save_message(assistant)
    store.close()

    reopened = ThreadStore(tmp_path / "threads.sqlite3")
    assert reopened.threads(SCOPE) == [thread]
    assert reopened.messages(thread["id"]) == [user, assistant]
    assert reopened.threads(("app", "someone else", "")) == []  # scoped


def test_threads_are_listed_most_recently_active_first(tmp_path: pathlib.Path) -> None:
    store = ThreadStore(tmp_path / "t.sqlite3")
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


def test_a_newer_schema_is_refused_and_the_widget_keeps_working_in_memory(
    tmp_path: pathlib.Path,
) -> None:
    path = tmp_path / "future.sqlite3"
    sqlite3.connect(path).execute("PRAGMA user_version = 99").connection.close()
    copilot = Copilot(api_key="k", store=path)
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


def test_unknown_thread_id_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(InvalidOptionsError, match="No thread 'thread_nope'"):
        Copilot(api_key="k", store=tmp_path / "s.sqlite3", thread_id="thread_nope")


def _client(server: ScriptedServer) -> Any:
    import openai

    return openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0)


def test_a_new_copilot_on_the_same_store_continues_the_thread(tmp_path: pathlib.Path) -> None:
    store = tmp_path / "s.sqlite3"
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


def test_restart_in_another_process_sends_the_whole_valid_history(tmp_path: pathlib.Path) -> None:
    store = str(tmp_path / "s.sqlite3")
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
    store = ThreadStore(path)
    thread = new_thread(f"worker {worker}")
    store.create_thread(thread, SCOPE)
    for i in range(count):
        store.save_message(
            new_message("user", thread["id"], None, f"{worker}:{i}", status="completed")
        )


def test_two_processes_writing_one_store_lose_nothing(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "shared.sqlite3")
    ThreadStore(path).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, w, 300)) for w in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    store = ThreadStore(path)
    threads = store.threads(SCOPE)
    assert len(threads) == 2
    for thread in threads:
        worker = thread["title"].split()[-1]
        assert [text_of(m) for m in store.messages(thread["id"])] == [
            f"{worker}:{i}" for i in range(300)
        ]


# -- partial messages are kept ---------------------------------------------------------------
async def test_cancel_keeps_the_partial_message_in_the_store(
    tmp_path: pathlib.Path, scripted: Any
) -> None:
    import asyncio

    copilot, _ = scripted([text(*["word "] * 100, delay=0.01)], store=tmp_path / "s.sqlite3")
    run = copilot.send("go")
    await asyncio.sleep(0.2)
    run.cancel()
    await run
    saved = ThreadStore(tmp_path / "s.sqlite3").messages(copilot.thread["id"])
    assert saved[-1]["status"] == "incomplete"
    assert saved[-1]["incomplete_details"] == {"reason": "run_cancelled"}
    assert text_of(saved[-1]).startswith("word word")


def test_provider_error_keeps_the_partial_message_in_the_store(
    tmp_path: pathlib.Path, scripted: Any
) -> None:
    copilot, _ = scripted([cut(text("half ", "an answer"))], store=tmp_path / "s.sqlite3")
    copilot.send("go")
    saved = ThreadStore(tmp_path / "s.sqlite3").messages(copilot.thread["id"])
    assert [m["status"] for m in saved] == ["completed", "incomplete"]
    assert text_of(saved[-1]) == "half an answer"
    assert saved[-1]["incomplete_details"] == {"reason": "run_failed"}
    assert error  # the error path itself is covered in test_run.py


KILLED_SCRIPT = textwrap.dedent(
    """
    import sys, openai
    from copilot_widget import Copilot
    base_url, store = sys.argv[1:3]
    client = openai.AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0)
    Copilot(client=client, store=store).send("tell me a long story")
    """
)


def test_a_process_killed_mid_stream_leaves_the_partial_message(tmp_path: pathlib.Path) -> None:
    store = str(tmp_path / "s.sqlite3")
    with ScriptedServer([text(*[f"w{i} " for i in range(400)], delay=0.02)]) as server:
        process = subprocess.Popen([sys.executable, "-c", KILLED_SCRIPT, server.base_url, store])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                rows = sqlite3.connect(store).execute("SELECT body FROM messages").fetchall()
            except sqlite3.Error:
                continue
            if any("w20 " in row[0] for row in rows):
                break
        process.kill()
        process.wait()
    copilot = Copilot(api_key="k", store=store)
    last = copilot.messages[-1]
    assert last["status"] == "incomplete"
    assert last["incomplete_details"] == {"reason": "run_interrupted"}
    assert text_of(last).startswith("w0 w1 w2 ")
    assert ThreadStore(store).messages(copilot.thread["id"])[-1]["status"] == "incomplete"
