// The message list: finished messages rendered incrementally (by id, only what changed), the
// markdown of a long thread's older messages in idle time, and the streaming draft updated in
// place.
import { ApprovalCard, type ApprovalHost } from "./approvals";
import { ActionButtonRow, type ButtonHost, OFFER_BUTTONS_TOOL } from "./buttons";
import { DisplayView, type WidgetManager } from "./display";
import { button, h } from "./dom";
import { MarkdownStream, renderMarkdown } from "./markdown";
import { type MessageActionHost, MessageActions, type MessagePlace, type RunUsage } from "./message-actions";
import { RefusalNotice } from "./panels";
import type { Requester } from "./protocol";
import type { IncompleteReason, Message, ToolCall, ToolCallStatus } from "./types";

const STATUS_LABELS: Record<ToolCallStatus, string> = {
  pending: "Pending",
  requires_action: "Awaiting approval",
  running: "Running",
  completed: "Completed",
  failed: "Failed",
  rejected: "Rejected",
  cancelled: "Cancelled",
};

// In a long list that arrives at once (opening a thread), only the last messages (what the user
// sees: the list opens at the bottom) get their markdown rendered right away; the others show
// their text as plain text until idle time renders them, bottom-up. 50 fills a tall list.
const EAGER_MARKDOWN = 50;
// A long thread shows its latest messages first (a few screens' worth, so opening even 20,000
// messages is quick), then this many more each time the user scrolls near the top.
const WINDOW = 300;

const INCOMPLETE_NOTES: Record<IncompleteReason, string> = {
  run_cancelled: "Stopped",
  max_steps: "Stopped: reached the step limit",
  run_failed: "Interrupted by an error",
  run_interrupted: "Interrupted: the kernel stopped",
};

/** JSON text shown pretty-printed when it parses (a JSON string shown as its value); otherwise
 * as is (e.g. arguments still streaming). */
export function formatJson(text: string): string {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "string" ? value : JSON.stringify(value, null, 2);
  } catch {
    return text;
  }
}

export function messageText(message: Message): string {
  let text = "";
  for (const part of message.content ?? []) {
    if (part.type === "text") text += part.text.value;
  }
  return text;
}

/** How the user decided a call that needed approval, as the card says it ("" if none). */
export function describeDecision(call: ToolCall): string {
  const approval = call.approval;
  if (!approval) return "";
  if (approval.decision === "approved")
    return approval.edited ? "approved by you, with your edits" : "approved by you";
  if (approval.decision === "expired") return "expired: no decision in time";
  return approval.reason ? `rejected: ${approval.reason}` : "rejected by you";
}

/** One tool call as a collapsible card, updated in place as its status changes. Every piece of
 * tool text is set with textContent: results and errors can hold anything. While the call waits
 * for approval (in the draft), its approval card sits right under it, always in view. What the
 * call shows (a table, a chart, a widget: its `display`) sits under the card, always in view:
 * it is what the user asked for; the raw result stays in the collapsed card. */
class ToolCallCard {
  readonly el: HTMLDetailsElement;
  #summary: HTMLElement;
  #name = h("span", { class: "cw-tool-name" });
  #badge = h("span", { class: "cw-tool-status" });
  /** How the user decided a call that needed approval: in view, as the card's record. */
  #decision = h("span", { class: "cw-tool-decision", "data-testid": "tool-call-decision", hidden: true });
  /** Links to the outputs in the notebook this call changed (`copilot.output()`). */
  #outputs = h("span", { class: "cw-tool-outputs" });
  #outputsKey = "";
  #arguments = h("pre", { class: "cw-tool-arguments" });
  #resultSection = h("div", { class: "cw-tool-section", hidden: true });
  #result = h("pre", { class: "cw-tool-result" });
  #errorSection = h("div", { class: "cw-tool-section", hidden: true });
  #error = h("pre", { class: "cw-tool-error" });
  #key = "";
  /** Where approvals are sent; null: this card never shows one (a finished message). */
  #host: ApprovalHost | null;
  #approval: ApprovalCard | null = null;
  #widgets: WidgetManager | null;
  #display: DisplayView | null = null;

