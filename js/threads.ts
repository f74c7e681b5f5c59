// The thread picker in the header: switch, start, rename (inline) and delete (with an inline
// confirmation) conversations; History lists them with their dates and previews, searches them
// and exports the selected one. The kernel owns the threads: every control only sends a request,
// and the picker follows `thread` / `threads` as the kernel updates them. A refused request says
// why in the picker's notice.
import { button, h } from "./dom";
import { RefusalNotice } from "./panels";
import type { Reply, RequestBody, Requester } from "./protocol";
import type { Thread } from "./types";

/** A thread that matches a search (the reply's `result` is a list of them): as listed, with the
 * text around the first match. */
export interface ThreadMatch extends Thread {
  snippet: string;
}

/** An exported thread (the reply's `result`): a file for the browser to save. */
export interface ExportedThread {
  filename: string;
  mime: string;
  text: string;
}

/** The longest query the kernel accepts. */
export const MAX_QUERY_CHARS = 200;
/** How long typing pauses before the search is sent. */
export const SEARCH_DELAY_MS = 250;
const EXPORT_FORMATS = [
  ["markdown", "Export as Markdown"],
  ["json", "Export as JSON"],
] as const;
/** The only types a saved file gets (the kernel's word is not taken for anything else). */
const EXPORT_MIME_TYPES = ["text/markdown", "application/json"];

export interface ThreadControlsState {
  /** The selected thread. */
  thread: Thread;
  /** The threads in scope, most recently active first. */
  threads: readonly Thread[];
  /** Why conversations cannot be changed now (a run is going on...); null when they can. */
  disabledReason: string | null;
}

/** What a thread is called in the picker. */
export function threadLabel(thread: Thread): string {
  return thread.title?.trim() || "New chat";
}

type Mode = "pick" | "rename" | "confirm-delete";

