"""The Copilot widget: options, synced state, secrets, events, and the front end's messages."""

from __future__ import annotations

import asyncio
import json
import pathlib
import time
from typing import Any

import openai
import pytest

from copilot_widget import Copilot, InvalidOptionsError
from copilot_widget._messages import new_message, text_of
from copilot_widget.testing import text

from waiting import wait_until_async


class Wire:
    """Records what the widget sends over its comm (state updates and custom messages)."""

    def __init__(self, copilot: Copilot) -> None:
        self.sent: list[dict[str, Any]] = []
        copilot.comm.send = self._send  # type: ignore[method-assign]

    def _send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        self.sent.append(json.loads(json.dumps(data)))  # as serialised at send time

    def custom(self, kind: str | None = None) -> list[dict[str, Any]]:
        out = [m["content"] for m in self.sent if m.get("method") == "custom"]
        return [m for m in out if kind is None or m["kind"] == kind]

    def updates(self, name: str) -> list[Any]:
        return [
            m["state"][name]
            for m in self.sent
            if m.get("method") == "update" and name in m["state"]
        ]


def test_unknown_keyword_is_a_type_error_naming_the_accepted_ones() -> None:
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) temperature.*max_steps"):
        Copilot(api_key="k", temperature=0.2)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_steps": 0}, "max_steps must be a whole number >= 1"),
        ({"max_steps": 2.5}, "max_steps"),
        ({"model": ""}, "model must be a non-empty string"),
        ({"suggestions": "hello"}, "suggestions must be a list of strings"),
        ({"client": "not a client"}, "client must be an openai.AsyncOpenAI"),
        ({"title": 3}, "title must be a string"),
        ({"actions": [print]}, "actions must be a dict"),
        ({"height": "tall"}, "height must be a CSS length"),
        ({"height": "600px; color: red"}, "height must be a CSS length"),
        ({"height": 20}, "at least 120"),
        ({"height": True}, "height must be"),
        ({"trace_content": "yes"}, "trace_content must be True or False"),
    ],
)
def test_bad_option_values_are_refused_clearly(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidOptionsError, match=message):
        Copilot(api_key="k", **options)


@pytest.mark.parametrize(
    ("height", "css"),
    [(None, ""), (600, "600px"), ("70vh", "70vh"), (" 32rem ", "32rem"), ("fill", "fill")],
)
def test_the_height_option_becomes_the_synced_css_height(height: Any, css: str) -> None:
    assert Copilot(api_key="k", height=height).height == css


def test_action_options_are_checked() -> None:
    copilot = Copilot(api_key="k")

    def act() -> None:
        pass

    with pytest.raises(TypeError, match="accepted: name, description"):
        copilot.action(act, colour="red")
    with pytest.raises(InvalidOptionsError, match="available must be one of"):
        copilot.action(act, available="sometimes")
    with pytest.raises(InvalidOptionsError, match="timeout must be a positive"):
        copilot.action(act, timeout=-1)
    with pytest.raises(InvalidOptionsError, match="not valid"):
        copilot.action(act, name="has space")
    copilot.action(act)
    with pytest.raises(InvalidOptionsError, match="already registered"):
        copilot.action(act)
    copilot.remove_action("act")
    assert copilot.actions == {} and copilot.action_specs == []
    with pytest.raises(KeyError):
        copilot.remove_action("act")


def test_actions_dict_and_public_specs_hold_no_handlers() -> None:
    def create_shape(kind: str) -> None:
        """Create a shape."""

    copilot = Copilot(api_key="k", actions={"createShape": create_shape})
    assert list(copilot.actions) == ["createShape"]
    (spec,) = copilot.action_specs
    assert spec == {
        "name": "createShape",
        "description": "Create a shape.",
        "parameters": copilot.actions["createShape"].schema.parameters,
        "kind": "backend",
        "available": "enabled",
        "confirm": False,
        "paired_action": None,
    }
    json.dumps(copilot.get_state())  # all synced state is plain JSON


def test_no_secret_in_synced_state(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-very-secret-123"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    for copilot in (
        Copilot(),
        Copilot(api_key=secret, base_url="http://127.0.0.1:9/v1"),
        Copilot(client=openai.AsyncOpenAI(api_key=secret)),
        Copilot(client=openai.OpenAI(api_key=secret)),
    ):
        state = json.dumps(copilot.get_state(), default=str)
        assert secret not in state
        assert copilot.needs_setup is False


