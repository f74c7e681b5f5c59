import { afterEach, describe, expect, it, vi } from "vitest";
import {
  closeModel,
  FakeModel,
  get,
  message,
  mount,
  nextFrame,
  settled,
  toolCall,
  unmountAll,
  view,
} from "./fake-model";
import { newRequestId, type Reply, RequestClient } from "./protocol";
import type { Message, Thread } from "./types";

afterEach(async () => {
  await unmountAll();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

const visible = (node: HTMLElement) => !node.closest("[hidden]");
const reply = (request_id: string, error: Reply["error"] = null): Reply => ({
  kind: "reply",
  request_id,
  ok: error === null,
  error,
});

describe("request client", () => {
  it("sends each request with a fresh request_id and resolves it with its reply", async () => {
    const model = new FakeModel();
    const client = new RequestClient(model);
    const first = client.request({ kind: "send", text: "hi" });
    const second = client.request({ kind: "undo" });
    const [a, b] = model.sent;
    expect(a).toEqual({ kind: "send", text: "hi", request_id: expect.any(String) });
    expect(b.request_id).not.toBe(a.request_id);
    expect(client.pending).toBe(2);

    client.receive(reply(b.request_id, { type: "invalid_options_error", message: "Nothing to undo." }));
    client.receive(reply(a.request_id));
    expect(await first).toEqual(reply(a.request_id));
    expect(await second).toEqual({
      kind: "reply",
      request_id: b.request_id,
      ok: false,
      error: { type: "invalid_options_error", message: "Nothing to undo." },
    });
    expect(client.pending).toBe(0);
  });

  it("resolves exactly once: a duplicate reply, or one for an unknown request, is ignored", async () => {
    const model = new FakeModel();
    const client = new RequestClient(model);
    const settle = vi.fn();
    void client.request({ kind: "undo" }).then(settle);
    const { request_id } = model.sent[0];
    client.receive(reply("someone-else"));
    await settled();
    expect(settle).not.toHaveBeenCalled();
    client.receive(reply(request_id));
    client.receive(reply(request_id, { type: "internal_error", message: "late" }));
    await settled();
    expect(settle).toHaveBeenCalledTimes(1);
    expect(settle).toHaveBeenCalledWith(reply(request_id));
  });

  it("refuses pending requests on dispose, and later ones at once", async () => {
    const model = new FakeModel();
    const client = new RequestClient(model);
    const pending = client.request({ kind: "retry" });
    client.dispose("The kernel restarted.");
    const refused = await pending;
    expect(refused.ok).toBe(false);
    expect(refused.error?.message).toBe("The kernel restarted.");
    // A reply after that changes nothing.
    client.receive(reply(model.sent[0].request_id));
    const later = await client.request({ kind: "retry" });
    expect(later.ok).toBe(false);
    expect(later.error?.message).toBe("The kernel restarted.");
    expect(model.sent).toHaveLength(1);
  });

  it("refuses a request that could not be sent", async () => {
    const model = new FakeModel();
    vi.spyOn(model, "send").mockImplementation(() => {
      throw new Error("comm closed");
    });
    const answer = await new RequestClient(model).request({ kind: "cancel" });
    expect(answer.ok).toBe(false);
    expect(answer.error?.message).toContain("comm closed");
  });

  it("makes unique ids without crypto.randomUUID too", () => {
    expect(newRequestId()).toMatch(/^[0-9a-f-]{36}$/);
    vi.stubGlobal("crypto", {});
    const ids = new Set(Array.from({ length: 100 }, () => newRequestId()));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id.length).toBeLessThanOrEqual(100);
  });
});

describe("the widget's requests", () => {
  const threads: Thread[] = [
    { id: "thread_1", object: "thread", title: "One", created_at: 0 },
    { id: "thread_2", object: "thread", title: "Two", created_at: 0 },
  ];

  it("every sender sends a request with a request_id", async () => {
    const messages: Message[] = [
      message("user", "hi"),
      message("assistant", "done", {
        is_undoable: true,
        buttons: [{ id: "btn_1", label: "Again", action: null, arguments: null, reply: "again" }],
      }),
    ];
    const model = new FakeModel({ messages, threads, suggestions: ["Plot it"] });
    const el = await view(model);
    const click = (testid: string) => get(el, testid).click();

    get<HTMLTextAreaElement>(el, "composer-input").value = "hello";
    click("send-button");
    click("suggestion");
    click("undo-button");
    await model.reply("undo");
    click("action-button");
    click("new-thread-button");
    const picker = get<HTMLSelectElement>(el, "thread-picker");
    picker.value = "thread_2";
    picker.dispatchEvent(new Event("change"));
    click("rename-thread-button");
    const rename = get<HTMLInputElement>(el, "rename-thread-input");
    rename.value = "Renamed";
    rename.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    click("delete-thread-button");
    click("confirm-delete-button");

    model.set("error", { type: "server_error", message: "boom", retryable: true });
    click("retry-button");
    model.set("error", { type: "server_error", message: "boom again", retryable: true });
    get(el, "error-banner").querySelector<HTMLButtonElement>(".cw-error-close")?.click();

    model.set("status", "requires_action");
    model.receive({
      kind: "draft",
      message: message("assistant", "", {
        status: "in_progress",
        tool_calls: [toolCall({ id: "call_a", status: "requires_action" })],
      }),
    });
    await nextFrame();
    click("approve-button");
    await model.refuse("approve", "no");
    click("reject-button");
    click("confirm-reject-button");
    click("stop-button");

    expect(model.sent.map((m) => m.kind)).toEqual([
      "ready",
      "send",
      "send",
      "undo",
      "click_button",
      "new_thread",
      "select_thread",
      "rename_thread",
      "delete_thread",
      "retry",
      "dismiss_error",
      "approve",
      "reject",
      "cancel",
    ]);
    const ids = model.sent.map((m) => m.request_id);
    for (const id of ids) expect(id).toMatch(/^\S{1,100}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("settles pending requests when the model goes away: nothing waits forever", async () => {
    const model = new FakeModel({ messages: [message("assistant", "done", { is_undoable: true })] });
    const el = await view(model);
    const undo = get<HTMLButtonElement>(el, "undo-button");
    undo.click();
    expect(undo.textContent).toBe("Undoing…");
    await closeModel(model);
    await settled();
    expect(undo.disabled).toBe(false);
    expect(undo.textContent).toBe("Undo");
    const notice = get(get(el, "history-controls"), "refusal-notice");
    expect(visible(notice)).toBe(true);
    expect(notice.textContent).toMatch(/kernel restarted/i);
  });

  it("a view without initialize keeps its own requests, settled when it closes", async () => {
    const model = new FakeModel({ messages: [message("assistant", "done", { is_undoable: true })] });
    const widget = (await import("./widget")).default();
    const el = document.createElement("div");
    const signal = new AbortController().signal;
    const experimental = { invoke: () => Promise.reject(new Error("not in tests")) };
    const host = {
      getWidget: () => Promise.reject(new Error("not in tests")),
      getModel: () => Promise.reject(new Error("not in tests")),
    };
    const cleanup = await widget.render({ model, el, signal, host, experimental });
    get(el, "undo-button").click();
    await model.reply("undo");
    expect(get<HTMLButtonElement>(el, "undo-button").disabled).toBe(false);
    get(el, "undo-button").click();
    if (typeof cleanup === "function") await cleanup();
    await settled();
    expect(model.handlerCount()).toBe(0);
    expect(get(get(el, "history-controls"), "refusal-notice").textContent).toMatch(/view was closed/i);
  });

  it("ignores replies nobody waits for, and other kernel messages", async () => {
    const model = new FakeModel();
    const { el } = await mount(model);
    model.receive(reply("not-mine"));
    model.receive({ kind: "unknown" } as unknown as Reply);
    await settled();
    expect(el.querySelector('[data-testid="refusal-notice"]:not([hidden])')).toBeNull();
  });
});

describe("a streamed answer's text crosses once", () => {
  const emptyText = [{ type: "text" as const, text: { value: "", annotations: [] } }];
  const streamed = (text: string) => message("assistant", text, { id: "msg_answer", status: "in_progress" });

  it("takes the finished answer's text from the draft the deltas built", async () => {
    const model = new FakeModel();
    const el = await view(model);
    model.receive({ kind: "draft", message: streamed("The ") });
    model.receive({ kind: "delta", message_id: "msg_answer", text: "answer is **42**." });
    const finished = message("assistant", "", { id: "msg_answer", content: emptyText });
    model.receive({ kind: "messages", append: [finished], streamed: ["msg_answer"] });
    await nextFrame();
    expect(model.get("messages")[0].content[0].text.value).toBe("The answer is **42**.");
    expect(get(el, "message-list").querySelector("strong")?.textContent).toBe("42");
    expect(model.sent.some((m) => m.kind === "get_message")).toBe(false);
  });

  it("asks the kernel for a text it missed (a view that opened as the answer ended)", async () => {
    const model = new FakeModel();
    const el = await view(model);
    const finished = message("assistant", "", { id: "msg_answer", content: emptyText });
    model.receive({ kind: "messages", append: [finished], streamed: ["msg_answer"] });
    expect(model.last("get_message").message_id).toBe("msg_answer");
    model.receive({
      kind: "reply",
      request_id: model.last("get_message").request_id,
      ok: true,
      error: null,
      result: { message: message("assistant", "Recovered text.", { id: "msg_answer" }) },
    });
    await settled();
    await nextFrame();
    expect(model.get("messages")).toHaveLength(1);
    expect(get(el, "message-list").textContent).toContain("Recovered text.");
  });
});
