import { afterEach, describe, expect, it, vi } from "vitest";
import { all, FakeModel, get, message, nextFrame, unmountAll, view } from "./fake-model";
import { formatDate, MAX_QUERY_CHARS, SEARCH_DELAY_MS } from "./threads";
import type { Thread } from "./types";

afterEach(async () => {
  await unmountAll();
  vi.restoreAllMocks();
});

const visible = (node: HTMLElement) => !node.closest("[hidden]");

function press(target: HTMLElement, key: string, init: KeyboardEventInit = {}): KeyboardEvent {
  const event = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...init });
  target.dispatchEvent(event);
  return event;
}
/** What the thread controls sent (not "ready" and the like). */
const threadMessages = (model: FakeModel) => model.bodies.filter((m) => m.kind.endsWith("_thread"));

function thread(id: string, title: string): Thread {
  return { id, object: "thread", title, created_at: 1_700_000_000 };
}
const alpha = thread("thread_a", "Plotting the sales");
const beta = thread("thread_b", "");
const gamma = thread("thread_c", "Cleaning the data");

async function threeThreads(extra: ConstructorParameters<typeof FakeModel>[0] = {}) {
  const model = new FakeModel({ thread: alpha, threads: [alpha, beta, gamma], ...extra });
  const el = await view(model);
  return { model, el };
}

describe("thread picker", () => {
  it("lists the threads by title and selects the current one", async () => {
    const { el } = await threeThreads();
    const picker = get<HTMLSelectElement>(el, "thread-picker");
    expect(picker.tagName).toBe("SELECT");
    expect(picker.getAttribute("aria-label")).toBe("Conversation");
    expect(visible(picker)).toBe(true);
    expect([...picker.options].map((o) => [o.value, o.textContent])).toEqual([
      ["thread_a", "Plotting the sales"],
      ["thread_b", "New chat"],
      ["thread_c", "Cleaning the data"],
    ]);
    expect(picker.value).toBe("thread_a");
    expect(picker.selectedOptions[0].textContent).toBe("Plotting the sales");
    // Inside the root that keeps notebook shortcuts away.
    expect(picker.closest("[data-lm-suppress-shortcuts]")).not.toBeNull();
    expect(picker.closest("header")).not.toBeNull();
  });

  it("follows thread and threads as Python updates them", async () => {
    const { model, el } = await threeThreads();
    const picker = get<HTMLSelectElement>(el, "thread-picker");
    model.set("thread", beta);
    expect(picker.value).toBe("thread_b");
    const renamed = { ...gamma, title: "Tidy data" };
    model.set("threads", [renamed, beta, alpha]);
    expect([...picker.options].map((o) => o.textContent)).toEqual([
      "Tidy data",
      "New chat",
      "Plotting the sales",
    ]);
    expect(picker.value).toBe("thread_b");
  });

  it("shows the selected thread even when threads does not list it", async () => {
    const el = await view(new FakeModel({ thread: alpha, threads: [] }));
    const picker = get<HTMLSelectElement>(el, "thread-picker");
    expect([...picker.options].map((o) => o.textContent)).toEqual(["Plotting the sales"]);
    expect(picker.value).toBe("thread_a");
  });

  it("sends select_thread when another thread is chosen", async () => {
    const { model, el } = await threeThreads();
    const picker = get<HTMLSelectElement>(el, "thread-picker");
    picker.value = "thread_c";
    picker.dispatchEvent(new Event("change", { bubbles: true }));
    expect(threadMessages(model)).toEqual([{ kind: "select_thread", thread_id: "thread_c" }]);
    // Choosing the thread already shown sends nothing.
    picker.value = "thread_a";
    picker.dispatchEvent(new Event("change", { bubbles: true }));
    expect(threadMessages(model)).toHaveLength(1);
  });

  it("starts a new thread", async () => {
    const { model, el } = await threeThreads();
    const button = get<HTMLButtonElement>(el, "new-thread-button");
    expect(button.textContent).toBe("New chat");
    button.click();
    expect(threadMessages(model)).toEqual([{ kind: "new_thread" }]);
  });

  it("goes back to the selected thread and says why when the kernel refuses a switch", async () => {
    const { model, el } = await threeThreads();
    const picker = get<HTMLSelectElement>(el, "thread-picker");
    picker.value = "thread_c";
    picker.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.last("select_thread").request_id).toEqual(expect.any(String));
    await model.refuse("select_thread", "No thread thread_c in this scope.");
    expect(picker.value).toBe("thread_a");
    const notice = get(get(el, "copilot-root").querySelector("header") as HTMLElement, "refusal-notice");
    expect(visible(notice)).toBe(true);
    expect(notice.getAttribute("role")).toBe("status");
    expect(notice.textContent).toBe("No thread thread_c in this scope.");

    // The next change clears it.
    get(el, "new-thread-button").click();
    expect(visible(notice)).toBe(false);
    await model.refuse("new_thread", "The store is read-only.");
    expect(notice.textContent).toBe("The store is read-only.");
    model.set("thread", gamma);
    expect(visible(notice)).toBe(false);
  });
});

