// What a tool call's result looks like in the chat: the richest representation of a Jupyter
// mime bundle the page can show safely. Everything in the bundle is untrusted (a tool returns
// whatever it fetched): HTML and Markdown go through the sanitiser, SVG is only ever an image
// (a script in it cannot run there), images are data: URLs built here, text is text. A widget
// is shown live, through the page's own widget manager.
import { h } from "./dom";
import { renderMarkdown, sanitize } from "./markdown";
import { renderTex } from "./math";
import type { Display, WidgetViewRef } from "./types";

export const WIDGET_MIME = "application/vnd.jupyter.widget-view+json";
export const WIDGET_UNAVAILABLE = "Live widget not available here";

type StaticMime = Exclude<keyof Display["data"], typeof WIDGET_MIME>;
/** Richest first, after a live widget. */
const STATIC_MIMES: StaticMime[] = [
  "text/html",
  "image/svg+xml",
  "image/png",
  "image/jpeg",
  "text/markdown",
  "text/latex",
  "text/plain",
];

// -- Live widgets -----------------------------------------------------------------------------
/** A Lumino message, as Lumino's `Widget.attach` sends them (only `type` is read). */
interface LuminoMessage {
  readonly type: string;
  readonly isConflatable: boolean;
  conflate(other: LuminoMessage): boolean;
}

/** The Lumino widget of an ipywidgets 8 DOM view (`view.luminoWidget`). */
export interface LuminoWidget {
  readonly node: HTMLElement;
  readonly isAttached: boolean;
  readonly isDisposed: boolean;
  processMessage(message: LuminoMessage): void;
}

/** An ipywidgets view, as `create_view` resolves it. */
export interface WidgetView {
  el: HTMLElement;
  luminoWidget?: LuminoWidget;
  remove(): unknown;
  once?(event: "remove", callback: () => void): unknown;
}

/** What is used here of the widget manager the host gives anywidget (`model.widget_manager`):
 * ipywidgets 8's manager in JupyterLab 4, Notebook 7 and Voilà. */
export interface WidgetManager {
  get_model(model_id: string): Promise<unknown>;
  create_view?(model: unknown, options?: Record<string, unknown>): Promise<WidgetView>;
  /** JupyterLab's manager: whether the models living in the kernel have been fetched (after a
   * page load), and the signal that says when. */
  restoredStatus?: boolean;
  restored?: { connect(slot: () => void): unknown; disconnect(slot: () => void): unknown };
}

const luminoMessage = (type: string): LuminoMessage => ({
  type,
  isConflatable: false,
  conflate: () => false,
});

/** Puts a view in `host` the way Lumino's `Widget.attach` does (JupyterLab's output area
 * attaches widget views with it): the view hears before-attach and after-attach, and renders
 * what it waits for `displayed` to render. */
function attachView(view: WidgetView, host: HTMLElement): void {
  const widget = view.luminoWidget;
  if (widget === undefined) {
    host.append(view.el);
    return;
  }
  widget.processMessage(luminoMessage("before-attach"));
  host.append(widget.node);
  widget.processMessage(luminoMessage("after-attach"));
}

/** Detaches and removes a view (its listeners on the model go with it). Lumino would throw on
 * disposing an attached widget whose node already left the page: detach first. */
function removeView(view: WidgetView): void {
  const widget = view.luminoWidget;
  if (widget !== undefined && !widget.isDisposed && widget.isAttached) {
    if (widget.node.isConnected) widget.processMessage(luminoMessage("before-detach"));
    widget.node.remove();
    widget.processMessage(luminoMessage("after-detach"));
  }
  view.remove();
}

function widgetRef(value: unknown): WidgetViewRef | null {
  if (value === null || typeof value !== "object") return null;
  const ref = value as Partial<WidgetViewRef>;
  return typeof ref.model_id === "string" && ref.model_id !== "" ? (ref as WidgetViewRef) : null;
}

/** The model of `modelId` from the page's manager. Right after a page load JupyterLab's manager
 * is still fetching the kernel's models: like JupyterLab's own output renderer, ask again once
 * it has them. */
async function getModel(manager: WidgetManager, modelId: string): Promise<unknown> {
  try {
    return await manager.get_model(modelId);
  } catch (error) {
    const restored = manager.restored;
    if (manager.restoredStatus !== false || restored === undefined) throw error;
    await new Promise<void>((resolve) => {
      const slot = () => {
        restored.disconnect(slot);
        resolve();
      };
      restored.connect(slot);
    });
    return manager.get_model(modelId);
  }
}

/** A live view of one widget model: created asynchronously, then attached to `el`. */
class LiveWidget {
  readonly modelId: string;
  readonly el = h("div", { class: "cw-display-widget", "data-testid": "live-widget" });
  state: "loading" | "live" | "failed" = "loading";
  #view: WidgetView | null = null;
  #disposed = false;

  /** `onChange`: the view was attached (true), or there is none, or no longer (false). */
  constructor(manager: WidgetManager, modelId: string, onChange: (live: boolean) => void) {
    this.modelId = modelId;
    void this.#start(manager, onChange);
  }