def test_no_credentials_shows_setup_and_refuses_to_send() -> None:
    copilot = Copilot()
    assert copilot.needs_setup is True
    wire = Wire(copilot)
    events: list[dict[str, Any]] = []
    copilot.on("error", lambda e: events.append(e["data"]))
    copilot._handle_custom_msg({"kind": "send", "text": "hi"}, [])
    assert copilot.error is not None and copilot.error["type"] == "authentication_error"
    assert "OPENAI_API_KEY" in copilot.error["message"]
    assert [e["type"] for e in events] == ["authentication_error"]
    assert copilot.messages == []
    assert wire.updates("error")


def test_empty_message_is_refused() -> None:
    copilot = Copilot(api_key="k")
    with pytest.raises(InvalidOptionsError, match="empty message"):
        copilot.send("   ")
    copilot._handle_custom_msg({"kind": "send", "text": ""}, [])
    assert copilot.error is not None and copilot.error["type"] == "invalid_options_error"
    assert copilot.messages == []


def test_ready_from_a_view_sets_is_ready_and_emits_events() -> None:
    copilot = Copilot(api_key="k")
    events: list[str] = []
    for kind in ("ready", "isReady.changed"):
        copilot.on(kind, lambda e: events.append(e["type"]))
    wire = Wire(copilot)
    copilot._handle_custom_msg({"kind": "ready"}, [])
    copilot._handle_custom_msg({"kind": "ready"}, [])  # a second view
    assert copilot.is_ready is True
    assert events == ["isReady.changed", "ready"]
    assert wire.custom("draft") == [{"kind": "draft", "message": None}] * 2


def test_unknown_event_type_is_refused_and_failing_callbacks_never_break_a_run(
    scripted: Any,
) -> None:
    copilot, _ = scripted([text("fine")])
    with pytest.raises(InvalidOptionsError, match="Unknown event type"):
        copilot.on("message.done", print)

    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("callback bug")

    seen: list[str] = []
    copilot.on("message.completed", broken)
    copilot.on("message.completed", lambda e: seen.append(e["data"]["role"]))
    run = copilot.send("hi")
    assert run.status == "completed"
    assert seen == ["user", "assistant"]
    assert copilot.error is not None and "callback bug" in copilot.error["message"]
    copilot.off("message.completed", broken)
    copilot.off("message.completed")


def test_status_and_messages_events_in_order(scripted: Any) -> None:
    copilot, _ = scripted([text("a")])
    events: list[tuple[str, Any]] = []
    for kind in ("status.changed", "messages.changed", "message.completed"):
        copilot.on(kind, lambda e: events.append((e["type"], e["data"])))
    copilot.send("go")
    kinds = [k for k, _ in events]
    assert kinds == [
        "message.completed",
        "messages.changed",
        "status.changed",
        "message.completed",
        "messages.changed",
        "status.changed",
    ]
    assert events[2][1] == {"old_status": "idle", "new_status": "working"}
    assert events[5][1] == {"old_status": "working", "new_status": "idle"}
    assert len(events[4][1]["messages"]) == 2


async def test_a_reply_sent_faster_than_it_is_read_still_streams_in_deltas(
    scripted: Any,
) -> None:
    """With no pause between chunks the client reads from full buffers and seldom yields to
    the loop: deltas still go out every few tens of milliseconds, not all at the end."""
    pieces = [f"w{i} " for i in range(20_000)]
    copilot, _ = scripted([text(*pieces)])
    wire = Wire(copilot)
    started = time.monotonic()
    await copilot.send("stream")
    took = time.monotonic() - started
    deltas = wire.custom("delta")
    assert "".join(d.get("text", "") for d in deltas) == "".join(pieces)
    assert len(deltas) >= min(10, took / 0.03 / 4), (len(deltas), took)