export class ThreadControls {
  readonly el: HTMLElement;
  readonly picker = h("select", {
    class: "cw-thread-picker",
    "data-testid": "thread-picker",
    "aria-label": "Conversation",
  });
  readonly renameInput = h("input", {
    type: "text",
    class: "cw-thread-rename",
    "data-testid": "rename-thread-input",
    "aria-label": "Conversation title",
    placeholder: "New chat",
    enterkeyhint: "done",
    autocomplete: "off",
    hidden: true,
  });
  readonly newButton = button("New chat", "new-thread-button", "cw-thread-button");
  readonly renameButton = button("Rename", "rename-thread-button", "cw-thread-button");
  readonly deleteButton = button("Delete", "delete-thread-button", "cw-thread-button");
  readonly confirmButton = button("Delete", "confirm-delete-button", "cw-thread-button cw-danger");
  readonly cancelButton = button("Cancel", "cancel-delete-button", "cw-thread-button");
  readonly historyButton = button("History", "thread-history-button", "cw-thread-button", {
    "aria-expanded": "false",
  });
  /** Why the kernel refused the last change; the view places it (under the header). */
  readonly notice = new RefusalNotice();
  readonly history: ThreadHistory;
  #buttons = h(
    "div",
    { class: "cw-thread-buttons" },
    this.newButton,
    this.renameButton,
    this.deleteButton,
    this.historyButton,
  );
  #confirm: HTMLElement;
  #state: ThreadControlsState | null = null;
  #optionsKey = "";
  #mode: Mode = "pick";
  /** The thread being renamed (or deleted): the one selected when the user started. */
  #target: Thread | null = null;

  constructor(request: Requester) {
    const send = (body: RequestBody) => {
      this.notice.clear();
      void request(body).then((reply) => {
        if (reply.ok) return;
        this.notice.show(reply);
        this.#render(); // the picker goes back to the selected thread
      });
    };
    const questionId = `cw-delete-question-${Math.random().toString(36).slice(2)}`;
    this.#confirm = h(
      "div",
      {
        class: "cw-thread-confirm",
        "data-testid": "delete-thread-confirmation",
        role: "group",
        "aria-labelledby": questionId,
        hidden: true,
      },
      h("span", { class: "cw-thread-confirm-text", id: questionId }, "Delete this conversation?"),
      this.confirmButton,
      this.cancelButton,
    );
    this.history = new ThreadHistory(request, {
      select: (thread) => {
        const state = this.#state;
        if (!this.#enabled || state === null) return;
        this.history.close();
        this.picker.focus();
        if (thread.id !== state.thread.id) send({ kind: "select_thread", thread_id: thread.id });
      },
      refused: (reply) => this.notice.show(reply),
      clearNotice: () => this.notice.clear(),
      closed: (returnFocus) => {
        this.historyButton.setAttribute("aria-expanded", "false");
        if (returnFocus) this.historyButton.focus();
      },
    });
    this.historyButton.setAttribute("aria-controls", this.history.el.id);
    this.el = h(
      "div",
      { class: "cw-threads", role: "group", "aria-label": "Conversations" },
      this.picker,
      this.renameInput,
      this.#buttons,
      this.#confirm,
      this.history.el,
    );
    this.historyButton.addEventListener("click", () => {
      if (this.#state === null) return;
      if (this.history.isOpen) {
        this.history.close(true);
        return;
      }
      this.history.open();
      this.historyButton.setAttribute("aria-expanded", "true");
    });

    this.picker.addEventListener("change", () => {
      const id = this.picker.value;
      if (!this.#enabled || id === "" || id === this.#state?.thread.id) return;
      send({ kind: "select_thread", thread_id: id });
    });
    this.newButton.addEventListener("click", () => {
      if (this.#enabled) send({ kind: "new_thread" });
    });

    this.renameButton.addEventListener("click", () => this.#startRename());
    const commitRename = () => {
      const target = this.#target;
      if (this.#mode !== "rename" || target === null) return;
      const title = this.renameInput.value.trim();
      this.#setMode("pick");
      if (this.#enabled && title !== "" && title !== target.title) {
        send({ kind: "rename_thread", thread_id: target.id, title });
      }
    };
    this.renameInput.addEventListener("keydown", (event) => {
      if (event.isComposing) return;
      if (event.key === "Enter") {
        event.preventDefault();
        commitRename();
        this.renameButton.focus();
      } else if (event.key === "Escape") {
        event.preventDefault();
        this.#setMode("pick"); // before the focus moves, so the blur does not save
        this.renameButton.focus();
      }
    });
    // Clicking or tabbing away saves, like most inline editors.
    this.renameInput.addEventListener("blur", commitRename);

    this.deleteButton.addEventListener("click", () => {
      if (!this.#enabled || this.#state === null) return;
      this.#target = this.#state.thread;
      this.#setMode("confirm-delete");
      this.cancelButton.focus(); // the safe choice is the default one
    });
    this.confirmButton.addEventListener("click", () => {
      const target = this.#target;
      if (this.#mode !== "confirm-delete" || target === null) return;
      this.#setMode("pick");
      if (this.#enabled) send({ kind: "delete_thread", thread_id: target.id });
      this.picker.focus();
    });
    this.cancelButton.addEventListener("click", () => {
      this.#setMode("pick");
      this.deleteButton.focus();
    });
    this.#confirm.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      this.#setMode("pick");
      this.deleteButton.focus();
    });

    // Keys used here (typing a title, Escape, arrows in the picker) are for the widget, not the
    // notebook: keep them away from JupyterLab's document-level shortcut handler (and any other
    // host's), like the composer does.
    for (const type of ["keydown", "keypress", "keyup"] as const) {
      this.el.addEventListener(type, (event) => event.stopPropagation());
    }
    this.#render();
  }

  update(state: ThreadControlsState): void {
    const switched = this.#state !== null && this.#state.thread.id !== state.thread.id;
    this.#state = state;
    if (switched) this.notice.clear();
    // A rename or a deletion is about the thread selected when it started: if another thread
    // got selected meanwhile (another view, Python), or changing threads is not possible any
    // more, it is dropped rather than applied to something else.
    if (this.#mode !== "pick" && (switched || state.disabledReason !== null)) {
      const hadFocus = this.el.contains(document.activeElement);
      this.#setMode("pick");
      if (hadFocus && !this.picker.disabled) this.picker.focus();
    }
    this.#render();
  }

  get #enabled(): boolean {
    return this.#state !== null && this.#state.disabledReason === null;
  }

  #startRename(): void {
    if (!this.#enabled || this.#state === null) return;
    this.#target = this.#state.thread;
    this.renameInput.value = this.#target.title ?? "";
    this.#setMode("rename");
    this.renameInput.focus();
    this.renameInput.select();
  }

  #setMode(mode: Mode): void {
    this.#mode = mode;
    if (mode === "pick") this.#target = null;
    else this.history.close();
    this.#render();
  }

  #render(): void {
    const state = this.#state;
    const threads = state === null ? [] : listed(state);
    // Rebuilt only when the list changes, so an open dropdown is not closed by other updates.
    const key = JSON.stringify(threads.map((t) => [t.id, threadLabel(t)]));
    if (key !== this.#optionsKey) {
      this.#optionsKey = key;
      this.picker.replaceChildren(
        ...threads.map((thread) => {
          const label = threadLabel(thread);
          return h("option", { value: thread.id, title: label }, label);
        }),
      );
    }
    if (state !== null) this.picker.value = state.thread.id;

    const mode = this.#mode;
    this.picker.hidden = mode === "rename";
    this.renameInput.hidden = mode !== "rename";
    this.#buttons.hidden = mode !== "pick";
    this.#confirm.hidden = mode !== "confirm-delete";

    const reason = state?.disabledReason ?? null;
    const disabled = reason !== null || state === null;
    this.picker.disabled = disabled || mode === "confirm-delete";
    this.newButton.disabled = disabled;
    this.renameButton.disabled = disabled;
    this.deleteButton.disabled = disabled;
    // Listing, searching and exporting change nothing: they work during a run too.
    this.historyButton.disabled = state === null;
    if (state !== null) this.history.update(state);
    // Disabled controls say why in their tooltip; enabled ones what they do.
    const current = state === null ? "" : threadLabel(state.thread);
    this.picker.title = reason ?? current;
    this.newButton.title = reason ?? "Start a new conversation";
    this.renameButton.title = reason ?? "Rename this conversation";
    this.deleteButton.title = reason ?? "Delete this conversation";
    this.historyButton.title = "Find, open and export conversations";
  }
}

interface HistoryActions {
  /** The user chose a thread to open. */
  select(thread: Thread): void;
  /** The kernel refused a search or an export. */
  refused(reply: Reply): void;
  clearNotice(): void;
  /** The panel closed; `returnFocus`: give the focus back to the button that opens it. */
  closed(returnFocus: boolean): void;
}

/** History: the threads with their dates and previews (or, while a query is typed, the threads
 * that match it, with the text around the match), and the selected thread's export. Everything
 * from the kernel is shown as text. */
export class ThreadHistory {
  readonly el: HTMLElement;
  readonly search = h("input", {
    type: "search",
    class: "cw-thread-search",
    "data-testid": "thread-search",
    "aria-label": "Search conversations",
    placeholder: "Search conversations",
    maxlength: String(MAX_QUERY_CHARS),
    autocomplete: "off",
    enterkeyhint: "search",
  });
  readonly list = h("ul", { class: "cw-thread-list", "data-testid": "thread-list" });
  readonly status = h("p", {
    class: "cw-thread-status",
    "data-testid": "thread-search-status",
    role: "status",
  });
  readonly exportButtons = EXPORT_FORMATS.map(([format, label]) =>
    button(label, `export-${format}-button`, "cw-thread-button", { "data-format": format }),
  );
  #request: Requester;
  #actions: HistoryActions;
  #state: ThreadControlsState | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** The query the list shows matches of ("" : every thread). */
  #shown = "";
  /** Counts searches, so that a late reply to an older query is dropped. */
  #searches = 0;
  #listKey = "";
  #outside = (event: Event) => {
    if (!this.el.isConnected) document.removeEventListener("pointerdown", this.#outside, true);
    else if (event.target instanceof Node && !this.el.parentElement?.contains(event.target)) this.close();
  };

  constructor(request: Requester, actions: HistoryActions) {
    this.#request = request;
    this.#actions = actions;
    this.el = h(
      "div",
      {
        class: "cw-thread-panel",
        "data-testid": "thread-history",
        id: `cw-thread-history-${Math.random().toString(36).slice(2)}`,
        role: "dialog",
        "aria-label": "Conversations",
        // Clicks on the panel's text keep the focus in the panel.
        tabindex: "-1",
        hidden: true,
      },
      this.search,
      this.status,
      this.list,
      h(
        "div",
        { class: "cw-thread-exports", role: "group", "aria-label": "Export this conversation" },
        ...this.exportButtons,
      ),
    );
    this.search.addEventListener("input", () => this.#queryChanged());
    this.search.addEventListener("keydown", (event) => {
      if (event.isComposing) return;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        this.#items()[0]?.focus();
      } else if (event.key === "Enter") {
        event.preventDefault();
        this.#items()[0]?.click();
      }
    });
    this.list.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
      event.preventDefault();
      const items = this.#items();
      const at = items.indexOf(document.activeElement as HTMLButtonElement);
      const next = at + (event.key === "ArrowDown" ? 1 : -1);
      if (next < 0) this.search.focus();
      else items[Math.min(next, items.length - 1)]?.focus();
    });
    this.el.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      this.close(true);
    });
    for (const exportButton of this.exportButtons) {
      exportButton.addEventListener("click", () => this.#export(exportButton.dataset.format ?? ""));
    }
  }

  get isOpen(): boolean {
    return !this.el.hidden;
  }

  open(): void {
    this.el.hidden = false;
    this.#render();
    this.search.focus();
    document.addEventListener("pointerdown", this.#outside, true);
  }

  /** Hides the panel; the query is kept for the next time. */
  close(returnFocus = false): void {
    if (!this.isOpen) return;
    this.el.hidden = true;
    document.removeEventListener("pointerdown", this.#outside, true);
    this.#actions.closed(returnFocus);
  }

  update(state: ThreadControlsState): void {
    this.#state = state;
    if (this.isOpen) this.#render();
  }

  #items(): HTMLButtonElement[] {
    return [...this.list.querySelectorAll<HTMLButtonElement>("[data-testid='thread-item']")];
  }

  #queryChanged(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const query = this.search.value.trim();
    if (query === "") {
      this.#searches += 1; // a reply still on its way is for nothing now
      this.#shown = "";
      this.#render();
      return;
    }
    this.status.textContent = "Searching…";
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#search(query.slice(0, MAX_QUERY_CHARS));
    }, SEARCH_DELAY_MS);
  }

  async #search(query: string): Promise<void> {
    const search = ++this.#searches;
    const reply = await this.#request({ kind: "search_threads", query });
    if (search !== this.#searches) return; // the user typed on
    this.#shown = query;
    if (!reply.ok) {
      this.#actions.refused(reply);
      this.#show([], "The search failed.");
      return;
    }
    const matches = Array.isArray(reply.result) ? (reply.result as unknown[]).filter(isThreadMatch) : [];
    this.#show(matches, matches.length === 0 ? `No conversation matches “${query}”.` : "");
  }

  #render(): void {
    if (this.#state === null) return;
    const reason = this.#state.disabledReason;
    for (const item of this.#items()) {
      item.disabled = reason !== null;
      item.title = reason ?? "";
      if (item.dataset.threadId === this.#state.thread.id) item.setAttribute("aria-current", "true");
      else item.removeAttribute("aria-current");
    }
    if (this.#shown !== "" || this.search.value.trim() !== "") return; // the matches stay
    const threads = listed(this.#state);
    this.#show(threads, threads.length <= 1 && !threads[0]?.preview ? "No earlier conversations." : "");
  }

  /** Lists `threads` (with their snippets when they are matches) and says `status`. */
  #show(threads: readonly (Thread | ThreadMatch)[], status: string): void {
    const state = this.#state;
    this.status.textContent = status;
    this.status.hidden = status === "";
    const key = JSON.stringify([this.#shown, state?.thread.id, state?.disabledReason, threads]);
    if (key === this.#listKey) return;
    this.#listKey = key;
    const now = new Date();
    this.list.replaceChildren(
      ...threads.map((thread) => {
        const snippet = "snippet" in thread ? thread.snippet : null;
        const seconds = thread.updated_at ?? thread.created_at;
        const when = new Date(seconds * 1000);
        const item = button("", "thread-item", "cw-thread-item", {
          "data-thread-id": thread.id,
          "aria-current": thread.id === state?.thread.id ? "true" : undefined,
          disabled: state?.disabledReason != null,
          title: state?.disabledReason ?? undefined,
        });
        item.append(
          h(
            "span",
            { class: "cw-thread-item-title", "data-testid": "thread-item-title" },
            threadLabel(thread),
          ),
          h(
            "time",
            {
              class: "cw-thread-item-date",
              "data-testid": "thread-item-date",
              datetime: when.toISOString(),
              title: when.toLocaleString(),
            },
            formatDate(seconds, now),
          ),
          snippet !== null
            ? highlighted(snippet, this.#shown, "thread-item-snippet")
            : h(
                "span",
                { class: "cw-thread-item-text", "data-testid": "thread-item-preview" },
                thread.preview ?? "",
              ),
        );
        item.addEventListener("click", () => this.#actions.select(thread));
        return h("li", {}, item);
      }),
    );
  }

  async #export(format: string): Promise<void> {
    const state = this.#state;
    if (state === null) return;
    this.#actions.clearNotice();
    const reply = await this.#request({ kind: "export_thread", thread_id: state.thread.id, format });
    if (!reply.ok) {
      this.#actions.refused(reply);
      return;
    }
    if (isExportedThread(reply.result)) saveFile(reply.result);
  }
}

/** The `text` of an exported thread, saved by the browser as `filename`. */
export function saveFile(file: ExportedThread): void {
  const type = EXPORT_MIME_TYPES.includes(file.mime) ? file.mime : "text/plain";
  const url = URL.createObjectURL(new Blob([file.text], { type: `${type};charset=utf-8` }));
  const link = h("a", { href: url, download: file.filename || "conversation", hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  // The download has started from the click; the file's memory can go a little later.
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

/** A thread's last activity, short: "14:02" today, "Yesterday", "3 Dec" this year, else
 * "3 Dec 2025". */
export function formatDate(seconds: number, now: Date = new Date()): string {
  const when = new Date(seconds * 1000);
  const day = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((day(now) - day(when)) / 86_400_000);
  if (days === 0)
    return when.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  if (days === 1) return "Yesterday";
  const sameYear = when.getFullYear() === now.getFullYear();
  return when.toLocaleDateString("en-GB", {
    day: "numeric",
    month: "short",
    year: sameYear ? undefined : "numeric",
  });
}

/** `text` as text nodes, with each occurrence of `query` (ignoring case) in a `<mark>`. */
function highlighted(text: string, query: string, testid: string): HTMLElement {
  const el = h("span", { class: "cw-thread-item-text", "data-testid": testid });
  const lower = text.toLowerCase();
  const needle = query.toLowerCase();
  let at = 0;
  // Only where lowercasing keeps the length, so that the marks land on the right letters.
  while (needle !== "" && lower.length === text.length) {
    const found = lower.indexOf(needle, at);
    if (found === -1) break;
    el.append(text.slice(at, found), h("mark", {}, text.slice(found, found + needle.length)));
    at = found + needle.length;
  }
  el.append(text.slice(at));
  return el;
}

function isThreadMatch(value: unknown): value is ThreadMatch {
  const match = value as ThreadMatch;
  return (
    typeof match === "object" &&
    match !== null &&
    typeof match.id === "string" &&
    typeof match.title === "string" &&
    typeof match.created_at === "number" &&
    typeof match.snippet === "string"
  );
}

function isExportedThread(value: unknown): value is ExportedThread {
  const file = value as ExportedThread;
  return (
    typeof file === "object" &&
    file !== null &&
    typeof file.filename === "string" &&
    typeof file.mime === "string" &&
    typeof file.text === "string"
  );
}

/** The threads to list: `threads`, with the selected one first if Python has not listed it (yet). */
function listed(state: ThreadControlsState): readonly Thread[] {
  const { thread, threads } = state;
  return threads.some((t) => t.id === thread.id) ? threads : [thread, ...threads];
}
