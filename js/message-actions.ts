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
  /** The run's tokens, cost and time, on the run's last message; null: none shown. */
  usage: RunUsage | null;
}

/** What a run used: the sum over its steps. Tokens and cost are null when no step reported
 * them (a server that sends no usage, or no price for the model). */
export interface RunUsage {
  input_tokens: number | null;
  output_tokens: number | null;
  cost: number | null;
  duration_ms: number;
}

/** "1,234 in · 56 out · cost 0.0042 · 2.3 s": what an answer cost and how long it took. */
export function describeUsage(usage: RunUsage): string {
  const n = (value: number) => value.toLocaleString("en-US");
  const parts: string[] = [];
  if (usage.input_tokens !== null && usage.output_tokens !== null)
    parts.push(`${n(usage.input_tokens)} in`, `${n(usage.output_tokens)} out`);
  if (usage.cost !== null) parts.push(`cost ${formatCost(usage.cost)}`);
  const seconds = usage.duration_ms / 1000;
  parts.push(`${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`);
  return parts.join(" · ");
}

/** Enough digits to tell small costs apart: 0.0042, 0.13, 12.40. */
export function formatCost(cost: number): string {
  if (cost === 0) return "0";
  if (cost >= 1) return cost.toFixed(2);
  return cost.toPrecision(2);
}

/** A thumb icon (drawn by the style sheet: no SVG in the chat's markup). */
function thumbIcon(down: boolean): HTMLElement {
  return h("span", { class: `cw-icon cw-icon-thumb${down ? " cw-icon-down" : ""}`, "aria-hidden": "true" });
}

/** The editor that takes a user message's place while it is edited (built on first use). */
class MessageEditor {
  readonly el = h("div", { class: "cw-editor", "data-testid": "message-editor" });
  readonly input = h("textarea", {
    class: "cw-editor-input",
    "data-testid": "edit-input",
    rows: "3",
    "aria-label": "Edit your message",
  });
  readonly send = button("Send", "edit-send", "cw-editor-send");
  readonly cancel = button("Cancel", "edit-cancel", "cw-editor-cancel");
  /** Asked before an edit drops later messages. */
  readonly confirmation = h("div", {
    class: "cw-editor-confirm",
    "data-testid": "edit-confirmation",
    role: "alert",
    hidden: true,
  });
  confirming = false;

  constructor(submit: () => void, close: () => void) {
    this.el.append(
      this.input,
      this.confirmation,
      h("div", { class: "cw-editor-buttons" }, this.send, this.cancel),
    );
    this.send.addEventListener("click", submit);
    this.cancel.addEventListener("click", close);
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        close();
      } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      }
    });
  }

  render(idle: boolean, later: number): void {
    this.send.disabled = !idle;
    this.send.textContent = this.confirming ? "Remove and send" : "Send";
    this.confirmation.hidden = !this.confirming;
    this.confirmation.textContent = this.confirming ? dropWarning(later) : "";
  }
}

/** The toolbar under one finished message. Its controls are built for the message's role; the
 * editor and the comment box only when first used (a long thread has thousands of toolbars). */