describe("renaming a thread", () => {
  async function startRename() {
    const { model, el } = await threeThreads();
    get(el, "rename-thread-button").click();
    const input = get<HTMLInputElement>(el, "rename-thread-input");
    return { model, el, input };
  }

  it("swaps the title for a focused input; Enter sends the trimmed title", async () => {
    const { model, el, input } = await startRename();
    expect(visible(input)).toBe(true);
    expect(visible(get(el, "thread-picker"))).toBe(false);
    expect(document.activeElement).toBe(input);
    expect(input.value).toBe("Plotting the sales");
    expect(input.getAttribute("aria-label")).toBeTruthy();

    input.value = "  Sales by region  ";
    const event = press(input, "Enter");
    expect(event.defaultPrevented).toBe(true);
    expect(threadMessages(model)).toEqual([
      { kind: "rename_thread", thread_id: "thread_a", title: "Sales by region" },
    ]);
    expect(visible(input)).toBe(false);
    expect(visible(get(el, "thread-picker"))).toBe(true);
    // The focus goes back where it came from, and the blur of the input did not send again.
    expect(document.activeElement).toBe(get(el, "rename-thread-button"));
    expect(threadMessages(model)).toHaveLength(1);
  });

  it("cancels on Escape", async () => {
    const { model, el, input } = await startRename();
    input.value = "Something else";
    press(input, "Escape");
    expect(visible(input)).toBe(false);
    expect(document.activeElement).toBe(get(el, "rename-thread-button"));
    expect(threadMessages(model)).toEqual([]);
  });

  it("saves on blur", async () => {
    const { model, input } = await startRename();
    input.value = "Blurred title";
    input.blur();
    expect(threadMessages(model)).toEqual([
      { kind: "rename_thread", thread_id: "thread_a", title: "Blurred title" },
    ]);
    expect(visible(input)).toBe(false);
  });

  it.each([
    ["empty", "   "],
    ["unchanged", " Plotting the sales "],
  ])("ignores an %s title", async (_, title) => {
    const { model, input } = await startRename();
    input.value = title;
    press(input, "Enter");
    expect(threadMessages(model)).toEqual([]);
    expect(visible(input)).toBe(false);
  });

  it("renames a title-less thread starting from an empty input", async () => {
    const model = new FakeModel({ thread: beta, threads: [beta] });
    const el = await view(model);
    get(el, "rename-thread-button").click();
    const input = get<HTMLInputElement>(el, "rename-thread-input");
    expect(input.value).toBe("");
    input.value = "Named at last";
    press(input, "Enter");
    expect(threadMessages(model)).toEqual([
      { kind: "rename_thread", thread_id: "thread_b", title: "Named at last" },
    ]);
  });

  it("keeps keystrokes in the input away from the notebook's shortcuts", async () => {
    const { input } = await startRename();
    const seen = vi.fn();
    for (const type of ["keydown", "keypress", "keyup"]) document.addEventListener(type, seen);
    for (const type of ["keydown", "keypress", "keyup"]) {
      input.dispatchEvent(new KeyboardEvent(type, { key: "d", bubbles: true }));
    }
    press(input, "Escape");
    for (const type of ["keydown", "keypress", "keyup"]) document.removeEventListener(type, seen);
    expect(seen).not.toHaveBeenCalled();
  });

  it("drops the rename if another thread gets selected meanwhile", async () => {
    const { model, el, input } = await startRename();
    input.value = "Meant for alpha";
    model.set("thread", gamma);
    expect(visible(input)).toBe(false);
    expect(get<HTMLSelectElement>(el, "thread-picker").value).toBe("thread_c");
    input.blur();
    expect(threadMessages(model)).toEqual([]);
  });
});

