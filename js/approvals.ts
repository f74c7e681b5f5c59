// The approval card of a tool call waiting for the user (a `confirm=True` action): what the
// action is, its arguments as editable JSON, Approve, and Reject with an optional reason.
// The kernel owns the decision: the card only sends `approve` / `reject` requests, shows why one
// was refused, and follows the draft snapshots. All text is set as text (names, descriptions and
// arguments come from the model).
import { button, h } from "./dom";
import { RefusalNotice } from "./panels";
import type { ApproveRequest, RejectRequest, Requester } from "./protocol";
import type { ActionSpec, ToolCall } from "./types";

/** What an approval card needs from its view. */
export interface ApprovalHost {
  request: Requester;
  /** The public description of an action (from `action_specs`), if there is one. */
  spec(name: string): ActionSpec | undefined;
}

type Parsed = { ok: true; value: Record<string, unknown> } | { ok: false; error: string };

/** The arguments text as a JSON object, or why it is not one. */
export function parseArguments(text: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { ok: false, error: `Not valid JSON: ${detail}` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { ok: false, error: "The arguments must be a JSON object: {…}." };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

/** JSON text with object keys sorted: equal for equal values whatever the key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** A short type label for a JSON-schema property ("string", "integer | null", "one of a, b"). */
function typeLabel(schema: Record<string, unknown>): string {
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}`;
  if (typeof schema.type === "string") return schema.type;
  if (Array.isArray(schema.type)) return schema.type.join(" | ");
  const variants = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(variants)) {
    return variants
      .map((v) => (v !== null && typeof v === "object" ? typeLabel(v as Record<string, unknown>) : ""))
      .filter(Boolean)
      .join(" | ");
  }
  return "";
}

let counter = 0;

type Sending = "approve" | "reject" | null;

export class ApprovalCard {
  readonly el: HTMLElement;
  readonly toolCallId: string;
  readonly argumentsInput: HTMLTextAreaElement;
  readonly approveButton = button("Approve", "approve-button", "cw-approval-button cw-approve");
  readonly rejectButton = button("Reject…", "reject-button", "cw-approval-button");
  readonly reasonInput = h("input", {
    type: "text",
    class: "cw-approval-reason",
    "data-testid": "reject-reason",
    placeholder: "Reason (optional, told to the copilot)",
    "aria-label": "Reason for rejecting (optional)",
    autocomplete: "off",
    enterkeyhint: "send",
  });
  readonly confirmRejectButton = button("Reject", "confirm-reject-button", "cw-approval-button cw-reject");
  readonly cancelRejectButton = button("Cancel", "cancel-reject-button", "cw-approval-button");
  #error = h("p", {
    class: "cw-approval-error",
    "data-testid": "approval-error",
    role: "alert",
    hidden: true,
  });
  #notice = new RefusalNotice();
  #decide = h("div", { class: "cw-approval-buttons" }, this.approveButton, this.rejectButton);
  #reject: HTMLElement;
  #host: ApprovalHost;
  /** The arguments as Python sent them (pretty-printed), to tell whether the user edited them. */
  #original = "";
  #localError: string | null = null;
  #sending: Sending = null;
  #rejecting = false;

  constructor(call: ToolCall, host: ApprovalHost) {
    this.#host = host;
    this.toolCallId = call.id;
    const id = `cw-approval-${++counter}`;
    const spec = call.spec ?? host.spec(call.name); // as offered (with the way to its page)
    const description = spec?.description?.trim() ?? "";

    this.argumentsInput = h("textarea", {
      id: `${id}-arguments`,
      class: "cw-approval-arguments",
      "data-testid": "approval-arguments",
      spellcheck: "false",
      autocomplete: "off",
      autocapitalize: "off",
      "aria-describedby": `${id}-error`,
    });
    this.#error.id = `${id}-error`;
    this.#reject = h(
      "div",
      { class: "cw-approval-buttons", hidden: true },
      this.reasonInput,
      this.confirmRejectButton,
      this.cancelRejectButton,
    );

    this.el = h(
      "section",
      {
        class: "cw-approval",
        "data-testid": "approval-card",
        "data-tool-call-id": call.id,
        "aria-labelledby": `${id}-title`,
        // Holds the focus while a decision is on its way (its buttons are disabled meanwhile).
        tabindex: "-1",
      },
      h(
        "div",
        { class: "cw-approval-title", id: `${id}-title`, role: "heading", "aria-level": "4" },
        "Approve ",
        h("code", { class: "cw-approval-name", "data-testid": "approval-action" }, call.name || "tool"),
        "?",
      ),
    );
    if (description) {
      this.el.append(
        h("p", { class: "cw-approval-description", "data-testid": "approval-description" }, description),
      );
    }
    this.el.append(
      h("label", { class: "cw-tool-label", for: this.argumentsInput.id }, "Arguments (JSON, editable)"),
      this.argumentsInput,
    );
    const parameters = this.#parameters(spec);
    if (parameters !== null) this.el.append(parameters);
    this.el.append(this.#error, this.#notice.el, this.#decide, this.#reject);

    this.argumentsInput.addEventListener("input", () => {
      if (this.#sending === null) this.#notice.clear();
      this.#validate();
      this.#render();
    });
    this.approveButton.addEventListener("click", () => this.#approve());
    this.rejectButton.addEventListener("click", () => {
      if (this.#sending !== null) return;
      this.#rejecting = true;
      this.#render();
      this.reasonInput.focus();
    });
    this.confirmRejectButton.addEventListener("click", () => this.#confirmReject());
    this.cancelRejectButton.addEventListener("click", () => this.#cancelReject());
    this.reasonInput.addEventListener("keydown", (event) => {
      if (event.isComposing) return;
      if (event.key === "Enter") {
        event.preventDefault();
        this.#confirmReject();
      }
    });
    this.#reject.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      this.#cancelReject();
    });
    // Keys typed here are for the card, not the notebook (like the composer).
    for (const type of ["keydown", "keypress", "keyup"] as const) {
      this.el.addEventListener(type, (event) => event.stopPropagation());
    }

    this.update(call);
  }

  /** The tool call changed but still waits for approval: the arguments follow Python's unless
   * the user edited them (what they typed is never overwritten). */
  update(call: ToolCall): void {
    const next = pretty(call.arguments || "{}");
    if (next === this.#original) return;
    const edited = this.#original !== "" && this.argumentsInput.value !== this.#original;
    this.#original = next;
    if (!edited) {
      this.argumentsInput.value = next;
      this.argumentsInput.rows = Math.min(Math.max(next.split("\n").length, 2), 12);
      this.#validate();
    }
    this.#render();
  }

  #parameters(spec: ActionSpec | undefined): HTMLElement | null {
    const properties = spec?.parameters?.properties;
    if (properties === null || typeof properties !== "object") return null;
    const required = new Set(Array.isArray(spec?.parameters?.required) ? spec.parameters.required : []);
    const items = Object.entries(properties as Record<string, unknown>).map(([name, raw]) => {
      const schema = raw !== null && typeof raw === "object" ? (raw as Record<string, unknown>) : {};
      const type = typeLabel(schema);
      const description = typeof schema.description === "string" ? schema.description.trim() : "";
      const item = h("li", {}, h("code", {}, name));
      if (type) item.append(" ", h("span", { class: "cw-approval-type" }, type));
      if (!required.has(name)) item.append(" ", h("span", { class: "cw-approval-type" }, "(optional)"));
      if (description) item.append(`: ${description}`);
      return item;
    });
    if (items.length === 0) return null;
    return h("ul", { class: "cw-approval-parameters", "aria-label": "Parameters" }, ...items);
  }

  #validate(): void {
    const parsed = parseArguments(this.argumentsInput.value);
    this.#localError = parsed.ok ? null : parsed.error;
  }

  #send(
    body: Omit<ApproveRequest, "request_id"> | Omit<RejectRequest, "request_id">,
    sending: Exclude<Sending, null>,
  ): void {
    this.#sending = sending;
    this.#notice.clear();
    // A focused button about to be disabled would drop the focus to the page: keep it here.
    if (document.activeElement instanceof HTMLButtonElement && this.el.contains(document.activeElement)) {
      this.el.focus();
    }
    this.#render();
    void this.#host.request(body).then((reply) => {
      // Taken: the card goes when the call stops waiting for approval (the next snapshot).
      if (reply.ok) return;
      this.#sending = null;
      this.#notice.show(reply);
      this.#render();
      // Keyboard users get the control they used back.
      if (document.activeElement === this.el) {
        (sending === "approve" ? this.approveButton : this.confirmRejectButton).focus();
      }
    });
  }

  #approve(): void {
    if (this.#sending !== null) return;
    const parsed = parseArguments(this.argumentsInput.value);
    if (!parsed.ok) return;
    const original = parseArguments(this.#original);
    const edited = !original.ok || canonical(parsed.value) !== canonical(original.value);
    this.#send(
      edited
        ? { kind: "approve", tool_call_id: this.toolCallId, arguments: parsed.value }
        : { kind: "approve", tool_call_id: this.toolCallId },
      "approve",
    );
  }

  #confirmReject(): void {
    if (this.#sending !== null || !this.#rejecting) return;
    const reason = this.reasonInput.value.trim();
    this.#send(
      reason
        ? { kind: "reject", tool_call_id: this.toolCallId, reason }
        : { kind: "reject", tool_call_id: this.toolCallId },
      "reject",
    );
  }

  #cancelReject(): void {
    if (this.#sending !== null) return;
    this.#rejecting = false;
    this.#render();
    this.rejectButton.focus();
  }

  #render(): void {
    const sending = this.#sending !== null;
    this.el.dataset.sending = String(sending);
    this.argumentsInput.readOnly = sending;
    this.argumentsInput.setAttribute("aria-invalid", String(this.#localError !== null));
    this.reasonInput.readOnly = sending;
    this.approveButton.disabled = sending || this.#localError !== null;
    this.approveButton.textContent = this.#sending === "approve" ? "Approving…" : "Approve";
    this.approveButton.title =
      this.#localError !== null ? "Fix the arguments first" : "Run the action with these arguments";
    this.rejectButton.disabled = sending;
    this.confirmRejectButton.disabled = sending;
    this.confirmRejectButton.textContent = this.#sending === "reject" ? "Rejecting…" : "Reject";
    this.cancelRejectButton.disabled = sending;
    this.#decide.hidden = this.#rejecting;
    this.#reject.hidden = !this.#rejecting;
    this.#error.textContent = this.#localError ?? "";
    this.#error.hidden = this.#localError === null;
  }
}
