import { afterEach, describe, expect, it, vi } from "vitest";
import { all, FakeModel, get, message, mount, nextFrame, toolCall, unmountAll, view } from "./fake-model";
import type { Message } from "./types";

afterEach(async () => {
  await unmountAll();
});

const one = (el: HTMLElement, testid: string) => {
  const found = all(el, testid);
  expect(found).toHaveLength(1);
  return found[0];
};
/** The draft's visible text, whitespace between blocks collapsed. */
const draftText = (el: HTMLElement) =>
  el.querySelector('[data-testid="draft"] .cw-message-body')?.textContent?.replace(/\s+/g, " ").trim() ??
  null;

describe("messages", () => {
  it("renders user text as text and assistant markdown as HTML", async () => {
    const user = message("user", "Is **this** bold?");
    const assistant = message("assistant", "Yes, **this** is.\n\n```python\nprint(1)\n```");
    const el = await view(new FakeModel({ messages: [user, assistant] }));

    const rendered = all(el, "message");
    expect(rendered.map((m) => m.dataset.role)).toEqual(["user", "assistant"]);
    expect(rendered.map((m) => m.dataset.messageId)).toEqual([user.id, assistant.id]);
    expect(rendered[1].dataset.status).toBe("completed");
    expect(rendered[0].querySelector("strong")).toBeNull();
    expect(rendered[0].textContent).toContain("Is **this** bold?");
    expect(rendered[1].querySelector("strong")?.textContent).toBe("this");

    const code = rendered[1].querySelector("pre code");
    expect(code?.classList.contains("language-python")).toBe(true);
    expect(code?.querySelector(".hljs-built_in")?.textContent).toBe("print");
    expect(rendered[1].querySelector("button.cw-copy")?.textContent).toBe("Copy");
  });

  it("is a polite live log", async () => {
    const el = await view(new FakeModel());
    const list = one(el, "message-list");
    expect(list.getAttribute("role")).toBe("log");
    expect(list.getAttribute("aria-live")).toBe("polite");
  });

  it("reuses the elements of unchanged messages and updates only what changed", async () => {
    const model = new FakeModel();
    const first = message("user", "one");
    const second = message("assistant", "two", { is_undoable: false });
    model.set("messages", [first, second]);
    const el = await view(model);
    const [firstEl, secondEl] = all(el, "message");

    // Python re-sends the whole list as new objects: equal content keeps the same element.
    const third = message("user", "three");
    model.set("messages", [structuredClone(first), { ...structuredClone(second), is_undoable: true }, third]);
    const after = all(el, "message");
    expect(after).toHaveLength(3);
    expect(after[0]).toBe(firstEl);
    expect(after[1]).toBe(secondEl);
    expect(after[2].textContent).toContain("three");

    // A changed message is updated in place; a removed one goes.
    model.set("messages", [
      first,
      { ...second, status: "incomplete", incomplete_details: { reason: "run_cancelled" } },
    ]);
    const last = all(el, "message");
    expect(last).toEqual([firstEl, secondEl]);
    expect(secondEl.dataset.status).toBe("incomplete");
    expect(secondEl.textContent).toContain("Stopped");
  });

  it("does not rebuild a thread of 2,000 messages when one is appended", async () => {
    const messages: Message[] = [];
    for (let i = 0; i < 2000; i++) messages.push(message(i % 2 ? "assistant" : "user", `message ${i}`));
    const model = new FakeModel({ messages });
    const el = await view(model);
    const before = all(el, "message");
    // The latest 300 are shown; earlier ones come as the user scrolls up.
    expect(before).toHaveLength(300);
    expect(before[0].dataset.messageId).toBe(messages[1700].id);

    model.set("messages", [...messages.map((m) => structuredClone(m)), message("user", "one more")]);
    const after = all(el, "message");
    expect(after).toHaveLength(301);
    expect(after.slice(0, 300).every((node, i) => node === before[i])).toBe(true);
  });

  it("shows earlier messages of a long thread on demand, and the latest of another thread", async () => {
    const messages: Message[] = [];
    for (let i = 0; i < 700; i++) messages.push(message(i % 2 ? "assistant" : "user", `message ${i}`));
    const model = new FakeModel({ messages });
    const el = await view(model);
    const earlier = get<HTMLButtonElement>(el, "earlier-messages");
    expect(earlier.hidden).toBe(false);
    earlier.click();
    expect(all(el, "message")).toHaveLength(600);
    earlier.click();
    expect(all(el, "message")).toHaveLength(700);
    expect(earlier.hidden).toBe(true);
    const other = messages.map((m, i) => ({ ...m, id: `other_${i}`, thread_id: "thread_2" }));
    model.set("messages", other);
    expect(all(el, "message")).toHaveLength(300);
    expect(earlier.hidden).toBe(false);
  });

  it("keeps the order of the list when messages are removed or reordered", async () => {
    const [a, b, c] = [message("user", "a"), message("assistant", "b"), message("user", "c")];
    const model = new FakeModel({ messages: [a, b, c] });
    const el = await view(model);
    model.set("messages", [c, a]);
    expect(all(el, "message").map((m) => m.dataset.messageId)).toEqual([c.id, a.id]);
    model.set("messages", []);
    expect(all(el, "message")).toHaveLength(0);
  });

  it.each([
    ["run_cancelled", "Stopped"],
    ["max_steps", "Stopped: reached the step limit"],
    ["run_failed", "Interrupted by an error"],
    ["run_interrupted", "Interrupted: the kernel stopped"],
  ] as const)("notes an incomplete message (%s)", async (reason, note) => {
    const incomplete = message("assistant", "partial", {
      status: "incomplete",
      incomplete_details: { reason },
    });
    const el = await view(new FakeModel({ messages: [incomplete] }));
    expect(one(el, "message").querySelector(".cw-message-note")?.textContent).toBe(note);
  });

  it("shows tool calls as collapsible cards with pretty arguments and the result", async () => {
    const call = toolCall({
      name: "fetch_user",
      arguments: '{"user_id":"42"}',
      result: '{"name":"Darth Doe"}',
    });
    const failed = toolCall({
      id: "call_2",
      name: "plot",
      status: "failed",
      arguments: "{not json",
      error: "boom",
    });
    const el = await view(
      new FakeModel({ messages: [message("assistant", "", { tool_calls: [call, failed] })] }),
    );
    const [card, failedCard] = all(el, "tool-call");
    expect(card.tagName).toBe("DETAILS");
    expect(card.dataset).toMatchObject({ name: "fetch_user", status: "completed" });
    expect(card.querySelector("summary")?.textContent).toContain("Completed");
    expect(card.querySelector(".cw-tool-arguments")?.textContent).toBe('{\n  "user_id": "42"\n}');
    expect(card.querySelector(".cw-tool-result")?.textContent).toBe('{\n  "name": "Darth Doe"\n}');
    expect(failedCard.dataset.status).toBe("failed");
    expect(failedCard.querySelector(".cw-tool-arguments")?.textContent).toBe("{not json");
    expect(failedCard.querySelector(".cw-tool-error")?.textContent).toBe("boom");
  });
});