describe("deleting a thread", () => {
  it("asks inline first; confirming sends delete_thread for the selected thread", async () => {
    const confirm = vi.spyOn(window, "confirm").mockReturnValue(true);
    const { model, el } = await threeThreads();
    const question = get(el, "delete-thread-confirmation");
    expect(visible(question)).toBe(false);

    get(el, "delete-thread-button").click();
    expect(threadMessages(model)).toEqual([]);
    expect(visible(question)).toBe(true);
    expect(question.textContent).toContain("Delete this conversation?");
    expect(visible(get(el, "delete-thread-button"))).toBe(false);
    // The safe answer has the focus.
    expect(document.activeElement).toBe(get(el, "cancel-delete-button"));

    get(el, "confirm-delete-button").click();
    expect(threadMessages(model)).toEqual([{ kind: "delete_thread", thread_id: "thread_a" }]);
    expect(visible(question)).toBe(false);
    expect(visible(get(el, "delete-thread-button"))).toBe(true);
    expect(confirm).not.toHaveBeenCalled();
  });

  it("sends nothing when cancelled (button or Escape)", async () => {
    const { model, el } = await threeThreads();
    const question = get(el, "delete-thread-confirmation");
    get(el, "delete-thread-button").click();
    get(el, "cancel-delete-button").click();
    expect(visible(question)).toBe(false);
    expect(document.activeElement).toBe(get(el, "delete-thread-button"));

    get(el, "delete-thread-button").click();
    press(get(el, "confirm-delete-button"), "Escape");
    expect(visible(question)).toBe(false);
    expect(threadMessages(model)).toEqual([]);
  });
});

describe("while the copilot works", () => {
  const controls = ["thread-picker", "new-thread-button", "rename-thread-button", "delete-thread-button"];

  it("disables the thread controls and says why", async () => {
    const { model, el } = await threeThreads();
    const elements = controls.map((id) => get<HTMLSelectElement | HTMLButtonElement>(el, id));
    expect(elements.map((e) => e.disabled)).toEqual([false, false, false, false]);

    for (const status of ["working", "cancelling", "requires_action"] as const) {
      model.set("status", status);
      expect(elements.map((e) => e.disabled)).toEqual([true, true, true, true]);
      for (const e of elements) expect(e.title).toMatch(/finish/i);
    }
    // Nothing is sent from a disabled control, even if an event gets through.
    get<HTMLButtonElement>(el, "new-thread-button").dispatchEvent(new MouseEvent("click"));
    const picker = get<HTMLSelectElement>(el, "thread-picker");
    picker.value = "thread_b";
    picker.dispatchEvent(new Event("change"));
    expect(threadMessages(model)).toEqual([]);

    model.set("status", "idle");
    expect(elements.map((e) => e.disabled)).toEqual([false, false, false, false]);
    expect(picker.value).toBe("thread_a");
    for (const e of elements) expect(e.title).not.toMatch(/finish/i);
  });

  it("drops a rename or a deletion in progress when a run starts", async () => {
    const { model, el } = await threeThreads();
    get(el, "rename-thread-button").click();
    const input = get<HTMLInputElement>(el, "rename-thread-input");
    input.value = "Too late";
    model.set("status", "working");
    expect(visible(input)).toBe(false);
    input.blur();
    model.set("status", "idle");

    get(el, "delete-thread-button").click();
    model.set("status", "working");
    expect(visible(get(el, "delete-thread-confirmation"))).toBe(false);
    get(el, "confirm-delete-button").click();
    expect(threadMessages(model)).toEqual([]);
  });
});

