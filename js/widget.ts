// copilot-widget's front end: anywidget's { initialize, render }.
import type { AnyModel, AnyWidget, Initialize, Render } from "@anywidget/types";
import { Composer } from "./composer";
import { ContextView } from "./context-view";
import type { WidgetManager } from "./display";
import { connectDraftStore, type DraftStore } from "./draft";
import { ChatHeight, HeightMemory, learnModelId } from "./layout";
import { ThreadUsage } from "./message-actions";
import { MessageList } from "./messages";
import { ErrorBanner, Header, SetupCard, Suggestions } from "./panels";
import { applyListUpdate, onKernelMessage, RequestClient, takeStreamedText } from "./protocol";
import { ThreadControls } from "./threads";
import type { ActionSpec, Message, Model } from "./types";

/** What every view of a model shares: the draft and the pending requests. */
interface Connection {
  drafts: DraftStore;
  client: RequestClient;
  /** Unsubscribes, and refuses the requests still waiting with `reason`. */
  dispose(reason: string): void;
}

/** A draft render slower than this (ms) is spaced out (see scheduleDraft). */
const SLOW_DRAFT_MS = 8;

/** Asks the kernel for a message whose text this page missed, and puts it in place. */
async function fetchMessage(model: AnyModel<Model>, client: RequestClient, id: string): Promise<void> {
  const reply = await client.request({ kind: "get_message", message_id: id });
  const message = (reply.result as { message?: Message } | undefined)?.message;
  if (!reply.ok || message === undefined) {
    console.warn("copilot-widget: the kernel did not send message", id, reply.error?.message);
    return;
  }
  model.set("messages", applyListUpdate(model.get("messages") ?? [], { replace: [message] }));
}

/** The model's one `msg:custom` subscription: replies settle their requests, `draft` and
 * `delta` feed the draft. */
function connect(model: AnyModel<Model>): Connection {
  const drafts = connectDraftStore(model);
  const client = new RequestClient(model);
  const unsubscribe = onKernelMessage(model, {
    reply: (message) => client.receive(message),
    draft: drafts.receive,
    delta: drafts.receive,
    // Only what changed: the page's copy of the thread is updated here, for every view (the
    // page never sends it back: nothing saves it).
    messages: (update) => {
      const missing = takeStreamedText(update, drafts.store.draft);
      model.set("messages", applyListUpdate(model.get("messages") ?? [], update));
      for (const id of missing) void fetchMessage(model, client, id);
    },
    threads: (update) => model.set("threads", applyListUpdate(model.get("threads") ?? [], update)),
  });
  return {
    drafts: drafts.store,
    client,
    dispose(reason) {
      unsubscribe();
      drafts.dispose();
      client.dispose(reason);
    },
  };
}

/** anywidget calls this factory once per widget (model), so its closure is the place for state
 * that every view of the widget shares. (initialize and each render get a different proxy of
 * the model, so state cannot be looked up by model.) */
function copilotWidget(): { initialize: Initialize<Model>; render: Render<Model> } {
  let shared: Connection | null = null;
  // The height the user dragged this widget's chat to: every view takes it.
  const heights = new HeightMemory();
  return {
    // Once per model: the one `msg:custom` subscription, the draft and the pending requests.
    initialize({ model }) {
      const connection = connect(model);
      shared = connection;
      return () => {
        // The model goes away: the widget was closed, or the kernel restarted.
        connection.dispose("The kernel restarted or the widget was closed before it answered.");
        if (shared === connection) shared = null;
      };
    },
    // Once per view.
    render({ model, el }) {
      if (shared !== null) return renderView(model, el, shared, heights);
      // A host that skipped initialize: this view keeps its own connection (its draft catches
      // up via "ready").
      const own = connect(model);
      const cleanup = renderView(model, el, own, heights);
      return () => {
        cleanup();
        own.dispose("The view was closed before the kernel answered.");
      };
    },
  };
}

