import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeModel, message, nextFrame, settled, toolCall, unmountAll, view } from "./fake-model";
import { formatCost } from "./message-actions";
import type { Message } from "./types";

afterEach(async () => {
  await unmountAll();
  vi.restoreAllMocks();
});

/** The controls with this test id that a user can see (not hidden, nor inside a hidden box). */
const shown = (el: HTMLElement, testid: string) =>
  [...el.querySelectorAll<HTMLElement>(`[data-testid="${testid}"]`)].filter(
    (b) => !b.hidden && !b.closest("[hidden]"),
  );
const messageOf = (b: HTMLElement) => b.closest<HTMLElement>('[data-testid="message"]')?.dataset.messageId;

function thread(): Message[] {
  return [
    message("user", "make a chart"),
    message("assistant", "Here is **the chart**."),
    message("user", "now a table"),
    message("assistant", "Here is the table."),
  ];
}

describe("message actions", () => {
  it("copies a message's Markdown", async () => {
    const writeText = vi.fn(() => Promise.resolve());
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const messages = thread();
    const el = await view(new FakeModel({ messages }));
    const copies = shown(el, "copy-message");
    expect(copies.map(messageOf)).toEqual(messages.map((m) => m.id));
    copies[1].click();
    await settled();
    expect(writeText).toHaveBeenCalledWith("Here is **the chart**.");
    expect(copies[1].textContent).toBe("Copied");
  });

  it("offers Regenerate on the last answer only, and only while idle", async () => {
    const messages = thread();
    const model = new FakeModel({ messages });
    const el = await view(model);
    const regenerate = shown(el, "regenerate");
    expect(regenerate.map(messageOf)).toEqual([messages[3].id]);
    regenerate[0].click();
    regenerate[0].click();
    expect(model.bodies.filter((b) => b.kind === "regenerate")).toEqual([{ kind: "regenerate" }]);
    expect((regenerate[0] as HTMLButtonElement).disabled).toBe(true);
    await model.reply("regenerate");
    model.set("status", "working");
    expect((regenerate[0] as HTMLButtonElement).disabled).toBe(true);
    model.set("status", "idle");
    expect((regenerate[0] as HTMLButtonElement).disabled).toBe(false);

    // A question without an answer yet: nothing to regenerate.
    model.set("messages", [...messages, message("user", "and a map")]);
    expect(shown(el, "regenerate")).toHaveLength(0);
  });

  it("edits a question and asks before dropping the later messages", async () => {
    const messages = thread();
    const model = new FakeModel({ messages });
    const el = await view(model);
    const edits = shown(el, "edit-message");
    expect(edits.map(messageOf)).toEqual([messages[0].id, messages[2].id]);

    edits[0].click();
    const input = shown(el, "edit-input")[0] as HTMLTextAreaElement;
    expect(input.value).toBe("make a chart");
    expect(document.activeElement).toBe(input);
    input.value = "make a bar chart";
    (shown(el, "edit-send")[0] as HTMLButtonElement).click();
    // Three messages follow: asked first, nothing sent.
    expect(shown(el, "edit-confirmation")[0].textContent).toBe(
      "Sending this edit removes the 3 messages after it from the thread.",
    );
    expect(model.bodies.filter((b) => b.kind === "edit_message")).toEqual([]);
    const confirm = shown(el, "edit-send")[0] as HTMLButtonElement;
    expect(confirm.textContent).toBe("Remove and send");
    confirm.click();
    expect(model.bodies.filter((b) => b.kind === "edit_message")).toEqual([
      { kind: "edit_message", message_id: messages[0].id, text: "make a bar chart" },
    ]);
    await model.reply("edit_message");
    expect(shown(el, "message-editor")).toHaveLength(0);
  });

  it("sends an edit of the last question at once, and keeps the editor when refused", async () => {
    const messages = [...thread(), message("user", "and a map")];
    const model = new FakeModel({ messages });
    const el = await view(model);
    shown(el, "edit-message").at(-1)?.click();
    const input = shown(el, "edit-input")[0] as HTMLTextAreaElement;
    input.value = "and a world map";
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.bodies.filter((b) => b.kind === "edit_message")).toEqual([
      { kind: "edit_message", message_id: messages[4].id, text: "and a world map" },
    ]);
    await model.refuse("edit_message", "A run is in progress.");
    expect(shown(el, "message-editor")).toHaveLength(1);
    expect(shown(el, "refusal-notice")[0].textContent).toBe("A run is in progress.");
    // Escape closes the editor; the message is as it was.
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(shown(el, "message-editor")).toHaveLength(0);
    expect(el.querySelectorAll('[data-testid="message"]')[4].textContent).toContain("and a map");
  });

  it("rates an answer, asks for an optional comment, and takes the rating back", async () => {
    const messages = thread();
    const model = new FakeModel({ messages });
    const el = await view(model);
    expect(shown(el, "feedback-up").map(messageOf)).toEqual([messages[1].id, messages[3].id]);
    const down = shown(el, "feedback-down")[1] as HTMLButtonElement;
    down.click();
    expect(model.bodies.at(-1)).toEqual({ kind: "feedback", message_id: messages[3].id, rating: "down" });
    // The kernel records it.
    const rated = messages.map((m, i) =>
      i === 3 ? { ...m, feedback: { rating: "down" as const, comment: "" } } : m,
    );
    model.set("messages", rated);
    await model.reply("feedback");
    expect(down.getAttribute("aria-pressed")).toBe("true");
    const comment = shown(el, "feedback-comment")[0] as HTMLInputElement;
    expect(document.activeElement).toBe(comment);
    comment.value = "The table is wrong";
    comment.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.bodies.at(-1)).toEqual({
      kind: "feedback",
      message_id: messages[3].id,
      rating: "down",
      comment: "The table is wrong",
    });
    await model.reply("feedback");
    expect(shown(el, "feedback-comment")).toHaveLength(0);
    // A second click on the pressed thumb takes it back.
    down.click();
    expect(model.bodies.at(-1)).toEqual({ kind: "feedback", message_id: messages[3].id, rating: "" });
  });

  it("shows no toolbar on the streaming draft", async () => {
    const model = new FakeModel({ messages: [message("user", "hi")], status: "working" });
    const el = await view(model);
    model.receive({ kind: "draft", message: message("assistant", "Hel", { status: "in_progress" }) });
    await nextFrame();
    const draft = el.querySelector<HTMLElement>('[data-testid="draft"]');
    expect(draft?.textContent).toContain("Hel");
    expect(draft?.querySelector('[data-testid="message-actions"]')).toBeNull();
  });
});