describe("streaming", () => {
  it("streams the draft's text and renders it once per frame", async () => {
    const model = new FakeModel({ status: "working" });
    const el = await view(model);
    const draft = message("assistant", "", { status: "in_progress" });
    model.receive({ kind: "draft", message: draft });
    await nextFrame();
    expect(one(el, "draft").dataset.messageId).toBe(draft.id);

    model.receive({ kind: "delta", message_id: draft.id, text: "# Title\n\nHello" });
    model.receive({ kind: "delta", message_id: draft.id, text: ", **world**" });
    // Not rendered per delta: the DOM catches up on the next frame.
    expect(draftText(el)).toBe("");
    await nextFrame();
    expect(draftText(el)).toBe("Title Hello, world");
    expect(one(el, "draft").querySelector("h1")?.textContent).toBe("Title");
    expect(one(el, "draft").querySelector("strong")?.textContent).toBe("world");
    expect(all(el, "message")).toHaveLength(0);
  });

  it("ignores a delta for an unknown message", async () => {
    const model = new FakeModel({ status: "working" });
    const el = await view(model);
    const draft = message("assistant", "kept", { status: "in_progress" });
    model.receive({ kind: "draft", message: draft });
    model.receive({ kind: "delta", message_id: "msg_unknown", text: " lost" });
    await nextFrame();
    expect(draftText(el)).toBe("kept");
  });

  it("builds a tool-call card from argument deltas and updates it live", async () => {
    const model = new FakeModel({ status: "working" });
    const el = await view(model);
    const draft = message("assistant", "Let me look.", { status: "in_progress" });
    model.receive({ kind: "draft", message: draft });
    const pieces = ['{"us', 'er_id"', ': "4', '2"}'];
    model.receive({
      kind: "delta",
      message_id: draft.id,
      tool_calls: [{ index: 0, id: "call_1", name: "fetch_user", arguments: pieces[0] }],
    });
    await nextFrame();
    const card = one(el, "tool-call");
    expect(card.dataset).toMatchObject({ name: "fetch_user", status: "pending" });
    expect(card.querySelector(".cw-tool-arguments")?.textContent).toBe('{"us');
    card.setAttribute("open", ""); // the user expanded it

    for (const piece of pieces.slice(1)) {
      model.receive({ kind: "delta", message_id: draft.id, tool_calls: [{ index: 0, arguments: piece }] });
    }
    await nextFrame();
    expect(card.querySelector(".cw-tool-arguments")?.textContent).toBe('{\n  "user_id": "42"\n}');

    // Status changes arrive as snapshots; the same card follows them and stays open.
    const running = toolCall({ id: "call_1", arguments: '{"user_id": "42"}', status: "running" });
    model.receive({ kind: "draft", message: { ...draft, tool_calls: [running] } });
    await nextFrame();
    expect(one(el, "tool-call")).toBe(card);
    expect(card.dataset.status).toBe("running");
    expect(card.hasAttribute("open")).toBe(true);
    model.receive({
      kind: "draft",
      message: { ...draft, tool_calls: [{ ...running, status: "completed", result: '"Darth Doe"' }] },
    });
    await nextFrame();
    expect(card.dataset.status).toBe("completed");
    expect(card.querySelector(".cw-tool-result")?.textContent).toBe("Darth Doe");
  });

  it("drops the draft when messages contain its id", async () => {
    const model = new FakeModel({ status: "working" });
    const el = await view(model);
    const draft = message("assistant", "almost", { status: "in_progress" });
    model.receive({ kind: "draft", message: draft });
    await nextFrame();
    expect(all(el, "draft")).toHaveLength(1);

    model.set("messages", [
      {
        ...draft,
        status: "completed",
        content: [{ type: "text", text: { value: "done", annotations: [] } }],
      },
    ]);
    // In the same task, not a frame later: the message is never shown twice.
    expect(all(el, "draft")).toHaveLength(0);
    expect(one(el, "message").textContent).toContain("done");
    await nextFrame();
    expect(all(el, "draft")).toHaveLength(0);
  });

  it("clears the draft on a null snapshot", async () => {
    const model = new FakeModel({ status: "working" });
    const el = await view(model);
    model.receive({ kind: "draft", message: message("assistant", "x", { status: "in_progress" }) });
    await nextFrame();
    model.receive({ kind: "draft", message: null });
    await nextFrame();
    expect(all(el, "draft")).toHaveLength(0);
  });

  it("shows the working dots until something streams", async () => {
    const model = new FakeModel({ status: "working" });
    const el = await view(model);
    const dots = el.querySelector<HTMLElement>(".cw-working");
    expect(dots?.hidden).toBe(false);
    const draft = message("assistant", "", { status: "in_progress" });
    model.receive({ kind: "draft", message: draft });
    await nextFrame();
    expect(dots?.hidden).toBe(false);
    model.receive({ kind: "delta", message_id: draft.id, text: "Hi" });
    await nextFrame();
    expect(dots?.hidden).toBe(true);
    model.set("status", "idle");
    expect(dots?.hidden).toBe(true);
  });

  it("lets a second view rendered mid-stream catch up, and keeps both in step", async () => {
    const model = new FakeModel({ status: "working", messages: [message("user", "hi")] });
    const first = await view(model);
    const draft = message("assistant", "", { status: "in_progress" });
    model.receive({ kind: "draft", message: draft });
    model.receive({ kind: "delta", message_id: draft.id, text: "Hello" });
    model.receive({
      kind: "delta",
      message_id: draft.id,
      tool_calls: [{ index: 0, id: "call_1", name: "fetch_user", arguments: "{}" }],
    });

    const second = await view(model);
    expect(model.bodies.filter((m) => m.kind === "ready")).toHaveLength(2);
    expect(draftText(second)).toBe("Hello");
    expect(one(second, "tool-call").dataset.name).toBe("fetch_user");

    model.receive({ kind: "delta", message_id: draft.id, text: " there" });
    await nextFrame();
    expect(draftText(first)).toBe("Hello there");
    expect(draftText(second)).toBe("Hello there");
    expect(all(second, "message")).toHaveLength(1);
  });

  it("unsubscribes a view when it is removed", async () => {
    const model = new FakeModel();
    await view(model);
    const withOneView = model.handlerCount();
    const { el, cleanup } = await mount(model);
    expect(model.handlerCount()).toBeGreaterThan(withOneView);
    await cleanup();
    expect(model.handlerCount()).toBe(withOneView);
    model.set("messages", [message("user", "after cleanup")]);
    expect(all(el, "message")).toHaveLength(0);
  });
});

