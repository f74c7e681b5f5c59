"""OpenTelemetry traces of runs (GenAI semantic conventions), checked with the SDK's in-memory
exporter; without a configured tracer provider nothing is traced and nothing is imported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from copilot_widget import Copilot, InvalidOptionsError
from copilot_widget.testing import call, text, tool_calls

EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def tracer_provider() -> Iterator[None]:
    # A process has one global provider: set once, and silenced after this module.
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(provider)
    yield
    EXPORTER.shutdown()


@pytest.fixture
def spans() -> Iterator[Any]:
    EXPORTER.clear()
    yield EXPORTER.get_finished_spans
    EXPORTER.clear()


def by_name(finished: Any) -> dict[str, Any]:
    return {span.name: span for span in finished}


def test_a_run_a_request_and_a_tool_call_make_spans_by_the_conventions(
    scripted: Any, spans: Any
) -> None:
    copilot, server = scripted(
        [
            tool_calls(
                call("lookup", {"user_id": "2"}),
                usage={"prompt_tokens": 90, "completion_tokens": 12},
            ),
            text("Ada.", usage={"prompt_tokens": 120, "completion_tokens": 3}),
        ],
        model="gpt-test",
        title="User lookup",
    )

    @copilot.action
    def lookup(user_id: str) -> str:
        """Find a user."""
        return "Ada Lovelace"

    copilot.send("Who is user 2?")
    found = spans()
    assert sorted(s.name for s in found) == [
        "chat gpt-test",
        "chat gpt-test",
        "execute_tool lookup",
        "invoke_agent User lookup",
    ]
    named = by_name(found)
    run = named["invoke_agent User lookup"]
    assert run.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert run.attributes["gen_ai.agent.name"] == "User lookup"
    assert run.attributes["gen_ai.conversation.id"] == copilot.thread["id"]
    assert run.attributes["gen_ai.usage.input_tokens"] == 210
    assert run.attributes["copilot_widget.run.status"] == "completed"
    chats = [s for s in found if s.name == "chat gpt-test"]
    for chat in chats:
        assert chat.kind is SpanKind.CLIENT and chat.parent.span_id == run.context.span_id
        assert chat.attributes["gen_ai.operation.name"] == "chat"
        assert chat.attributes["gen_ai.provider.name"] == "openai"
        assert chat.attributes["gen_ai.request.model"] == "gpt-test"
        assert chat.attributes["gen_ai.response.model"] == "gpt-test"
        assert chat.attributes["server.address"] == "127.0.0.1"
        assert "gen_ai.input.messages" not in chat.attributes  # content only when asked
    first, second = sorted(chats, key=lambda s: s.start_time)
    assert first.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert (
        first.attributes["gen_ai.usage.input_tokens"],
        first.attributes["gen_ai.usage.output_tokens"],
    ) == (90, 12)
    assert second.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    tool = named["execute_tool lookup"]
    assert tool.parent.span_id == run.context.span_id
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["gen_ai.tool.name"] == "lookup"
    assert tool.attributes["gen_ai.tool.call.id"] == copilot.messages[1]["tool_calls"][0]["id"]
    assert tool.attributes["gen_ai.tool.description"] == "Find a user."
    assert "gen_ai.tool.call.arguments" not in tool.attributes
    assert tool.status.status_code is StatusCode.UNSET
    assert len(server.requests) == 2


def test_contents_are_recorded_only_when_asked(scripted: Any, spans: Any) -> None:
    copilot, _ = scripted(
        [tool_calls(call("lookup", {"user_id": "2"})), text("Ada.")],
        instructions="Be brief.",
        trace_content=True,
    )

    @copilot.action
    def lookup(user_id: str) -> str:
        return "Ada Lovelace"

    copilot.send("Who is user 2?")
    named = by_name(spans())
    chats = sorted((s for s in spans() if s.name.startswith("chat")), key=lambda s: s.start_time)
    chat = chats[-1]  # the answer, after the tool call
    assert "Be brief." in chat.attributes["gen_ai.system_instructions"]
    inputs = json.loads(chat.attributes["gen_ai.input.messages"])
    assert inputs[0] == {"role": "user", "parts": [{"type": "text", "content": "Who is user 2?"}]}
    assert inputs[-1]["parts"][0]["type"] == "tool_call_response"
    output = json.loads(chat.attributes["gen_ai.output.messages"])
    assert output == [{"role": "assistant", "parts": [{"type": "text", "content": "Ada."}]}]
    tool = named["execute_tool lookup"]
    assert json.loads(tool.attributes["gen_ai.tool.call.arguments"]) == {"user_id": "2"}
    assert tool.attributes["gen_ai.tool.call.result"] == '"Ada Lovelace"'


def test_failures_approvals_and_cancellations_are_in_the_trace(scripted: Any, spans: Any) -> None:
    copilot, _ = scripted(
        [
            tool_calls(call("explode", {}), call("delete_rows", {"table": "users"})),
            text("Sorry."),
        ]
    )

    @copilot.action
    def explode() -> None:
        raise ValueError("boom")

    @copilot.action(confirm=True)
    def delete_rows(table: str) -> str:
        return "deleted"

    copilot.send("go")
    copilot.reject(copilot.pending_approvals[0]["tool_call_id"], reason="not today")
    named = by_name(spans())
    failed = named["execute_tool explode"]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"] == "failed"
    asked = named["execute_tool delete_rows"]
    events = [(e.name, dict(e.attributes or {})) for e in asked.events]
    assert events == [
        ("copilot_widget.approval.requested", {}),
        ("copilot_widget.approval.decided", {"decision": "rejected"}),
    ]
    assert asked.attributes["copilot_widget.tool_call.status"] == "rejected"


async def test_a_cancelled_run_says_so(scripted: Any, spans: Any) -> None:
    copilot, _ = scripted([text("Slow", delay=5)])
    run = copilot.send("hi")
    copilot.cancel()
    await run
    run_span = next(s for s in spans() if s.name.startswith("invoke_agent"))
    assert [e.name for e in run_span.events] == ["copilot_widget.run.cancelled"]
    assert run_span.attributes["copilot_widget.run.status"] == "cancelled"


def test_without_opentelemetry_nothing_is_imported_or_traced(tmp_path: Any) -> None:
    script = textwrap.dedent(
        """
        import sys
        import openai
        from copilot_widget import Copilot
        from copilot_widget.testing import ScriptedServer, text

        with ScriptedServer([text("Hello.")]) as server:
            client = openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0)
            copilot = Copilot(client=client, store=":memory:")
            copilot.send("hi")
            assert copilot.messages[-1]["content"][0]["text"]["value"] == "Hello."
            copilot.close()
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_copilot_can_trace_to_a_provider_of_its_own(scripted: Any, spans: Any) -> None:
    own = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(own))
    copilot, _ = scripted([text("Hi.")], tracer_provider=provider)
    copilot.send("hi")
    assert sorted(s.name for s in own.get_finished_spans())[0].startswith("chat ")
    assert spans() == ()  # not the global provider's
    with pytest.raises(InvalidOptionsError, match="tracer_provider must be an OpenTelemetry"):
        Copilot(api_key="k", tracer_provider="jaeger")
