// The thread picker in the header: switch, start, rename (inline) and delete (with an inline
// confirmation) conversations. The kernel owns the threads: every control only sends a request,
// and the picker follows `thread` / `threads` as the kernel updates them. A refused request says
// why in the picker's notice.
import { button, h } from "./dom";
import { RefusalNotice } from "./panels";
import type { RequestBody, Requester } from "./protocol";
import type { Thread } from "./types";

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
  /** Why the kernel refused the last change; the view places it (under the header). */
  readonly notice = new RefusalNotice();
  #buttons = h("div", { class: "cw-thread-buttons" }, this.newButton, this.renameButton, this.deleteButton);
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
    this.el = h(
      "div",
      { class: "cw-threads", role: "group", "aria-label": "Conversations" },
      this.picker,
      this.renameInput,
      this.#buttons,
      this.#confirm,
    );

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
    // Disabled controls say why in their tooltip; enabled ones what they do.
    const current = state === null ? "" : threadLabel(state.thread);
    this.picker.title = reason ?? current;
    this.newButton.title = reason ?? "Start a new conversation";
    this.renameButton.title = reason ?? "Rename this conversation";
    this.deleteButton.title = reason ?? "Delete this conversation";
  }
}

/** The threads to list: `threads`, with the selected one first if Python has not listed it (yet). */
function listed(state: ThreadControlsState): readonly Thread[] {
  const { thread, threads } = state;
  return threads.some((t) => t.id === thread.id) ? threads : [thread, ...threads];
}
