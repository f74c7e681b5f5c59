// The draft: the assistant message being streamed. It lives once per model (not per view) so
// every view of the widget shows the same thing and a view rendered mid-run catches up.
import type { AnyModel } from "@anywidget/types";
import type { DeltaMessage, DraftMessage } from "./protocol";
import type { Message, Model } from "./types";

export class DraftStore {
  #draft: Message | null = null;
  #snapshots = 0;
  #listeners = new Set<() => void>();

  get draft(): Message | null {
    return this.#draft;
  }

  /** How many `draft` snapshots have arrived (deltas do not count). */
  get snapshots(): number {
    return this.#snapshots;
  }

  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A `draft` snapshot. One whose id is already among the finished messages is stale. */
  setSnapshot(message: Message | null, finished: readonly Message[]): void {
    this.#snapshots += 1;
    const stale = message !== null && finished.some((m) => m.id === message.id);
    this.#draft = message === null || stale ? null : copyMessage(message);
    this.#notify();
  }

  /** Appends a `delta` to the draft; returns false (and changes nothing) if it is not the draft's. */
  applyDelta(delta: DeltaMessage): boolean {
    const draft = this.#draft;
    if (draft === null || delta.message_id !== draft.id) return false;
    if (delta.text) {
      let part = draft.content.at(-1);
      if (part === undefined) {
        part = { type: "text", text: { value: "", annotations: [] } };
        draft.content.push(part);
      }
      part.text.value += delta.text;
    }
    for (const call of delta.tool_calls ?? []) {
      // Keep the array dense even if an index arrives early: the renderer walks it in order.
      while (draft.tool_calls.length <= call.index) {
        draft.tool_calls.push({
          id: "",
          name: "",
          arguments: "",
          status: "pending",
          result: null,
          error: null,
        });
      }
      const target = draft.tool_calls[call.index];
      if (call.id) target.id = call.id;
      if (call.name) target.name = call.name;
      target.arguments += call.arguments ?? "";
    }
    this.#notify();
    return true;
  }

  /** Drops the draft once `messages` holds it (it was finished). */
  dropIfFinished(messages: readonly Message[]): void {
    const draft = this.#draft;
    if (draft !== null && messages.some((m) => m.id === draft.id)) {
      this.#draft = null;
      this.#notify();
    }
  }

  /** Drops the draft whatever it is (the selected thread changed). */
  clear(): void {
    if (this.#draft === null) return;
    this.#draft = null;
    this.#notify();
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }
}

/** Copies the parts a delta mutates, so the store never writes into an object it was given. */
function copyMessage(message: Message): Message {
  return {
    ...message,
    content: (message.content ?? []).map((part) => ({ ...part, text: { ...part.text } })),
    tool_calls: (message.tool_calls ?? []).map((call) => ({ ...call })),
  };
}

/** A draft store that follows `model`'s `messages` changes and thread switches (a draft belongs
 * to the thread it was streamed in). The kernel's `draft` and `delta` messages are handed to
 * `receive` by the model's one `msg:custom` subscription (see protocol.ts). */
export function connectDraftStore(model: AnyModel<Model>): {
  store: DraftStore;
  receive: (message: DraftMessage | DeltaMessage) => void;
  dispose: () => void;
} {
  const store = new DraftStore();
  let threadId = model.get("thread")?.id;
  const receive = (message: DraftMessage | DeltaMessage) => {
    if (message.kind === "draft") store.setSnapshot(message.message, model.get("messages") ?? []);
    else store.applyDelta(message);
  };
  const onMessages = () => store.dropIfFinished(model.get("messages") ?? []);
  // Only a switch: `thread` also changes when the selected thread is renamed.
  const onThread = () => {
    const id = model.get("thread")?.id;
    if (id === threadId) return;
    threadId = id;
    store.clear();
  };
  model.on("change:messages", onMessages);
  model.on("change:thread", onThread);
  const dispose = () => {
    model.off("change:messages", onMessages);
    model.off("change:thread", onThread);
  };
  return { store, receive, dispose };
}
