// What the user can do with a finished message: copy its Markdown (every message), regenerate
// (the last answer), edit and resend (their own messages) and rate it (answers). Every change is
// a request: the kernel checks it against the thread and answers; the page decides nothing.
import { button, h } from "./dom";
import { copyText } from "./markdown";
import { RefusalNotice } from "./panels";
import type { Requester } from "./protocol";
import type { Feedback, Message } from "./types";

/** What the toolbars of a list share. */
export interface MessageActionHost {
  request: Requester;
  /** A run is going on: regenerate and edit wait (the kernel refuses them). */
  readonly working: boolean;
}

/** Where a message sits in the thread: what it may offer. */
export interface MessagePlace {
  /** The thread's last message, a finished answer: it can be regenerated. */
  lastAnswer: boolean;
  /** How many messages come after it (edit and resend drops them). */
  later: number;
}

/** A thumb icon (drawn by the style sheet: no SVG in the chat's markup). */
function thumb(down: boolean): HTMLElement {
  return h("span", { class: `cw-icon cw-icon-thumb${down ? " cw-icon-down" : ""}`, "aria-hidden": "true" });
}

/** The toolbar under one finished message, and the editor of a user message. */
export class MessageActions {
  readonly el: HTMLElement;
  readonly copyButton = button("Copy", "copy-message", "cw-message-action", {
    title: "Copy this message as Markdown",
  });
  readonly regenerateButton = button("Regenerate", "regenerate", "cw-message-action", {
    title: "Answer the last question again (this answer is replaced)",
  });
  readonly editButton = button("Edit", "edit-message", "cw-message-action", {
    title: "Edit this message and send it again",
  });
  readonly upButton = button("", "feedback-up", "cw-message-action cw-feedback", {
    "aria-label": "Good answer",
    title: "Good answer",
    "aria-pressed": "false",
  });
  readonly downButton = button("", "feedback-down", "cw-message-action cw-feedback", {
    "aria-label": "Bad answer",
    title: "Bad answer",
    "aria-pressed": "false",
  });
  /** After a rating: an optional comment. */
  readonly commentForm = h("div", { class: "cw-feedback-form", hidden: true });
  readonly commentInput = h("input", {
    type: "text",
    class: "cw-feedback-input",
    "data-testid": "feedback-comment",
    maxlength: "2000",
    placeholder: "Tell us more (optional)",
    "aria-label": "Feedback comment (optional)",
  });
  /** The editor that replaces a user message's text while it is edited. */
  readonly editor = h("div", { class: "cw-editor", "data-testid": "message-editor", hidden: true });
  readonly editInput = h("textarea", {
    class: "cw-editor-input",
    "data-testid": "edit-input",
    rows: "3",
    "aria-label": "Edit your message",
  });
  readonly editSend = button("Send", "edit-send", "cw-editor-send");
  readonly editCancel = button("Cancel", "edit-cancel", "cw-editor-cancel");
  /** Asked before an edit drops later messages. */
  readonly confirmation = h("div", {
    class: "cw-editor-confirm",
    "data-testid": "edit-confirmation",
    role: "alert",
    hidden: true,
  });
  #notice = new RefusalNotice();
  #host: MessageActionHost;
  #message: Message | null = null;
  #place: MessagePlace = { lastAnswer: false, later: 0 };
  #sending = false;
  #confirming = false;

