// "What the copilot sees": the system prompt the model gets before its next step (the app's
// instructions, its readables, the pages the user has open), shown on request. The kernel
// builds it; the page shows it as plain text.
import { button, h } from "./dom";
import type { Requester } from "./protocol";

export class ContextView {
  readonly button = button("Context", "context-button", "cw-thread-button", {
    title: "What the copilot sees: what the model is given before its next step",
    "aria-expanded": "false",
  });
  #text = h("pre", { class: "cw-context-text", "data-testid": "context-text" });
  #close = button("Close", "context-close", "cw-thread-button");
  readonly panel = h(
    "section",
    {
      class: "cw-context",
      "data-testid": "context-panel",
      "aria-label": "What the copilot sees",
      hidden: true,
    },
    h("div", { class: "cw-context-head" }, h("strong", {}, "What the copilot sees"), this.#close),
    this.#text,
  );
  #request: Requester;

  constructor(request: Requester) {
    this.#request = request;
    this.button.addEventListener("click", () => void (this.panel.hidden ? this.open() : this.close()));
    this.#close.addEventListener("click", () => this.close());
  }

  /** Asks the kernel for the context as it is now, and shows it. */
  async open(): Promise<void> {
    this.panel.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    this.#text.textContent = "…";
    const reply = await this.#request({ kind: "get_context" });
    const context = (reply.result as { context?: unknown } | undefined)?.context;
    this.#text.textContent =
      reply.ok && typeof context === "string"
        ? context
        : `Not available: ${reply.error?.message ?? "no answer"}`;
  }

  close(): void {
    this.panel.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
  }
}
