import { afterEach, describe, expect, it } from "vitest";
import { FakeModel, get, message, unmountAll, view } from "./fake-model";
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
    expect(model.bodies.filter((m) => m.kind === "undo")).toEqual([{ kind: "undo" }]);
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
    expect(model.bodies.filter((m) => m.kind === "redo")).toEqual([{ kind: "redo" }]);
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
    expect(model.bodies.some((m) => m.kind === "undo")).toBe(false);
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

  it("works again when the kernel refuses, and says why", async () => {
    const model = new FakeModel({ messages: thread({ is_undoable: true }) });
    const el = await view(model);
    const undo = visible(el, "undo-button")[0];
    undo.focus();
    undo.click();
    expect(model.last("undo").request_id).toEqual(expect.any(String));
    expect(undo.textContent).toBe("Undoing…");
    await model.refuse(
      "undo",
      "The notebook state could not be restored: the setter failed.",
      "callback_error",
    );
    expect(undo.disabled).toBe(false);
    expect(undo.textContent).toBe("Undo");
    const notice = get(get(el, "history-controls"), "refusal-notice");
    expect(notice.hidden).toBe(false);
    expect(notice.getAttribute("role")).toBe("status");
    expect(notice.textContent).toBe("The notebook state could not be restored: the setter failed.");
    expect(document.activeElement).toBe(undo);

    // Trying again clears it; a run clears it too.
    undo.click();
    expect(notice.hidden).toBe(true);
    await model.refuse("undo", "Still no.");
    expect(notice.hidden).toBe(false);
    model.set("status", "working");
    model.set("status", "idle");
    expect(notice.hidden).toBe(true);
  });

  it("is enabled again by the kernel's reply (the flags may not have moved)", async () => {
    const model = new FakeModel({ messages: thread({ is_redoable: true }) });
    const el = await view(model);
    const redo = visible(el, "redo-button")[0];
    redo.click();
    expect(redo.textContent).toBe("Redoing…");
    await model.reply("redo");
    expect(redo.disabled).toBe(false);
    expect(redo.textContent).toBe("Redo");
    expect(get(get(el, "history-controls"), "refusal-notice").hidden).toBe(true);
  });
});
