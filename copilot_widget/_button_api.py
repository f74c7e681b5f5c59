"""The action buttons of `Copilot`: a click is checked against what the kernel knows now (the
button is the model's proposal, never the user's approval), and a run's buttons are shown
after its answer."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

from ._buttons import check_buttons
from ._errors import InvalidOptionsError, quote
from ._messages import Message, new_message, text_of
from ._opencui import ACTION_LISTS, buttons_from_message, to_opencui_message

if TYPE_CHECKING:
    from ._actions import Action
    from ._loop import Home
    from ._run import Run
    from ._threads import Threads

logger = logging.getLogger("copilot_widget")


class ButtonAPI:
    """The action buttons of `Copilot`: clicks, checked against what the kernel knows now, and
    where the buttons of a run are shown."""

    if TYPE_CHECKING:  # provided by Copilot
        _home: Home
        _actions: dict[str, Action]
        _threads: Threads
        messages: list[Message]
        action_buttons: bool
        thread: Any

        def _offered_actions(self) -> dict[str, Action]: ...
        def _check_no_run(self, what: str) -> None: ...
        def _commit(self, message: Message) -> None: ...

        def _settle(self, run: Run) -> Run: ...
        def _send_text(self, text: str) -> Run: ...
        def _start_user_call(
            self, action: Action, arguments: dict[str, Any], *, approved: bool
        ) -> Run: ...

    def click_button(self, message_id: str, button_id: str) -> Run:
        """Do what an action button of a message in this thread says: run its action (a
        `confirm=True` one waits for approval on its card, like a call from the model) or send
        its reply."""
        return self._settle(self._home.call(self._click_button, message_id, button_id))

    def _click_button(self, message_id: str, button_id: str) -> Run:
        if not self.action_buttons:  # buttons saved in the thread while they were on
            raise InvalidOptionsError("Action buttons are off for this copilot.")
        message = next((m for m in self.messages if m["id"] == message_id), None)
        offered: list[Any] = message.get("buttons", []) if message is not None else []
        button = next((b for b in offered if b["id"] == button_id), None)
        if message is None or button is None:
            logger.warning(
                "Refused a click on unknown button %s of %s", quote(button_id), quote(message_id)
            )
            raise InvalidOptionsError(
                f"No button {quote(button_id)} on message {quote(message_id)} in this thread."
            )
        # The user asked something since: the options of an earlier answer may no longer fit.
        later = self.messages[self.messages.index(message) + 1 :]
        if any(m["role"] == "user" for m in later):
            raise InvalidOptionsError(
                "That button is from an earlier answer; the conversation has moved on since. "
                "Ask again for up-to-date options."
            )
        if not button["action"]:
            return self._send_text(button["reply"])
        # A button is the model's proposal: it may only run what the model may call now, from
        # where the user is now (an action off its page comes with the way there).
        action = self._offered_actions().get(button["action"])
        if action is None or not action.offered:
            raise InvalidOptionsError(
                f"The button {quote(button['label'])} runs {button['action']!r}, which is not "
                "available any more."
            )
        return self._start_user_call(action, dict(button["arguments"] or {}), approved=False)

    # -- OpenCUI's universal messages -----------------------------------------------------
    def show_buttons(self, message: dict[str, Any]) -> Message:
        """Show an OpenCUI universal message (a `rich`, `listText` or `listRich` card) as an
        answer with buttons, as an OpenCUI-style backend would. Its buttons are checked like
        the model's: each runs an action the model may call now, with valid arguments, or
        sends a reply; the others are left out, and logged. Returns the answer."""
        return self._home.call(self._show_buttons, message)

    def _show_buttons(self, message: dict[str, Any]) -> Message:
        if not self.action_buttons:
            raise InvalidOptionsError("Buttons need Copilot(action_buttons=True).")
        self._check_no_run("show buttons")
        if not isinstance(message, dict) or message.get("type") not in ACTION_LISTS:
            kind = message.get("type") if isinstance(message, dict) else type(message).__name__
            raise InvalidOptionsError(
                "show_buttons() needs an OpenCUI message: a dict whose type is one of "
                f"{', '.join(ACTION_LISTS)}, got {quote(kind)}."
            )
        raw, refused = buttons_from_message(message)
        shown, also_refused = check_buttons({"buttons": raw}, self._offered_actions())
        for item in [*refused, *also_refused]:
            logger.warning("A button was left out: %s (%s)", item["label"], item["why"])
        parts = [message.get(key) for key in ("title", "description")]
        text = "\n\n".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
        answer = new_message("assistant", self.thread["id"], None, text, status="completed")
        answer["buttons"] = shown
        self._commit(answer)
        return answer

    def buttons_as_opencui(self, message_id: str | None = None) -> dict[str, Any]:
        """The buttons of an answer (the last one with buttons, by default) as an OpenCUI
        `rich` card whose description is the answer's text."""
        with_buttons = [m for m in self.messages if m.get("buttons")]
        if message_id is not None:
            with_buttons = [m for m in with_buttons if m["id"] == message_id]
        if not with_buttons:
            raise InvalidOptionsError(
                "No answer with buttons in this thread"
                + (f" has the id {quote(message_id)}." if message_id is not None else ".")
            )
        answer = with_buttons[-1]
        return to_opencui_message(answer["buttons"], description=text_of(answer))

    def _buttons_to_the_answer(self, run_id: str) -> None:
        """Buttons are offered in a tool step, before the answer that presents them: they move
        to the run's last message, so they show after the answer."""
        mine = [
            i
            for i, m in enumerate(self.messages)
            if m["run_id"] == run_id and m["role"] == "assistant"
        ]
        offered = [b for i in mine[:-1] for b in self.messages[i]["buttons"]]
        if not offered:
            return
        messages = list(self.messages)
        for i in mine:
            buttons = [*offered, *messages[i]["buttons"]] if i == mine[-1] else []
            if buttons != messages[i]["buttons"]:
                messages[i] = cast(Message, {**messages[i], "buttons": buttons})
                self._threads.save(messages[i])
        self.messages = messages
