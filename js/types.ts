// The synced state shared with the Python side (`copilot_widget.Copilot`). Names mirror the
// Python traitlets exactly. The custom messages (requests, replies, the draft) are in protocol.ts.

/** Copilot status (the `status` traitlet). */
export type Status = "idle" | "working" | "cancelling" | "requires_action";

export interface Thread {
  id: string;
  object: "thread";
  title: string;
  created_at: number;
  /** When the thread was last active (seconds); listed threads only. */
  updated_at?: number;
  /** The start of the thread's last message that has text, on one line; listed threads only. */
  preview?: string;
}

export type ToolCallStatus =
  | "pending"
  | "requires_action"
  | "running"
  | "completed"
  | "failed"
  | "rejected"
  | "cancelled";

export interface ToolCall {
  id: string;
  name: string;
  /** JSON text as the model sent it (may be partial while streaming). */
  arguments: string;
  status: ToolCallStatus;
  /** JSON text given back to the model. */
  result: string | null;
  error: string | null;
  /** What the chat shows of the result (or of the action's `render=` output); missing on
   * older messages. */
  display?: Display | null;
  /** Ids of the copilot outputs in the notebook that this call changed; missing on older calls. */
  outputs?: string[];
  /** How long its action ran; null or missing: unknown. */
  duration_ms?: number | null;
  /** How the user decided a `confirm=True` call; null or missing: not decided (or none asked). */
  approval?: ApprovalDecision | null;
  /** The action as it was offered, when that differs from the registered one (an action
   * offered with the way to its page): what its approval card describes. */
  spec?: ActionSpec | null;
}

export interface ApprovalDecision {
  decision: "approved" | "rejected" | "expired";
  /** Why it was rejected ("" when no reason was given). */
  reason: string;
  /** Approved with arguments the user changed. */
  edited: boolean;
}

/** The kernel's widget-view reference: a model of the page's widget manager. */
export interface WidgetViewRef {
  model_id: string;
  version_major: number;
  version_minor: number;
}

/** The richest safe representation of a tool call's result. */
export interface Display {
  /** A Jupyter mime bundle, bounded by the kernel. */
  data: {
    "application/vnd.jupyter.widget-view+json"?: WidgetViewRef;
    /** Untrusted: sanitised like model text. */
    "text/html"?: string;
    /** Untrusted: only ever shown as an image. */
    "image/svg+xml"?: string;
    /** Base64, no data: prefix. */
    "image/png"?: string;
    /** Base64, no data: prefix. */
    "image/jpeg"?: string;
    /** Untrusted. */
    "text/markdown"?: string;
    "text/latex"?: string;
    /** Always present when there is a display. */
    "text/plain"?: string;
  };
  /** Said to the user: what was cut or left out, or why a widget is static now. */
  note: string | null;
}

export type MessageStatus = "in_progress" | "completed" | "incomplete";

export type IncompleteReason = "run_cancelled" | "run_failed" | "run_interrupted" | "max_steps";

export interface TextContent {
  type: "text";
  text: { value: string; annotations: unknown[] };
}

/** A button the model offered under its answer: runs `action` with `arguments`, or sends `reply`
 * as the user's next message. */
export interface ActionButton {
  id: string;
  label: string;
  action: string | null;
  arguments: Record<string, unknown> | null;
  reply: string | null;
}

export interface Message {
  id: string;
  object: "thread.message";
  thread_id: string;
  run_id: string | null;
  role: "user" | "assistant";
  status: MessageStatus;
  incomplete_details: { reason: IncompleteReason } | null;
  created_at: number;
  completed_at: number | null;
  content: TextContent[];
  tool_calls: ToolCall[];
  is_undoable: boolean;
  is_redoable: boolean;
  /** Buttons offered under this (assistant) message; missing on older messages. */
  buttons?: ActionButton[];
  /** The user's thumbs up or down; null or missing: none. */
  feedback?: Feedback | null;
  /** What the answer cost and how long it took (assistant messages); null or missing: unknown. */
  usage?: Usage | null;
  /** How long the step took; null or missing: unknown. */
  timings?: Timings | null;
  /** How many older messages the step's request left out to fit the model's context window. */
  left_out?: number;
}

/** The user's feedback on a message. */
export interface Feedback {
  rating: "up" | "down";
  /** "" when the user gave none. */
  comment: string;
}

/** The tokens of one step of a run (one request), as the provider reported them. */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
  /** Input tokens the provider served from its cache; null: not reported. */
  cached_tokens: number | null;
  /** Output tokens spent reasoning (part of output_tokens); null: not reported. */
  reasoning_tokens: number | null;
  /** In the currency of `Copilot(prices=...)`; null without a price for the model. */
  cost: number | null;
}

/** How long one step of a run took. */
export interface Timings {
  /** From the request to the first streamed token; null: nothing streamed. */
  first_token_ms: number | null;
  /** From the request to the end of the step's tool calls. */
  duration_ms: number;
}

export type CopilotErrorType =
  | "invalid_options_error"
  | "authentication_error"
  | "insufficient_balance_error"
  | "rate_limit_error"
  | "server_error"
  | "action_error"
  /** A bug inside copilot-widget. */
  | "internal_error"
  /** The notebook's own code failed: an event callback, a track_state getter, a readable. */
  | "callback_error";

export interface CopilotError {
  type: CopilotErrorType;
  message: string;
  retryable: boolean;
}

export interface ActionSpec {
  name: string;
  description: string;
  /** JSON schema of the arguments. */
  parameters: Record<string, unknown>;
  kind: "backend" | "frontend";
  available: "enabled" | "disabled" | "frontend";
  confirm: boolean;
  paired_action: string | null;
}

/** The synced traitlets of `copilot_widget.Copilot`, name for name. */
export interface Model {
  thread: Thread;
  threads: Thread[];
  status: Status;
  /** The latest messages of the selected thread (earlier ones on request: load_messages). */
  messages: Message[];
  /** How many messages the selected thread has. */
  message_count: number;
  is_ready: boolean;
  error: CopilotError | null;
  suggestions: string[];
  title: string;
  /** The chat's height: a CSS length, "fill" (its container's height), or "" (the default). */
  height: string;
  /** The model the copilot asks. */
  model: string;
  action_specs: ActionSpec[];
  offline_demo: boolean;
  needs_setup: boolean;
  /** null while conversations are being saved; otherwise a short sentence saying why not. */
  store_warning: string | null;
}