export class MessageActions {
  readonly el = h("div", { class: "cw-message-actions", "data-testid": "message-actions", role: "toolbar" });
  readonly copyButton = button("Copy", "copy-message", "cw-message-action", {
    title: "Copy this message as Markdown",
  });
  #regenerateButton: HTMLButtonElement | null = null;
  #editButton: HTMLButtonElement | null = null;
  #thumbs: [HTMLButtonElement, Feedback["rating"]][] = [];
  #comment: HTMLElement | null = null;
  #commentInput: HTMLInputElement | null = null;
  #editor: MessageEditor | null = null;
  /** Where the editor goes: after the message's text, which it hides. */
  #body: HTMLElement;
  #notice = new RefusalNotice();
  #host: MessageActionHost;
  #message: Message;
  #place: MessagePlace = { lastAnswer: false, later: 0, usage: null };
  #usage = h("span", {
    class: "cw-usage",
    "data-testid": "usage",
    title: "Tokens the provider reported for this answer (sent · received), its cost and its time",
    hidden: true,
  });
  #sending = false;

  constructor(host: MessageActionHost, message: Message, body: HTMLElement) {
    this.#host = host;
    this.#message = message;
    this.#body = body;
    this.el.append(this.copyButton);
    this.copyButton.addEventListener("click", () => void this.#copy());
    if (message.role === "user") {
      this.el.classList.add("cw-user-actions");
      const edit = button("Edit", "edit-message", "cw-message-action", {
        title: "Edit this message and send it again",
      });
      edit.addEventListener("click", () => this.#openEditor());
      this.#editButton = edit;
      this.el.append(edit);
    } else {
      const regenerate = button("Regenerate", "regenerate", "cw-message-action", {
        title: "Answer the last question again (this answer is replaced)",
      });
      regenerate.addEventListener("click", () => this.#send({ kind: "regenerate" }));
      this.#regenerateButton = regenerate;
      this.el.append(regenerate);
      for (const [rating, label] of [
        ["up", "Good answer"],
        ["down", "Bad answer"],
      ] as const) {
        const thumb = button("", `feedback-${rating}`, "cw-message-action cw-feedback", {
          "aria-label": label,
          title: label,
          "aria-pressed": "false",
        });
        thumb.append(thumbIcon(rating === "down"));
        thumb.addEventListener("click", () => this.#rate(rating));
        this.#thumbs.push([thumb, rating]);
        this.el.append(thumb);
      }
    }
    this.el.append(this.#usage, this.#notice.el);
  }

  get editing(): boolean {
    return this.#editor !== null && !this.#editor.el.hidden;
  }

  update(message: Message, place: MessagePlace): void {
    this.#message = message;
    this.#place = place;
    this.render();
  }

  /** Re-renders (the list's working state changed). */
  render(): void {
    const message = this.#message;
    const idle = !this.#host.working && !this.#sending;
    this.el.classList.toggle("cw-last-answer", this.#place.lastAnswer);
    this.copyButton.hidden = messageMarkdown(message) === "";
    if (this.#regenerateButton !== null) {
      this.#regenerateButton.hidden = !this.#place.lastAnswer;
      this.#regenerateButton.disabled = !idle;
    }
    if (this.#editButton !== null) {
      this.#editButton.hidden = this.editing;
      this.#editButton.disabled = !idle;
    }
    const rating = message.feedback?.rating ?? null;
    for (const [thumb, value] of this.#thumbs) {
      thumb.disabled = this.#sending;
      thumb.setAttribute("aria-pressed", String(rating === value));
    }
    if (rating === null && this.#comment !== null) this.#comment.hidden = true;
    this.#editor?.render(idle, this.#place.later);
    const usage = this.#place.usage;
    this.#usage.hidden = usage === null;
    this.#usage.textContent = usage === null ? "" : describeUsage(usage);
  }

  /** Closes the editor, keeping the message as it was. */
  closeEditor(): void {
    const editor = this.#editor;
    if (editor === null) return;
    const hadFocus = editor.el.contains(document.activeElement);
    editor.el.hidden = true;
    editor.confirming = false;
    this.#body.hidden = false;
    this.render();
    if (hadFocus) this.#editButton?.focus();
  }

  async #copy(): Promise<void> {
    const ok = await copyText(messageMarkdown(this.#message));
    this.copyButton.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(() => {
      this.copyButton.textContent = "Copy";
    }, 1500);
  }

  #rate(rating: Feedback["rating"], comment?: string): void {
    const message = this.#message;
    // A second click on the pressed thumb takes the rating back.
    const same = message.feedback?.rating === rating && comment === undefined;
    const body = same
      ? { kind: "feedback" as const, message_id: message.id, rating: "" }
      : { kind: "feedback" as const, message_id: message.id, rating, ...(comment ? { comment } : {}) };
    this.#send(body, () => {
      if (same || comment !== undefined) {
        if (this.#comment !== null) this.#comment.hidden = true;
        return;
      }
      const input = this.#commentBox();
      input.value = message.feedback?.comment ?? "";
      input.focus();
    });
  }

  /** Shows the optional comment box after a rating; returns its input. */
  #commentBox(): HTMLInputElement {
    if (this.#comment === null || this.#commentInput === null) {
      const input = h("input", {
        type: "text",
        class: "cw-feedback-input",
        "data-testid": "feedback-comment",
        maxlength: "2000",
        placeholder: "Tell us more (optional)",
        "aria-label": "Feedback comment (optional)",
      });
      const send = button("Send", "feedback-send", "cw-message-action");
      // No <form>: the chat's markup holds no element that model text could never make.
      const submit = () => {
        const rating = this.#message.feedback?.rating;
        if (rating !== undefined) this.#rate(rating, input.value.trim());
      };
      send.addEventListener("click", submit);
      input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.isComposing) {
          event.preventDefault();
          submit();
        }
      });
      this.#comment = h("div", { class: "cw-feedback-form" }, input, send);
      this.#commentInput = input;
      this.#notice.el.before(this.#comment);
    }
    this.#comment.hidden = false;
    return this.#commentInput;
  }

  #openEditor(): void {
    if (this.#host.working) return;
    if (this.#editor === null) {
      this.#editor = new MessageEditor(
        () => this.#submitEdit(),
        () => this.closeEditor(),
      );
      this.#body.after(this.#editor.el);
    }
    const editor = this.#editor;
    editor.input.value = messageMarkdown(this.#message);
    editor.confirming = false;
    editor.el.hidden = false;
    this.#body.hidden = true;
    this.#notice.clear();
    this.render();
    editor.input.focus();
  }

  #submitEdit(): void {
    const editor = this.#editor;
    if (editor === null) return;
    const text = editor.input.value.trim();
    if (text === "" || this.#sending || this.#host.working) return;
    // Dropping later messages is asked once, in the editor.
    if (this.#place.later > 0 && !editor.confirming) {
      editor.confirming = true;
      this.render();
      editor.send.focus();
      return;
    }
    this.#send({ kind: "edit_message", message_id: this.#message.id, text }, () => this.closeEditor());
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

// Whether answers show their usage line: the user's choice, for every chat on this page.
const SHOW_USAGE_KEY = "copilot-widget:show-usage";

/** The thread's totals in the header; a click shows or hides each answer's usage line. */
export class ThreadUsage {
  readonly el = button("", "thread-usage", "cw-thread-usage", { "aria-pressed": "true", hidden: true });
  #root: HTMLElement;
  #shown: boolean;

  /** `root`: the chat, whose class hides the answers' usage lines. */
  constructor(root: HTMLElement) {
    this.#root = root;
    this.#shown = readShown();
    this.el.addEventListener("click", () => {
      this.#shown = !this.#shown;
      try {
        localStorage.setItem(SHOW_USAGE_KEY, this.#shown ? "1" : "0");
      } catch {
        // Storage may be off (private mode): the choice holds for this page.
      }
      this.#render();
    });
    this.#render();
  }

  /** The totals of `messages`: the tokens every step reported, their cost, and their time. */
  update(messages: readonly Message[]): void {
    let input = 0;
    let output = 0;
    let cost: number | null = 0;
    let reported = 0;
    for (const message of messages) {
      const usage = message.usage;
      if (!usage) continue;
      reported += 1;
      input += usage.input_tokens;
      output += usage.output_tokens;
      cost = cost === null || usage.cost === null ? null : cost + usage.cost;
    }
    this.el.hidden = reported === 0;
    const tokens = `${(input + output).toLocaleString("en-US")} tokens`;
    this.el.textContent = cost === null ? tokens : `${tokens} · cost ${formatCost(cost)}`;
    this.el.title =
      `This conversation: ${input.toLocaleString("en-US")} tokens sent, ` +
      `${output.toLocaleString("en-US")} received` +
      (cost === null ? "" : `, cost ${formatCost(cost)}`) +
      ". Click to show or hide each answer's usage.";
  }

  #render(): void {
    this.el.setAttribute("aria-pressed", String(this.#shown));
    this.#root.classList.toggle("cw-usage-hidden", !this.#shown);
  }
}

function readShown(): boolean {
  try {
    return localStorage.getItem(SHOW_USAGE_KEY) !== "0";
  } catch {
    return true;
  }
}