describe("switching threads", () => {
  /** A view on thread alpha with two messages and a draft on screen. */
  async function midConversation() {
    const a1 = message("user", "Plot sales", { thread_id: alpha.id });
    const a2 = message("assistant", "Here is the plot", { thread_id: alpha.id });
    const model = new FakeModel({ thread: alpha, threads: [alpha, gamma], messages: [a1, a2] });
    const el = await view(model);
    model.receive({
      kind: "draft",
      message: message("assistant", "still typing", { thread_id: alpha.id, status: "in_progress" }),
    });
    await nextFrame();
    expect(all(el, "message")).toHaveLength(2);
    expect(all(el, "draft")).toHaveLength(1);
    const c1 = message("user", "Drop the empty rows", { thread_id: gamma.id });
    return { model, el, old: [a1, a2], c1 };
  }
  const shownIds = (el: HTMLElement) => all(el, "message").map((m) => m.dataset.messageId);

  it("replaces the list at once, before any frame (thread first)", async () => {
    const { model, el, old, c1 } = await midConversation();
    model.set("thread", gamma);
    // Python's one sync may deliver `thread` first: the old messages go with it.
    for (const m of old) expect(el.querySelector(`[data-message-id="${m.id}"]`)).toBeNull();
    expect(all(el, "draft")).toHaveLength(0);

    model.set("threads", [gamma, alpha]);
    model.set("messages", [c1]);
    expect(shownIds(el)).toEqual([c1.id]);
    expect(all(el, "draft")).toHaveLength(0);
    expect(el.textContent).not.toContain("Here is the plot");
    expect(el.textContent).not.toContain("still typing");
    expect(get<HTMLSelectElement>(el, "thread-picker").value).toBe("thread_c");
    await nextFrame();
    expect(all(el, "draft")).toHaveLength(0);
    expect(shownIds(el)).toEqual([c1.id]);
  });

  it("replaces the list at once, before any frame (messages first)", async () => {
    const { model, el, c1 } = await midConversation();
    model.set("messages", [c1]);
    model.set("thread", gamma);
    expect(shownIds(el)).toEqual([c1.id]);
    expect(all(el, "draft")).toHaveLength(0);
    await nextFrame();
    expect(all(el, "draft")).toHaveLength(0);
  });

  it("shows the empty state for a new thread", async () => {
    const { model, el } = await midConversation();
    const fresh = thread("thread_new", "");
    model.set("thread", fresh);
    model.set("threads", [fresh, alpha, gamma]);
    model.set("messages", []);
    expect(all(el, "message")).toHaveLength(0);
    expect(all(el, "draft")).toHaveLength(0);
    expect(visible(el.querySelector<HTMLElement>(".cw-empty") as HTMLElement)).toBe(true);
    expect(get<HTMLSelectElement>(el, "thread-picker").selectedOptions[0].textContent).toBe("New chat");
  });

  it("keeps the draft when the selected thread is only renamed", async () => {
    const { model, el } = await midConversation();
    model.set("thread", { ...alpha, title: "Sales plot" });
    await nextFrame();
    expect(all(el, "draft")).toHaveLength(1);
    expect(all(el, "message")).toHaveLength(2);
  });

  it("clears the draft of a second view too, and of one rendered after the switch", async () => {
    const { model, el, c1 } = await midConversation();
    const second = await view(model);
    expect(all(second, "draft")).toHaveLength(1);
    model.set("thread", gamma);
    model.set("messages", [c1]);
    expect(all(el, "draft")).toHaveLength(0);
    expect(all(second, "draft")).toHaveLength(0);
    const third = await view(model);
    expect(all(third, "draft")).toHaveLength(0);
    expect(shownIds(third)).toEqual([c1.id]);
  });
});

describe("storage warning", () => {
  const sentence = "The store file /tmp/x.db could not be opened. Conversations are kept in memory only.";

  it("shows a badge only when conversations are not being saved", async () => {
    const model = new FakeModel();
    const el = await view(model);
    const badge = get(el, "store-warning");
    expect(visible(badge)).toBe(false);

    model.set("store_warning", sentence);
    expect(visible(badge)).toBe(true);
    expect(badge.title).toBe(sentence);
    expect(badge.textContent).toContain("Not saved");
    // The full sentence is there for screen readers, visually hidden.
    const hidden = badge.querySelector<HTMLElement>(".cw-visually-hidden");
    expect(hidden?.textContent).toContain(sentence);

    model.set("store_warning", "");
    expect(visible(badge)).toBe(false);
    model.set("store_warning", sentence);
    model.set("store_warning", null);
    expect(visible(badge)).toBe(false);
  });

  it("shows the badge from the first render", async () => {
    const el = await view(new FakeModel({ store_warning: sentence }));
    expect(visible(get(el, "store-warning"))).toBe(true);
  });
});

