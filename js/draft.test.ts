import { describe, expect, it, vi } from "vitest";
import { connectDraftStore, DraftStore } from "./draft";
import { FakeModel, message, toolCall } from "./fake-model";
import { messageText } from "./messages";

const draftText = (store: DraftStore) => (store.draft ? messageText(store.draft) : null);

describe("DraftStore", () => {
  it("assembles the text of a draft from several deltas", () => {
    const store = new DraftStore();
    const draft = message("assistant", "", { status: "in_progress" });
    store.setSnapshot(draft, []);
    for (const text of ["Hel", "lo, ", "", "world", "!"]) {
      expect(store.applyDelta({ kind: "delta", message_id: draft.id, text })).toBe(true);
    }
    expect(draftText(store)).toBe("Hello, world!");
  });

  it("appends to the text the snapshot already had", () => {
    const store = new DraftStore();
    const draft = message("assistant", "Hi", { status: "in_progress" });
    store.setSnapshot(draft, []);
    store.applyDelta({ kind: "delta", message_id: draft.id, text: " there" });
    expect(store.draft?.content[0].text.value).toBe("Hi there");
    // The snapshot object it was given is left alone.
    expect(draft.content[0].text.value).toBe("Hi");
  });

  it("assembles tool-call arguments split across several deltas", () => {
    const store = new DraftStore();
    const draft = message("assistant", "", { status: "in_progress" });
    store.setSnapshot(draft, []);
    const id = draft.id;
    store.applyDelta({
      kind: "delta",
      message_id: id,
      tool_calls: [{ index: 0, id: "call_a", name: "fetch_user", arguments: '{"user' }],
    });
    store.applyDelta({ kind: "delta", message_id: id, tool_calls: [{ index: 0, arguments: '_id": ' }] });
    store.applyDelta({
      kind: "delta",
      message_id: id,
      tool_calls: [
        { index: 0, arguments: '"42"}' },
        { index: 1, id: "call_b", name: "plot", arguments: "{}" },
      ],
    });
    expect(store.draft?.tool_calls).toEqual([
      {
        id: "call_a",
        name: "fetch_user",
        arguments: '{"user_id": "42"}',
        status: "pending",
        result: null,
        error: null,
      },
      { id: "call_b", name: "plot", arguments: "{}", status: "pending", result: null, error: null },
    ]);
  });

  it("ignores a delta for a message that is not the draft", () => {
    const store = new DraftStore();
    const listener = vi.fn();
    store.subscribe(listener);
    expect(store.applyDelta({ kind: "delta", message_id: "msg_x", text: "lost" })).toBe(false);
    const draft = message("assistant", "kept", { status: "in_progress" });
    store.setSnapshot(draft, []);
    listener.mockClear();
    expect(store.applyDelta({ kind: "delta", message_id: "msg_other", text: "lost" })).toBe(false);
    expect(listener).not.toHaveBeenCalled();
    expect(draftText(store)).toBe("kept");
  });

  it("replaces the draft with each snapshot, and null clears it", () => {
    const store = new DraftStore();
    const first = message("assistant", "a", {
      status: "in_progress",
      tool_calls: [toolCall({ status: "running" })],
    });
    store.setSnapshot(first, []);
    store.setSnapshot({ ...first, tool_calls: [toolCall({ status: "completed", result: "1" })] }, []);
    expect(store.draft?.tool_calls[0].status).toBe("completed");
    store.setSnapshot(null, []);
    expect(store.draft).toBeNull();
  });

  it("drops the draft once messages contain its id, and ignores a stale snapshot", () => {
    const store = new DraftStore();
    const draft = message("assistant", "done", { status: "in_progress" });
    store.setSnapshot(draft, []);
    store.dropIfFinished([message("user", "unrelated")]);
    expect(store.draft).not.toBeNull();
    const finished = { ...draft, status: "completed" as const };
    store.dropIfFinished([finished]);
    expect(store.draft).toBeNull();
    store.setSnapshot(draft, [finished]);
    expect(store.draft).toBeNull();
  });

  it("clears the draft, notifying only if there was one", () => {
    const store = new DraftStore();
    const listener = vi.fn();
    store.subscribe(listener);
    store.clear();
    expect(listener).not.toHaveBeenCalled();
    store.setSnapshot(message("assistant", "x", { status: "in_progress" }), []);
    listener.mockClear();
    store.clear();
    expect(store.draft).toBeNull();
    expect(listener).toHaveBeenCalledTimes(1);
  });
});

describe("connectDraftStore", () => {
  it("drops the draft when another thread is selected, not when the thread is renamed", () => {
    const thread = { id: "thread_1", object: "thread" as const, title: "One", created_at: 0 };
    const model = new FakeModel({ thread });
    const { store, receive, dispose } = connectDraftStore(model);
    receive({ kind: "draft", message: message("assistant", "x", { status: "in_progress" }) });
    model.set("thread", { ...thread, title: "Renamed" });
    expect(draftText(store)).toBe("x");
    model.set("thread", { ...thread, id: "thread_2" });
    expect(store.draft).toBeNull();
    dispose();
    expect(model.handlerCount()).toBe(0);
  });
});
