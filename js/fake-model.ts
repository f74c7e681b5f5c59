// Test helpers: an in-memory stand-in for anywidget's model, and message factories.
import type { AnyModel } from "@anywidget/types";
import type { KernelMessage, Reply, ReplyError, Request, RequestBody, RequestKind } from "./protocol";
import type { Message, Model, ToolCall } from "./types";
import widget from "./widget";

// Handlers take whatever the event carries (anywidget types them per event name).
type Handler = (...args: never[]) => void;

export class FakeModel implements AnyModel<Model> {
  /** Every request the front end sent to the kernel, in order (with its request_id). */
  readonly sent: Request[] = [];
  /** The page's widget manager: by default one that has no models (tests of live widgets put
   * a fake one here before mounting). */
  widget_manager: AnyModel<Model>["widget_manager"] = {
    get_model: () => Promise.reject(new Error("not in tests")),
  };
  #state: Model;
  #handlers = new Map<string, Set<Handler>>();

  constructor(state: Partial<Model> = {}) {
    this.#state = {
      thread: { id: "thread_1", object: "thread", title: "New chat", created_at: 0 },
      threads: [],
      status: "idle",
      messages: [],
      message_count: state.messages?.length ?? 0,
      is_ready: true,
      error: null,
      suggestions: [],
      title: "Copilot",
      height: "",
      model: "gpt-4o-mini",
      action_specs: [],
      offline_demo: false,
      needs_setup: false,
      store_warning: null,
      ...state,
    };
  }

  get<K extends keyof Model>(key: K): Model[K] {
    return this.#state[key];
  }

  /** Like Backbone: `change:key` fires only when the value changed. */
  set<K extends keyof Model>(key: K, value: Model[K]): void {
    if (this.#state[key] === value) return;
    this.#state[key] = value;
    this.#emit(`change:${key}`);
  }

  on(event: string, callback: Handler): void {
    let handlers = this.#handlers.get(event);
    if (handlers === undefined) {
      handlers = new Set();
      this.#handlers.set(event, handlers);
    }
    handlers.add(callback);
  }

  off(event?: string | null, callback?: Handler | null): void {
    if (!event) this.#handlers.clear();
    else if (!callback) this.#handlers.delete(event);
    else this.#handlers.get(event)?.delete(callback);
  }

  save_changes(): void {}

  send(content: Request): void {
    this.sent.push(content);
  }

  /** What was sent, without the request ids (the requests as the UI wrote them). */
  get bodies(): RequestBody[] {
    return this.sent.map(({ request_id: _, ...body }) => body as RequestBody);
  }

  /** The last request of this kind (throws if there is none). */
  last<K extends RequestKind>(kind: K): Extract<Request, { kind: K }> {
    for (let i = this.sent.length - 1; i >= 0; i--) {
      const m = this.sent[i];
      if (m.kind === kind) return m as Extract<Request, { kind: K }>;
    }
    throw new Error(`no ${kind} request was sent`);
  }

  /** A custom message from the kernel. */
  receive(message: KernelMessage): void {
    this.#emit("msg:custom", message, []);
  }

  /** The kernel's reply to the last request of `kind`: done, or refused with `error`. Resolves
   * once the UI has handled it. */
  async reply(kind: RequestKind, error: ReplyError | null = null): Promise<Reply> {
    const reply: Reply = { kind: "reply", request_id: this.last(kind).request_id, ok: error === null, error };
    this.receive(reply);
    await settled();
    return reply;
  }

  /** The kernel refuses the last request of `kind`, saying `message`. */
  refuse(kind: RequestKind, message: string, type = "invalid_options_error"): Promise<Reply> {
    return this.reply(kind, { type, message });
  }

  /** How many handlers are subscribed (to check views clean up after themselves). */
  handlerCount(): number {
    let count = 0;
    for (const handlers of this.#handlers.values()) count += handlers.size;
    return count;
  }

  #emit(event: string, ...args: unknown[]): void {
    for (const handler of [...(this.#handlers.get(event) ?? [])])
      (handler as (...a: unknown[]) => void)(...args);
  }
}

/** What anywidget hands the widget: a fresh proxy of the model for initialize and for every
 * render (so shared state cannot be found by model identity). */
function proxy(model: FakeModel): AnyModel<Model> {
  return {
    get: model.get.bind(model),
    set: model.set.bind(model),
    on: model.on.bind(model),
    off: model.off.bind(model),
    send: model.send.bind(model),
    save_changes: model.save_changes.bind(model),
    widget_manager: model.widget_manager,
  };
}

const definitions = new WeakMap<FakeModel, ReturnType<typeof widget>>();
const closers = new WeakMap<FakeModel, () => unknown>();
const experimental = { invoke: () => Promise.reject(new Error("not in tests")) };
const host = {
  getWidget: () => Promise.reject(new Error("not in tests")),
  getModel: () => Promise.reject(new Error("not in tests")),
};

/** Like anywidget: the widget factory and initialize once per model, then one view rendered
 * into a fresh element. */
export async function mount(model: FakeModel): Promise<{ el: HTMLElement; cleanup: () => Promise<void> }> {
  const signal = new AbortController().signal;
  let definition = definitions.get(model);
  if (definition === undefined) {
    definition = widget();
    definitions.set(model, definition);
    const close = await definition.initialize({ model: proxy(model), signal, experimental });
    if (typeof close === "function") closers.set(model, close as () => unknown);
  }
  const el = document.createElement("div");
  document.body.append(el);
  const cleanup = await definition.render({ model: proxy(model), el, signal, host, experimental });
  return {
    el,
    cleanup: async () => {
      if (typeof cleanup === "function") await cleanup();
      el.remove();
    },
  };
}

/** Like anywidget when the model goes away (the widget closed, the kernel restarted): runs the
 * cleanup `initialize` returned. */
export async function closeModel(model: FakeModel): Promise<void> {
  await closers.get(model)?.();
  closers.delete(model);
}

/** Resolves once the promise callbacks queued so far (replies handled by the UI) have run. */
export function settled(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Resolves after the next animation frame (the draft renders once per frame). */
export function nextFrame(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => resolve()));
}

let counter = 0;

export function message(role: Message["role"], text: string, extra: Partial<Message> = {}): Message {
  counter += 1;
  return {
    id: `msg_${counter}`,
    object: "thread.message",
    thread_id: "thread_1",
    run_id: role === "assistant" ? "run_1" : null,
    role,
    status: "completed",
    incomplete_details: null,
    created_at: 1_700_000_000 + counter,
    completed_at: 1_700_000_000 + counter,
    content: text ? [{ type: "text", text: { value: text, annotations: [] } }] : [],
    tool_calls: [],
    is_undoable: false,
    is_redoable: false,
    ...extra,
  };
}

export function toolCall(extra: Partial<ToolCall> = {}): ToolCall {
  return {
    id: "call_1",
    name: "fetch_user",
    arguments: "{}",
    status: "completed",
    result: null,
    error: null,
    ...extra,
  };
}

const mounted: (() => Promise<void>)[] = [];

/** Mounts a view of `model` that `unmountAll` removes (call it in `afterEach`). */
export async function view(model: FakeModel): Promise<HTMLElement> {
  const { el, cleanup } = await mount(model);
  mounted.push(cleanup);
  return el;
}

/** Removes every view mounted with `view` since the last call. */
export async function unmountAll(): Promise<void> {
  for (const cleanup of mounted.splice(0)) await cleanup();
}

/** The element with this test id under `el` (throws if there is none). */
export function get<T extends HTMLElement = HTMLElement>(el: HTMLElement, testid: string): T {
  const found = el.querySelector<T>(`[data-testid="${testid}"]`);
  if (found === null) throw new Error(`no [data-testid="${testid}"]`);
  return found;
}

/** Every element with this test id under `el`. */
export const all = (el: HTMLElement, testid: string) => [
  ...el.querySelectorAll<HTMLElement>(`[data-testid="${testid}"]`),
];
