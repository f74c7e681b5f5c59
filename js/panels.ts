// The smaller parts around the conversation: header, setup card, error banner, suggestion chips,
// and the notice a refused request leaves where the user acted.
import { h } from "./dom";
import { type Reply, type Requester, refusalReason } from "./protocol";
import type { CopilotError, CopilotErrorType } from "./types";

/** Why the kernel refused what the user just did, shown next to the control they used. */
export class RefusalNotice {
  readonly el = h("p", {
    class: "cw-refusal",
    "data-testid": "refusal-notice",
    role: "status",
    hidden: true,
  });

  show(reply: Reply): void {
    this.el.textContent = refusalReason(reply);
    this.el.hidden = false;
  }

  clear(): void {
    this.el.textContent = "";
    this.el.hidden = true;
  }
}

export class Header {
  readonly el: HTMLElement;
  #title = h("div", { class: "cw-title", role: "heading", "aria-level": "2" });
  #model = h("span", { class: "cw-model", "data-testid": "model-name", hidden: true });
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
    this.el = h(
      "header",
      { class: "cw-header" },
      this.#title,
      this.#model,
      this.#badge,
      this.#storeWarning,
      this.actions,
    );
  }

  /** `storeWarning`: why conversations are not being saved; null (or empty) when they are. */
  update(title: string, offlineDemo: boolean, storeWarning: string | null, modelName = ""): void {
    this.#title.textContent = title || "Copilot";
    // Which model answers: a user comparing answers (or costs) needs to know.
    this.#model.textContent = modelName;
    this.#model.title = modelName ? `Model: ${modelName}` : "";
    this.#model.hidden = modelName === "";
    this.#badge.hidden = !offlineDemo;
    const warning = typeof storeWarning === "string" ? storeWarning.trim() : "";
    this.#storeWarning.hidden = warning === "";
    // The full sentence: a tooltip for the eyes, and read after "Not saved" by screen readers.
    this.#storeWarning.title = warning;
    this.#storeWarningText.textContent = warning === "" ? "" : `: ${warning}`;
  }
}

/** Shown instead of a traceback when no credentials are configured, or when the provider
 * rejected the ones that are. */
export class SetupCard {
  readonly el: HTMLElement;
  #title = h("div", { class: "cw-setup-title", role: "heading", "aria-level": "3" });
  #lead = h("p", { "data-testid": "setup-reason" });
  #detail = h("p", { class: "cw-setup-detail", "data-testid": "setup-error", hidden: true });
  #steps = h("p", {});

  constructor() {
    const code = (text: string) => h("code", {}, text);
    this.el = h(
      "section",
      { class: "cw-setup", "data-testid": "setup-card", "aria-label": "Set up the copilot", hidden: true },
      this.#title,
      this.#lead,
      this.#detail,
      this.#steps,
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

  /** `needsSetup`: no credentials are configured. Otherwise the card shows only for an
   * `authentication_error`: the provider rejected the key (its message is shown). */
  update(needsSetup: boolean, error: CopilotError | null): void {
    const rejected = !needsSetup && error?.type === "authentication_error";
    this.el.hidden = !(needsSetup || rejected);
    this.el.dataset.reason = rejected ? "rejected" : "missing";
    if (rejected) {
      const message = error?.message?.trim() ?? "";
      this.#title.textContent = "The provider rejected the API key";
      this.#lead.textContent = "The model server refused the configured credentials.";
      this.#detail.textContent = message;
      this.#detail.hidden = message === "";
      this.#steps.textContent = "Check the key (and the server it is meant for), then either:";
    } else {
      this.#title.textContent = "Connect the copilot to a model";
      this.#lead.textContent = "No API key is configured, so the copilot cannot answer yet.";
      this.#detail.textContent = "";
      this.#detail.hidden = true;
      this.#steps.textContent = "Either:";
    }
  }
}

const ERROR_TITLES: Record<CopilotErrorType, string> = {
  invalid_options_error: "Invalid options",
  authentication_error: "Authentication failed",
  insufficient_balance_error: "Out of credit",
  rate_limit_error: "Rate limited",
  server_error: "The model server failed",
  action_error: "An action failed",
  internal_error: "copilot-widget hit an internal error",
  callback_error: "Your callback failed",
};

/** The banner's title for an error type (a type this version does not know: "Error"). */
export function errorTitle(type: string): string {
  return Object.hasOwn(ERROR_TITLES, type) ? ERROR_TITLES[type as CopilotErrorType] : "Error";
}

export class ErrorBanner {
  readonly el: HTMLElement;
  #title = h("strong", { class: "cw-error-title" });
  #message = h("span", { class: "cw-error-message" });
  #retry = h("button", { type: "button", class: "cw-retry", "data-testid": "retry-button" }, "Retry");
  #close = h(
    "button",
    { type: "button", class: "cw-error-close", "aria-label": "Dismiss error", title: "Dismiss" },
    "×",
  );
  #notice = new RefusalNotice();
  #error: CopilotError | null = null;
  /** A retry (or dismissal) is on its way: its button is disabled until the kernel answers. */
  #sending: "retry" | "dismiss_error" | null = null;

  constructor(request: Requester) {
    this.el = h(
      "div",
      { class: "cw-error", "data-testid": "error-banner", role: "alert", hidden: true },
      h("div", { class: "cw-error-text" }, this.#title, " ", this.#message, this.#notice.el),
      this.#retry,
      this.#close,
    );
    const ask = (kind: "retry" | "dismiss_error") => {
      if (this.#sending !== null) return;
      const error = this.#error;
      this.#sending = kind;
      this.#notice.clear();
      this.#render();
      void request({ kind }).then((reply) => {
        // A new error (or none) since: the answer is about a banner no longer shown.
        if (this.#error !== error) return;
        this.#sending = null;
        if (!reply.ok) this.#notice.show(reply);
        this.#render();
      });
    };
    this.#retry.addEventListener("click", () => ask("retry"));
    this.#close.addEventListener("click", () => ask("dismiss_error"));
  }

  update(error: CopilotError | null): void {
    if (error !== this.#error) {
      this.#error = error;
      this.#sending = null;
      this.#notice.clear();
    }
    this.#render();
  }

  #render(): void {
    const error = this.#error;
    this.el.hidden = error === null;
    if (error === null) return;
    this.el.dataset.type = error.type;
    this.#title.textContent = `${errorTitle(error.type)}:`;
    this.#message.textContent = error.message;
    this.#retry.hidden = error.retryable !== true;
    this.#retry.disabled = this.#sending !== null;
    this.#retry.textContent = this.#sending === "retry" ? "Retrying…" : "Retry";
    this.#close.disabled = this.#sending !== null;
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

  /** `onRefused`: where a refusal is shown (the composer's notice). */
  constructor(request: Requester, onSent: () => void, onRefused: (reply: Reply) => void) {
    // One listener for all chips: they are rebuilt whenever the list changes.
    this.el.addEventListener("click", (event) => {
      const chip = (event.target as Element).closest<HTMLButtonElement>("button[data-index]");
      const text = chip ? this.#suggestions[Number(chip.dataset.index)] : undefined;
      if (text === undefined) return;
      void request({ kind: "send", text }).then((reply) => {
        if (!reply.ok) onRefused(reply);
      });
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
