import { afterEach, describe, expect, it, vi } from "vitest";
import { all, FakeModel, message, mount, nextFrame, toolCall, unmountAll, view } from "./fake-model";
import type { RequestBody } from "./protocol";
import type { ActionSpec, Message, ToolCall } from "./types";

afterEach(async () => {
  await unmountAll();
});

function get<T extends HTMLElement = HTMLElement>(el: HTMLElement, testid: string): T {
  const found = all(el, testid);
  expect(found).toHaveLength(1);
  return found[0] as T;
}
const visible = (node: HTMLElement) => !node.closest("[hidden]");
/** Why the kernel refused the card's last decision. */
const cardNotice = (el: HTMLElement) => get(get(el, "approval-card"), "refusal-notice");
/** What the approval cards sent (not "ready" and the like). */
const decisions = (model: FakeModel) =>
  model.bodies.filter((m): m is Extract<RequestBody, { kind: "approve" | "reject" }> =>
    ["approve", "reject"].includes(m.kind),
  );

function type(input: HTMLTextAreaElement | HTMLInputElement, value: string): void {
  input.value = value;
  input.dispatchEvent(new Event("input", { bubbles: true }));
}
function press(target: HTMLElement, key: string): KeyboardEvent {
  const event = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true });
  target.dispatchEvent(event);
  return event;
}

const DELETE_ROWS: ActionSpec = {
  name: "delete_rows",
  description: "Delete rows from a table.",
  parameters: {
    type: "object",
    properties: {
      table: { type: "string", description: "The table to delete from." },
      limit: { type: "integer", description: "How many rows at most." },
    },
    required: ["table", "limit"],
    additionalProperties: false,
  },
  kind: "backend",
  available: "enabled",
  confirm: true,
  paired_action: null,
};

function waitingCall(extra: Partial<ToolCall> = {}): ToolCall {
  return toolCall({
    id: "call_del",
    name: "delete_rows",
    arguments: '{"table":"users","limit":5}',
    status: "requires_action",
    ...extra,
  });
}

/** A view whose run waits for the approval of `call` (as Python shows it: a draft snapshot). */
async function waiting(call: ToolCall = waitingCall(), specs: ActionSpec[] = [DELETE_ROWS]) {
  const model = new FakeModel({ status: "requires_action", action_specs: specs });
  const el = await view(model);
  const draft = message("assistant", "I will delete them.", { status: "in_progress", tool_calls: [call] });
  model.receive({ kind: "draft", message: draft });
  await nextFrame();
  return { model, el, draft };
}

/** Python's next snapshot: the same draft with `call` changed. */
async function snapshot(model: FakeModel, draft: Message, call: ToolCall): Promise<void> {
  model.receive({ kind: "draft", message: { ...draft, tool_calls: [call] } });
  await nextFrame();
}

