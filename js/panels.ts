// The smaller parts around the conversation: header, setup card, error banner, suggestion chips.
import { h } from "./dom";
import type { ClientMessage, CopilotError, CopilotErrorType } from "./types";

type Send = (message: ClientMessage) => void;

export class Header {
  readonly el: HTMLElement;
  #title = h("div", { class: "cw-title", role: "heading", "aria-level": "2" });
  #badge = h(
    "span",
    {
      class: "cw-badge",
      "data-testid": "offline-badge",
      title: "Answers come from a scripted offline server, not a real model",
      hidden: true,
    },
    "offline demo",
  );
  #storeWarningText = h("span", { class: "cw-visually-hidden" });
  #storeWarning = h(
    "span",
    { class: "cw-badge cw-badge-store", "data-testid": "store-warning", role: "status", hidden: true },
    "Not saved",
    this.#storeWarningText,
  );
  /** Where the thread picker and undo / redo buttons go. */
  readonly actions = h("div", { class: "cw-header-actions" });

  constructor() {
    this.el = h("header", { class: "cw-header" }, this.#title, this.#badge, this.#storeWarning, this.actions);
  }

  /** `storeWarning`: why conversations are not being saved; null (or empty) when they are. */
  update(title: string, offlineDemo: boolean, storeWarning: string | null): void {
    this.#title.textContent = title || "Copilot";
    this.#badge.hidden = !offlineDemo;
    const warning = typeof storeWarning === "string" ? storeWarning.trim() : "";
    this.#storeWarning.hidden = warning === "";
    // The full sentence: a tooltip for the eyes, and read after "Not saved" by screen readers.
    this.#storeWarning.title = warning;
    this.#storeWarningText.textContent = warning === "" ? "" : `: ${warning}`;
  }
}

/** Shown instead of a traceback when no credentials are configured. */
export function setupCard(): HTMLElement {
  const code = (text: string) => h("code", {}, text);
  return h(
    "section",
    { class: "cw-setup", "data-testid": "setup-card", "aria-label": "Set up the copilot", hidden: true },
    h(
      "div",
      { class: "cw-setup-title", role: "heading", "aria-level": "3" },
      "Connect the copilot to a model",
    ),
    h("p", {}, "No API key is configured, so the copilot cannot answer yet. Either:"),
    h(
      "ol",
      {},
      h(
        "li",
        {},
        "set the ",
        code("OPENAI_API_KEY"),
        " environment variable (and ",
        code("OPENAI_BASE_URL"),
        " for another OpenAI-compatible server), then run the cell again;",
      ),
      h(
        "li",
        {},
        "or pass them to the copilot:",
        h("pre", {}, code('Copilot(api_key="sk-...")')),
        "for a local or self-hosted server (Ollama, vLLM, llama.cpp...):",
        h(
          "pre",
          {},
          code('Copilot(base_url="http://localhost:11434/v1", api_key="ollama", model="llama3.2")'),
        ),
      ),
    ),
  );
}

const ERROR_TITLES: Record<CopilotErrorType, string> = {
  invalid_options_error: "Invalid options",
  authentication_error: "Authentication failed",
  insufficient_balance_error: "Out of credit",
  rate_limit_error: "Rate limited",
  server_error: "The model server failed",
  action_error: "An action failed",
};

export class ErrorBanner {
  readonly el: HTMLElement;
  #title = h("strong", { class: "cw-error-title" });
  #message = h("span", { class: "cw-error-message" });
  #retry = h("button", { type: "button", class: "cw-retry", "data-testid": "retry-button" }, "Retry");

  constructor(send: Send) {
    const close = h(
      "button",
      { type: "button", class: "cw-error-close", "aria-label": "Dismiss error", title: "Dismiss" },
      "×",
    );
    this.el = h(
      "div",
      { class: "cw-error", "data-testid": "error-banner", role: "alert", hidden: true },
      h("div", { class: "cw-error-text" }, this.#title, " ", this.#message),
      this.#retry,
      close,
    );
    this.#retry.addEventListener("click", () => send({ kind: "retry" }));
    close.addEventListener("click", () => send({ kind: "dismiss_error" }));
  }

  update(error: CopilotError | null): void {
    this.el.hidden = error === null;
    if (error === null) return;
    this.#title.textContent = `${ERROR_TITLES[error.type] ?? "Error"}:`;
    this.#message.textContent = error.message;
    this.#retry.hidden = !error.retryable;
  }
}

export class Suggestions {
  readonly el = h("div", {
    class: "cw-suggestions",
    role: "group",
    "aria-label": "Suggestions",
    hidden: true,
  });
  #suggestions: readonly string[] = [];

  constructor(send: Send, onSent: () => void) {
    // One listener for all chips: they are rebuilt whenever the list changes.
    this.el.addEventListener("click", (event) => {
      const chip = (event.target as Element).closest<HTMLButtonElement>("button[data-index]");
      const text = chip ? this.#suggestions[Number(chip.dataset.index)] : undefined;
      if (text === undefined) return;
      send({ kind: "send", text });
      onSent();
    });
  }

  update(suggestions: readonly string[], visible: boolean): void {
    if (suggestions !== this.#suggestions) {
      this.#suggestions = suggestions;
      this.el.replaceChildren(
        ...suggestions.map((text, index) =>
          h(
            "button",
            { type: "button", class: "cw-chip", "data-testid": "suggestion", "data-index": String(index) },
            text,
          ),
        ),
      );
    }
    this.el.hidden = !visible || suggestions.length === 0;
  }
}