  constructor(host: MessageActionHost) {
    this.#host = host;
    this.upButton.append(thumb(false));
    this.downButton.append(thumb(true));
    const sendComment = button("Send", "feedback-send", "cw-message-action");
    this.commentForm.append(this.commentInput, sendComment);
    this.editor.append(
      this.editInput,
      this.confirmation,
      h("div", { class: "cw-editor-buttons" }, this.editSend, this.editCancel),
    );
    this.el = h(
      "div",
      { class: "cw-message-actions", "data-testid": "message-actions", role: "toolbar" },
      this.copyButton,
      this.editButton,
      this.regenerateButton,
      this.upButton,
      this.downButton,
      this.commentForm,
      this.#notice.el,
    );
    this.copyButton.addEventListener("click", () => void this.#copy());
    this.regenerateButton.addEventListener("click", () => this.#send({ kind: "regenerate" }));
    this.upButton.addEventListener("click", () => this.#rate("up"));
    this.downButton.addEventListener("click", () => this.#rate("down"));
    // No <form>: the chat's markup holds no element that model text could never make.
    const submitComment = () => {
      const rating = this.#message?.feedback?.rating;
      if (rating !== undefined) this.#rate(rating, this.commentInput.value.trim());
    };
    sendComment.addEventListener("click", submitComment);
    this.commentInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.isComposing) {
        event.preventDefault();
        submitComment();
      }
    });
    this.editButton.addEventListener("click", () => this.#openEditor());
    this.editCancel.addEventListener("click", () => this.closeEditor());
    this.editSend.addEventListener("click", () => this.#submitEdit());
    this.editInput.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        this.closeEditor();
      } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.#submitEdit();
      }
    });
  }

  get editing(): boolean {
    return !this.editor.hidden;
  }

  update(message: Message, place: MessagePlace): void {
    this.#message = message;
    this.#place = place;
    this.render();
  }

  /** Re-renders (the list's working state changed). */
  render(): void {
    const message = this.#message;
    if (message === null) return;
    const answer = message.role === "assistant";
    const idle = !this.#host.working && !this.#sending;
    this.el.classList.toggle("cw-user-actions", message.role === "user");
    this.el.classList.toggle("cw-last-answer", this.#place.lastAnswer);
    this.copyButton.hidden = messageMarkdown(message) === "";
    this.regenerateButton.hidden = !(answer && this.#place.lastAnswer);
    this.regenerateButton.disabled = !idle;
    this.editButton.hidden = answer || this.editing;
    this.editButton.disabled = !idle;
    const rating = message.feedback?.rating ?? null;
    for (const [b, value] of [
      [this.upButton, "up"],
      [this.downButton, "down"],
    ] as const) {
      b.hidden = !answer;
      b.disabled = this.#sending;
      b.setAttribute("aria-pressed", String(rating === value));
    }
    if (rating === null) this.commentForm.hidden = true;
    this.editSend.disabled = !idle;
    this.editSend.textContent = this.#confirming ? "Remove and send" : "Send";
    this.confirmation.hidden = !this.#confirming;
    this.confirmation.textContent = this.#confirming ? dropWarning(this.#place.later) : "";
  }

  /** Closes the editor, keeping the message as it was. */
  closeEditor(): void {
    const hadFocus = this.editor.contains(document.activeElement);
    this.editor.hidden = true;
    this.#confirming = false;
    this.render();
    if (hadFocus) this.editButton.focus();
  }

  async #copy(): Promise<void> {
    const message = this.#message;
    if (message === null) return;
    const ok = await copyText(messageMarkdown(message));
    this.copyButton.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(() => {
      this.copyButton.textContent = "Copy";
    }, 1500);
  }

  #rate(rating: Feedback["rating"], comment?: string): void {
    const message = this.#message;
    if (message === null) return;
    // A second click on the pressed thumb takes the rating back.
    const same = message.feedback?.rating === rating && comment === undefined;
    const body = same
      ? { kind: "feedback" as const, message_id: message.id, rating: "" }
      : { kind: "feedback" as const, message_id: message.id, rating, ...(comment ? { comment } : {}) };
    this.#send(body, () => {
      if (same || comment !== undefined) {
        this.commentForm.hidden = true;
        return;
      }
      this.commentInput.value = message.feedback?.comment ?? "";
      this.commentForm.hidden = false;
      this.commentInput.focus();
    });
  }

  #openEditor(): void {
    const message = this.#message;
    if (message === null || this.#host.working) return;
    this.editInput.value = messageMarkdown(message);
    this.#confirming = false;
    this.editor.hidden = false;
    this.#notice.clear();
    this.render();
    this.editInput.focus();
  }

  #submitEdit(): void {
    const message = this.#message;
    const text = this.editInput.value.trim();
    if (message === null || text === "" || this.#sending || this.#host.working) return;
    // Dropping later messages is asked once, in the editor.
    if (this.#place.later > 0 && !this.#confirming) {
      this.#confirming = true;
      this.render();
      this.editSend.focus();
      return;
    }
    this.#send({ kind: "edit_message", message_id: message.id, text }, () => {
      this.editor.hidden = true;
      this.#confirming = false;
    });
  }

  #send(body: Parameters<Requester>[0], done?: () => void): void {
    if (this.#sending) return;
    this.#sending = true;
    this.#notice.clear();
    this.render();
    void this.#host.request(body).then((reply) => {
      this.#sending = false;
      if (reply.ok) done?.();
      else this.#notice.show(reply);
      this.render();
    });
  }
}

function dropWarning(later: number): string {
  const what = later === 1 ? "the message after it" : `the ${later} messages after it`;
  return `Sending this edit removes ${what} from the thread.`;
}

/** What Copy copies: the message's Markdown as written (each code block has its own Copy). */
export function messageMarkdown(message: Message): string {
  let text = "";
  for (const part of message.content ?? []) if (part.type === "text") text += part.text.value;
  return text.trim();
}