async def test_a_reply_read_from_full_buffers_still_gives_the_loop_turns(scripted: Any) -> None:
    """The client parses every chunk already buffered without yielding; in a kernel, the same
    loop runs the user's cells, which must not wait for a whole buffer of a fast reply."""
    copilot, _ = scripted([text(*[f"w{i} " for i in range(20_000)])])
    loop = copilot._home.loop
    gaps: list[float] = []
    streaming = True

    async def other_work() -> None:  # what a cell does: short steps on the same loop
        last = loop.time()
        while streaming:
            await asyncio.sleep(0)
            gaps.append(loop.time() - last)
            last = loop.time()

    ticker = asyncio.run_coroutine_threadsafe(other_work(), loop)
    started = time.monotonic()
    await copilot.send("stream")
    took = time.monotonic() - started
    streaming = False
    await asyncio.wrap_future(ticker)
    assert copilot.messages[1]["content"][0]["text"]["value"].endswith("w19999 ")
    # The stream holds the loop 1 ms at a time: only the request's start, the finished
    # message's commit, and the machine's other work now and then make the other task wait
    # longer. When the client's own stream parsed the chunks without turns, every buffer read
    # held it ~50 ms: nearly the whole stream.
    long_waits = [gap for gap in gaps if gap > 0.02]
    assert took > 0.1 and sum(long_waits) < 0.25 * took, (took, long_waits)


async def test_tokens_travel_as_batched_deltas_not_message_resyncs(scripted: Any) -> None:
    pieces = [f"w{i} " for i in range(300)]
    copilot, _ = scripted([text(*pieces, delay=0.001)])
    wire = Wire(copilot)
    await copilot.send("stream")
    deltas = wire.custom("delta")
    assert "".join(d.get("text", "") for d in deltas) == "".join(pieces)
    assert 1 < len(deltas) < len(pieces)  # batched, yet streamed
    # The thread changes at message boundaries only, and goes out as what changed: the user's
    # message appended, then the answer; never the whole list.
    assert wire.updates("messages") == []
    appended = [u["append"] for u in wire.custom("messages")]
    assert [[m["role"] for m in a] for a in appended] == [["user"], ["assistant"]]
    assert all(set(u) <= {"kind", "append", "replace", "streamed"} for u in wire.custom("messages"))
    drafts = [d for d in wire.custom("draft") if d["message"]]
    assert drafts and all(d["message"]["status"] == "in_progress" for d in drafts)
    # The answer's text crossed once, as deltas: the finished message leaves it out, and the
    # chat takes it from its draft.
    answer = wire.custom("messages")[1]
    assert answer["streamed"] == [drafts[-1]["message"]["id"]] == [copilot.messages[1]["id"]]
    assert answer["append"][0]["content"][0]["text"]["value"] == ""
    assert copilot.messages[1]["content"][0]["text"]["value"] == "".join(pieces)
    assert wire.custom("messages")[0].get("streamed") is None  # the user's message is whole


async def test_a_chat_that_missed_the_draft_gets_the_message_it_asks_for(scripted: Any) -> None:
    copilot, _ = scripted([text("An answer.")])
    wire = Wire(copilot)
    await copilot.send("hi")
    answer = copilot.messages[1]
    copilot._on_front_end_message(
        None, {"kind": "get_message", "request_id": "r1", "message_id": answer["id"]}, []
    )
    copilot._on_front_end_message(
        None, {"kind": "get_message", "request_id": "r2", "message_id": "msg_other"}, []
    )
    replies = {r["request_id"]: r for r in wire.custom("reply")}
    assert replies["r1"]["ok"] and replies["r1"]["result"] == {"message": answer}
    assert not replies["r2"]["ok"] and "No message" in replies["r2"]["error"]["message"]


async def test_each_message_sends_what_changed_whatever_the_threads_length(
    scripted: Any,
) -> None:
    """O(1) per message: the bytes a completed message sends do not grow with the thread."""
    sizes = []
    for length in (10, 2_000):
        copilot, _ = scripted([text("The answer.")], store=":memory:")
        copilot.messages = [
            new_message("user" if i % 2 == 0 else "assistant", copilot.thread["id"], None,
                        f"message {i} " * 20, status="completed")
            for i in range(length)
        ]  # fmt: skip
        wire = Wire(copilot)
        await copilot.send("one more")
        sizes.append(sum(len(json.dumps(m)) for m in wire.sent))
        if length == 10:
            copilot.close()
    assert sizes[1] < sizes[0] * 1.1, sizes
    # A page that opens (or reloads) gets the latest messages with the state, and the count.
    state = copilot.get_state()
    assert len(state["messages"]) == 300 and state["message_count"] == 2_002
    assert state["messages"][-1] == copilot.messages[-1]
    # Earlier ones when it asks, 300 at a time, before its first.
    replies: list[dict[str, Any]] = []
    copilot._to_front_end = replies.append  # type: ignore[method-assign]
    first = state["messages"][0]["id"]
    copilot._handle_custom_msg({"kind": "load_messages", "before": first, "request_id": "r"}, [])
    earlier = replies[-1]["result"]["messages"]
    assert [m["id"] for m in earlier] == [m["id"] for m in copilot.messages[1_402:1_702]]
    copilot._handle_custom_msg({"kind": "load_messages", "before": "msg_x", "request_id": "s"}, [])
    assert replies[-1]["ok"] is False and "No message 'msg_x'" in replies[-1]["error"]["message"]
    copilot.close()