describe("approval card", () => {
  it("appears for a tool call waiting for approval, in view without expanding anything", async () => {
    const { el } = await waiting();
    const card = get(el, "approval-card");
    expect(visible(card)).toBe(true);
    // Right under its tool call, which stays collapsed.
    const tool = get<HTMLDetailsElement>(el, "tool-call");
    expect(tool.dataset.status).toBe("requires_action");
    expect(tool.open).toBe(false);
    expect(tool.nextElementSibling).toBe(card);
    expect(card.closest("details")).toBeNull();
    expect(card.closest('[data-testid="draft"]')).not.toBeNull();

    expect(get(el, "approval-action").textContent).toBe("delete_rows");
    expect(get(el, "approval-description").textContent).toBe("Delete rows from a table.");
    // The schema labels the parameters.
    expect(card.querySelector(".cw-approval-parameters")?.textContent).toContain(
      "table string: The table to delete from.",
    );
    const textarea = get<HTMLTextAreaElement>(el, "approval-arguments");
    expect(textarea.tagName).toBe("TEXTAREA");
    expect(textarea.value).toBe('{\n  "table": "users",\n  "limit": 5\n}');
    expect(el.querySelector<HTMLLabelElement>(`label[for="${textarea.id}"]`)).not.toBeNull();
    expect(visible(get(el, "approve-button"))).toBe(true);
    expect(visible(get(el, "reject-button"))).toBe(true);
    expect(visible(get(el, "reject-reason"))).toBe(false);
    expect(visible(get(el, "approval-error"))).toBe(false);
  });

  it("is not shown for other statuses, nor in finished messages", async () => {
    const model = new FakeModel({
      action_specs: [DELETE_ROWS],
      messages: [message("assistant", "", { tool_calls: [waitingCall()] })],
    });
    const el = await view(model);
    expect(all(el, "tool-call")).toHaveLength(1);
    expect(all(el, "approval-card")).toHaveLength(0);
    const draft = message("assistant", "", {
      status: "in_progress",
      tool_calls: [waitingCall({ status: "running" })],
    });
    model.receive({ kind: "draft", message: draft });
    await nextFrame();
    expect(all(el, "approval-card")).toHaveLength(0);
  });

  it("describes the action as it was offered: with the way to its page", async () => {
    const offered: ActionSpec = {
      ...DELETE_ROWS,
      description:
        "Delete rows from a table.\n\nThe 'table' page this acts on is not open: calling this first takes the user there.",
      parameters: {
        type: "object",
        properties: {
          table_id: { type: "integer", description: "The table to open." },
          table: { type: "string", description: "The table to delete from." },
        },
        required: ["table_id", "table"],
        additionalProperties: false,
      },
    };
    const { el } = await waiting(waitingCall({ spec: offered }));
    expect(get(el, "approval-description").textContent).toContain("first takes the user there");
    expect(get(el, "approval-card").querySelector(".cw-approval-parameters")?.textContent).toContain(
      "table_id integer: The table to open.",
    );
  });

  it("works without an action spec (shows the name and arguments)", async () => {
    const { el, model } = await waiting(waitingCall(), []);
    expect(get(el, "approval-action").textContent).toBe("delete_rows");
    expect(all(el, "approval-description")).toHaveLength(0);
    get(el, "approve-button").click();
    expect(decisions(model)).toEqual([{ kind: "approve", tool_call_id: "call_del" }]);
  });

  it("approves without edits: no arguments sent", async () => {
    const { el, model } = await waiting();
    // Reformatting (or reordering keys) is not an edit.
    type(get(el, "approval-arguments"), '{"limit": 5, "table": "users"}');
    get(el, "approve-button").click();
    expect(decisions(model)).toEqual([{ kind: "approve", tool_call_id: "call_del" }]);
  });

  it("approves edited arguments: sends the parsed object", async () => {
    const { el, model } = await waiting();
    type(get(el, "approval-arguments"), '{\n  "table": "users",\n  "limit": 7\n}');
    get(el, "approve-button").click();
    expect(decisions(model)).toEqual([
      { kind: "approve", tool_call_id: "call_del", arguments: { table: "users", limit: 7 } },
    ]);
  });

  it.each([
    ['{"table": "users", "limit": ', /not valid json/i],
    ["[1, 2]", /json object/i],
    ["null", /json object/i],
    ['"text"', /json object/i],
  ])("shows an inline error and disables Approve for %j", async (text, error) => {
    const { el, model } = await waiting();
    const textarea = get<HTMLTextAreaElement>(el, "approval-arguments");
    const approve = get<HTMLButtonElement>(el, "approve-button");
    type(textarea, text);
    const shown = get(el, "approval-error");
    expect(visible(shown)).toBe(true);
    expect(shown.textContent).toMatch(error);
    expect(textarea.getAttribute("aria-invalid")).toBe("true");
    expect(textarea.getAttribute("aria-describedby")).toBe(shown.id);
    expect(approve.disabled).toBe(true);
    approve.click();
    expect(decisions(model)).toEqual([]);
    // Reject still works.
    expect(get<HTMLButtonElement>(el, "reject-button").disabled).toBe(false);

    type(textarea, '{"table": "users", "limit": 1}');
    expect(visible(shown)).toBe(false);
    expect(approve.disabled).toBe(false);
  });

  it("rejects with a reason, from the keyboard too", async () => {
    const { el, model } = await waiting();
    get(el, "reject-button").click();
    const reason = get<HTMLInputElement>(el, "reject-reason");
    expect(visible(reason)).toBe(true);
    expect(document.activeElement).toBe(reason);
    expect(visible(get(el, "approve-button"))).toBe(false);
    type(reason, "  not on Fridays ");
    press(reason, "Enter");
    expect(decisions(model)).toEqual([
      { kind: "reject", tool_call_id: "call_del", reason: "not on Fridays" },
    ]);
  });

  it("rejects without a reason, and Cancel (or Escape) goes back", async () => {
    const { el, model } = await waiting();
    get(el, "reject-button").click();
    press(get(el, "reject-reason"), "Escape");
    expect(visible(get(el, "reject-reason"))).toBe(false);
    expect(document.activeElement).toBe(get(el, "reject-button"));
    get(el, "reject-button").click();
    get(el, "cancel-reject-button").click();
    expect(visible(get(el, "approve-button"))).toBe(true);
    expect(decisions(model)).toEqual([]);

    get(el, "reject-button").click();
    get(el, "confirm-reject-button").click();
    expect(decisions(model)).toEqual([{ kind: "reject", tool_call_id: "call_del" }]);
  });

  it("sends once on a double click, and works again when the kernel refuses", async () => {
    const { el, model, draft } = await waiting();
    const approve = get<HTMLButtonElement>(el, "approve-button");
    approve.focus();
    approve.click();
    approve.click();
    approve.dispatchEvent(new MouseEvent("click", { bubbles: true })); // even if not disabled
    expect(decisions(model)).toHaveLength(1);
    expect(model.last("approve").request_id).toEqual(expect.any(String));
    expect(approve.disabled).toBe(true);
    expect(approve.textContent).toBe("Approving…");
    expect(get<HTMLButtonElement>(el, "reject-button").disabled).toBe(true);
    expect(get<HTMLTextAreaElement>(el, "approval-arguments").readOnly).toBe(true);
    // The focus stays in the card rather than falling to the page.
    expect(get(el, "approval-card").contains(document.activeElement)).toBe(true);

    // Neither a delta nor a snapshot is an answer: only the reply is.
    model.receive({ kind: "delta", message_id: draft.id, text: " Waiting." });
    await snapshot(model, draft, waitingCall());
    expect(approve.disabled).toBe(true);
    await model.refuse("approve", "No tool call call_del is waiting for approval in this run.");
    expect(approve.disabled).toBe(false);
    expect(approve.textContent).toBe("Approve");
    expect(get<HTMLButtonElement>(el, "reject-button").disabled).toBe(false);
    const notice = cardNotice(el);
    expect(visible(notice)).toBe(true);
    expect(notice.getAttribute("role")).toBe("status");
    expect(notice.textContent).toBe("No tool call call_del is waiting for approval in this run.");
    // The keyboard focus is back on the button that was used.
    expect(document.activeElement).toBe(approve);

    approve.click();
    expect(decisions(model)).toHaveLength(2);
    expect(visible(notice)).toBe(false);
  });

  it("stays disabled once the kernel took the decision, until the call moves on", async () => {
    const { el, model, draft } = await waiting();
    const approve = get<HTMLButtonElement>(el, "approve-button");
    approve.click();
    await model.reply("approve");
    expect(approve.disabled).toBe(true);
    expect(visible(cardNotice(el))).toBe(false);
    await snapshot(model, draft, waitingCall({ status: "running" }));
    expect(all(el, "approval-card")).toHaveLength(0);
  });

  it("works again when a rejection is refused", async () => {
    const { el, model } = await waiting();
    get(el, "reject-button").click();
    type(get(el, "reject-reason"), "no");
    get(el, "confirm-reject-button").click();
    const confirm = get<HTMLButtonElement>(el, "confirm-reject-button");
    expect(confirm.disabled).toBe(true);
    expect(confirm.textContent).toBe("Rejecting…");
    await model.refuse("reject", "The run was cancelled.");
    expect(confirm.disabled).toBe(false);
    expect(get<HTMLInputElement>(el, "reject-reason").readOnly).toBe(false);
    expect(cardNotice(el).textContent).toBe("The run was cancelled.");
  });

  it("double Reject sends once", async () => {
    const { el, model } = await waiting();
    get(el, "reject-button").click();
    get(el, "confirm-reject-button").click();
    get(el, "confirm-reject-button").click();
    press(get(el, "reject-reason"), "Enter");
    expect(decisions(model)).toEqual([{ kind: "reject", tool_call_id: "call_del" }]);
  });

  it("stays usable when the kernel refuses the edited arguments", async () => {
    const { el, model } = await waiting();
    const textarea = get<HTMLTextAreaElement>(el, "approval-arguments");
    const approve = get<HTMLButtonElement>(el, "approve-button");
    type(textarea, '{"table": "users", "limit": "many"}');
    approve.click();
    expect(approve.disabled).toBe(true);
    // The `error` traitlet is not the answer (no guessing from later state)...
    model.set("error", { type: "server_error", message: "unrelated", retryable: true });
    expect(approve.disabled).toBe(true);
    // ...the reply is.
    const reason =
      "The edited arguments of 'delete_rows' are not valid: limit: Input should be a valid integer";
    await model.refuse("approve", reason);
    expect(approve.disabled).toBe(false);
    expect(textarea.readOnly).toBe(false);
    expect(cardNotice(el).textContent).toContain("limit");
    expect(textarea.value).toBe('{"table": "users", "limit": "many"}');
    // No dismiss_error first: each request gets its own answer.
    approve.click();
    expect(model.bodies.slice(-1).map((m) => m.kind)).toEqual(["approve"]);
    await model.refuse("approve", reason);

    // Editing clears the kernel's message.
    type(textarea, '{"table": "users", "limit": 3}');
    expect(visible(cardNotice(el))).toBe(false);
  });

  it("keeps what the user types across re-renders of the draft", async () => {
    const { el, model, draft } = await waiting();
    const card = get(el, "approval-card");
    const textarea = get<HTMLTextAreaElement>(el, "approval-arguments");
    type(textarea, '{"table": "users", "limit": 9');
    get(el, "reject-button").click();
    type(get(el, "reject-reason"), "half-typed");

    model.receive({ kind: "delta", message_id: draft.id, text: " More text." });
    await nextFrame();
    await snapshot(model, draft, waitingCall());
    await snapshot(model, draft, waitingCall({ arguments: '{"table":"users","limit":6}' }));
    // A second view comes and goes (Python answers its "ready" with a snapshot).
    const second = await mount(model);
    await second.cleanup();
    await snapshot(model, draft, waitingCall());

    expect(get(el, "approval-card")).toBe(card);
    expect(textarea.value).toBe('{"table": "users", "limit": 9');
    expect(get<HTMLInputElement>(el, "reject-reason").value).toBe("half-typed");
    expect(visible(get(el, "reject-reason"))).toBe(true);
    expect(get(el, "approval-error").textContent).toMatch(/not valid json/i);
  });

  it("follows Python's arguments while the user has not edited them", async () => {
    const { el, model, draft } = await waiting();
    await snapshot(model, draft, waitingCall({ arguments: '{"table":"orders","limit":1}' }));
    expect(get<HTMLTextAreaElement>(el, "approval-arguments").value).toBe(
      '{\n  "table": "orders",\n  "limit": 1\n}',
    );
    get(el, "approve-button").click();
    expect(decisions(model)).toEqual([{ kind: "approve", tool_call_id: "call_del" }]);
  });

  it("goes when the call's status changes, and the tool card follows", async () => {
    const { el, model, draft } = await waiting();
    const approve = get(el, "approve-button");
    approve.focus();
    approve.click();
    // jsdom cannot focus a <summary> (browsers can): watch the call instead.
    const summary = get(el, "tool-call").querySelector("summary");
    const focus = vi.spyOn(summary as HTMLElement, "focus");
    await snapshot(model, draft, waitingCall({ status: "running" }));
    expect(all(el, "approval-card")).toHaveLength(0);
    expect(get(el, "tool-call").dataset.status).toBe("running");
    // The keyboard focus (held by the card meanwhile) moves to the tool call.
    expect(focus).toHaveBeenCalled();

    const rejected = await waiting(waitingCall({ id: "call_2" }));
    get(rejected.el, "reject-button").click();
    get(rejected.el, "confirm-reject-button").click();
    await snapshot(
      rejected.model,
      rejected.draft,
      waitingCall({
        id: "call_2",
        status: "rejected",
        error: "Rejected",
        result: '{"error":"The user declined this action; it did not run."}',
      }),
    );
    expect(all(rejected.el, "approval-card")).toHaveLength(0);
    expect(get(rejected.el, "tool-call").dataset.status).toBe("rejected");
  });

  it("goes when the draft is finished, dropped, or the thread changes", async () => {
    const { el, model, draft } = await waiting();
    model.receive({ kind: "draft", message: null });
    await nextFrame();
    expect(all(el, "approval-card")).toHaveLength(0);

    model.receive({ kind: "draft", message: { ...draft, tool_calls: [waitingCall()] } });
    await nextFrame();
    expect(all(el, "approval-card")).toHaveLength(1);
    model.set("thread", { id: "thread_2", object: "thread", title: "", created_at: 0 });
    expect(all(el, "approval-card")).toHaveLength(0);
  });

  it("is shown by a view opened later, from the draft snapshot", async () => {
    const { model, el } = await waiting();
    type(get(el, "approval-arguments"), "{}"); // typing in one view stays in that view
    const later = await view(model);
    expect(model.bodies.filter((m) => m.kind === "ready")).toHaveLength(2);
    const textarea = get<HTMLTextAreaElement>(later, "approval-arguments");
    expect(textarea.value).toBe('{\n  "table": "users",\n  "limit": 5\n}');
    get(later, "approve-button").click();
    expect(decisions(model)).toEqual([{ kind: "approve", tool_call_id: "call_del" }]);
  });

  it("keeps hostile text inert", async () => {
    const hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>';
    const spec: ActionSpec = {
      ...DELETE_ROWS,
      name: hostile,
      description: `<b onmouseover="alert(3)">${hostile}</b>`,
      parameters: {
        type: "object",
        properties: { [hostile]: { type: "string", description: hostile } },
      },
    };
    const call = waitingCall({ name: hostile, arguments: JSON.stringify({ [hostile]: hostile }) });
    const { el } = await waiting(call, [spec]);
    const card = get(el, "approval-card");
    expect(card.querySelector("img, script, b, [onerror], [onmouseover]")).toBeNull();
    expect(get(el, "approval-action").textContent).toBe(hostile);
    expect(get(el, "approval-description").textContent).toContain("<b onmouseover");
    const textarea = get<HTMLTextAreaElement>(el, "approval-arguments");
    expect(JSON.parse(textarea.value)).toEqual({ [hostile]: hostile });
    expect(textarea.children).toHaveLength(0);
    expect(el.querySelector("img, script")).toBeNull();
  });

  it("keeps keystrokes away from the notebook's shortcuts", async () => {
    const { el } = await waiting();
    get(el, "reject-button").click();
    const seen = vi.fn();
    for (const t of ["keydown", "keypress", "keyup"]) document.addEventListener(t, seen);
    for (const testid of ["approval-arguments", "reject-reason"]) {
      for (const t of ["keydown", "keypress", "keyup"]) {
        get(el, testid).dispatchEvent(new KeyboardEvent(t, { key: "d", bubbles: true }));
      }
    }
    for (const t of ["keydown", "keypress", "keyup"]) document.removeEventListener(t, seen);
    expect(seen).not.toHaveBeenCalled();
  });
});

describe("composer while waiting for approval", () => {
  it("says the copilot waits for approval, and Stop still works", async () => {
    const { model, el } = await waiting();
    const reason = get(el, "composer-reason");
    expect(visible(reason)).toBe(true);
    expect(reason.textContent).toMatch(/waiting for your approval/i);
    expect(get<HTMLTextAreaElement>(el, "composer-input").disabled).toBe(false);
    expect(visible(get(el, "send-button"))).toBe(false);
    const stop = get<HTMLButtonElement>(el, "stop-button");
    expect(visible(stop)).toBe(true);
    stop.click();
    expect(model.bodies.at(-1)).toEqual({ kind: "cancel" });

    model.set("status", "working");
    expect(visible(reason)).toBe(false);
  });
});
