"""OpenTelemetry traces of runs, following the GenAI semantic conventions: an `invoke_agent`
span per run, a `chat {model}` span per request to the model, an `execute_tool {name}` span per
tool call, and approvals and cancellations as span events.

Nothing here imports OpenTelemetry: traces are made only when the app already imported it and
configured a tracer provider (`pip install copilot-widget[otel]`, then the SDK and an exporter
of its choice). Prompts, answers, arguments and results are recorded only when asked for
(`Copilot(trace_content=True)` or OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger("copilot_widget")

SCOPE = "copilot_widget"
CONTENT_VARIABLE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def capture_content(asked: bool) -> bool:
    """Whether prompts and results go into spans: asked for, or turned on by the standard
    environment variable."""
    return asked or os.environ.get(CONTENT_VARIABLE, "").strip().lower() in ("true", "1")


def _tracer(provider: Any = None) -> Any:
    """The tracer of `provider`, else of the app's global tracer provider; None when the app set
    up none (then no span is made)."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    if provider is not None:
        return provider.get_tracer(SCOPE)
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    return provider.get_tracer(SCOPE)


class Span:
    """One span, or nothing (tracing off): every method is safe to call either way."""

    def __init__(self, span: Any = None, trace: Any = None) -> None:
        self._span, self._trace = span, trace

    def set(self, **attributes: Any) -> None:
        if self._span is not None:
            for key, value in attributes.items():
                if value is not None:
                    self._span.set_attribute(key.replace("__", "."), value)

    def event(self, name: str, **attributes: Any) -> None:
        if self._span is not None:
            clean = {k.replace("__", "."): v for k, v in attributes.items() if v is not None}
            self._span.add_event(name, clean)

    def fail(self, error_type: str, message: str) -> None:
        if self._span is not None:
            self._span.set_attribute("error.type", error_type)
            self._span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, message))

    def end(self) -> None:
        if self._span is not None:
            self._span.end()
            self._span = None