describe("long threads", () => {
  /** Stands in for requestIdleCallback: `run(n)` gives the waiting callback time for n messages. */
  function stubIdle() {
    const waiting = new Map<number, IdleRequestCallback>();
    let next = 1;
    vi.stubGlobal("requestIdleCallback", (callback: IdleRequestCallback) => {
      waiting.set(next, callback);
      return next++;
    });
    vi.stubGlobal("cancelIdleCallback", (handle: number) => waiting.delete(handle));
    return {
      get waiting() {
        return waiting.size;
      },
      run(renders: number) {
        const callbacks = [...waiting.values()];
        waiting.clear();
        let left = renders;
        for (const callback of callbacks)
          callback({ didTimeout: false, timeRemaining: () => (left-- > 0 ? 1 : 0) });
      },
    };
  }
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  /** 300 messages: user questions and assistant answers in markdown. */
  function longThread(): Message[] {
    return Array.from({ length: 300 }, (_, i) =>
      i % 2 ? message("assistant", `answer **${i}**`) : message("user", `question ${i}`),
    );
  }
  const body = (m: HTMLElement) => m.querySelector<HTMLElement>(".cw-message-body");
  const isRendered = (m: HTMLElement) => body(m)?.querySelector("strong") != null;

  it("shows every message at once, the last ones as markdown, the others rendered bottom-up later", async () => {
    const idle = stubIdle();
    const el = await view(new FakeModel({ messages: longThread() }));
    const shown = all(el, "message");
    expect(shown).toHaveLength(300);
    // What the user sees first (the bottom of the list) is rendered at once.
    expect(
      shown
        .slice(250)
        .filter((m) => m.dataset.role === "assistant")
        .every(isRendered),
    ).toBe(true);
    // An older answer shows its text as plain text meanwhile.
    expect(isRendered(shown[249])).toBe(false);
    expect(body(shown[249])?.textContent).toBe("answer **249**");
    expect(body(shown[249])?.classList.contains("cw-plain")).toBe(true);

    // Idle time renders the nearest ones first...
    idle.run(10);
    expect(isRendered(shown[249])).toBe(true);
    expect(isRendered(shown[231])).toBe(true);
    expect(isRendered(shown[229])).toBe(false);
    // ...and keeps going until none is left.
    while (idle.waiting > 0) idle.run(50);
    expect(shown.filter((m) => m.dataset.role === "assistant").every(isRendered)).toBe(true);
    expect(shown[1].querySelector(".cw-plain")).toBeNull();
    // User text stays text.
    expect(body(shown[0])?.textContent).toBe("question 0");
  });

  it("draws the tables and images of old messages when idle, the recent ones at once", async () => {
    const idle = stubIdle();
    const messages = longThread();
    const table = {
      data: { "text/html": "<table><tr><td>cell</td></tr></table>", "text/plain": "t" },
      note: null,
    };
    for (const i of [1, 299]) {
      messages[i] = message("assistant", `answer ${i}`, { tool_calls: [toolCall({ display: table })] });
    }
    const el = await view(new FakeModel({ messages }));
    const [old, recent] = [all(el, "message")[1], all(el, "message")[299]];
    expect(all(recent, "tool-display")).toHaveLength(1);
    expect(all(old, "tool-display")).toHaveLength(0); // not drawn yet: opening stays fast

    while (idle.waiting > 0) idle.run(50);
    expect(all(old, "tool-display")).toHaveLength(1);
    expect(old.querySelector("td")?.textContent).toBe("cell");
  });

  it("shows unrendered markdown as inert text, and sanitises it when rendered", async () => {
    const idle = stubIdle();
    const messages = longThread();
    const hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script> **bold**';
    messages[1] = message("assistant", hostile);
    const el = await view(new FakeModel({ messages }));
    const placeholder = all(el, "message")[1];
    expect(body(placeholder)?.children).toHaveLength(0);
    expect(body(placeholder)?.textContent).toBe(hostile);
    expect(el.querySelector("img, script")).toBeNull();

    while (idle.waiting > 0) idle.run(50);
    expect(body(placeholder)?.querySelector("strong")?.textContent).toBe("bold");
    expect(el.querySelector("img, script, [onerror]")).toBeNull();
  });

  it("renders a message added or changed meanwhile at once", async () => {
    const idle = stubIdle();
    const messages = longThread();
    const model = new FakeModel({ messages });
    const el = await view(model);
    const edited = {
      ...messages[1],
      content: [{ type: "text" as const, text: { value: "**edited**", annotations: [] } }],
    };
    model.set("messages", [messages[0], edited, ...messages.slice(2), message("assistant", "**new**")]);
    const shown = all(el, "message");
    expect(shown).toHaveLength(301);
    expect(body(shown[300])?.querySelector("strong")?.textContent).toBe("new");
    expect(body(shown[1])?.querySelector("strong")?.textContent).toBe("edited");
    expect(isRendered(shown[3])).toBe(false); // still waiting its turn
    while (idle.waiting > 0) idle.run(50);
    expect(isRendered(shown[3])).toBe(true);
  });

  it("drops the work left for messages that left the list, and stops when the view goes", async () => {
    const idle = stubIdle();
    const model = new FakeModel({ messages: longThread() });
    const { el, cleanup } = await mount(model);
    const old = all(el, "message");
    model.set("messages", [message("user", "another thread")]);
    idle.run(1000);
    expect(old.some(isRendered)).toBe(true); // the last ones, rendered at once
    expect(isRendered(old[1])).toBe(false); // never rendered: it left before its turn
    expect(idle.waiting).toBe(0);

    model.set("messages", longThread());
    expect(idle.waiting).toBe(1);
    await cleanup();
    expect(idle.waiting).toBe(0);
  });
});

