"""What runs cost: tokens from the provider's usage reports, prices, timings, and totals for a
run and a thread, saved with the messages."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from copilot_widget import Copilot, InvalidOptionsError
from copilot_widget.testing import ScriptedServer, call, text, tool_calls

PRICES = {"gpt-test": {"input": 2.0, "output": 8.0, "cached_input": 0.5}}


def test_usage_tokens_cost_and_timings_of_each_step_the_run_and_the_thread(
    scripted: Any,
) -> None:
    copilot, server = scripted(
        [
            tool_calls(
                call("lookup", {}),
                usage={
                    "prompt_tokens": 1_000,
                    "completion_tokens": 50,
                    "prompt_tokens_details": {"cached_tokens": 400},  # type: ignore[dict-item]
                    "completion_tokens_details": {"reasoning_tokens": 30},  # type: ignore[dict-item]
                },
            ),
            text(
                "Found",
                " it.",
                first_delay=0.05,
                usage={"prompt_tokens": 1_200, "completion_tokens": 10},
            ),
        ],
        model="gpt-test",
        prices=PRICES,
    )

    @copilot.action
    def lookup() -> str:
        import time

        time.sleep(0.03)
        return "a row"

    run = copilot.send("find the row")
    step, answer = copilot.messages[1:]
    assert step["usage"] == {
        "input_tokens": 1_000,
        "output_tokens": 50,
        "cached_tokens": 400,
        "reasoning_tokens": 30,
        # 600 fresh input at 2.0, 400 cached at 0.5, 50 output at 8.0, per million
        "cost": pytest.approx((600 * 2.0 + 400 * 0.5 + 50 * 8.0) / 1e6),
    }
    assert answer["usage"] is not None and answer["usage"]["cached_tokens"] is None
    assert answer["usage"]["cost"] == pytest.approx((1_200 * 2.0 + 10 * 8.0) / 1e6)
    # Timings: the tool call's own time, the first token, and the whole step.
    assert step["tool_calls"][0]["duration_ms"] >= 30
    assert step["timings"] is not None and step["timings"]["duration_ms"] >= 30
    assert answer["timings"] is not None
    assert answer["timings"]["first_token_ms"] is not None
    assert answer["timings"]["first_token_ms"] >= 50
    assert answer["timings"]["duration_ms"] >= answer["timings"]["first_token_ms"]

    totals = run.usage
    assert totals["requests"] == 2
    assert (totals["input_tokens"], totals["output_tokens"]) == (2_200, 60)
    assert (totals["cached_tokens"], totals["reasoning_tokens"]) == (400, 30)
    assert totals["cost"] == pytest.approx(step["usage"]["cost"] + answer["usage"]["cost"])
    assert (
        totals["duration_ms"] == step["timings"]["duration_ms"] + answer["timings"]["duration_ms"]
    )
    assert copilot.usage == totals  # the thread has this one run

    # Saved with the messages: the same totals after a restart.
    thread_id = copilot.thread["id"]
    copilot.close()
    assert Copilot(api_key="k", thread_id=thread_id).usage == totals
    assert all(r.get("stream_options") == {"include_usage": True} for r in server.requests)


def test_a_server_that_ignores_stream_options_gives_timings_and_no_tokens(
    serve: Any,
) -> None:
    server = ScriptedServer([text("Hello.")], ignore_stream_options=True).start()
    try:
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
        copilot = Copilot(client=client, prices=PRICES, model="gpt-test")
        run = copilot.send("hi")
        answer = copilot.messages[-1]
        assert answer["usage"] is None and answer["timings"] is not None
        assert run.usage["requests"] == 0 and run.usage["cost"] is None
        assert copilot.error is None
    finally:
        server.stop()


def test_without_a_price_for_the_model_the_cost_is_unknown(scripted: Any) -> None:
    copilot, _ = scripted([text("Hi.")], model="other-model", prices=PRICES)
    run = copilot.send("hi")
    assert copilot.messages[-1]["usage"]["cost"] is None  # type: ignore[index]
    assert run.usage["cost"] is None and run.usage["requests"] == 1


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        ("cheap", "prices must map a model name"),
        ({"m": 2.0}, "must be a dict"),
        ({"m": {"input": 1.0}}, "needs 'input' and 'output'"),
        ({"m": {"input": 1.0, "output": 2.0, "per_call": 1}}, "needs 'input' and 'output'"),
        ({"m": {"input": -1.0, "output": 2.0}}, "must be a number >= 0"),
        ({"m": {"input": True, "output": 2.0}}, "must be a number >= 0"),
    ],
)
def test_bad_prices_are_refused_clearly(prices: Any, message: str) -> None:
    with pytest.raises(InvalidOptionsError, match=message):
        Copilot(api_key="k", prices=prices)