class RunTrace:
    """The spans of one run."""

    def __init__(
        self,
        *,
        agent_name: str,
        model: str,
        base_url: str,
        thread_id: str,
        run_id: str,
        content: bool,
        provider: Any = None,
    ) -> None:
        self.model, self.content = model, content
        address = urlsplit(base_url)
        self._server = {"server__address": address.hostname, "server__port": address.port}
        self._tracer = _tracer(provider)
        self._trace: Any = sys.modules.get("opentelemetry.trace") if self._tracer else None
        self.run = self._start(
            f"invoke_agent {agent_name}",
            "INTERNAL",
            None,
            gen_ai__operation__name="invoke_agent",
            gen_ai__provider__name="openai",
            gen_ai__agent__name=agent_name,
            gen_ai__conversation__id=thread_id,
            gen_ai__request__model=model,
            copilot_widget__run__id=run_id,
        )

    @classmethod
    def off(cls) -> RunTrace:
        """A trace that makes no span (before the run starts)."""
        trace = cls.__new__(cls)
        trace.model, trace.content, trace._server = "", False, {}
        trace._tracer = trace._trace = None
        trace.run = Span()
        return trace

    @property
    def on(self) -> bool:
        return self._tracer is not None

    def ended(self, status: str, error: Any, usage: Mapping[str, Any]) -> None:
        """The run ended: its status, its totals, and the error that ended it."""
        run = self.run
        if status == "cancelled":
            run.event("copilot_widget.run.cancelled")
        if error is not None:
            run.fail(str(getattr(error, "type", type(error).__name__)), str(error))
        run.set(
            copilot_widget__run__status=status,
            gen_ai__usage__input_tokens=usage["input_tokens"] if usage["requests"] else None,
            gen_ai__usage__output_tokens=usage["output_tokens"] if usage["requests"] else None,
        )
        run.end()

    def _start(self, name: str, kind: str, parent: Span | None, **attributes: Any) -> Span:
        if self._tracer is None:
            return Span()
        try:
            context = None
            if parent is not None and parent._span is not None:
                context = self._trace.set_span_in_context(parent._span)
            span = Span(
                self._tracer.start_span(
                    name, context=context, kind=getattr(self._trace.SpanKind, kind)
                ),
                self._trace,
            )
        except Exception:  # a broken tracer never breaks a run
            logger.warning("Could not start the span %r", name, exc_info=True)
            return Span()
        span.set(**attributes)
        return span

    def chat(self, request: list[dict[str, Any]]) -> Span:
        """The span of one request to the model (a step)."""
        span = self._start(
            f"chat {self.model}",
            "CLIENT",
            self.run,
            gen_ai__operation__name="chat",
            gen_ai__provider__name="openai",
            gen_ai__request__model=self.model,
            **self._server,
        )
        if self.content and span._span is not None:
            system = [m["content"] for m in request if m.get("role") == "system"]
            if system:
                span.set(gen_ai__system_instructions=_json([_text(system[0])]))
            span.set(gen_ai__input__messages=_json(input_messages(request)))
        return span

    def chat_done(
        self,
        span: Span,
        *,
        response_model: str | None,
        response_id: str | None,
        finish_reason: str | None,
        usage: dict[str, Any] | None,
        output: dict[str, Any] | None,
    ) -> None:
        span.set(
            gen_ai__response__model=response_model,
            gen_ai__response__id=response_id,
            gen_ai__response__finish_reasons=[finish_reason] if finish_reason else None,
        )
        if usage is not None:
            span.set(
                gen_ai__usage__input_tokens=usage["input_tokens"],
                gen_ai__usage__output_tokens=usage["output_tokens"],
            )
        if self.content and output is not None:
            span.set(gen_ai__output__messages=_json([output]))

    def tool(self, call: dict[str, Any], description: str | None) -> Span:
        """The span of one tool call."""
        span = self._start(
            f"execute_tool {call['name']}",
            "INTERNAL",
            self.run,
            gen_ai__operation__name="execute_tool",
            gen_ai__tool__name=call["name"],
            gen_ai__tool__call__id=call["id"],
            gen_ai__tool__type="function",
            gen_ai__tool__description=description,
        )
        if self.content:
            span.set(gen_ai__tool__call__arguments=call["arguments"])
        return span

    def tool_done(self, span: Span, call: Mapping[str, Any]) -> None:
        status = call["status"]
        span.set(copilot_widget__tool_call__status=status)
        if status == "completed":
            if self.content and call["result"] is not None:
                span.set(gen_ai__tool__call__result=call["result"])
        elif status in ("failed", "cancelled"):
            span.fail(status, call["error"] or status)
        span.end()


def _text(content: Any) -> dict[str, Any]:
    return {"type": "text", "content": content}


def input_messages(request: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A request's messages (but the system prompt) in the conventions' shape: role and parts."""
    out: list[dict[str, Any]] = []
    for m in request:
        role = m.get("role")
        if role == "tool":
            part = {"type": "tool_call_response", "id": m["tool_call_id"], "response": m["content"]}
            out.append({"role": "tool", "parts": [part]})
        elif role == "assistant":
            parts = [_text(m["content"])] if m.get("content") else []
            for call in m.get("tool_calls") or ():
                function = call["function"]
                parts.append(
                    {"type": "tool_call", "id": call["id"], "name": function["name"],
                     "arguments": function["arguments"]}
                )  # fmt: skip
            out.append({"role": "assistant", "parts": parts})
        elif role == "user":
            content = m["content"]
            texts = [content] if isinstance(content, str) else [
                p.get("text", "[image]") for p in content
            ]  # fmt: skip
            out.append({"role": "user", "parts": [_text(t) for t in texts]})
    return out


def assistant_output(message: Mapping[str, Any]) -> dict[str, Any]:
    """A step's answer as the conventions' output message: its text and its tool calls."""
    parts: list[dict[str, Any]] = []
    text = "".join(p["text"]["value"] for p in message["content"] if p["type"] == "text")
    if text:
        parts.append({"type": "text", "content": text})
    for call in message["tool_calls"]:
        parts.append(
            {"type": "tool_call", "id": call["id"], "name": call["name"],
             "arguments": call["arguments"]}
        )  # fmt: skip
    return {"role": "assistant", "parts": parts}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