describe("calls and the outputs they changed", () => {
  it("links a call to its outputs and shows the call an output asks for", async () => {
    const call = toolCall({ id: "call_out", name: "fetch_user", outputs: ["output_a", "output_b"] });
    const plain = toolCall({ id: "call_plain", name: "list_users" });
    const answer = message("assistant", "Done.", { tool_calls: [call, plain] });
    const el = await view(new FakeModel({ messages: [message("user", "go"), answer] }));
    const [card, other] = all(el, "tool-call");
    expect(all(other, "tool-call-output-link")).toHaveLength(0);

    const shown: unknown[] = [];
    const listen = (event: Event) => shown.push((event as CustomEvent).detail);
    window.addEventListener("copilot-widget:show-output", listen);
    const links = all(card, "tool-call-output-link");
    expect(links.map((l) => l.textContent)).toEqual(["Output 1", "Output 2"]);
    links[1].click();
    window.removeEventListener("copilot-widget:show-output", listen);
    expect(shown).toEqual([{ output_id: "output_b" }]);
    expect((card as HTMLDetailsElement).open).toBe(false); // the link does not fold the card

    // An output's "changed by" link: the chat shows that call's card, and only that one.
    const scrolled: Element[] = [];
    Element.prototype.scrollIntoView = vi.fn(function (this: Element) {
      scrolled.push(this);
    }); // jsdom has no layout
    window.dispatchEvent(
      new CustomEvent("copilot-widget:show-call", { detail: { tool_call_id: "call_out" } }),
    );
    expect(scrolled).toEqual([card]);
    expect(card.dataset.highlighted).toBe("true");
    expect(other.dataset.highlighted).toBeUndefined();
  });
});

describe("only what changed in the thread comes from the kernel", () => {
  it("appends, replaces and removes messages, and resets on another thread", async () => {
    const first = message("user", "first");
    const model = new FakeModel({ messages: [first] });
    const el = await view(model);
    const texts = () =>
      [...el.querySelectorAll('[data-testid="message"] .cw-message-body')].map((b) => b.textContent?.trim());
    const answer = message("assistant", "the answer");
    model.receive({ kind: "messages", append: [answer] });
    await nextFrame();
    expect(texts()).toEqual(["first", "the answer"]);
    model.receive({
      kind: "messages",
      replace: [{ ...answer, content: [{ type: "text", text: { value: "better", annotations: [] } }] }],
    });
    await nextFrame();
    expect(texts()).toEqual(["first", "better"]);
    model.receive({ kind: "messages", remove: [answer.id], append: [message("user", "second")] });
    await nextFrame();
    expect(texts()).toEqual(["first", "second"]);
    model.receive({ kind: "messages", reset: [message("user", "another thread")] });
    await nextFrame();
    expect(texts()).toEqual(["another thread"]);
  });
});