function renderView(
  model: AnyModel<Model>,
  el: HTMLElement,
  connection: Connection,
  heights: HeightMemory,
): () => void {
  const store = connection.drafts;
  const { request } = connection.client;

  const header = new Header();
  const threads = new ThreadControls(request);
  header.actions.append(threads.el);
  header.el.append(threads.notice.el);
  const setup = new SetupCard();
  const errorBanner = new ErrorBanner(request);
  // The host's ipywidgets manager (anywidget passes it through): live widgets in the chat.
  const widgets = (model.widget_manager as WidgetManager | undefined) ?? null;
  const list = new MessageList(
    {
      request,
      spec: (name: string): ActionSpec | undefined =>
        (model.get("action_specs") ?? []).find((a) => a.name === name),
    },
    widgets,
  );
  const afterSend = () => list.scrollToBottom();
  const composer = new Composer(request, afterSend);
  const suggestions = new Suggestions(request, afterSend, (reply) => composer.showRefusal(reply));

  const root = document.createElement("div");
  root.className = "copilot-widget";
  root.dataset.testid = "copilot-root";
  // JupyterLab 4 / Notebook 7 (lumino) skip their keyboard shortcuts for events from inside
  // an element with this attribute, so keys used in the widget (typing, Enter or Space on a
  // button) never run notebook commands.
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  // Lumino stops at the first element that has the attribute or matches a shortcut's selector,
  // starting from the focused element, and some selectors match that element itself
  // (Notebook 7's ArrowRight: `.jp-Notebook.jp-mod-commandMode:not(.jp-mod-readWrite) :focus`,
  // which took the arrow keys from a live slider in the chat): what has the focus carries it too.
  root.addEventListener("focusin", (event) => {
    const target = event.target;
    if (target instanceof Element && !target.hasAttribute("data-lm-suppress-shortcuts"))
      target.setAttribute("data-lm-suppress-shortcuts", "true");
  });
  root.append(header.el, setup.el, errorBanner.el, list.el, suggestions.el, composer.el);
  // The thread's tokens and cost, before the conversation buttons.
  const usage = new ThreadUsage(root);
  header.actions.before(usage.el);
  const context = new ContextView(request);
  header.actions.prepend(context.button);
  header.el.after(context.panel);
  el.replaceChildren(root);
  const height = new ChatHeight(root, heights);
  height.setOption(model.get("height") ?? "");
  const updateHeight = () => height.setOption(model.get("height") ?? "", true);
  // The kernel's first message to this view (the reply to "ready") tells the widget's id, under
  // which a height dragged before the page was reloaded is kept.
  const forgetModelId = learnModelId(model, (id) => {
    heights.identify(id);
    height.layout();
  });

  // An output in the notebook asks to be shown the call that changed it: this chat shows it,
  // if the call is in its thread.
  const showCall = (event: Event): void => {
    const id = (event as CustomEvent<{ tool_call_id?: unknown }>).detail?.tool_call_id;
    if (typeof id !== "string") return;
    const card = [...root.querySelectorAll<HTMLElement>("[data-testid='tool-call']")].find(
      (node) => node.dataset.toolCallId === id,
    );
    if (card === undefined) return;
    card.scrollIntoView({ block: "center", behavior: "smooth" });
    card.dataset.highlighted = "true";
    setTimeout(() => delete card.dataset.highlighted, 1600);
  };
  window.addEventListener("copilot-widget:show-call", showCall);

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
  // Suggestions help to start a conversation, or when the app offers new ones: they show in an
  // empty thread, and after the list changed until the next message.
  let suggestionsFor: number | null = null; // the thread's length when the list last changed
  const onSuggestions = () => {
    suggestionsFor = (model.get("messages") ?? []).length;
    updateControls();
  };
  const updateControls = () => {
    const status = model.get("status") ?? "idle";
    const reason = disabledReason();
    composer.update({ status, disabledReason: reason });
    const length = (model.get("messages") ?? []).length;
    const helpful = length === 0 || suggestionsFor === length;
    suggestions.update(model.get("suggestions") ?? [], status === "idle" && reason === null && helpful);
    // No credentials, or credentials the provider refused: say how to set them up.
    setup.update(Boolean(model.get("needs_setup")), model.get("error") ?? null);
    list.setWorking(status !== "idle");
    updateThreads();
  };
  const updateHeader = () =>
    header.update(
      model.get("title"),
      model.get("offline_demo"),
      model.get("store_warning") ?? null,
      model.get("model") ?? "",
    );
  const updateError = () => errorBanner.update(model.get("error") ?? null);
  // Tokens arrive far more often than frames: render the draft at most once per frame. A render
  // that took long (a long answer: its layout included) leaves the page twice that time before
  // the next one, so the answer updates a little less often instead of taking the whole main
  // thread, which on a small machine is also the kernel's and the server's CPU.
  let frame: number | null = null;
  let wait: ReturnType<typeof setTimeout> | null = null;
  let nextDraw = 0;
  let snapshots = 0;
  const drawDraft = () => {
    if (frame !== null) cancelAnimationFrame(frame);
    if (wait !== null) clearTimeout(wait);
    frame = wait = null;
    const start = performance.now();
    snapshots = store.snapshots;
    list.setDraft(store.draft);
    const took = performance.now() - start;
    nextDraw = took > SLOW_DRAFT_MS ? performance.now() + 2 * took : 0;
  };
  const scheduleDraft = () => {
    if (frame !== null) return;
    if (store.draft === null) return drawDraft(); // the draft ended: at once
    // Only more text waits: a new snapshot (a call's status, an approval) shows at the next frame.
    const delay = store.snapshots === snapshots ? nextDraw - performance.now() : 0;
    if (delay > 0) {
      wait ??= setTimeout(() => {
        wait = null;
        frame = requestAnimationFrame(drawDraft);
      }, delay);
      return;
    }
    if (wait !== null) clearTimeout(wait);
    wait = null;
    frame = requestAnimationFrame(drawDraft);
  };

  // A long thread: the kernel sends its latest messages, and earlier ones when asked.
  list.loadEarlier = async () => {
    const first = (model.get("messages") ?? [])[0];
    if (first === undefined) return;
    const reply = await request({ kind: "load_messages", before: first.id });
    const earlier = (reply.result as { messages?: Message[] } | undefined)?.messages ?? [];
    const now = model.get("messages") ?? [];
    // Still the same thread, starting where it did: the earlier ones go before.
    if (reply.ok && now[0]?.id === first.id && earlier.length > 0)
      model.set("messages", [...earlier, ...now]);
  };
  const updateMessages = () => {
    const messages = model.get("messages") ?? [];
    list.earlierInKernel = (model.get("message_count") ?? 0) > messages.length;
    // A finished draft leaves the DOM in the same task its message enters it, so the
    // message is never shown twice (not even for a frame).
    store.dropIfFinished(messages);
    list.setMessages(messages);
    usage.update(messages);
    drawDraft();
    updateControls(); // suggestions show in an empty thread only
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
    ["change:height", updateHeight],
    ["change:model", updateHeader],
    ["change:offline_demo", updateHeader],
    ["change:store_warning", updateHeader],
    ["change:thread", updateThread],
    ["change:threads", updateThreads],
    ["change:error", updateError],
    ["change:error", updateControls],
    ["change:messages", updateMessages],
    ["change:message_count", updateMessages],
    ["change:status", updateControls],
    ["change:is_ready", updateControls],
    ["change:needs_setup", updateControls],
    ["change:suggestions", onSuggestions],
  ];
  for (const [event, handler] of handlers) model.on(event, handler);
  const unsubscribe = store.subscribe(scheduleDraft);

  updateHeader();
  updateError();
  updateMessages();
  updateControls();
  drawDraft(); // a view rendered mid-run shows the draft at once
  // The kernel answers with a `draft` snapshot, so this view catches up even if the draft
  // started before the model was initialised here. Nothing waits on its reply.
  void request({ kind: "ready" }).then((reply) => {
    if (!reply.ok && reply.error?.type !== "disconnected")
      console.warn("copilot-widget: the kernel refused ready:", reply.error?.message);
  });

  return () => {
    window.removeEventListener("copilot-widget:show-call", showCall);
    forgetModelId();
    height.dispose();
    for (const [event, handler] of handlers) model.off(event, handler);
    unsubscribe();
    list.dispose();
    if (frame !== null) cancelAnimationFrame(frame);
    if (wait !== null) clearTimeout(wait);
  };
}

export default copilotWidget satisfies AnyWidget<Model>;
