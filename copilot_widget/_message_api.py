"""The message actions of `Copilot`: regenerate the last answer, edit and resend a question,
and feedback on a message. Every method runs on the engine's loop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._messages import Message

if TYPE_CHECKING:
    from ._run import Run


class MessageAPI:
    """What a user can do with the messages of the selected thread."""

    if TYPE_CHECKING:  # provided by Copilot
        messages: list[Message]

    def regenerate(self) -> Run:
        """A new answer to the last question: the last answer is replaced."""
        raise NotImplementedError

    def edit_message(self, message_id: str, text: str) -> Run:
        """Replace a user message with `text` and answer it again; later messages are dropped."""
        raise NotImplementedError

    def feedback(self, message_id: str, rating: str | None, comment: str | None = None) -> Any:
        """Thumbs up ("up") or down ("down") on a message, or None to clear it."""
        raise NotImplementedError
