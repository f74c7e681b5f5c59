"""Kernel-side cost of streaming, measured side by side in one run.

1. 5,000 tokens from the scripted server at full speed, consumed (a) by the raw openai client,
   (b) by a headless Copilot run and (c) by a Copilot run traced with OpenTelemetry (SDK, spans
   kept in memory): time per token and the ratios b/a and c/a (goal: <= 1.10).
2. Bytes sent to the front end per streamed token with a thread of 10 and of 2,000 messages
   (goal: the same, O(1) in the thread's length).

    python bench/stream.py [--tokens 5000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import openai

from copilot_widget import Copilot
from copilot_widget._display import Display, display_of
from copilot_widget._messages import new_message
from copilot_widget.testing import ScriptedServer, text


class CountingComm:
    """Counts the JSON bytes the widget sends through its comm."""

    def __init__(self, copilot: Copilot) -> None:
        self.delta_bytes = 0
        self.other_bytes = 0
        copilot.comm.send = self.send

    def send(self, data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
        size = len(json.dumps(data, separators=(",", ":")))
        if data.get("method") == "custom" and data["content"]["kind"] == "delta":
            self.delta_bytes += size
        else:
            self.other_bytes += size


def tokens(n: int) -> list[str]:
    return [f"tok{i % 100} " for i in range(n)]


async def raw_client(base_url: str) -> float:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
    start = time.perf_counter()
    stream = await client.chat.completions.create(
        model="bench", messages=[{"role": "user", "content": "go"}], stream=True
    )
    parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    elapsed = time.perf_counter() - start
    assert len(parts) > 0
    await client.close()
    return elapsed


def rich_displays() -> list[Display]:
    """A 60-row table and a chart, as an action returning them would show."""
    import pandas as pd
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4, 2.5))
    figure.subplots().plot(range(50), [i * i for i in range(50)])
    frame = pd.DataFrame({"month": range(1, 61), "units": range(60)})
    return [d for d in (display_of(frame), display_of(figure)) if d is not None]


async def copilot_run(
    base_url: str,
    thread_length: int = 0,
    rich: list[Display] | None = None,
    tracer_provider: Any = None,
) -> tuple[float, CountingComm]:
    """One run after a thread of `thread_length` messages; with `rich`, every tenth answer
    has tool calls showing those displays."""
    client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
    copilot = Copilot(client=client, store=":memory:", tracer_provider=tracer_provider)
    thread_id = copilot.thread["id"]
    messages = []
    for i in range(thread_length):
        role = "user" if i % 2 == 0 else "assistant"
        message = new_message(role, thread_id, None, f"message {i} " * 20, status="completed")
        if rich and i % 20 == 1:
            message["tool_calls"] = [
                {"id": f"call_{i}_{k}", "name": "analyse", "arguments": "{}",
                 "status": "completed", "result": '"done"', "error": None,
                 "display": display, "outputs": []}
                for k, display in enumerate(rich)
            ]  # fmt: skip
        messages.append(message)
    copilot.messages = messages
    comm = CountingComm(copilot)
    start = time.perf_counter()
    await copilot.send("go")
    elapsed = time.perf_counter() - start
    await client.close()
    return elapsed, comm


async def main(n: int, repeats: int) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    with ScriptedServer(lambda request: text(*tokens(n))) as server:
        await raw_client(server.base_url)  # warm up every path
        await copilot_run(server.base_url)
        await copilot_run(server.base_url, tracer_provider=provider)
        raw, run, traced = [], [], []
        for _ in range(repeats):  # interleaved, so drift affects all alike
            raw.append(await raw_client(server.base_url))
            run.append((await copilot_run(server.base_url))[0])
            traced.append((await copilot_run(server.base_url, tracer_provider=provider))[0])
        a, b, c = statistics.median(raw), statistics.median(run), statistics.median(traced)
        assert len(spans.get_finished_spans()) == 2 * (repeats + 1)  # a run and its request
        print(f"{n} tokens, median of {repeats} runs each")
        print(f"  (a) raw openai client : {a * 1e3:8.1f} ms  {a / n * 1e6:6.1f} us/token")
        print(f"  (b) Copilot run       : {b * 1e3:8.1f} ms  {b / n * 1e6:6.1f} us/token")
        print(f"  (c) traced run        : {c * 1e3:8.1f} ms  {c / n * 1e6:6.1f} us/token")
        print(f"  ratio b/a, tracing off: {b / a:8.3f}   (goal <= 1.10)")
        print(f"  ratio c/a, tracing on : {c / a:8.3f}   (goal <= 1.10)")

        print("bytes to the front end per streamed token (deltas only):")
        rich = rich_displays()
        for length, displays in ((10, None), (2000, None), (2000, rich)):
            _, comm = await copilot_run(server.base_url, length, displays)
            what = "with 200 tables and charts" if displays else "text only"
            print(
                f"  thread of {length:5d} messages, {what:26s}: "
                f"{comm.delta_bytes / n:6.2f} bytes/token"
                f"  (plus {comm.other_bytes} bytes of message-boundary syncs in the run)"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=7)
    options = parser.parse_args()
    asyncio.run(main(options.tokens, options.repeats))
