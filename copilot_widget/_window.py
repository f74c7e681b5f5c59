"""The model's context window: a request that would not fit leaves out the oldest turns.

Tokens are estimated from the request's length in characters, calibrated with the prompt
tokens the provider reports (no tokenizer is downloaded). The thread itself keeps everything;
only the request is shorter.
"""

from __future__ import annotations

import json
from typing import Any

#: Input windows of well-known models, in tokens, by name prefix (the longest prefix wins).
KNOWN_WINDOWS = {
    "gpt-3.5-turbo": 16_385,
    "gpt-4": 8_192,
    "gpt-4-turbo": 128_000,
    "gpt-4o": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.5": 128_000,
    "gpt-5": 272_000,
    "o1": 200_000,
    "o3": 200_000,
    "o4-mini": 200_000,
    "claude": 200_000,
    "llama3.1": 128_000,
    "llama3.2": 128_000,
    "llama3.3": 128_000,
    "qwen2.5": 32_768,
    "mistral": 32_000,
}

#: The share of the window a request may take: the rest is for the answer, and estimates err.
REQUEST_SHARE = 0.9


def known_window(model: str) -> int | None:
    """The input window of `model` if it is a well-known one (`org/name` and `name:tag` forms
    included), else None."""
    name = model.rsplit("/", 1)[-1].lower()
    matches = [prefix for prefix in KNOWN_WINDOWS if name.startswith(prefix)]
    return KNOWN_WINDOWS[max(matches, key=len)] if matches else None


class ContextWindow:
    """How many tokens a request may take, and the calibration shared by a copilot's runs."""

    def __init__(self, max_tokens: int | None) -> None:
        self.max_tokens = max_tokens
        self.chars_per_token = 4.0  # a fair start for English and JSON; calibrated below

    def calibrate(self, request_chars: int, reported_tokens: int) -> None:
        """The provider counted `reported_tokens` for a request of `request_chars`."""
        if reported_tokens > 0 and request_chars > 0:
            self.chars_per_token = max(1.0, min(8.0, request_chars / reported_tokens))

    def fit(self, request: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int, int]:
        """The request with the oldest turns left out until it fits: (request, how many
        history messages were left out, its length in characters). The system message and the
        last turn are always kept, and a turn is left out whole, so every tool call stays with
        its result."""
        sizes = [len(json.dumps(m, ensure_ascii=False)) for m in request]
        chars = sum(sizes)
        if self.max_tokens is None or chars <= self._budget():
            return request, 0, chars
        head = 1 if request and request[0].get("role") == "system" else 0
        starts = [i for i in range(head, len(request)) if request[i].get("role") == "user"]
        cut = head
        for start in [*starts[1:], None]:  # the last turn is never left out
            if start is None or chars <= self._budget():
                break
            chars -= sum(sizes[cut:start])
            cut = start
        return [*request[:head], *request[cut:]], cut - head, chars

    def _budget(self) -> float:
        assert self.max_tokens is not None
        return self.max_tokens * REQUEST_SHARE * self.chars_per_token
