// The composer: a textarea, Send (Stop while a run is going on), the reason it is disabled, and
// why the kernel refused a prompt (or a Stop).
import { button, h } from "./dom";
import { RefusalNotice } from "./panels";
import type { Reply, Requester } from "./protocol";
import type { Status } from "./types";

export interface ComposerState {
  status: Status;
  /** Why prompts cannot be sent now (no credentials, no kernel); null when they can. */
  disabledReason: string | null;
}

const PLACEHOLDER = "Message the copilot (Enter to send, Shift+Enter for a new line)";
const SHORT_PLACEHOLDER = "Message the copilot";
let measure: CanvasRenderingContext2D | null | undefined;

export class Composer {
  readonly el: HTMLElement;
  readonly input = h("textarea", {
    class: "cw-input",
    "data-testid": "composer-input",
    rows: "1",
    placeholder: PLACEHOLDER,
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
  #notice = new RefusalNotice();
  #state: ComposerState = { status: "idle", disabledReason: null };
  /** Stop was pressed and the kernel has not answered yet. */
  #stopping = false;
  /** Enter was pressed during a run: the text stays in the box, and the composer says why. */
  #held = false;
  #stops = 0;

  constructor(request: Requester, onSent: () => void) {
    const reasonId = `cw-reason-${Math.random().toString(36).slice(2)}`;
    this.#reason.id = reasonId;
    this.input.setAttribute("aria-describedby", reasonId);
    this.el = h(
      "div",
      { class: "cw-composer" },
      h("div", { class: "cw-composer-row" }, this.input, this.sendButton, this.stopButton),
      this.#reason,
      this.#notice.el,
    );

    const submit = () => {
      const text = this.input.value.trim();
      if (text !== "" && this.#state.disabledReason === null && this.#state.status !== "idle") {
        this.#held = true;
        this.update(this.#state);
        return;
      }
      if (!this.canSend || text === "") return;
      this.#notice.clear();
      this.input.value = "";
      this.#fit();
      onSent();
      void request({ kind: "send", text }).then((reply) => {
        if (reply.ok) return;
        this.showRefusal(reply);
        // The prompt is not lost: back in the box, unless something else was typed meanwhile.
        if (this.input.value === "") {
          this.input.value = text;
          this.#fit();
        }
      });
    };
    this.sendButton.addEventListener("click", submit);
    const stop = () => {
      if (this.#stopping || this.#state.status === "idle") return;
      this.#stopping = true;
      const stop = ++this.#stops;
      this.#notice.clear();
      this.update(this.#state);
      void request({ kind: "cancel" }).then((reply) => {
        if (stop !== this.#stops) return; // a later Stop is on its way
        this.#stopping = false;
        if (!reply.ok) this.showRefusal(reply);
        this.update(this.#state);
      });
    };
    this.stopButton.addEventListener("click", stop);
    this.input.addEventListener("input", () => {
      this.#notice.clear();
      this.#fit();
    });
    this.input.addEventListener("keydown", (event) => {
      // Enter sends, Shift+Enter is a new line; never send mid IME composition.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      } else if (event.key === "Escape" && !event.isComposing && this.#state.status !== "idle") {
        event.preventDefault();
        stop();
      }
    });
    // A narrow chat says less rather than cut the sentence.
    if (typeof ResizeObserver !== "undefined")
      new ResizeObserver(() => this.#fitPlaceholder()).observe(this.input);
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

  /** Says why the kernel refused a prompt sent from here (or a suggestion). */
  showRefusal(reply: Reply): void {
    this.#notice.show(reply);
  }

  update(state: ComposerState): void {
    this.#state = state;
    // The run is over: a Stop still on its way has nothing left to stop, and a held prompt
    // can be sent.
    if (state.status === "idle") this.#stopping = this.#held = false;
    const running = state.status !== "idle";
    const disabled = state.disabledReason !== null;
    this.input.disabled = disabled;
    this.sendButton.hidden = running;
    this.sendButton.disabled = disabled;
    this.stopButton.hidden = !running;
    // Stop was pressed already: say so instead of offering it again.
    const cancelling = state.status === "cancelling" || this.#stopping;
    this.stopButton.disabled = cancelling;
    this.stopButton.textContent = cancelling ? "Stopping…" : "Stop";
    // Not a reason to disable typing: the next prompt can be written meanwhile.
    const waiting =
      state.status === "requires_action"
        ? "The copilot is waiting for your approval: approve or reject the action above (or Stop)."
        : null;
    const held = this.#held
      ? "Not sent yet: the copilot is still answering. Press Enter when it is done, or Escape to stop it."
      : null;
    const note = state.disabledReason ?? held ?? waiting;
    this.#reason.textContent = note ?? "";
    this.#reason.hidden = note === null;
  }

  /** The full placeholder where it fits on the line, the short one where it does not. */
  #fitPlaceholder(): void {
    const style = getComputedStyle(this.input);
    const room =
      this.input.clientWidth - Number.parseFloat(style.paddingLeft) - Number.parseFloat(style.paddingRight);
    if (room <= 0) return; // not laid out
    measure ??= document.createElement("canvas").getContext("2d");
    if (measure === null) return;
    measure.font = style.font;
    this.input.placeholder = measure.measureText(PLACEHOLDER).width <= room ? PLACEHOLDER : SHORT_PLACEHOLDER;
  }

  /** Grows the textarea with its content, up to the CSS max-height. */
  #fit(): void {
    this.input.style.height = "auto";
    const height = this.input.scrollHeight;
    this.input.style.height = height > 0 ? `${height}px` : "";
  }
}
