import { afterEach, describe, expect, it } from "vitest";
import { buttonEffect, buttonTitle } from "./buttons";
import { FakeModel, get, message, nextFrame, toolCall, unmountAll, view } from "./fake-model";
import type { ActionButton, Message } from "./types";

afterEach(async () => {
  await unmountAll();
});

/** The visible action buttons (hidden ones, or ones in a hidden row, excluded). */
const visible = (el: HTMLElement) =>
  [...el.querySelectorAll<HTMLButtonElement>('[data-testid="action-button"]')].filter(
    (b) => !b.hidden && !b.closest("[hidden]"),
  );
const label = (b: HTMLElement) => b.querySelector('[data-testid="action-button-label"]')?.textContent;
const runs = (b: HTMLElement) => b.querySelector('[data-testid="action-button-runs"]')?.textContent;
const messageOf = (b: HTMLElement) => b.closest<HTMLElement>('[data-testid="message"]')?.dataset.messageId;

const chart: ActionButton = {
  id: "btn_1",
  label: "Make a bar chart",
  action: "make_chart",
  arguments: { kind: "bar", columns: ["a", "b"] },
  reply: null,
};
const thanks: ActionButton = {
  id: "btn_2",
  label: "Thanks!",
  action: null,
  arguments: null,
  reply: "Thank you",
};

function thread(buttons: ActionButton[] = [chart, thanks]): Message[] {
  return [
    message("user", "make a chart"),
    message("assistant", "first answer"),
    message("user", "now a table"),
    message("assistant", "which kind?", { buttons }),
  ];
}

