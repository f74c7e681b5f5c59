import { afterEach, describe, expect, it } from "vitest";
import { FakeModel, message, unmountAll, view } from "./fake-model";
import type { Message } from "./types";

afterEach(async () => {
  await unmountAll();
});

/** The visible buttons with this test id (hidden ones, or ones in hidden controls, excluded). */
const visible = (el: HTMLElement, testid: string) =>
  [...el.querySelectorAll<HTMLButtonElement>(`[data-testid="${testid}"]`)].filter(
    (b) => !b.hidden && !b.closest("[hidden]"),
  );
const messageOf = (b: HTMLElement) => b.closest<HTMLElement>('[data-testid="message"]')?.dataset.messageId;

function thread(flags: Partial<Message> = {}): Message[] {
  return [
    message("user", "make a chart"),
    message("assistant", "first answer"),
    message("user", "now a table"),
    message("assistant", "second answer", flags),
  ];
}

describe("undo / redo", () => {
  it("shows Undo only on the flagged message, and no Redo", async () => {
    const messages = thread({ is_undoable: true });
    const el = await view(new FakeModel({ messages }));
    const undo = visible(el, "undo-button");
    expect(undo).toHaveLength(1);
    expect(messageOf(undo[0])).toBe(messages[3].id);
    expect(undo[0].getAttribute("aria-label")).toBe("Undo what this answer changed");
    expect(undo[0].disabled).toBe(false);
    expect(visible(el, "redo-button")).toHaveLength(0);
  });

  it("shows nothing when no message is flagged", async () => {
    const el = await view(new FakeModel({ messages: thread() }));
    expect(visible(el, "undo-button")).toHaveLength(0);
    expect(visible(el, "redo-button")).toHaveLength(0);
  });

  it("sends undo once and stays disabled until messages change", async () => {
    const model = new FakeModel({ messages: thread({ is_undoable: true }) });
    const el = await view(model);
    const undo = visible(el, "undo-button")[0];
    undo.click();
    undo.click();
    expect(model.sent.filter((m) => m.kind === "undo")).toEqual([{ kind: "undo" }]);
    expect(undo.disabled).toBe(true);
    expect(undo.textContent).toBe("Undoing…");

    // Python answers: the same message is now redoable.
    const answered = model.get("messages").map((m) => ({ ...m }));
    answered[3] = { ...answered[3], is_undoable: false, is_redoable: true };
    model.set("messages", answered);
    expect(visible(el, "undo-button")).toHaveLength(0);
    const redo = visible(el, "redo-button");
    expect(redo).toHaveLength(1);
    expect(messageOf(redo[0])).toBe(answered[3].id);
    expect(redo[0].disabled).toBe(false);
    redo[0].click();
    redo[0].click();
    expect(model.sent.filter((m) => m.kind === "redo")).toEqual([{ kind: "redo" }]);
    expect(redo[0].disabled).toBe(true);
  });

  it("follows the flag when it moves to another message, and goes when it goes", async () => {
    const messages = thread();
    messages[1] = { ...messages[1], is_undoable: true };
    const model = new FakeModel({ messages });
    const el = await view(model);
    expect(messageOf(visible(el, "undo-button")[0])).toBe(messages[1].id);

    const moved = messages.map((m, i) => ({ ...m, is_undoable: i === 3 }));
    model.set("messages", moved);
    const undo = visible(el, "undo-button");
    expect(undo).toHaveLength(1);
    expect(messageOf(undo[0])).toBe(moved[3].id);

    model.set(
      "messages",
      moved.map((m) => ({ ...m, is_undoable: false })),
    );
    expect(visible(el, "undo-button")).toHaveLength(0);
    expect(el.querySelectorAll('[data-testid="undo-button"]')).toHaveLength(0);
  });

  it("is hidden while the copilot works and back when idle", async () => {
    const model = new FakeModel({ messages: thread({ is_redoable: true }) });
    const el = await view(model);
    expect(visible(el, "redo-button")).toHaveLength(1);
    for (const status of ["working", "requires_action", "cancelling"] as const) {
      model.set("status", status);
      expect(visible(el, "redo-button")).toHaveLength(0);
    }
    model.set("status", "idle");
    expect(visible(el, "redo-button")).toHaveLength(1);
  });

  it("does not send while the copilot works", async () => {
    const model = new FakeModel({ messages: thread({ is_undoable: true }), status: "working" });
    const el = await view(model);
    el.querySelector<HTMLButtonElement>('[data-testid="undo-button"]')?.click();
    expect(model.sent.some((m) => m.kind === "undo")).toBe(false);
  });

  it("keeps the keyboard focus: on Redo once Undo is answered", async () => {
    const model = new FakeModel({ messages: thread({ is_undoable: true }) });
    const el = await view(model);
    const undo = visible(el, "undo-button")[0];
    undo.focus();
    undo.click();
    expect(el.contains(document.activeElement)).toBe(true);
    model.set(
      "messages",
      model.get("messages").map((m, i) => ({ ...m, is_undoable: false, is_redoable: i === 3 })),
    );
    expect(document.activeElement).toBe(visible(el, "redo-button")[0]);
  });
});