  constructor(host: ApprovalHost | null, widgets: WidgetManager | null) {
    this.#host = host;
    this.#widgets = widgets;
    this.#summary = h(
      "summary",
      {},
      h("span", { class: "cw-tool-icon", "aria-hidden": "true" }),
      this.#name,
      this.#outputs,
      this.#badge,
      this.#decision,
    );
    this.el = h(
      "details",
      { class: "cw-tool-call", "data-testid": "tool-call" },
      this.#summary,
      h(
        "div",
        { class: "cw-tool-body" },
        h(
          "div",
          { class: "cw-tool-section" },
          h("div", { class: "cw-tool-label" }, "Arguments"),
          this.#arguments,
        ),
        this.#resultSection,
        this.#errorSection,
      ),
    );
    this.#resultSection.append(h("div", { class: "cw-tool-label" }, "Result"), this.#result);
    this.#errorSection.append(h("div", { class: "cw-tool-label" }, "Error"), this.#error);
  }

  /** The call whose display waits for renderDeferred() (an old message, drawn when idle). */
  #deferred: ToolCall | null = null;

  get deferred(): boolean {
    return this.#deferred !== null;
  }

  /** Call once the card is in its list (the approval card goes right after it).
   * `deferDisplay`: keep a display not shown yet for renderDeferred() (tables and images of
   * old messages would slow opening a long thread). */
  update(call: ToolCall, deferDisplay = false): void {
    this.#updateApproval(call);
    if (deferDisplay && this.#display === null && call.display) this.#deferred = call;
    else {
      this.#deferred = null;
      this.#updateDisplay(call);
    }
    this.#updateOutputs(call.outputs ?? []);
    this.el.dataset.toolCallId = call.id;
    const key = JSON.stringify([
      call.name,
      call.status,
      call.arguments,
      call.result,
      call.error,
      call.approval,
    ]);
    if (key === this.#key) return;
    this.#key = key;
    this.el.dataset.status = call.status;
    this.el.dataset.name = call.name;
    this.#name.textContent = call.name || "tool";
    this.#badge.textContent = STATUS_LABELS[call.status] ?? call.status;
    this.#badge.dataset.status = call.status;
    this.#arguments.textContent = formatJson(call.arguments || "{}");
    this.#resultSection.hidden = call.result == null;
    this.#result.textContent = call.result == null ? "" : formatJson(call.result);
    this.#errorSection.hidden = !call.error;
    this.#error.textContent = call.error ?? "";
    const decision = describeDecision(call);
    this.#decision.hidden = decision === "";
    this.#decision.textContent = decision;
    this.#decision.title = decision;
    this.#decision.dataset.decision = call.approval?.decision ?? "";
  }

  remove(): void {
    this.#removeApproval();
    this.#display?.remove();
    this.#display = null;
    this.el.remove();
  }

  releaseWidgets(): void {
    this.#display?.releaseWidget();
  }

  renderDeferred(): void {
    const call = this.#deferred;
    this.#deferred = null;
    if (call !== null) this.#updateDisplay(call);
  }

  /** One link per output the call changed: a click scrolls the notebook to it (the output
   * listens for the page event; it may be in any cell). */
  #updateOutputs(outputs: readonly string[]): void {
    const key = outputs.join(" ");
    if (key === this.#outputsKey) return;
    this.#outputsKey = key;
    this.#outputs.replaceChildren(
      ...outputs.map((outputId, index) => {
        const label = outputs.length > 1 ? `Output ${index + 1}` : "Show output";
        const link = h(
          "button",
          {
            type: "button",
            class: "cw-tool-output-link",
            "data-testid": "tool-call-output-link",
            title: "Show the output this call changed in the notebook",
          },
          label,
        );
        link.addEventListener("click", (event) => {
          event.preventDefault(); // a click in the summary must not fold the card
          window.dispatchEvent(
            new CustomEvent("copilot-widget:show-output", { detail: { output_id: outputId } }),
          );
        });
        return link;
      }),
    );
  }

  /** Shown while the call runs too (an action's `render=` progress), updated as it changes. */
  #updateDisplay(call: ToolCall): void {
    const display = call.display ?? null;
    if (display === null) {
      this.#display?.remove();
      this.#display = null;
      return;
    }
    if (this.#display === null) {
      this.#display = new DisplayView(this.#widgets);
      (this.#approval?.el ?? this.el).after(this.#display.el);
    }
    this.#display.update(display);
  }

  /** The approval card lives as long as the same call waits for approval, so what the user
   * types in it survives every re-render of the draft. */
  #updateApproval(call: ToolCall): void {
    const waiting = this.#host !== null && call.status === "requires_action" && Boolean(call.id);
    if (this.#approval !== null && (!waiting || this.#approval.toolCallId !== call.id))
      this.#removeApproval();
    if (!waiting || this.#host === null) return;
    if (this.#approval === null) {
      this.#approval = new ApprovalCard(call, this.#host);
      // Right under the card, above what the call shows.
      this.el.after(this.#approval.el);
    } else {
      this.#approval.update(call);
    }
  }

  #removeApproval(): void {
    const approval = this.#approval;
    if (approval === null) return;
    this.#approval = null;
    const hadFocus = approval.el.contains(document.activeElement);
    approval.el.remove();
    // Keyboard users stay where they were: on this tool call.
    if (hadFocus && this.el.isConnected) this.#summary.focus();
  }
}

/** Runs `task` when the browser is idle (in a timeout with an 8 ms budget where there is no
 * requestIdleCallback: Safari); returns a canceller. */
function whenIdle(task: (deadline: { timeRemaining(): number }) => void): () => void {
  if (typeof requestIdleCallback === "function") {
    const handle = requestIdleCallback(task);
    return () => cancelIdleCallback(handle);
  }
  const handle = setTimeout(() => {
    const end = performance.now() + 8;
    task({ timeRemaining: () => end - performance.now() });
  });
  return () => clearTimeout(handle);
}

/** One message (finished, or the draft), updated in place: the markdown is re-rendered only
 * when the text changed, tool-call cards are kept by index. */
export class MessageView {
  readonly el: HTMLElement;
  #body = h("div", { class: "cw-message-body" });
  #toolCalls = h("div", { class: "cw-tool-calls" });
  #note = h("div", { class: "cw-message-note", hidden: true });
  /** Said once in a thread: the request of this step left older messages out. */
  #contextNote = h("div", { class: "cw-message-note", "data-testid": "context-note", hidden: true });
  #cards: ToolCallCard[] = [];
  #approvals: ApprovalHost | null;
  #widgets: WidgetManager | null;
  #actions: ActionButtonRow | null = null;
  /** Copy, regenerate, edit, feedback: finished messages only. */
  #messageActions: MessageActions | null = null;
  #place: MessagePlace = { lastAnswer: false, later: 0, usage: null };
  #message: Message;
  #text: string | null = null;
  // Markdown shown as plain text for now (see EAGER_MARKDOWN), rendered by renderMarkdown().
  #markdownPending = false;
  /** The draft's text, rendered a block at a time as it streams. */
  #stream: MarkdownStream | null = null;

  /** Nothing to show yet (no text, no tool call): the list shows its "working" dots instead. */
  get isEmpty(): boolean {
    return !this.#text && this.#cards.length === 0;
  }

  /** Markdown or tool call displays still waiting for renderMarkdown(). */
  get markdownPending(): boolean {
    return this.#markdownPending || this.#cards.some((card) => card.deferred);
  }

  /** `deferMarkdown`: show the text as plain text until renderMarkdown() is called.
   * `approvals`: where the approval cards of its tool calls send decisions (the draft's); null:
   * no approval cards. `buttons`: where its action buttons send clicks (finished messages
   * only); null: no buttons. `widgets`: the page's widget manager, for live widgets in what
   * tool calls show (null: their static form). */
  constructor(
    message: Message,
    testid: "message" | "draft",
    deferMarkdown = false,
    approvals: ApprovalHost | null = null,
    buttons: ButtonHost | null = null,
    widgets: WidgetManager | null = null,
    messageActions: MessageActionHost | null = null,
  ) {
    this.#approvals = approvals;
    this.#widgets = widgets;
    this.#message = message;
    if (buttons !== null) this.#actions = new ActionButtonRow(buttons);
    if (messageActions !== null)
      this.#messageActions = new MessageActions(messageActions, message, this.#body);
    if (testid === "draft") this.#stream = new MarkdownStream(this.#body);
    const who = message.role === "user" ? "You" : "Copilot";
    this.el = h(
      "article",
      { class: `cw-message cw-message-${message.role}`, "data-testid": testid, "aria-label": who },
      this.#body,
      this.#toolCalls,
      this.#note,
      this.#contextNote,
    );
    if (this.#actions !== null) this.el.append(this.#actions.el);
    if (this.#messageActions !== null) this.el.append(this.#messageActions.el);
    this.update(message, deferMarkdown);
  }

  /** The first step of the thread whose request left older messages out says so. */
  set contextNote(show: boolean) {
    const leftOut = this.#message.left_out ?? 0;
    this.#contextNote.hidden = !show || leftOut === 0;
    this.#contextNote.textContent = this.#contextNote.hidden
      ? ""
      : `To fit the model's context window, the oldest messages (${leftOut}) were left out of ` +
        "what the model was sent from here on. The thread keeps them.";
  }

  /** Where the message sits in the thread (what its toolbar offers). */
  set place(place: MessagePlace) {
    const old = this.#place;
    if (
      place.lastAnswer === old.lastAnswer &&
      place.later === old.later &&
      JSON.stringify(place.usage) === JSON.stringify(old.usage)
    )
      return;
    this.#place = place;
    this.#messageActions?.update(this.#message, place);
  }

  update(message: Message, deferMarkdown = false): void {
    this.#message = message;
    this.#messageActions?.update(message, this.#place);
    const { dataset } = this.el;
    dataset.role = message.role;
    dataset.status = message.status;
    dataset.messageId = message.id;

    const text = messageText(message);
    if (text !== this.#text) {
      this.#text = text;
      // The placeholder is set with textContent, never innerHTML: as inert as user text.
      this.#markdownPending = message.role !== "user" && deferMarkdown;
      if (message.role === "user" || deferMarkdown) this.#body.textContent = text;
      else if (this.#stream !== null) this.#stream.update(text);
      else this.#body.replaceChildren(renderMarkdown(text));
      this.#body.classList.toggle("cw-plain", this.#markdownPending);
      this.#body.hidden = text === "";
    }

    const calls = (message.tool_calls ?? []).filter((call) => call.name !== OFFER_BUTTONS_TOOL);
    while (this.#cards.length > calls.length) this.#cards.pop()?.remove();
    calls.forEach((call, index) => {
      let card = this.#cards[index];
      if (card === undefined) {
        card = new ToolCallCard(this.#approvals, this.#widgets);
        this.#cards.push(card);
        this.#toolCalls.append(card.el);
      }
      card.update(call, deferMarkdown);
    });
    this.#toolCalls.hidden = calls.length === 0;

    const reason = message.incomplete_details?.reason;
    const note = message.status === "incomplete" ? (reason && INCOMPLETE_NOTES[reason]) || "Stopped" : "";
    this.#note.textContent = note;
    this.#note.hidden = note === "";

    const offered = message.role === "assistant" && message.status !== "in_progress";
    const buttons = offered ? (message.buttons ?? []) : [];
    this.#actions?.update(message.id, buttons);
    // A finished step that only offered buttons (they moved to the answer) shows nothing.
    this.el.hidden = offered && text === "" && calls.length === 0 && buttons.length === 0 && note === "";
  }

  /** Removes the view, and the live widget views of its tool calls with it. */
  remove(): void {
    for (const card of this.#cards.splice(0)) card.remove();
    this.el.remove();
  }

  /** Removes the live widget views of its tool calls (the chat view is closing). */
  releaseWidgets(): void {
    for (const card of this.#cards) card.releaseWidgets();
  }

  /** Re-renders the action buttons and the toolbar (the list's working / sending state
   * changed). */
  refreshButtons(): void {
    this.#actions?.render();
    this.#messageActions?.render();
  }

  /** Its buttons are from an earlier answer (the user asked something since). */
  set buttonsStale(stale: boolean) {
    if (this.#actions !== null) this.#actions.stale = stale;
  }

  /** Replaces the plain-text placeholder with the rendered markdown, and shows the displays
   * of its tool calls. */
  renderMarkdown(): void {
    for (const card of this.#cards) card.renderDeferred();
    if (!this.#markdownPending) return;
    this.#markdownPending = false;
    this.#body.replaceChildren(renderMarkdown(this.#text ?? ""));
    this.#body.classList.remove("cw-plain");
  }
}

/** The usage of each run (the sum over its steps), and the index of its last message, where
 * the answer's footer shows it. */
function runUsage(messages: readonly Message[]): Map<string, { usage: RunUsage | null; last: number }> {
  const runs = new Map<string, { usage: RunUsage | null; last: number; priced: boolean }>();
  messages.forEach((message, index) => {
    if (message.role !== "assistant" || message.run_id === null) return;
    const run = runs.get(message.run_id) ?? { usage: null, last: index, priced: true };
    run.last = index;
    const step = message.usage ?? null;
    const timings = message.timings ?? null;
    if (step !== null || timings !== null) {
      const sum = run.usage ?? { input_tokens: null, output_tokens: null, cost: null, duration_ms: 0 };
      sum.duration_ms += timings?.duration_ms ?? 0;
      if (step !== null) {
        sum.input_tokens = (sum.input_tokens ?? 0) + step.input_tokens;
        sum.output_tokens = (sum.output_tokens ?? 0) + step.output_tokens;
        // One step without a price makes the run's cost unknown.
        if (step.cost === null) run.priced = false;
        sum.cost = run.priced ? (sum.cost ?? 0) + (step.cost ?? 0) : null;
      }
      run.usage = sum;
    }
    runs.set(message.run_id, run);
  });
  return runs;
}

type HistoryKind = "undo" | "redo";

/** Undo / Redo of what the last answer changed, shown under the one finished assistant message
 * the kernel flags (`is_undoable` / `is_redoable`), only while idle (the kernel refuses them
 * during a run). A click sends one `undo` / `redo` request: the button stays disabled until the
 * kernel answers (or the flags move); a refusal says why under the buttons. */
class HistoryControls {
  readonly el: HTMLElement;
  readonly undoButton = button("Undo", "undo-button", "cw-history-button", {
    "aria-label": "Undo what this answer changed",
    title: "Undo what this answer changed",
  });
  readonly redoButton = button("Redo", "redo-button", "cw-history-button", {
    "aria-label": "Redo what this answer changed",
    title: "Redo what this answer changed",
  });
  #request: Requester;
  #notice = new RefusalNotice();
  #target: { view: MessageView; undo: boolean; redo: boolean } | null = null;
  #working = false;
  #sending: HistoryKind | null = null;
  #clicks = 0;

  #fallback: HTMLElement;

  /** `fallback`: where the focus goes when the controls it was on go away. */
  constructor(request: Requester, fallback: HTMLElement) {
    this.#request = request;
    this.#fallback = fallback;
    this.el = h(
      "div",
      { class: "cw-history", "data-testid": "history-controls", hidden: true, tabindex: "-1" },
      this.undoButton,
      this.redoButton,
      this.#notice.el,
    );
    this.undoButton.addEventListener("click", () => this.#click("undo"));
    this.redoButton.addEventListener("click", () => this.#click("redo"));
  }

  /** `messages` changed: the flags may have moved, and a click sent before is answered. */
  setMessages(messages: readonly Message[], views: ReadonlyMap<string, MessageView>): void {
    let flagged: Message | undefined;
    for (const m of messages) {
      if (m.role === "assistant" && m.status !== "in_progress" && (m.is_undoable || m.is_redoable))
        flagged = m;
    }
    const view = flagged === undefined ? undefined : views.get(flagged.id);
    const target =
      flagged === undefined || view === undefined
        ? null
        : { view, undo: Boolean(flagged.is_undoable), redo: Boolean(flagged.is_redoable) };
    const moved =
      target?.view !== this.#target?.view ||
      target?.undo !== this.#target?.undo ||
      target?.redo !== this.#target?.redo;
    if (moved) this.#notice.clear();
    this.#target = target;
    this.#sending = null;
    this.#render();
  }

  setWorking(working: boolean): void {
    if (working === this.#working) return;
    this.#working = working;
    if (working) this.#notice.clear();
    this.#render();
  }

  #click(kind: HistoryKind): void {
    if (this.#sending !== null || this.#working || this.#target === null) return;
    this.#sending = kind;
    const click = ++this.#clicks;
    this.#notice.clear();
    this.#render();
    void this.#request({ kind }).then((reply) => {
      // Unless the flags moved meanwhile (and another click went out), this click is settled.
      if (click === this.#clicks) this.#sending = null;
      if (!reply.ok) this.#notice.show(reply);
      this.#render();
    });
  }

  #render(): void {
    const hadFocus = this.el.contains(document.activeElement);
    const target = this.#target;
    if (target === null) this.el.remove();
    else if (this.el.parentElement !== target.view.el) target.view.el.append(this.el);
    this.el.hidden = target === null || this.#working;
    const sending = this.#sending !== null;
    this.undoButton.hidden = !target?.undo;
    this.redoButton.hidden = !target?.redo;
    this.undoButton.disabled = sending;
    this.redoButton.disabled = sending;
    this.undoButton.textContent = this.#sending === "undo" ? "Undoing…" : "Undo";
    this.redoButton.textContent = this.#sending === "redo" ? "Redoing…" : "Redo";
    if (!hadFocus) return;
    // Keyboard users stay here: on the controls while the click is on its way (a disabled
    // button would drop the focus to the page), then on what replaced the button (Undo answered
    // by Redo), else on the list.
    const next = [this.undoButton, this.redoButton].find((b) => !b.hidden && !b.disabled);
    if (sending) this.el.focus();
    else if (next !== undefined && !this.el.hidden && this.el.isConnected) next.focus();
    else this.#fallback.focus();
  }
}

/** The scrolling `role="log"` list: finished messages, then the draft, then a "working" dots
 * indicator. Keeps rendered messages by id so an update touches only what changed. */
export class MessageList {
  readonly el: HTMLElement;
  #thread = h("div", { class: "cw-thread" });
  #empty = h("p", { class: "cw-empty" }, "No messages yet. Ask the copilot something.");
  #working = h(
    "div",
    { class: "cw-working", hidden: true, role: "status", "aria-label": "Copilot is working" },
    h("span", {}),
    h("span", {}),
    h("span", {}),
  );
  #rendered = new Map<string, { view: MessageView; key: string }>();
  // Views still showing plain text, in list order: rendered from the end (the bottom) first.
  #markdownQueue: MessageView[] = [];
  #cancelIdle: (() => void) | null = null;
  #draft: MessageView | null = null;
  #draftId: string | null = null;
  #approvals: ApprovalHost | null;
  #isWorking = false;
  #history: HistoryControls | null = null;
  #buttons: ButtonHost | null = null;
  #messageActions: MessageActionHost | null = null;
  #widgets: WidgetManager | null;
  // A long thread shows its latest WINDOW messages, and more as the user scrolls up.
  #window = WINDOW;
  #threadId: string | null = null;
  #messages: readonly Message[] = [];
  #earlier = button("Show earlier messages", "earlier-messages", "cw-earlier", { hidden: true });
  #inKernel = false;
  #load: (() => Promise<void>) | null = null;
  #loading = false;
  #anchor: { el: Element; top: number } | null = null;
  // Follow new content only while the user is at the bottom (they may be reading above).
  #stickToBottom = true;
  #resizeObserver: ResizeObserver | null = null;

  /** `approvals`: where the draft's approval cards and Undo / Redo send their messages (null:
   * none shown). `widgets`: the page's widget manager (null: widgets shown static). */
  constructor(approvals: ApprovalHost | null = null, widgets: WidgetManager | null = null) {
    this.#approvals = approvals;
    this.#widgets = widgets;
    this.el = h(
      "div",
      {
        class: "cw-message-list",
        "data-testid": "message-list",
        role: "log",
        "aria-live": "polite",
        "aria-label": "Messages",
        tabindex: "0",
      },
      this.#empty,
      this.#earlier,
      this.#thread,
      this.#working,
    );
    this.#earlier.addEventListener("click", () => this.#showEarlier());
    if (approvals !== null) {
      this.#history = new HistoryControls(approvals.request, this.el);
      const list = this;
      this.#buttons = {
        request: approvals.request,
        get working() {
          return list.#isWorking;
        },
        sending: false,
        clicks: 0,
        refusal: null,
        refresh: () => this.#refreshButtons(),
        fallback: this.el,
      };
      this.#messageActions = {
        request: approvals.request,
        get working() {
          return list.#isWorking;
        },
      };
    }
    this.el.addEventListener("scroll", () => {
      const { scrollHeight, scrollTop, clientHeight } = this.el;
      this.#stickToBottom = scrollHeight - scrollTop - clientHeight < 32;
      // Near the top of what is shown: show earlier messages (the browser keeps the messages
      // in view where they are as they come in above).
      if (scrollTop < clientHeight && !this.#earlier.hidden) this.#showEarlier();
    });
    // The list is laid out only once the host attaches the view (and again when the user
    // resizes the widget), and messages grow after they are added (off-screen ones count as
    // 80px until they come into view: see widget.css): keep the bottom in sight then too.
    if (typeof ResizeObserver !== "undefined") {
      this.#resizeObserver = new ResizeObserver(() => this.#followBottom());
      this.#resizeObserver.observe(this.el);
      this.#resizeObserver.observe(this.#thread);
    }
  }

  /** Renders `messages`: unchanged messages keep their element, changed ones update in place,
   * new ones are created, removed ones (undo, thread switch) go. */
  setMessages(messages: readonly Message[]): void {
    // Another thread starts with its latest messages shown again.
    const threadId = messages[0]?.thread_id ?? null;
    if (threadId !== this.#threadId) {
      this.#threadId = threadId;
      this.#window = WINDOW;
    } else if (messages.length > this.#messages.length) {
      // New messages come in below: the ones shown above them stay.
      this.#window += messages.length - this.#messages.length;
    }
    this.#messages = messages;
    const start = Math.max(0, messages.length - this.#window);
    this.#earlier.hidden = start === 0 && !this.#inKernel;
    const seen = new Set<string>();
    const deferBefore = messages.length - EAGER_MARKDOWN;
    const queue: MessageView[] = [];
    let previous: Element | null = null;
    for (let index = start; index < messages.length; index++) {
      const message = messages[index];
      seen.add(message.id);
      // Stringifying is cheap next to the DOM work it saves, and catches any change.
      const key = JSON.stringify(message);
      let entry = this.#rendered.get(message.id);
      if (entry === undefined) {
        const view = new MessageView(
          message,
          "message",
          index < deferBefore,
          null,
          this.#buttons,
          this.#widgets,
          this.#messageActions,
        );
        entry = { view, key };
        this.#rendered.set(message.id, entry);
      } else if (entry.key !== key) {
        entry.view.update(message);
        entry.key = key;
      }
      const expected: ChildNode | null = previous ? previous.nextSibling : this.#thread.firstChild;
      if (entry.view.el !== expected) this.#thread.insertBefore(entry.view.el, expected);
      previous = entry.view.el;
      if (entry.view.markdownPending) queue.push(entry.view);
    }
    for (const [id, entry] of this.#rendered) {
      if (!seen.has(id)) {
        entry.view.remove();
        this.#rendered.delete(id);
      }
    }
    // Buttons before the last user message are from an earlier answer.
    const lastUser = messages.map((m) => m.role).lastIndexOf("user");
    const runs = runUsage(messages);
    const firstLeftOut = messages.findIndex((m) => (m.left_out ?? 0) > 0);
    for (let index = start; index < messages.length; index++) {
      const message = messages[index];
      const entry = this.#rendered.get(message.id);
      if (entry === undefined) continue;
      entry.view.buttonsStale = index < lastUser;
      const last = index === messages.length - 1;
      entry.view.contextNote = index === firstLeftOut;
      const run = message.run_id === null ? undefined : runs.get(message.run_id);
      entry.view.place = {
        lastAnswer: last && message.role === "assistant" && message.status !== "in_progress",
        later: messages.length - 1 - index,
        usage: run !== undefined && run.last === index ? run.usage : null,
      };
    }
    // Views that left the list (a thread switch) are no longer queued.
    this.#markdownQueue = queue;
    this.#scheduleMarkdown();
    const views = new Map([...this.#rendered].map(([id, entry]) => [id, entry.view]));
    this.#history?.setMessages(messages, views);
    // A click sent before is answered: the buttons are enabled again.
    if (this.#buttons?.sending) {
      this.#buttons.sending = false;
      this.#refreshButtons();
    }
    this.#keepAnchor();
    this.#refresh();
  }

  /** Whether the kernel has earlier messages than the chat has (a long thread). */
  set earlierInKernel(earlier: boolean) {
    this.#inKernel = earlier;
    this.#earlier.hidden = earlier ? false : this.#messages.length <= this.#window;
  }

  /** `load`: asks the kernel for the messages before the first the chat has; they come in
   * through `messages`. */
  set loadEarlier(load: (() => Promise<void>) | null) {
    this.#load = load;
  }

  #showEarlier(): void {
    if (this.#earlier.hidden || this.#loading) return;
    // The message at the top stays where the user sees it (the browser does not anchor the
    // scroll position when it is at the very top).
    const anchor = this.#thread.firstElementChild;
    this.#anchor = anchor === null ? null : { el: anchor, top: anchor.getBoundingClientRect().top };
    if (this.#messages.length > this.#window) {
      this.#window += WINDOW;
      this.setMessages(this.#messages);
      return;
    }
    // All the chat has is shown: the kernel has the earlier ones; they come in through
    // setMessages, which keeps the anchor.
    if (this.#load === null || !this.#inKernel) return;
    this.#loading = true;
    void this.#load().finally(() => {
      this.#loading = false;
    });
  }

  /** Keeps the message the user was reading in place after earlier ones came in above. */
  #keepAnchor(): void {
    const anchor = this.#anchor;
    if (anchor === null || !anchor.el.isConnected) return;
    this.el.scrollTop += anchor.el.getBoundingClientRect().top - anchor.top;
    this.#anchor = null;
  }

  #scheduleMarkdown(): void {
    if (this.#markdownQueue.length === 0 || this.#cancelIdle !== null) return;
    this.#cancelIdle = whenIdle((deadline) => {
      this.#cancelIdle = null;
      while (this.#markdownQueue.length > 0 && deadline.timeRemaining() > 0) {
        this.#markdownQueue.pop()?.renderMarkdown();
      }
      this.#scheduleMarkdown();
    });
  }

  /** Shows the streaming message (null: none). Called at most once per animation frame. */
  setDraft(draft: Message | null): void {
    if (draft === null || draft.id !== this.#draftId) {
      this.#draft?.remove();
      this.#draft = null;
      this.#draftId = null;
    }
    if (draft !== null) {
      if (this.#draft === null) {
        this.#draft = new MessageView(draft, "draft", false, this.#approvals, null, this.#widgets);
        this.#draftId = draft.id;
        this.#thread.after(this.#draft.el);
      } else {
        this.#draft.update(draft);
      }
    }
    this.#refresh();
  }

  /** Whether a run is going on (shows the dots while nothing has streamed yet). */
  setWorking(working: boolean): void {
    const changed = working !== this.#isWorking;
    this.#isWorking = working;
    this.#history?.setWorking(working);
    // A new run: an earlier refusal is old news.
    if (working && this.#buttons !== null) this.#buttons.refusal = null;
    if (changed) this.#refreshButtons();
    this.#refresh();
  }

  #refreshButtons(): void {
    for (const { view } of this.#rendered.values()) view.refreshButtons();
  }

  scrollToBottom(): void {
    this.#stickToBottom = true;
    this.el.scrollTop = this.el.scrollHeight;
  }

  #refresh(): void {
    const streaming = this.#draft !== null;
    this.#empty.hidden = this.#rendered.size > 0 || streaming;
    this.#working.hidden = !(this.#isWorking && (this.#draft?.isEmpty ?? true));
    // Screen readers wait for the draft to settle instead of reading every frame.
    this.el.setAttribute("aria-busy", String(streaming));
    this.#followBottom();
  }

  /** The view is going: releases the live widget views of every message. */
  dispose(): void {
    this.#resizeObserver?.disconnect();
    this.#cancelIdle?.();
    for (const { view } of this.#rendered.values()) view.releaseWidgets();
    this.#draft?.releaseWidgets();
  }

  #followBottom(): void {
    if (this.#stickToBottom) this.el.scrollTop = this.el.scrollHeight;
  }
}