describe("action buttons", () => {
  it("shows a row only under messages with buttons", async () => {
    const messages = thread();
    const el = await view(new FakeModel({ messages }));
    const rows = el.querySelectorAll('[data-testid="action-buttons"]:not([hidden])');
    expect(rows).toHaveLength(1);
    const buttons = visible(el);
    expect(buttons.map(label)).toEqual(["Make a bar chart", "Thanks!"]);
    expect(buttons.every((b) => messageOf(b) === messages[3].id)).toBe(true);
    expect(buttons.map((b) => b.dataset.action)).toEqual(["make_chart", ""]);
    expect(buttons[0].title).toBe('Runs make_chart(kind="bar", columns=["a","b"])');
    expect(buttons[1].title).toBe("Sends: Thank you");
    expect(buttons.every((b) => b.type === "button" && !b.disabled)).toBe(true);
  });

  it("titles an action without arguments by its name", () => {
    expect(buttonTitle({ ...chart, arguments: null })).toBe("Runs make_chart()");
    expect(buttonTitle({ ...chart, arguments: {} })).toBe("Runs make_chart()");
  });

  it("shows on the button, not only on hover, the action and arguments a click runs", async () => {
    const deleteRows: ActionButton = {
      id: "btn_d",
      label: "Tidy up",
      action: "delete_rows",
      arguments: { table: "users", limit: 5 },
      reply: null,
    };
    const el = await view(new FakeModel({ messages: thread([deleteRows, thanks]) }));
    const [action, reply] = visible(el);
    expect(runs(action)).toBe('Runs delete_rows(table="users", limit=5)');
    // In the button's own text, so it is seen (and read out) with the label.
    expect(action.textContent).toContain("Tidy up");
    expect(action.textContent).toContain('delete_rows(table="users", limit=5)');
    expect(action.querySelector('[data-testid="action-button-runs"]')?.closest("[hidden]")).toBeNull();
    // A reply button says what it sends.
    expect(runs(reply)).toBe("Sends: Thank you");
    expect(reply.textContent).toContain("Thank you");
  });

  it("cuts long arguments with an ellipsis on the button, and keeps them whole in the title", async () => {
    const long = "x".repeat(300);
    const b: ActionButton = {
      id: "btn_l",
      label: "Go",
      action: "run_sql",
      arguments: { query: long },
      reply: null,
    };
    const el = await view(new FakeModel({ messages: thread([b]) }));
    const [button] = visible(el);
    const shown = runs(button) ?? "";
    expect(shown.startsWith('Runs run_sql(query="xxx')).toBe(true);
    expect(shown.endsWith("…)")).toBe(true);
    expect(shown.length).toBeLessThan(100);
    expect(button.title).toBe(`Runs run_sql(query="${long}")`);
  });

  it("says a reply button sends a reply even when the reply is its label", () => {
    expect(buttonEffect({ ...thanks, reply: "Thanks!" })).toBe("Sends this as your reply");
    expect(buttonEffect({ ...thanks, reply: "a".repeat(200) })).toMatch(/^Sends: a{79}…$/);
    expect(buttonEffect({ ...thanks, reply: null })).toBe("");
  });

  it("shows hidden and reordering characters in an action escaped", () => {
    const sneaky: ActionButton = {
      ...chart,
      action: "make_chart",
      arguments: { "table\u202e": "sresu", note: "a\u200bb" },
    };
    expect(buttonEffect(sneaky)).toBe('Runs make_chart(table\\u202e="sresu", note="a\\u200bb")');
  });

  it("is fine with messages without a buttons field, or an empty one", async () => {
    const old = message("assistant", "old answer");
    delete (old as Partial<Message>).buttons;
    const model = new FakeModel({
      messages: [message("user", "hi"), old, message("assistant", "x", { buttons: [] })],
    });
    const el = await view(model);
    expect(visible(el)).toHaveLength(0);
    expect(el.querySelectorAll('[data-testid="message"]')).toHaveLength(3);
  });

  it("shows no buttons on the streaming draft, nor on user messages", async () => {
    const model = new FakeModel({
      messages: [message("user", "hi", { buttons: [thanks] })],
      status: "working",
    });
    const el = await view(model);
    model.receive({
      kind: "draft",
      message: message("assistant", "typing", { status: "in_progress", buttons: [chart] }),
    });
    await nextFrame();
    model.set("status", "idle");
    expect(el.querySelector('[data-testid="draft"]')).not.toBeNull();
    expect(el.querySelectorAll('[data-testid="action-button"]')).toHaveLength(0);
  });

  it("sends click_button once and stays disabled until messages change", async () => {
    const messages = thread();
    const model = new FakeModel({ messages });
    const el = await view(model);
    const [first, second] = visible(el);
    first.click();
    first.click();
    second.click();
    expect(model.bodies.filter((m) => m.kind === "click_button")).toEqual([
      { kind: "click_button", message_id: messages[3].id, button_id: "btn_1" },
    ]);
    expect(first.disabled).toBe(true);
    expect(second.disabled).toBe(true);

    // The next messages update enables the row again.
    model.set(
      "messages",
      messages.map((m) => ({ ...m })),
    );
    const again = visible(el);
    expect(again).toHaveLength(2);
    expect(again.every((b) => !b.disabled)).toBe(true);
    again[1].click();
    expect(model.bodies.filter((m) => m.kind === "click_button")).toHaveLength(2);
    expect(model.bodies.at(-1)).toEqual({
      kind: "click_button",
      message_id: messages[3].id,
      button_id: "btn_2",
    });
  });

  it("is hidden and does not send while the copilot works", async () => {
    const model = new FakeModel({ messages: thread() });
    const el = await view(model);
    expect(visible(el)).toHaveLength(2);
    for (const status of ["working", "requires_action", "cancelling"] as const) {
      model.set("status", status);
      expect(visible(el)).toHaveLength(0);
      const b = el.querySelector<HTMLButtonElement>('[data-testid="action-button"]');
      expect(b?.disabled).toBe(true);
      b?.click();
    }
    expect(model.bodies.some((m) => m.kind === "click_button")).toBe(false);
    model.set("status", "idle");
    expect(visible(el)).toHaveLength(2);
    expect(visible(el).every((b) => !b.disabled)).toBe(true);
  });

  it("starts hidden when mounted during a run", async () => {
    const model = new FakeModel({ messages: thread(), status: "working" });
    const el = await view(model);
    expect(visible(el)).toHaveLength(0);
    model.set("status", "idle");
    expect(visible(el)).toHaveLength(2);
  });

  it("keeps hostile label and reply text inert", async () => {
    const hostile = '<img src=x onerror="window.__pwned=1"><b>bold</b>';
    const model = new FakeModel({
      messages: thread([{ id: "btn_x", label: hostile, action: null, arguments: null, reply: hostile }]),
    });
    const el = await view(model);
    const [b] = visible(el);
    expect(label(b)).toBe(hostile);
    expect(runs(b)).toBe("Sends this as your reply");
    expect(b.title).toBe(`Sends: ${hostile}`);
    expect(b.querySelectorAll("*")).toHaveLength(2);
    expect(
      el.querySelector('[data-testid="action-buttons"] img, [data-testid="action-buttons"] b'),
    ).toBeNull();
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
  });

  it("shows an action button's HTML label and arguments as text", async () => {
    const hostile = '<img src=x onerror="window.__pwned=2"><b>bold</b>';
    const b: ActionButton = {
      id: "btn_h",
      label: hostile,
      action: "make_chart",
      arguments: { html: hostile },
      reply: null,
    };
    const el = await view(new FakeModel({ messages: thread([b]) }));
    const [button] = visible(el);
    expect(label(button)).toBe(hostile);
    expect(runs(button)).toBe(`Runs make_chart(html=${JSON.stringify(hostile)})`);
    expect(button.querySelectorAll("img, b")).toHaveLength(0);
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
  });

  it("updates the row when the buttons of a message change", async () => {
    const messages = thread();
    const model = new FakeModel({ messages });
    const el = await view(model);
    model.set(
      "messages",
      messages.map((m, i) => (i === 3 ? { ...m, buttons: [thanks] } : m)),
    );
    expect(visible(el).map(label)).toEqual(["Thanks!"]);
    model.set(
      "messages",
      messages.map((m, i) => (i === 3 ? { ...m, buttons: [] } : m)),
    );
    expect(visible(el)).toHaveLength(0);
  });

  it("keeps the keyboard focus in the widget while a click is on its way", async () => {
    const model = new FakeModel({ messages: thread() });
    const el = await view(model);
    const [first] = visible(el);
    first.focus();
    first.click();
    expect(el.contains(document.activeElement)).toBe(true);
    model.set("status", "working");
    expect(el.contains(document.activeElement)).toBe(true);
    expect(document.activeElement?.closest("[hidden]")).toBeNull();
  });

  it("works again when the kernel refuses the click, and says why under the row", async () => {
    const messages = thread();
    const model = new FakeModel({ messages });
    const el = await view(model);
    const [first, second] = visible(el);
    first.click();
    expect(model.last("click_button").request_id).toEqual(expect.any(String));
    expect(second.disabled).toBe(true);
    await model.refuse("click_button", "The action make_chart is not available any more.");
    expect(first.disabled).toBe(false);
    expect(second.disabled).toBe(false);
    const row = first.closest<HTMLElement>('[data-testid="action-buttons"]') as HTMLElement;
    const notice = get(row, "refusal-notice");
    expect(notice.hidden).toBe(false);
    expect(notice.getAttribute("role")).toBe("status");
    expect(notice.textContent).toBe("The action make_chart is not available any more.");

    // The next click clears it; a reply that says done keeps the row waiting for its messages.
    second.click();
    expect(notice.hidden).toBe(true);
    await model.reply("click_button");
    expect(second.disabled).toBe(true);
    model.set(
      "messages",
      messages.map((m) => ({ ...m })),
    );
    expect(visible(el).every((b) => !b.disabled)).toBe(true);
  });
});

