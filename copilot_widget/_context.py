"""Context for the model: the system prompt and readables (app state read before each step)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from . import _serialize

logger = logging.getLogger("copilot_widget")

SYSTEM_PROMPT = (
    "You are a helpful copilot inside a Jupyter notebook. Use the available tools (actions) "
    "to look things up and to act for the user; do not invent results a tool can give. "
    "Answer concisely in Markdown."
)


class Readable:
    """A piece of app state given to the model as context; `remove()` takes it away."""

    def __init__(self, registry: list[Readable], description: str, value: Any) -> None:
        self.description = description
        self.value = value
        self._registry = registry

    def remove(self) -> None:
        if self in self._registry:
            self._registry.remove(self)

    def render(self) -> str:
        try:
            value = self.value() if callable(self.value) else self.value
            text = _serialize.to_json(value, max_chars=_serialize.MAX_CHARS // 2)
        except Exception as exc:
            logger.warning("Readable %r failed", self.description, exc_info=True)
            text = json.dumps({"error": f"unavailable: {type(exc).__name__}: {exc}"})
        return f"## {self.description}\n{text}"


def system_prompt(instructions: str, readables: Sequence[Readable], pages: str = "") -> str:
    """The system prompt: ours, the app's instructions, then the app's state (its readables,
    and `pages`, the rendered page stack, when the user has pages open)."""
    parts = [SYSTEM_PROMPT]
    if instructions:
        parts.append(instructions)
    if readables or pages:
        parts.append("# Current state of the notebook app")
        parts.extend(readable.render() for readable in readables)
        if pages:
            parts.append(pages)
    return "\n\n".join(parts)
