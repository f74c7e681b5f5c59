// The custom messages between the chat and the kernel (`copilot_widget/_protocol.py` declares the
// same kinds and fields; tests/test_protocol.py checks that the two stay equal).
//
// The page sends requests; the kernel answers every request once with a `reply` (done, or
// refused with a reason) and streams the draft with `draft` / `delta` messages.
import type { AnyModel } from "@anywidget/types";
import type { Message, Model, Thread } from "./types";

// Requests, front end -> kernel. One interface per kind; `request_id` pairs it with its reply.

/** A view is shown: the kernel answers with a `draft` snapshot and marks the copilot ready. */
export interface ReadyRequest {
  kind: "ready";
  request_id: string;
}

export interface SendRequest {
  kind: "send";
  request_id: string;
  text: string;
}

export interface CancelRequest {
  kind: "cancel";
  request_id: string;
}

export interface RetryRequest {
  kind: "retry";
  request_id: string;
}

export interface DismissErrorRequest {
  kind: "dismiss_error";
  request_id: string;
}

/** Run a tool call waiting for approval; `arguments`: the user's edited arguments (omitted when
 * unchanged). */
export interface ApproveRequest {
  kind: "approve";
  request_id: string;
  tool_call_id: string;
  arguments?: Record<string, unknown>;
}

/** Decline a tool call waiting for approval; `reason` is told to the model. */
export interface RejectRequest {
  kind: "reject";
  request_id: string;
  tool_call_id: string;
  reason?: string;
}

/** Undo what the last run changed (the message flagged `is_undoable`). */
export interface UndoRequest {
  kind: "undo";
  request_id: string;
}

/** Redo what the last undo took back (the message flagged `is_redoable`). */
export interface RedoRequest {
  kind: "redo";
  request_id: string;
}

/** The user clicked an action button of a finished message. */
export interface ClickButtonRequest {
  kind: "click_button";
  request_id: string;
  message_id: string;
  button_id: string;
}

/** A new answer to the last question; it replaces the last answer. */
export interface RegenerateRequest {
  kind: "regenerate";
  request_id: string;
}

/** Replace a user message with `text` and answer it again; later messages are dropped. */
export interface EditMessageRequest {
  kind: "edit_message";
  request_id: string;
  message_id: string;
  text: string;
}

/** Thumbs up (`rating` "up") or down ("down") on a message, or none (""), with a comment. */
export interface FeedbackRequest {
  kind: "feedback";
  request_id: string;
  message_id: string;
  rating: string;
  comment?: string;
}

/** The messages of the selected thread just before `before` (at most 300); the reply's `result`
 * is `{ messages: Message[] }`, oldest first (empty: none before). */
export interface LoadMessagesRequest {
  kind: "load_messages";
  request_id: string;
  before: string;
}

/** One message of the selected thread; the reply's `result` is `{ message: Message }`. (A chat
 * that missed the draft of a streamed answer asks for its text.) */
export interface GetMessageRequest {
  kind: "get_message";
  request_id: string;
  message_id: string;
}

/** What the model is given before the next step (the system prompt); the reply's `result` is
 * `{ context: string }`. */
export interface GetContextRequest {
  kind: "get_context";
  request_id: string;
}

export interface NewThreadRequest {
  kind: "new_thread";
  request_id: string;
}

export interface SelectThreadRequest {
  kind: "select_thread";
  request_id: string;
  thread_id: string;
}

export interface RenameThreadRequest {
  kind: "rename_thread";
  request_id: string;
  thread_id: string;
  title: string;
}

export interface DeleteThreadRequest {
  kind: "delete_thread";
  request_id: string;
  thread_id: string;
}

/** A thread as a file: `format` "markdown" or "json"; the reply's `result` is an
 * `ExportedThread`. */
export interface ExportThreadRequest {
  kind: "export_thread";
  request_id: string;
  thread_id: string;
  format: string;
}

/** The scope's threads whose title or text contains `query`; the reply's `result` is a
 * `ThreadMatch[]`. */
export interface SearchThreadsRequest {
  kind: "search_threads";
  request_id: string;
  query: string;
}