describe("buttons of an earlier answer", () => {
  it("are disabled once the user asked something else, and send nothing", async () => {
    const messages = thread();
    const model = new FakeModel({ messages });
    const el = await view(model);
    const [fresh] = visible(el);
    expect(fresh.disabled).toBe(false);

    model.set("messages", [...messages, message("user", "something else"), message("assistant", "ok")]);
    const [stale] = visible(el);
    expect(stale.disabled).toBe(true);
    expect(stale.closest<HTMLElement>('[data-testid="action-buttons"]')?.dataset.stale).toBe("true");
    stale.click();
    expect(model.bodies.filter((b) => b.kind === "click_button")).toEqual([]);
  });
});

describe("the internal tool that offers buttons", () => {
  it("is never shown as a tool card; a step that only offered buttons shows nothing", async () => {
    const offer = toolCall({ name: "offer_buttons", arguments: '{"buttons": []}', result: '{"shown": []}' });
    const other = toolCall({ name: "make_chart" });
    const messages = [
      message("user", "what next?"),
      message("assistant", "", { tool_calls: [offer] }),
      message("assistant", "", { tool_calls: [offer, other] }),
      message("assistant", "Pick one.", { buttons: [chart] }),
    ];
    const el = await view(new FakeModel({ messages }));
    const shown = [...el.querySelectorAll<HTMLElement>('[data-testid="message"]')];
    expect(shown.map((m) => m.hidden)).toEqual([false, true, false, false]);
    expect(
      [...el.querySelectorAll<HTMLElement>('[data-testid="tool-call"]')].map((c) => c.dataset.name),
    ).toEqual(["make_chart"]);
    expect(visible(el).map(messageOf)).toEqual([messages[3].id]); // after the answer
  });
});