  async #start(manager: WidgetManager, onChange: (live: boolean) => void): Promise<void> {
    let view: WidgetView;
    try {
      const model = await getModel(manager, this.modelId);
      if (this.#disposed) return;
      if (typeof manager.create_view !== "function") throw new Error("no create_view");
      view = await manager.create_view(model, {});
    } catch {
      if (this.#disposed) return;
      this.state = "failed";
      onChange(false);
      return;
    }
    if (this.#disposed) {
      view.remove();
      return;
    }
    this.#view = view;
    this.state = "live";
    onChange(true);
    attachView(view, this.el);
    // The model closed (its widget was closed, the kernel restarted): ipywidgets removes its
    // views; the static form takes its place.
    view.once?.("remove", () => {
      if (this.#disposed || this.#view !== view) return;
      this.#view = null;
      this.state = "failed";
      onChange(false);
    });
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const view = this.#view;
    this.#view = null;
    if (view !== null) removeView(view);
    this.el.remove();
  }
}

// -- Static forms -----------------------------------------------------------------------------
// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal colour codes are what it finds.
const ANSI = /\u001b\[[\d;?]*[A-Za-z]/g;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function base64Utf8(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function image(src: string, alt: string): HTMLImageElement {
  const img = h("img", { class: "cw-display-image", alt });
  img.src = src;
  return img;
}

/** `text/latex` as Jupyter writes it: one formula between `$$`, `$`, `\[` or `\(` (or an
 * environment) is typeset; text with formulas in it is rendered like an answer. */
function latex(text: string): DocumentFragment {
  const source = text.trim();
  const delimited = /^(?:\$\$([\s\S]+)\$\$|\$([\s\S]+)\$|\\\[([\s\S]+)\\\]|\\\(([\s\S]+)\\\))$/.exec(source);
  const body = delimited === null ? source : delimited.slice(1).find((part) => part !== undefined);
  if (body !== undefined && !/(?:^|[^\\])\$/.test(body)) return renderTex(body, true);
  return renderMarkdown(source);
}

/** The richest static form of `data`: the mime shown and its node, or null if none is usable. */
function renderStatic(data: Display["data"]): { mime: StaticMime; node: Node } | null {
  const alt = typeof data["text/plain"] === "string" ? data["text/plain"].slice(0, 200) : "Result";
  for (const mime of STATIC_MIMES) {
    const value = data[mime];
    if (typeof value !== "string") continue;
    switch (mime) {
      case "text/html":
        return { mime, node: h("div", { class: "cw-display-html" }, sanitize(value)) };
      case "image/svg+xml":
        // As an image, an SVG's scripts do not run and it loads nothing.
        return { mime, node: image(`data:image/svg+xml;base64,${base64Utf8(value)}`, alt) };
      case "image/png":
      case "image/jpeg": {
        const base64 = value.replace(/\s+/g, "");
        if (base64 === "" || !BASE64.test(base64)) continue;
        return { mime, node: image(`data:${mime};base64,${base64}`, alt) };
      }
      case "text/markdown":
        return { mime, node: h("div", { class: "cw-display-markdown" }, renderMarkdown(value)) };
      case "text/latex":
        return { mime, node: h("div", { class: "cw-display-latex" }, latex(value)) };
      case "text/plain":
        return { mime, node: h("pre", { class: "cw-display-text" }, value.replace(ANSI, "")) };
    }
  }
  return null;
}

// -- The view -----------------------------------------------------------------------------------
/** A display, updated in place: re-rendered only when it changed, and a live widget kept as
 * long as the display names the same model (a slider being dragged survives the updates of a
 * running call). Call `remove` when it goes: it removes the widget's view. */
export class DisplayView {
  readonly el: HTMLElement;
  #content = h("div", { class: "cw-display-content" });
  #note = h("div", { class: "cw-display-note", "data-testid": "display-note", hidden: true });
  #manager: WidgetManager | null;
  #display: Display | null = null;
  #key = "";
  #live: LiveWidget | null = null;

  /** `manager`: the page's widget manager (null: widgets are shown in their static form). */
  constructor(manager: WidgetManager | null) {
    this.#manager = manager;
    this.el = h("div", { class: "cw-display", "data-testid": "tool-display" }, this.#content, this.#note);
  }

  update(display: Display): void {
    if (display === this.#display) return;
    // The bundle can be large, but stringifying it is cheap next to re-rendering it.
    const key = JSON.stringify(display);
    this.#display = display;
    if (key === this.#key) return;
    this.#key = key;

    const ref = widgetRef(display.data?.[WIDGET_MIME]);
    const manager = this.#manager;
    if (ref !== null && manager !== null && typeof manager.get_model === "function") {
      if (this.#live?.modelId !== ref.model_id) {
        this.#live?.dispose();
        const live = new LiveWidget(manager, ref.model_id, () => {
          if (this.#live === live) this.#render();
        });
        this.#live = live;
      }
    } else {
      this.#live?.dispose();
      this.#live = null;
    }
    this.#render();
  }

  #render(): void {
    const display = this.#display;
    if (display === null) return;
    const data = display.data ?? {};
    const live = this.#live;
    const notes = [display.note];
    if (live?.state === "live") {
      this.el.dataset.mime = WIDGET_MIME;
      if (this.#content.firstChild !== live.el || this.#content.childNodes.length !== 1)
        this.#content.replaceChildren(live.el);
    } else {
      // While the view is on its way, and when there is none, the static form shows.
      const shown = renderStatic(data);
      this.el.dataset.mime = shown?.mime ?? "";
      this.#content.replaceChildren(...(shown === null ? [] : [shown.node]));
      const unavailable =
        live?.state === "failed" || (live === null && widgetRef(data[WIDGET_MIME]) !== null);
      if (unavailable) notes.push(WIDGET_UNAVAILABLE);
    }
    const note = notes.filter(Boolean).join(" · ");
    this.#note.textContent = note;
    this.#note.hidden = note === "";
  }

  /** Removes the live widget's view, if there is one (nothing is shown in its place). */
  releaseWidget(): void {
    this.#live?.dispose();
    this.#live = null;
    // A later update renders again.
    this.#display = null;
    this.#key = "";
  }

  remove(): void {
    this.releaseWidget();
    this.el.remove();
  }
}
