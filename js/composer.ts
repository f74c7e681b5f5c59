// The composer: a textarea, Send (Stop while a run is going on), and the reason it is disabled.
import { button, h } from "./dom";
import type { ClientMessage, Status } from "./types";

export interface ComposerState {
  status: Status;
  /** Why prompts cannot be sent now (no credentials, no kernel); null when they can. */
  disabledReason: string | null;
}

export class Composer {
  readonly el: HTMLElement;
  readonly input = h("textarea", {
    class: "cw-input",
    "data-testid": "composer-input",
    rows: "1",
    placeholder: "Message the copilot (Enter to send, Shift+Enter for a new line)",
    "aria-label": "Message the copilot",
  });
  readonly sendButton = button("Send", "send-button", "cw-send");
  readonly stopButton = button("Stop", "stop-button", "cw-stop", { hidden: true });
  // A live region: "waiting for your approval" is announced when a run pauses.
  #reason = h("p", {
    class: "cw-composer-reason",
    "data-testid": "composer-reason",
    role: "status",
    hidden: true,
  });
  #state: ComposerState = { status: "idle", disabledReason: null };

  constructor(send: (message: ClientMessage) => void, onSent: () => void) {
    const reasonId = `cw-reason-${Math.random().toString(36).slice(2)}`;
    this.#reason.id = reasonId;
    this.input.setAttribute("aria-describedby", reasonId);
    this.el = h(
      "div",
      { class: "cw-composer" },
      h("div", { class: "cw-composer-row" }, this.input, this.sendButton, this.stopButton),
      this.#reason,
    );

    const submit = () => {
      const text = this.input.value.trim();
      if (!this.canSend || text === "") return;
      send({ kind: "send", text });
      this.input.value = "";
      this.#fit();
      onSent();
    };
    this.sendButton.addEventListener("click", submit);
    this.stopButton.addEventListener("click", () => send({ kind: "cancel" }));
    this.input.addEventListener("input", () => this.#fit());
    this.input.addEventListener("keydown", (event) => {
      // Enter sends, Shift+Enter is a new line; never send mid IME composition.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      }
    });
    // What is typed here is for the copilot, not the notebook: keep keystrokes away from
    // JupyterLab's document-level shortcut handler (and any other host's).
    for (const type of ["keydown", "keypress", "keyup"] as const) {
      this.el.addEventListener(type, (event) => event.stopPropagation());
    }
  }

  /** Prompts can be sent: ready, set up, and no run going on. */
  get canSend(): boolean {
    return this.#state.disabledReason === null && this.#state.status === "idle";
  }

  update(state: ComposerState): void {
    this.#state = state;
    const running = state.status !== "idle";
    const disabled = state.disabledReason !== null;
    this.input.disabled = disabled;
    this.sendButton.hidden = running;
    this.sendButton.disabled = disabled;
    this.stopButton.hidden = !running;
    // Stop was pressed already: say so instead of offering it again.
    const cancelling = state.status === "cancelling";
    this.stopButton.disabled = cancelling;
    this.stopButton.textContent = cancelling ? "Stopping…" : "Stop";
    // Not a reason to disable typing: the next prompt can be written meanwhile.
    const waiting =
      state.status === "requires_action"
        ? "The copilot is waiting for your approval: approve or reject the action above (or Stop)."
        : null;
    const note = state.disabledReason ?? waiting;
    this.#reason.textContent = note ?? "";
    this.#reason.hidden = note === null;
  }

  /** Grows the textarea with its content, up to the CSS max-height. */
  #fit(): void {
    this.input.style.height = "auto";
    const height = this.input.scrollHeight;
    this.input.style.height = height > 0 ? `${height}px` : "";
  }
}