async def test_the_thread_list_goes_out_as_what_changed(
    scripted: Any, tmp_path: pathlib.Path
) -> None:
    """A message changes the current thread's date and preview: one entry goes out, not the
    list of every thread in the scope."""
    store = str(tmp_path / "threads.sqlite3")
    copilot, _ = scripted([text(f"answer {i}") for i in range(61)], store=store)
    for i in range(60):
        copilot.new_thread()
        await copilot.send(f"question {i}")
    assert len(copilot.threads) == 60
    wire = Wire(copilot)
    await copilot.send("one more")
    assert wire.updates("threads") == []
    changed = wire.custom("threads")
    assert changed and all(set(u) == {"kind", "replace"} for u in changed)
    assert all(len(u["replace"]) == 1 for u in changed)
    assert changed[-1]["replace"][0]["preview"] == "answer 60"
    assert copilot.threads[0]["preview"] == "answer 60"  # Python's list is the whole one
    copilot.close()


async def test_a_view_opened_mid_run_catches_up(scripted: Any) -> None:
    copilot, _ = scripted([text(*[f"{i} " for i in range(100)], delay=0.005)])
    wire = Wire(copilot)
    run = copilot.send("go")
    await wait_until_async(lambda: wire.custom("delta"), message="the first delta")
    copilot._handle_custom_msg({"kind": "ready"}, [])
    snapshot = wire.custom("draft")[-1]["message"]
    before = len(wire.custom("delta"))
    await run
    later = "".join(d.get("text", "") for d in wire.custom("delta")[before:])
    # The snapshot plus every later delta is exactly the final text.
    assert snapshot["content"][0]["text"]["value"] + later == text_of(copilot.messages[-1])
    assert snapshot["content"][0]["text"]["value"]


async def test_cancel_and_retry_from_the_front_end(scripted: Any) -> None:
    from copilot_widget.testing import error

    copilot, _ = scripted([text(*["x"] * 100, delay=0.02), error(500), text("ok")])
    wire = Wire(copilot)
    run = copilot.send("go")
    await wait_until_async(lambda: wire.custom("delta"), message="the answer to stream")
    copilot._handle_custom_msg({"kind": "cancel"}, [])
    await run
    assert run.status == "cancelled"
    copilot._handle_custom_msg({"kind": "send", "text": "again"}, [])
    assert copilot.run is not None
    await copilot.run
    assert copilot.error is not None and copilot.error["retryable"]
    copilot._handle_custom_msg({"kind": "retry"}, [])
    await copilot.run
    assert text_of(copilot.messages[-1]) == "ok"
    assert copilot.error is None
    copilot.error = {"type": "server_error", "message": "m", "retryable": True}
    copilot._handle_custom_msg({"kind": "dismiss_error"}, [])
    assert copilot.error is None


def test_offline_demo_client_sets_the_badge() -> None:
    from copilot_widget.testing import offline_demo_client

    copilot = Copilot(client=offline_demo_client([text("hello offline")]))
    assert copilot.offline_demo is True
    assert text_of(copilot.send("hi").message or copilot.messages[-1]) == "hello offline"
    assert Copilot(api_key="k").offline_demo is False


def test_the_model_in_use_is_synced_for_the_header(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Copilot(api_key="k", model="llama3.2").get_state()["model"] == "llama3.2"
    monkeypatch.setenv("COPILOT_WIDGET_MODEL", "qwen3")
    copilot = Copilot(api_key="k")
    assert copilot.get_state()["model"] == "qwen3"
    copilot.model = "gpt-5"  # changed later: the header follows
    assert copilot.get_state()["model"] == "gpt-5"