describe("history: dates, previews, search and export", () => {
  const now = new Date(2026, 11, 3, 15, 30); // 3 Dec 2026, 15:30 local time
  const at = (year: number, month: number, day: number, hour = 12, minute = 0) =>
    new Date(year, month, day, hour, minute).getTime() / 1000;
  const listedAlpha = { ...alpha, updated_at: at(2026, 11, 3, 14, 2), preview: "Here is the plot" };
  const listedGamma = { ...gamma, updated_at: at(2026, 11, 2), preview: "Dropped 3 rows" };

  /** Answers the last request of `kind` with `result`; resolves once the UI has handled it. */
  async function answer(model: FakeModel, kind: "search_threads" | "export_thread", result: unknown) {
    model.receive({ kind: "reply", request_id: model.last(kind).request_id, ok: true, error: null, result });
    await new Promise((resolve) => setTimeout(resolve, 0));
  }

  async function openHistory(extra: ConstructorParameters<typeof FakeModel>[0] = {}) {
    const model = new FakeModel({ thread: alpha, threads: [listedAlpha, listedGamma], ...extra });
    const el = await view(model);
    const toggle = get<HTMLButtonElement>(el, "thread-history-button");
    toggle.click();
    return {
      model,
      el,
      toggle,
      panel: get(el, "thread-history"),
      search: get<HTMLInputElement>(el, "thread-search"),
    };
  }
  const items = (el: HTMLElement) => all(el, "thread-item") as HTMLButtonElement[];

  it("formats dates short: the time today, Yesterday, the day this year, the year before", () => {
    expect(formatDate(at(2026, 11, 3, 14, 2), now)).toBe("14:02");
    expect(formatDate(at(2026, 11, 3, 0, 5), now)).toBe("00:05");
    expect(formatDate(at(2026, 11, 2, 23, 59), now)).toBe("Yesterday");
    expect(formatDate(at(2026, 10, 28), now)).toBe("28 Nov");
    expect(formatDate(at(2025, 11, 3), now)).toBe("3 Dec 2025");
  });

  it("lists every thread with its date and preview; the selected one is marked", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now });
    const { el, toggle, panel, search } = await openHistory();
    vi.useRealTimers();
    expect(visible(panel)).toBe(true);
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    expect(toggle.getAttribute("aria-controls")).toBe(panel.id);
    expect(document.activeElement).toBe(search);
    expect(search.maxLength).toBe(MAX_QUERY_CHARS);
    const shown = items(el).map((item) => [
      get(item, "thread-item-title").textContent,
      get(item, "thread-item-date").textContent,
      get(item, "thread-item-preview").textContent,
      item.getAttribute("aria-current"),
    ]);
    expect(shown).toEqual([
      ["Plotting the sales", "14:02", "Here is the plot", "true"],
      ["Cleaning the data", "Yesterday", "Dropped 3 rows", null],
    ]);
    const date = get(items(el)[0], "thread-item-date");
    expect(date.getAttribute("datetime")).toBe(new Date(listedAlpha.updated_at * 1000).toISOString());
  });

  it("opens the thread chosen, and closes", async () => {
    const { model, el, toggle, panel } = await openHistory();
    items(el)[1].click();
    expect(threadMessages(model)).toEqual([{ kind: "select_thread", thread_id: "thread_c" }]);
    expect(visible(panel)).toBe(false);
    expect(toggle.getAttribute("aria-expanded")).toBe("false");
    // Choosing the selected thread only closes.
    toggle.click();
    items(el)[0].click();
    expect(threadMessages(model)).toHaveLength(1);
    expect(visible(panel)).toBe(false);
  });

  it("closes on Escape (focus back on History), on a second click and on a click outside", async () => {
    const { el, toggle, panel, search } = await openHistory();
    press(search, "Escape");
    expect(visible(panel)).toBe(false);
    expect(document.activeElement).toBe(toggle);
    toggle.click();
    expect(visible(panel)).toBe(true);
    toggle.click();
    expect(visible(panel)).toBe(false);
    toggle.click();
    get(el, "message-list").dispatchEvent(new Event("pointerdown", { bubbles: true }));
    expect(visible(panel)).toBe(false);
  });

  it("searches as the user types, once typing pauses, and shows snippets as text", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { model, el, search } = await openHistory();
    for (const typed of ["p", "pl", "plot"]) {
      search.value = typed;
      search.dispatchEvent(new Event("input"));
    }
    expect(model.bodies.filter((b) => b.kind === "search_threads")).toEqual([]);
    vi.advanceTimersByTime(SEARCH_DELAY_MS);
    vi.useRealTimers();
    expect(model.bodies.filter((b) => b.kind === "search_threads")).toEqual([
      { kind: "search_threads", query: "plot" },
    ]);
    const hostile = '<img src=x onerror="window.hacked=1">a PLOT of <b>sales</b>';
    await answer(model, "search_threads", [{ ...listedGamma, snippet: hostile }]);
    const [item] = items(el);
    expect(item.dataset.threadId).toBe("thread_c");
    const snippet = get(item, "thread-item-snippet");
    expect(snippet.textContent).toBe(hostile);
    expect(snippet.querySelector("img, b")).toBeNull();
    expect([...snippet.querySelectorAll("mark")].map((m) => m.textContent)).toEqual(["PLOT"]);
    item.click();
    expect(threadMessages(model)).toEqual([{ kind: "select_thread", thread_id: "thread_c" }]);
  });

  it("says when nothing matches, drops late replies, and lists everything again when cleared", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { model, el, search } = await openHistory();
    const type = (text: string) => {
      search.value = text;
      search.dispatchEvent(new Event("input"));
      vi.advanceTimersByTime(SEARCH_DELAY_MS);
    };
    type("zebra");
    const first = model.last("search_threads").request_id;
    type("zebras");
    vi.useRealTimers();
    await answer(model, "search_threads", []);
    expect(get(el, "thread-search-status").textContent).toBe("No conversation matches “zebras”.");
    expect(items(el)).toHaveLength(0);
    // The reply to the older query comes last: it is not shown.
    model.receive({
      kind: "reply",
      request_id: first,
      ok: true,
      error: null,
      result: [{ ...alpha, snippet: "x" }],
    });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(items(el)).toHaveLength(0);
    search.value = "  ";
    search.dispatchEvent(new Event("input"));
    expect(items(el).map((item) => item.dataset.threadId)).toEqual(["thread_a", "thread_c"]);
  });

  it("shows why a search was refused", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { model, el, search } = await openHistory();
    search.value = "plot";
    search.dispatchEvent(new Event("input"));
    vi.advanceTimersByTime(SEARCH_DELAY_MS);
    vi.useRealTimers();
    await model.refuse("search_threads", "The store is busy.");
    expect(get(el, "refusal-notice").textContent).toBe("The store is busy.");
    expect(get(el, "thread-search-status").textContent).toBe("The search failed.");
  });

  it("stays usable during a run, but opens no thread then", async () => {
    const { model, el } = await openHistory();
    model.set("status", "working");
    expect(get<HTMLButtonElement>(el, "thread-history-button").disabled).toBe(false);
    expect(items(el).every((item) => item.disabled && /finish/i.test(item.title))).toBe(true);
    items(el)[1].dispatchEvent(new MouseEvent("click"));
    expect(threadMessages(model)).toEqual([]);
  });

  it("exports the selected thread as a file the browser downloads", async () => {
    const createObjectURL = vi.fn((_: Blob) => "blob:exported");
    const revokeObjectURL = vi.fn();
    Object.assign(URL, { createObjectURL, revokeObjectURL });
    const clicked: HTMLAnchorElement[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(this);
    });
    const { model, el } = await openHistory();
    get(el, "export-markdown-button").click();
    expect(threadMessages(model)).toEqual([
      { kind: "export_thread", thread_id: "thread_a", format: "markdown" },
    ]);
    await answer(model, "export_thread", {
      filename: "Plotting-the-sales.md",
      mime: "text/markdown",
      text: "# Hi",
    });
    expect(clicked.map((a) => [a.download, a.href])).toEqual([["Plotting-the-sales.md", "blob:exported"]]);
    expect(clicked[0].isConnected).toBe(false);
    const blob = createObjectURL.mock.calls[0][0];
    expect(blob.type).toBe("text/markdown;charset=utf-8");
    expect(await blob.text()).toBe("# Hi");

    // The kernel's mime type is used only when it is one of the export's.
    get(el, "export-json-button").click();
    expect(model.last("export_thread").format).toBe("json");
    await answer(model, "export_thread", { filename: "x.json", mime: "text/html", text: "{}" });
    expect(createObjectURL.mock.calls[1][0].type).toBe("text/plain;charset=utf-8");

    get(el, "export-json-button").click();
    await model.refuse("export_thread", "No thread 'thread_a' in this scope.");
    expect(get(el, "refusal-notice").textContent).toBe("No thread 'thread_a' in this scope.");
    expect(clicked).toHaveLength(2);
  });
});
