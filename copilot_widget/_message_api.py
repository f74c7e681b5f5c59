"""The message actions of `Copilot`: regenerate the last answer, edit and resend a question,
and feedback on an answer. Every method runs on the engine's loop; message ids from the page
are looked up in the selected thread, never trusted."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

from ._errors import InvalidOptionsError, quote
from ._messages import MAX_REASON_CHARS, MAX_TEXT_CHARS, Feedback, Message, new_message
from ._options import check_str
from ._serialize import clean_text

if TYPE_CHECKING:
    from ._events import Events
    from ._loop import Home
    from ._run import Run
    from ._threads import Threads
    from ._undo import UndoTracker

logger = logging.getLogger("copilot_widget")

RATINGS = ("up", "down")


class MessageAPI:
    """What a user can do with the messages of the selected thread."""

    if TYPE_CHECKING:  # provided by Copilot
        _home: Home
        _threads: Threads
        _events: Events
        _undo: UndoTracker
        thread: dict[str, Any]
        messages: list[Message]

        def _settle(self, run: Run) -> Run: ...
        def _check_no_run(self, what: str) -> None: ...
        def _check_can_run(self) -> None: ...
        def _start(self) -> Run: ...
        def _commit(self, message: Message) -> None: ...
        def _refresh_threads(self, *, reload: bool = False) -> None: ...

    def regenerate(self) -> Run:
        """A new answer to the last question: everything after the last user message is
        replaced. If the old answer changed the tracked state (`track_state`), that change is
        undone first, so the new answer starts from the same state."""
        return self._settle(self._home.call(self._regenerate))

    def _regenerate(self) -> Run:
        question = self._last_user_index()
        if question is None:
            raise InvalidOptionsError("There is nothing to regenerate: ask something first.")
        return self._answer_again(question, None)

    def edit_message(self, message_id: str, text: str) -> Run:
        """Replace one of your messages with `text` and answer it again: the messages after it
        leave the thread (the chat asks first). If the last answer among them changed the
        tracked state, that change is undone first, as Undo would."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidOptionsError("Cannot send an empty message: type a prompt first.")
        check_str("The message", text, max_chars=MAX_TEXT_CHARS)
        return self._settle(self._home.call(self._edit_message, message_id, clean_text(text)))

    def _edit_message(self, message_id: str, text: str) -> Run:
        index = self._index_of(message_id)
        if self.messages[index]["role"] != "user":
            raise InvalidOptionsError("Only your own messages can be edited.")
        return self._answer_again(index, text)

    def feedback(self, message_id: str, rating: str | None, comment: str | None = None) -> Message:
        """Rate an answer: `"up"`, `"down"`, or None to take the rating back, with an optional
        comment. It is saved on the message and emitted as a `message.feedback` event, so an
        app can collect it. Returns the updated message."""
        if rating is not None and rating not in RATINGS:
            raise InvalidOptionsError(f"rating must be 'up', 'down' or None, got {quote(rating)}.")
        if comment is not None:
            check_str("comment", comment, max_chars=MAX_REASON_CHARS)
        return self._home.call(self._feedback, message_id, rating, comment)

    def _feedback(self, message_id: str, rating: str | None, comment: str | None) -> Message:
        index = self._index_of(message_id)
        message = self.messages[index]
        if message["role"] != "assistant" or message["status"] == "in_progress":
            raise InvalidOptionsError("Feedback is for the copilot's finished answers.")
        feedback: Feedback | None = None
        if rating is not None:
            text = " ".join(clean_text(comment or "").split())
            feedback = {"rating": cast(Any, rating), "comment": text}
        rated = cast(Message, {**message, "feedback": feedback})
        messages = list(self.messages)
        messages[index] = rated
        self._threads.save(rated)
        self.messages = messages
        self._events.emit(
            "message.feedback",
            {"message_id": message_id, "thread_id": self.thread["id"],
             "rating": rating, "comment": feedback["comment"] if feedback else "",
             "message": dict(rated)},
        )  # fmt: skip
        return rated

    # -- plumbing -------------------------------------------------------------------------
    def _index_of(self, message_id: Any) -> int:
        if isinstance(message_id, str):
            for index, message in enumerate(self.messages):
                if message["id"] == message_id:
                    return index
        logger.info("Refused an action on unknown message %s", quote(message_id))
        raise InvalidOptionsError(f"No message {quote(message_id)} in this thread.")

    def _last_user_index(self) -> int | None:
        roles = [m["role"] for m in self.messages]
        return len(roles) - 1 - roles[::-1].index("user") if "user" in roles else None

    def _answer_again(self, question: int, text: str | None) -> Run:
        """Drop the messages from `question` on (keep the question itself when `text` is None),
        add the edited question, and start a run. The last answer's change to the tracked state
        is undone first: the new answer starts where the old one did."""
        self._check_no_run("change the conversation")
        message_id = self.messages[question]["id"]
        self._check_can_run()  # claims the thread; it may reread messages another kernel added
        try:
            index = self._index_of(message_id)
            keep = index + 1 if text is None else index
            dropped = self.messages[keep:]
            if any(m["is_undoable"] for m in dropped):
                self._undo.undo()
            self._undo.forget()
        except BaseException:
            self._threads.release_run(self.thread["id"])
            raise
        for message in dropped:
            self._threads.delete_message(message["id"])
        self.messages = self.messages[:keep]
        if dropped:
            self._events.emit("messages.changed", {"messages": list(self.messages)})
        if text is not None:
            self._commit(new_message("user", self.thread["id"], None, text, status="completed"))
        return self._start()
