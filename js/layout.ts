// How tall the chat is: the `height` option, the panel it lives in, and the height the user gave
// it with the resize grip.
import type { AnyModel } from "@anywidget/types";
import type { Model } from "./types";

const STORAGE_KEY = "copilot-widget:heights";
/** Heights remembered in localStorage: each kernel makes new widgets (new ids), so the oldest
 * go. */
const REMEMBERED = 50;
/** Room left around a chat that fills the notebook's visible height (the cell's paddings). */
const NOTEBOOK_MARGIN = 24;

/** The height the user dragged one widget's chat to. Every view of the widget shares it (a view
 * rendered again takes it at once), and localStorage keeps it under the widget's model id: a
 * reloaded page finds it while the kernel lives, and a new kernel's widget (a new id) starts
 * from its `height` option again. */
export class HeightMemory {
  #height: string | null = null;
  #modelId: string | null = null;

  get height(): string | null {
    return this.#height;
  }

  /** The widget's model id is known: returns the height stored for it (if none is known yet). */
  identify(modelId: string): string | null {
    if (this.#modelId === null) {
      this.#modelId = modelId;
      this.#height ??= readStored()[modelId]?.height ?? null;
    }
    return this.#height;
  }

  /** `height`: a CSS height the user dragged to; null forgets it. */
  remember(height: string | null): void {
    this.#height = height;
    if (this.#modelId === null) return;
    const stored = readStored();
    delete stored[this.#modelId];
    if (height !== null) stored[this.#modelId] = { height, at: Date.now() };
    const kept = Object.entries(stored)
      .sort(([, a], [, b]) => b.at - a.at)
      .slice(0, REMEMBERED);
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(Object.fromEntries(kept)));
    } catch {
      // Storage full or refused (a sandboxed frame): the height lasts as long as the page.
    }
  }
}

type Stored = Record<string, { height: string; at: number }>;

function readStored(): Stored {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "{}");
    return typeof value === "object" && value !== null ? (value as Stored) : {};
  } catch {
    return {};
  }
}

/** Calls `onId` with the widget's model id, once the kernel first talks to this view. anywidget
 * hands views no id, but calls their event handlers with the view as `this` (whose `model` has
 * it); hosts that do not (no id) just keep the dragged height for the page's lifetime. */
export function learnModelId(model: AnyModel<Model>, onId: (id: string) => void): () => void {
  const handler = function (this: unknown): void {
    model.off("msg:custom", handler);
    const view = this as { model?: { model_id?: unknown } } | undefined;
    const id = view?.model?.model_id;
    if (typeof id === "string" && id !== "") onId(id);
  };
  model.on("msg:custom", handler);
  return () => model.off("msg:custom", handler);
}

/** The panel a chat outside any notebook lives in (JupyterLab's output view, a side panel):
 * the nearest Lumino widget its layout places absolutely, at a size of its own. null in a
 * notebook (or console) cell, and in hosts without Lumino. */
export function panelOf(root: HTMLElement): HTMLElement | null {
  if (root.closest(".jp-Cell, .jp-Notebook") !== null) return null;
  for (let node = root.parentElement; node !== null && node !== document.body; node = node.parentElement) {
    const lumino = node.classList.contains("lm-Widget") || node.classList.contains("p-Widget");
    if (lumino && getComputedStyle(node).position === "absolute") return node;
  }
  return null;
}

const px = (value: string): number => Number.parseFloat(value) || 0;

/** The height (px) that makes the chat end at the bottom of `panel`, below whatever the panel
 * shows above it (a toolbar, earlier outputs) and the paddings of the wrappers around it. */
function panelHeight(root: HTMLElement, panel: HTMLElement): number {
  const style = getComputedStyle(panel);
  const bottom =
    panel.getBoundingClientRect().top + panel.clientTop + panel.clientHeight - px(style.paddingBottom);
  let top = root.getBoundingClientRect().top;
  let below = px(getComputedStyle(root).marginBottom);
  for (let node = root.parentElement; node !== null && node !== panel; node = node.parentElement) {
    const wrapper = getComputedStyle(node);
    // A wrapper the (taller) chat made scroll: where the chat starts when it is not scrolled.
    top += node.scrollTop;
    below += px(wrapper.paddingBottom) + px(wrapper.borderBottomWidth) + px(wrapper.marginBottom);
  }
  return Math.floor(bottom - top - below);
}

/** Applies the `height` option to the chat's root, and remembers the height the user drags it
 * to:
 * - "" (the default): the stylesheet's height, with a resize grip;
 * - a CSS length: that height, with a grip;
 * - "fill", and always in a panel: the height of the container, no grip (the composer stays in
 *   sight). In a notebook cell, "fill" is the notebook's visible height; in other hosts, 100% of
 *   the element the chat is shown in. */
export class ChatHeight {
  readonly #root: HTMLElement;
  readonly #memory: HeightMemory;
  #option = "";
  /** The inline height this code set last: anything else there came from the grip. */
  #applied = "";
  #observer: ResizeObserver | null = null;
  #watched: Element | null = null;
  #frame: number | null = null;

  constructor(root: HTMLElement, memory: HeightMemory) {
    this.#root = root;
    this.#memory = memory;
    if (typeof ResizeObserver !== "undefined") {
      // The view is laid out once the host attaches it; panels and windows resize; the grip
      // resizes the chat itself.
      this.#observer = new ResizeObserver(() => {
        this.#frame ??= requestAnimationFrame(() => {
          this.#frame = null;
          this.#noteDrag();
          this.layout();
        });
      });
      this.#observer.observe(root);
    }
  }

  /** The kernel's `height` option. A change made by the notebook's code (`fromKernel`) replaces
   * a height the user dragged to. */
  setOption(option: string, fromKernel = false): void {
    if (fromKernel && option !== this.#option) this.#memory.remember(null);
    this.#option = option;
    this.layout();
  }

  /** Re-applies the height: after the memory learnt a stored height, or when the container
   * changed. */
  layout(): void {
    const root = this.#root;
    const panel = panelOf(root);
    if (this.#option === "fill" || panel !== null) {
      root.dataset.height = "fill";
      const notebook = root.closest(".jp-WindowedPanel-outer, .jp-Notebook");
      this.#watch(panel ?? notebook);
      if (panel !== null) this.#apply(`${Math.max(panelHeight(root, panel), 0)}px`);
      else if (notebook !== null) this.#apply(`${Math.max(notebook.clientHeight - NOTEBOOK_MARGIN, 120)}px`);
      else this.#apply("100%");
    } else {
      this.#watch(null);
      root.dataset.height = this.#option === "" ? "default" : "fixed";
      this.#apply(this.#memory.height ?? this.#option);
    }
  }

  dispose(): void {
    this.#observer?.disconnect();
    if (this.#frame !== null) cancelAnimationFrame(this.#frame);
  }

  #apply(height: string): void {
    if (this.#root.style.height !== height) this.#root.style.height = height;
    this.#applied = this.#root.style.height;
  }

  /** The browser's resize grip writes the inline height itself. */
  #noteDrag(): void {
    const height = this.#root.style.height;
    if (this.#root.dataset.height === "fill" || height === this.#applied || height === "") return;
    this.#applied = height;
    this.#memory.remember(height);
  }

  /** Follows the size of the panel (or notebook) the chat fills. */
  #watch(container: Element | null): void {
    if (container === this.#watched || this.#observer === null) return;
    if (this.#watched !== null) this.#observer.unobserve(this.#watched);
    this.#watched = container;
    if (container !== null) this.#observer.observe(container);
  }
}