export type Request =
  | ReadyRequest
  | SendRequest
  | CancelRequest
  | RetryRequest
  | DismissErrorRequest
  | ApproveRequest
  | RejectRequest
  | UndoRequest
  | RedoRequest
  | ClickButtonRequest
  | RegenerateRequest
  | EditMessageRequest
  | FeedbackRequest
  | LoadMessagesRequest
  | GetMessageRequest
  | GetContextRequest
  | NewThreadRequest
  | SelectThreadRequest
  | RenameThreadRequest
  | DeleteThreadRequest
  | ExportThreadRequest
  | SearchThreadsRequest;

export type RequestKind = Request["kind"];

/** A request as the UI writes it: the client adds the `request_id`. */
export type RequestBody = WithoutId<Request>;
type WithoutId<R> = R extends Request ? Omit<R, "request_id"> : never;

// Kernel -> front end.

export interface ReplyError {
  /** An error type (`invalid_options_error`, `internal_error`...). */
  type: string;
  /** A sentence for the user: why the request was refused. */
  message: string;
}

/** The answer to one request: `ok`, or refused with `error`. Requests that ask for data
 * (export_thread, search_threads) get it in `result`. */
export interface Reply {
  kind: "reply";
  request_id: string;
  ok: boolean;
  error: ReplyError | null;
  result?: unknown;
}

/** Full snapshot of the in-progress assistant message; null: no draft any more. */
export interface DraftMessage {
  kind: "draft";
  message: Message | null;
}

export interface ToolCallDelta {
  index: number;
  id?: string;
  name?: string;
  arguments: string;
}

/** Tokens to append to the draft (batched by the kernel, so one delta may hold many tokens). */
export interface DeltaMessage {
  kind: "delta";
  message_id: string;
  text?: string;
  tool_calls?: ToolCallDelta[];
}

/** A change of the thread's messages, applied in this order: `reset` (the whole list: another
 * thread), `remove` (ids), `replace` (messages, by id), `append`. A view gets the whole list with
 * the widget's state; after that only these. */
export interface MessagesUpdate {
  kind: "messages";
  reset?: Message[];
  remove?: string[];
  replace?: Message[];
  append?: Message[];
  /** Appended answers whose text the chat already has: it streamed in as the draft's deltas, so
   * it is not sent again (the text sent is empty; see takeStreamedText). */
  streamed?: string[];
}

/** A change of the thread list (`threads`), like MessagesUpdate: a message changes the current
 * thread's date and preview, not the whole list. */
export interface ThreadsUpdate {
  kind: "threads";
  reset?: Thread[];
  remove?: string[];
  replace?: Thread[];
  append?: Thread[];
}

export type KernelMessage = Reply | DraftMessage | DeltaMessage | MessagesUpdate | ThreadsUpdate;

/** A list of messages or threads with `update` applied. */
export function applyListUpdate<T extends { id: string }>(
  items: readonly T[],
  update: { reset?: T[]; remove?: string[]; replace?: T[]; append?: T[] },
): T[] {
  let next = update.reset ?? [...items];
  if (update.remove?.length) {
    const gone = new Set(update.remove);
    next = next.filter((m) => !gone.has(m.id));
  }
  if (update.replace?.length) {
    const replaced = new Map(update.replace.map((m) => [m.id, m]));
    next = next.map((m) => replaced.get(m.id) ?? m);
  }
  if (update.append?.length) next = [...next, ...update.append];
  return next;
}

/** Fills in the text of the answers in `update.streamed` from `draft` (the text its deltas
 * built, exactly what the kernel left out). Returns the ids it could not fill: a view that
 * opened as the answer ended has no draft, and asks the kernel for them (get_message). */
export function takeStreamedText(update: MessagesUpdate, draft: Message | null): string[] {
  const missing: string[] = [];
  for (const id of update.streamed ?? []) {
    const index = update.append?.findIndex((m) => m.id === id) ?? -1;
    if (index === -1 || update.append === undefined) continue;
    const text = draft?.id === id ? draft.content.at(-1)?.text.value : undefined;
    if (text === undefined) {
      missing.push(id);
      continue;
    }
    const message = update.append[index];
    const [first, ...rest] = message.content;
    update.append[index] = {
      ...message,
      content: [{ ...first, text: { ...first.text, value: text } }, ...rest],
    };
  }
  return missing;
}

