"""What runs cost: the tokens a provider reports for each request, priced with the table the
app gives (`Copilot(prices=...)`), and totals for a run or a thread."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

from ._errors import InvalidOptionsError
from ._messages import Message, Usage

#: The keys of a model's price, each per million tokens.
PRICE_KEYS = ("input", "output", "cached_input")

Prices = Mapping[str, Mapping[str, float]]


class Totals(TypedDict):
    """The usage of several steps: a run's, or a thread's."""

    requests: int  # steps that reported usage
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cost: float | None  # None when a step had no price
    duration_ms: int


def check_prices(prices: Any) -> None:
    """`{"model": {"input": 0.25, "output": 2.0, "cached_input": 0.025}}`: per million tokens."""
    if prices is None:
        return
    if not isinstance(prices, Mapping):
        raise InvalidOptionsError(
            "prices must map a model name to its prices per million tokens, e.g. "
            '{"gpt-5-mini": {"input": 0.25, "output": 2.0}}.'
        )
    for model, price in prices.items():
        if not isinstance(model, str) or not isinstance(price, Mapping):
            raise InvalidOptionsError(
                f"prices[{model!r}] must be a dict such as {{'input': 0.25, 'output': 2.0}}."
            )
        unknown = set(price) - set(PRICE_KEYS)
        if unknown or not {"input", "output"} <= set(price):
            raise InvalidOptionsError(
                f"prices[{model!r}] needs 'input' and 'output' (and may have 'cached_input'), "
                f"per million tokens; got {sorted(price)}."
            )
        for key, value in price.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise InvalidOptionsError(
                    f"prices[{model!r}][{key!r}] must be a number >= 0, got {value!r}."
                )


def usage_of(report: Mapping[str, Any], prices: Prices | None, *models: str | None) -> Usage:
    """A step's usage from the provider's report (a chunk's `usage`, as JSON), priced with the
    first of `models` (the requested one, then the one that answered) the table knows.
    Providers differ in what they report: a count that is missing or not a number is 0, or
    unknown for the optional ones."""
    details_in = _details(report.get("prompt_tokens_details"))
    details_out = _details(report.get("completion_tokens_details"))
    usage: Usage = {
        "input_tokens": _count(report.get("prompt_tokens")) or 0,
        "output_tokens": _count(report.get("completion_tokens")) or 0,
        "cached_tokens": _count(details_in.get("cached_tokens")),
        "reasoning_tokens": _count(details_out.get("reasoning_tokens")),
        "cost": None,
    }
    price = next((prices[m] for m in models if prices and m and m in prices), None)
    if price is not None:
        cached = usage["cached_tokens"] or 0
        fresh = max(usage["input_tokens"] - cached, 0)
        cost = (
            fresh * price["input"]
            + cached * price.get("cached_input", price["input"])
            + usage["output_tokens"] * price["output"]
        ) / 1_000_000
        usage["cost"] = round(cost, 8)
    return usage


def _details(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def totals(messages: Iterable[Message]) -> Totals:
    """The usage of every step among `messages` (assistant messages that reported some)."""
    total: Totals = {
        "requests": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cached_tokens": 0,
        "reasoning_tokens": 0,
        "cost": 0.0,
        "duration_ms": 0,
    }
    priced = True
    for message in messages:
        timings = message.get("timings")
        if timings is not None:
            total["duration_ms"] += timings["duration_ms"]
        usage = message.get("usage")
        if usage is None:
            continue
        total["requests"] += 1
        total["input_tokens"] += usage["input_tokens"]
        total["output_tokens"] += usage["output_tokens"]
        total["cached_tokens"] += usage["cached_tokens"] or 0
        total["reasoning_tokens"] += usage["reasoning_tokens"] or 0
        if usage["cost"] is None:
            priced = False
        else:
            total["cost"] = (total["cost"] or 0.0) + usage["cost"]
    if not priced or total["requests"] == 0:
        total["cost"] = None
    elif total["cost"] is not None:
        total["cost"] = round(total["cost"], 8)
    return total
