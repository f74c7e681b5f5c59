// copilot-widget's front end: anywidget's { initialize, render }.
import type { AnyModel, AnyWidget, Initialize, Render } from "@anywidget/types";
import { Composer } from "./composer";
import { connectDraftStore, type DraftStore } from "./draft";
import { MessageList } from "./messages";
import { ErrorBanner, Header, Suggestions, setupCard } from "./panels";
import { ThreadControls } from "./threads";
import type { ActionSpec, ClientMessage, Model } from "./types";

/** anywidget calls this factory once per widget (model), so its closure is the place for state
 * that every view of the widget shares. (initialize and each render get a different proxy of
 * the model, so state cannot be looked up by model.) */
function copilotWidget(): { initialize: Initialize<Model>; render: Render<Model> } {
  let drafts: DraftStore | null = null;
  return {
    // Once per model: the one `msg:custom` subscription and the draft every view shows.
    initialize({ model }) {
      const connection = connectDraftStore(model);
      drafts = connection.store;
      return () => {
        connection.dispose();
        drafts = null;
      };
    },
    // Once per view.
    render({ model, el }) {
      if (drafts !== null) return renderView(model, el, drafts);
      // A host that skipped initialize: this view keeps its own draft (it catches up via "ready").
      const own = connectDraftStore(model);
      const cleanup = renderView(model, el, own.store);
      return () => {
        cleanup();
        own.dispose();
      };
    },
  };
}

function renderView(model: AnyModel<Model>, el: HTMLElement, store: DraftStore): () => void {
  const send = (message: ClientMessage) => model.send(message);

  const header = new Header();
  const threads = new ThreadControls(send);
  header.actions.append(threads.el);
  const setup = setupCard();
  const errorBanner = new ErrorBanner(send);
  const list = new MessageList({
    send,
    spec: (name: string): ActionSpec | undefined =>
      (model.get("action_specs") ?? []).find((a) => a.name === name),
    currentError: () => model.get("error") ?? null,
  });
  const afterSend = () => list.scrollToBottom();
  const suggestions = new Suggestions(send, afterSend);
  const composer = new Composer(send, afterSend);

  const root = document.createElement("div");
  root.className = "copilot-widget";
  root.dataset.testid = "copilot-root";
  // JupyterLab 4 / Notebook 7 (lumino) skip their keyboard shortcuts for events from inside
  // an element with this attribute, so keys used in the widget (typing, Enter or Space on a
  // button) never run notebook commands.
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  root.append(header.el, setup, errorBanner.el, list.el, suggestions.el, composer.el);
  el.replaceChildren(root);

  const disabledReason = (): string | null => {
    if (model.get("needs_setup")) return "Connect a model first: see the setup steps above.";
    if (!model.get("is_ready")) return "Waiting for the kernel… (run the cell if this stays)";
    return null;
  };
  // Python refuses to switch threads during a run.
  const threadsDisabledReason = (): string | null => {
    const status = model.get("status") ?? "idle";
    if (status !== "idle") return "Wait for the copilot to finish (or stop it) to change conversations.";
    if (!model.get("is_ready")) return "Waiting for the kernel… (run the cell if this stays)";
    return null;
  };
  const updateThreads = () =>
    threads.update({
      thread: model.get("thread"),
      threads: model.get("threads") ?? [],
      disabledReason: threadsDisabledReason(),
    });
  const updateControls = () => {
    const status = model.get("status") ?? "idle";
    const reason = disabledReason();
    composer.update({ status, disabledReason: reason });
    suggestions.update(model.get("suggestions") ?? [], status === "idle" && reason === null);
    // No credentials, or credentials the provider refused: say how to set them up.
    setup.hidden = !(model.get("needs_setup") || model.get("error")?.type === "authentication_error");
    list.setWorking(status !== "idle");
    updateThreads();
  };
  const updateHeader = () =>
    header.update(model.get("title"), model.get("offline_demo"), model.get("store_warning") ?? null);
  const updateError = () => {
    const error = model.get("error") ?? null;
    errorBanner.update(error);
    list.setError(error);
  };
  // Tokens arrive far more often than frames: render the draft at most once per frame.
  let frame: number | null = null;
  const drawDraft = () => {
    if (frame !== null) cancelAnimationFrame(frame);
    frame = null;
    list.setDraft(store.draft, store.snapshots);
  };
  const scheduleDraft = () => {
    frame ??= requestAnimationFrame(drawDraft);
  };

  const updateMessages = () => {
    const messages = model.get("messages") ?? [];
    // A finished draft leaves the DOM in the same task its message enters it, so the
    // message is never shown twice (not even for a frame).
    store.dropIfFinished(messages);
    list.setMessages(messages);
    drawDraft();
  };

  // Python updates `thread`, `threads` and `messages` in one sync, so on a switch
  // `change:thread` may fire before or after `change:messages`. Either way, none of the
  // previous thread's messages (nor its draft) may stay on screen, not even for a frame: they
  // go in this handler, in the same task as the switch. (The store, subscribed before any
  // view, has dropped the draft already: drawing it now removes it from the DOM.)
  let threadId = model.get("thread")?.id;
  const updateThread = () => {
    const id = model.get("thread")?.id;
    if (id !== threadId) {
      threadId = id;
      list.setMessages((model.get("messages") ?? []).filter((m) => m.thread_id === id));
      drawDraft();
      list.scrollToBottom();
    }
    updateThreads(); // a rename changes `thread` too
  };

  const handlers: [string, () => void][] = [
    ["change:title", updateHeader],
    ["change:offline_demo", updateHeader],
    ["change:store_warning", updateHeader],
    ["change:thread", updateThread],
    ["change:threads", updateThreads],
    ["change:error", updateError],
    ["change:error", updateControls],
    ["change:messages", updateMessages],
    ["change:status", updateControls],
    ["change:is_ready", updateControls],
    ["change:needs_setup", updateControls],
    ["change:suggestions", updateControls],
  ];
  for (const [event, handler] of handlers) model.on(event, handler);
  const unsubscribe = store.subscribe(scheduleDraft);

  updateHeader();
  updateError();
  updateMessages();
  updateControls();
  drawDraft(); // a view rendered mid-run shows the draft at once
  // Python answers with a `draft` snapshot, so this view catches up even if the draft
  // started before the model was initialised here.
  model.send({ kind: "ready" });

  return () => {
    for (const [event, handler] of handlers) model.off(event, handler);
    unsubscribe();
    list.dispose();
    if (frame !== null) cancelAnimationFrame(frame);
  };
}

export default copilotWidget satisfies AnyWidget<Model>;