/** How the UI asks the kernel for something: resolves with the kernel's reply, exactly once. */
export type Requester = (body: RequestBody) => Promise<Reply>;

/** A refusal made here, when the kernel cannot answer any more. */
export function refused(request_id: string, message: string, type = "disconnected"): Reply {
  return { kind: "reply", request_id, ok: false, error: { type, message } };
}

/** The reason of a refused reply, as a sentence for the user. */
export function refusalReason(reply: Reply): string {
  const message = reply.error?.message?.trim();
  return message || "The kernel refused this without saying why.";
}

let sequence = 0;

/** A new request id: a UUID where the page can make one (secure contexts), else a counter with
 * a random part (unique enough: ids are only compared with this page's own pending requests). */
export function newRequestId(): string {
  const uuid = globalThis.crypto?.randomUUID;
  if (typeof uuid === "function") return uuid.call(globalThis.crypto);
  sequence += 1;
  return `r${sequence}-${Math.random().toString(36).slice(2, 12)}`;
}

/** The requests of one model (shared by all its views): each sent with a fresh id, each settled
 * once, by the kernel's reply or, when the model goes away first, by a local refusal. */
export class RequestClient {
  #model: AnyModel<Model>;
  #pending = new Map<string, (reply: Reply) => void>();
  #closed: string | null = null;

  constructor(model: AnyModel<Model>) {
    this.#model = model;
  }

  /** How many requests wait for their reply. */
  get pending(): number {
    return this.#pending.size;
  }

  readonly request: Requester = (body) => {
    const request_id = newRequestId();
    if (this.#closed !== null) return Promise.resolve(refused(request_id, this.#closed));
    return new Promise<Reply>((resolve) => {
      this.#pending.set(request_id, resolve);
      try {
        this.#model.send({ ...body, request_id } as Request);
      } catch (error) {
        const detail = error instanceof Error ? error.message : String(error);
        this.#settle(refused(request_id, `The request could not reach the kernel: ${detail}`));
      }
    });
  };

  /** A reply from the kernel: settles its request. Replies to unknown (or already settled)
   * requests are ignored. */
  receive(reply: Reply): void {
    if (typeof reply?.request_id !== "string") return;
    const ok = reply.ok === true;
    this.#settle({
      kind: "reply",
      request_id: reply.request_id,
      ok,
      error: ok ? null : (reply.error ?? { type: "internal_error", message: "" }),
      ...(ok && reply.result !== undefined ? { result: reply.result } : {}),
    });
  }

  /** Refuses every pending request with `reason`, and any later one. */
  dispose(reason: string): void {
    this.#closed = reason;
    for (const request_id of [...this.#pending.keys()]) this.#settle(refused(request_id, reason));
  }

  #settle(reply: Reply): void {
    const resolve = this.#pending.get(reply.request_id);
    if (resolve === undefined) return;
    this.#pending.delete(reply.request_id);
    resolve(reply);
  }
}

/** Where each kind of kernel message goes. */
export interface KernelHandlers {
  reply(message: Reply): void;
  draft(message: DraftMessage): void;
  delta(message: DeltaMessage): void;
  messages(message: MessagesUpdate): void;
  threads(message: ThreadsUpdate): void;
}

/** The one `msg:custom` subscription of a model: routes each kernel message by its kind (others
 * are ignored). Returns the unsubscribe function. */
export function onKernelMessage(model: AnyModel<Model>, handlers: KernelHandlers): () => void {
  const listener = (message: KernelMessage) => {
    if (message === null || typeof message !== "object") return;
    if (message.kind === "reply") handlers.reply(message);
    else if (message.kind === "draft") handlers.draft(message);
    else if (message.kind === "delta") handlers.delta(message);
    else if (message.kind === "messages") handlers.messages(message);
    else if (message.kind === "threads") handlers.threads(message);
  };
  model.on("msg:custom", listener);
  return () => model.off("msg:custom", listener);
}