describe("what an answer says about itself", () => {
  it("writes costs with enough digits to tell them apart", () => {
    expect([0, 0.0042, 0.000123, 0.1234, 1, 12.4].map(formatCost)).toEqual([
      "0",
      "0.0042",
      "0.00012",
      "0.12",
      "1.00",
      "12.40",
    ]);
  });

  it("shows the run's tokens and time under its last message", async () => {
    const step = message("assistant", "", {
      run_id: "run_1",
      tool_calls: [toolCall({ status: "completed" })],
      usage: {
        input_tokens: 1200,
        output_tokens: 20,
        cached_tokens: null,
        reasoning_tokens: null,
        cost: 0.0031,
      },
      timings: { first_token_ms: 300, duration_ms: 800 },
    });
    const answer = message("assistant", "Done.", {
      run_id: "run_1",
      usage: {
        input_tokens: 1300,
        output_tokens: 36,
        cached_tokens: 200,
        reasoning_tokens: null,
        cost: 0.0011,
      },
      timings: { first_token_ms: 400, duration_ms: 1500 },
    });
    const unreported = message("assistant", "No usage report.", {
      run_id: "run_2",
      timings: { first_token_ms: 100, duration_ms: 12_400 },
    });
    const el = await view(
      new FakeModel({
        messages: [message("user", "go"), step, answer, message("user", "again"), unreported],
      }),
    );
    const usage = shown(el, "usage");
    expect(usage.map(messageOf)).toEqual([answer.id, unreported.id]);
    expect(usage[0].textContent).toBe("2,500 in · 56 out · cost 0.0042 · 2.3 s");
    // A server that reports no usage: the time only.
    expect(usage[1].textContent).toBe("12 s");
  });

  it("says how an approval was decided on the tool card", async () => {
    const calls = [
      toolCall({ status: "completed", approval: { decision: "approved", reason: "", edited: false } }),
      toolCall({ status: "completed", approval: { decision: "approved", reason: "", edited: true } }),
      toolCall({
        status: "rejected",
        approval: { decision: "rejected", reason: "not on Fridays", edited: false },
      }),
      toolCall({ status: "rejected", approval: { decision: "rejected", reason: "", edited: false } }),
      toolCall({ status: "rejected", approval: { decision: "expired", reason: "", edited: false } }),
      toolCall({ status: "completed" }),
    ];
    const el = await view(new FakeModel({ messages: [message("assistant", "", { tool_calls: calls })] }));
    const decisions = [...el.querySelectorAll<HTMLElement>('[data-testid="tool-call-decision"]')].map((d) =>
      d.hidden ? null : d.textContent,
    );
    expect(decisions).toEqual([
      "approved by you",
      "approved by you, with your edits",
      "rejected: not on Fridays",
      "rejected by you",
      "expired: no decision in time",
      null,
    ]);
  });

  it("says once that the request left older messages out", async () => {
    const messages = [
      message("user", "q1"),
      message("assistant", "a1"),
      message("user", "q2"),
      message("assistant", "a2", { left_out: 2 }),
      message("user", "q3"),
      message("assistant", "a3", { left_out: 4 }),
    ];
    const el = await view(new FakeModel({ messages }));
    const notes = shown(el, "context-note");
    expect(notes.map(messageOf)).toEqual([messages[3].id]);
    expect(notes[0].textContent).toContain("the oldest messages (2) were left out");
  });

  it("shows the thread's totals in the header, which hide and show the usage lines", async () => {
    localStorage.removeItem("copilot-widget:show-usage");
    const usage = (input: number, output: number, cost: number | null) => ({
      input_tokens: input,
      output_tokens: output,
      cached_tokens: null,
      reasoning_tokens: null,
      cost,
    });
    const timings = { first_token_ms: 100, duration_ms: 900 };
    const messages = [
      message("user", "q1"),
      message("assistant", "a1", { run_id: "run_1", usage: usage(1000, 200, 0.001), timings }),
      message("user", "q2"),
      message("assistant", "a2", { run_id: "run_2", usage: usage(1500, 300, 0.0022), timings }),
    ];
    const model = new FakeModel({ messages });
    const el = await view(model);
    const totals = shown(el, "thread-usage")[0] as HTMLButtonElement;
    expect(totals.textContent).toBe("3,000 tokens · cost 0.0032");
    expect(totals.getAttribute("aria-pressed")).toBe("true");
    const root = el.querySelector<HTMLElement>('[data-testid="copilot-root"]');
    expect(root?.classList.contains("cw-usage-hidden")).toBe(false);
    totals.click();
    expect(totals.getAttribute("aria-pressed")).toBe("false");
    expect(root?.classList.contains("cw-usage-hidden")).toBe(true);
    expect(localStorage.getItem("copilot-widget:show-usage")).toBe("0");
    totals.click();
    expect(root?.classList.contains("cw-usage-hidden")).toBe(false);
    // A step without a price: the cost is unknown, the tokens still add up.
    model.set("messages", [...messages, message("assistant", "a3", { usage: usage(10, 5, null) })]);
    expect(totals.textContent).toBe("3,015 tokens");
    // No usage reported at all: nothing in the header.
    model.set("messages", [message("user", "q")]);
    expect(shown(el, "thread-usage")).toHaveLength(0);
  });
});
