// What a tool call shows: the richest mime of its display, rendered safely; a live widget
// through the page's widget manager, kept across updates and removed with its message.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DisplayView,
  type LuminoWidget,
  WIDGET_MIME,
  WIDGET_UNAVAILABLE,
  type WidgetManager,
} from "./display";
import { all, FakeModel, get, message, nextFrame, settled, toolCall, unmountAll, view } from "./fake-model";
import type { Display, ToolCall } from "./types";

const page = (globalThis as unknown as { jsdom: { window: { pwned?: string } } }).jsdom.window;
const PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
const REF = { model_id: "slider_1", version_major: 2, version_minor: 0 };

function shown(data: Display["data"], note: string | null = null, manager: WidgetManager | null = null) {
  const display = new DisplayView(manager);
  document.body.append(display.el);
  display.update({ data, note });
  return display;
}

const content = (display: DisplayView) => display.el.querySelector(".cw-display-content") as HTMLElement;
const noteOf = (display: DisplayView) => get(display.el, "display-note");

async function poke(root: ParentNode): Promise<void> {
  for (const node of root.querySelectorAll("*")) {
    for (const type of ["load", "error", "click", "mouseover", "focus"]) node.dispatchEvent(new Event(type));
  }
  await new Promise((resolve) => setTimeout(resolve, 10));
}

beforeEach(() => {
  page.pwned = undefined;
});
afterEach(async () => {
  await unmountAll();
  document.body.replaceChildren();
  expect(page.pwned).toBeUndefined();
});

describe("static forms", () => {
  it("shows the richest mime it can", () => {
    const all = {
      "text/html": "<p>html</p>",
      "image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg'/>",
      "image/png": PNG,
      "image/jpeg": PNG,
      "text/markdown": "**md**",
      "text/latex": "$x^2$",
      "text/plain": "plain",
    };
    const order = Object.keys(all) as (keyof typeof all)[];
    for (const [index, mime] of order.entries()) {
      const data = Object.fromEntries(order.slice(index).map((m) => [m, all[m]]));
      expect(shown(data).el.dataset.mime).toBe(mime);
    }
  });

  it("shows HTML sanitised, a table as a table", async () => {
    const html = `<style>td { color: red }</style>
      <table border="1" class="dataframe" id="t"><thead><tr><th></th><th>name</th></tr></thead>
      <tbody><tr><th>0</th><td><img src=x onerror="window.pwned='cell'">Ada</td></tr>
      <tr><th>1</th><td onclick="window.pwned='td'">Bob<script>window.pwned='script'</script></td></tr></tbody></table>
      <svg onload="window.pwned='svg'"></svg><a href="javascript:window.pwned='a'">link</a>`;
    const display = shown({ "text/html": html, "text/plain": "frame" });
    const root = content(display).querySelector(".cw-display-html") as HTMLElement;
    expect(root.querySelectorAll("table")).toHaveLength(1);
    expect([...root.querySelectorAll("tbody td")].map((td) => td.textContent)).toEqual([
      "[image: x]Ada",
      "Bob",
    ]);
    expect(root.querySelectorAll("thead th")).toHaveLength(2);
    expect(root.querySelectorAll("script, style, svg, img, [onclick], [onerror], [id]")).toHaveLength(0);
    // The remote image is a link to click; no class of the page's.
    expect([...root.querySelectorAll("[class]")].map((node) => node.className)).toEqual(["cw-image-link"]);
    expect(root.querySelector("a[href^='javascript']")).toBeNull();
    await poke(root);
  });

  it("shows SVG only as an image, its scripts never in the page", async () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" onload="window.pwned='svg'"><script>window.pwned='s'</script><text>é</text></svg>`;
    const display = shown({ "image/svg+xml": svg, "text/plain": "drawing" });
    const img = content(display).querySelector("img");
    const src = img?.getAttribute("src") ?? "";
    expect(src.startsWith("data:image/svg+xml;base64,")).toBe(true);
    const bytes = Uint8Array.from(atob(src.split(",")[1]), (c) => c.charCodeAt(0));
    expect(new TextDecoder().decode(bytes)).toBe(svg);
    expect(display.el.querySelectorAll("svg, script")).toHaveLength(0);
    expect(img?.getAttribute("alt")).toBe("drawing");
    await poke(display.el);
  });

  it("shows PNG and JPEG as data: URL images, and skips base64 that is not", () => {
    const png = content(shown({ "image/png": `${PNG.slice(0, 20)}\n${PNG.slice(20)}`, "text/plain": "p" }));
    expect(png.querySelector("img")?.getAttribute("src")).toBe(`data:image/png;base64,${PNG}`);
    const jpeg = content(shown({ "image/jpeg": PNG, "text/plain": "j" }));
    expect(jpeg.querySelector("img")?.getAttribute("src")).toBe(`data:image/jpeg;base64,${PNG}`);
    const broken = shown({ "image/png": '" onerror="x', "text/plain": "fallback" });
    expect(broken.el.dataset.mime).toBe("text/plain");
    expect(content(broken).textContent).toBe("fallback");
  });

  it("renders Markdown like an answer, math included", async () => {
    const display = shown({
      "text/markdown": "**bold** and $x^2$ <img src=x onerror=\"window.pwned='md'\">",
      "text/plain": "md",
    });
    const root = content(display);
    expect(root.querySelector("strong")?.textContent).toBe("bold");
    expect(root.querySelector("math")).not.toBeNull();
    expect(root.querySelector("img")).toBeNull();
    await poke(root);
  });

  it("typesets LaTeX as MathML, with or without delimiters", () => {
    for (const latex of [
      "$$x^2$$",
      "$\\displaystyle \\frac{1}{2}$",
      "\\[a+b\\]",
      "\\begin{aligned}a&=b\\end{aligned}",
    ]) {
      const math = content(shown({ "text/latex": latex, "text/plain": "f" })).querySelectorAll("math");
      expect(math, latex).toHaveLength(1);
      expect(math[0].getAttribute("display"), latex).toBe("block");
    }
    const mixed = content(shown({ "text/latex": "where $a$ and $b$ are sides", "text/plain": "f" }));
    expect(mixed.querySelectorAll("math")).toHaveLength(2);
    expect(mixed.textContent).toContain("are sides");
  });

  it("does not run \\href or <script> in LaTeX", async () => {
    const display = shown({
      "text/latex": "$\\href{javascript:window.pwned='href'}{x} <script>window.pwned='s'</script>$",
      "text/plain": "f",
    });
    expect(display.el.querySelectorAll("script, a, [href]")).toHaveLength(0);
    await poke(display.el);
  });

  it("shows plain text as text, without terminal colour codes", () => {
    const display = shown({ "text/plain": "\u001b[31m<b>red</b>\u001b[0m" });
    const pre = content(display).querySelector("pre");
    expect(pre?.textContent).toBe("<b>red</b>");
    expect(pre?.querySelector("b")).toBeNull();
  });

  it("shows the note as a muted line, and nothing when there is none", () => {
    const display = shown({ "text/plain": "x" }, "Cut to 20 rows.");
    expect(noteOf(display).hidden).toBe(false);
    expect(noteOf(display).textContent).toBe("Cut to 20 rows.");
    expect(noteOf(shown({ "text/plain": "x" })).hidden).toBe(true);
  });

  it("re-renders only when the display changed", () => {
    const display = shown({ "text/html": "<p>one</p>", "text/plain": "1" });
    const node = content(display).firstChild;
    display.update({ data: { "text/html": "<p>one</p>", "text/plain": "1" }, note: null });
    expect(content(display).firstChild).toBe(node);
    display.update({ data: { "text/html": "<p>two</p>", "text/plain": "2" }, note: null });
    expect(content(display).firstChild).not.toBe(node);
    expect(content(display).textContent).toBe("two");
  });
});

// -- A widget manager like ipywidgets 8's (JupyterLab 4, Notebook 7) ----------------------------
type Message = Parameters<LuminoWidget["processMessage"]>[0];

/** Lumino's Widget as far as a view's `luminoWidget` goes: flags set by the messages it
 * processes, and a dispose that detaches, throwing (like Lumino) if its node already left the
 * page while it is flagged attached. */
class FakeLuminoWidget implements LuminoWidget {
  readonly messages: string[] = [];
  isAttached = false;
  isDisposed = false;
  constructor(
    readonly node: HTMLElement,
    readonly view: FakeView,
  ) {}

  processMessage(message: Message): void {
    this.messages.push(message.type);
    if (message.type === "after-attach") {
      this.isAttached = true;
      this.view.displayed = true; // DOMWidgetView triggers "displayed"
    }
    if (message.type === "after-detach") this.isAttached = false;
  }

  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    if (this.isAttached) {
      if (!this.node.isConnected) throw new Error("Widget is not attached.");
      this.processMessage({ type: "before-detach", isConflatable: false, conflate: () => false });
      this.node.remove();
      this.processMessage({ type: "after-detach", isConflatable: false, conflate: () => false });
    }
    this.view.remove();
  }
}

/** DOMWidgetView: `remove()` disposes its Lumino widget, then removes its element, stops
 * listening to the model and triggers "remove". */
class FakeView {
  readonly el = document.createElement("div");
  readonly luminoWidget: FakeLuminoWidget;
  displayed = false;
  removed = 0;
  #onRemove: (() => void)[] = [];

  constructor(readonly model: FakeWidgetModel) {
    this.el.className = "widget-slider";
    this.el.textContent = `slider ${model.id}`;
    this.luminoWidget = new FakeLuminoWidget(this.el, this);
    model.views.add(this);
  }

  remove(): void {
    if (!this.luminoWidget.isDisposed) this.luminoWidget.dispose();
    this.el.remove();
    this.model.views.delete(this);
    this.removed += 1;
    for (const callback of this.#onRemove.splice(0)) callback();
  }

  once(event: "remove", callback: () => void): void {
    if (event === "remove") this.#onRemove.push(callback);
  }
}

class FakeWidgetModel {
  readonly views = new Set<FakeView>();
  constructor(readonly id: string) {}
  /** The comm closed (the widget was closed, the kernel restarted): ipywidgets removes its
   * views. */
  destroy(): void {
    for (const v of [...this.views]) v.remove();
  }
}

class FakeManager implements WidgetManager {
  readonly models = new Map<string, FakeWidgetModel>();
  readonly created: FakeView[] = [];
  restoredStatus = true;
  #restored = new Set<() => void>();
  readonly restored = {
    connect: (slot: () => void) => this.#restored.add(slot),
    disconnect: (slot: () => void) => this.#restored.delete(slot),
  };

  constructor(...ids: string[]) {
    for (const id of ids) this.models.set(id, new FakeWidgetModel(id));
  }

  async get_model(id: string): Promise<unknown> {
    const model = this.models.get(id);
    if (model === undefined) throw new Error("widget model not found");
    return model;
  }

  async create_view(model: unknown): Promise<FakeView> {
    const created = new FakeView(model as FakeWidgetModel);
    this.created.push(created);
    return created;
  }

  /** After a page load: the kernel's models arrive. */
  restore(...ids: string[]): void {
    for (const id of ids) this.models.set(id, new FakeWidgetModel(id));
    this.restoredStatus = true;
    for (const slot of [...this.#restored]) slot();
  }

  get live(): FakeView[] {
    return this.created.filter((v) => v.removed === 0);
  }
}

const widgetData = (modelId = REF.model_id) => ({
  [WIDGET_MIME]: { ...REF, model_id: modelId },
  "text/plain": `IntSlider(value=3) ${modelId}`,
});

describe("live widgets", () => {
  it("falls back to text with a note when the manager has no such model", async () => {
    const display = shown(widgetData(), null, new FakeManager());
    await settled();
    expect(display.el.dataset.mime).toBe("text/plain");
    expect(content(display).querySelector("pre")?.textContent).toBe("IntSlider(value=3) slider_1");
    expect(noteOf(display).textContent).toBe(WIDGET_UNAVAILABLE);
  });

  it("falls back when get_model rejects or there is no manager, keeping the kernel's note", async () => {
    const rejecting = { get_model: () => Promise.reject(new Error("no")) };
    const display = shown(widgetData(), "A live widget: it ended with its kernel.", rejecting);
    await settled();
    expect(display.el.dataset.mime).toBe("text/plain");
    expect(noteOf(display).textContent).toBe(
      `A live widget: it ended with its kernel. · ${WIDGET_UNAVAILABLE}`,
    );
    const none = shown(widgetData(), null, null);
    expect(none.el.dataset.mime).toBe("text/plain");
    expect(noteOf(none).textContent).toBe(WIDGET_UNAVAILABLE);
  });

  it("attaches a view of the model like Lumino's Widget.attach, and removes it", async () => {
    const manager = new FakeManager("slider_1");
    const display = shown(widgetData(), null, manager);
    await settled();
    const [created] = manager.created;
    expect(display.el.dataset.mime).toBe(WIDGET_MIME);
    expect(get(display.el, "live-widget").firstChild).toBe(created.el);
    expect(created.el.isConnected).toBe(true);
    expect(created.luminoWidget.messages).toEqual(["before-attach", "after-attach"]);
    expect(created.displayed).toBe(true);
    expect(noteOf(display).hidden).toBe(true);

    display.remove();
    expect(created.removed).toBeGreaterThan(0);
    expect(created.luminoWidget.messages).toEqual([
      "before-attach",
      "after-attach",
      "before-detach",
      "after-detach",
    ]);
    expect(created.model.views.size).toBe(0);
  });

  it("removes a view whose element already left the page without Lumino throwing", async () => {
    const manager = new FakeManager("slider_1");
    const display = shown(widgetData(), null, manager);
    await settled();
    display.el.remove();
    expect(() => display.remove()).not.toThrow();
    expect(manager.live).toEqual([]);
  });

  it("keeps the same view while the display names the same model", async () => {
    const manager = new FakeManager("slider_1", "slider_2");
    const display = shown(widgetData(), null, manager);
    await settled();
    const [first] = manager.created;
    display.update({ data: { ...widgetData(), "text/plain": "IntSlider(value=4)" }, note: "moved" });
    await settled();
    expect(manager.created).toEqual([first]);
    expect(get(display.el, "live-widget").firstChild).toBe(first.el);
    expect(noteOf(display).textContent).toBe("moved");

    display.update({ data: widgetData("slider_2"), note: null });
    await settled();
    expect(manager.created).toHaveLength(2);
    expect(first.removed).toBeGreaterThan(0);
    expect(get(display.el, "live-widget").firstChild).toBe(manager.created[1].el);
  });

  it("waits for JupyterLab's manager to fetch the kernel's models after a page load", async () => {
    const manager = new FakeManager();
    manager.restoredStatus = false;
    const display = shown(widgetData(), null, manager);
    await settled();
    expect(display.el.dataset.mime).toBe("text/plain"); // in the meantime
    expect(noteOf(display).hidden).toBe(true);
    manager.restore("slider_1");
    await settled();
    expect(display.el.dataset.mime).toBe(WIDGET_MIME);
    expect(manager.live).toHaveLength(1);
  });

  it("shows the static form again when the model closes", async () => {
    const manager = new FakeManager("slider_1");
    const display = shown(widgetData(), null, manager);
    await settled();
    manager.models.get("slider_1")?.destroy();
    expect(display.el.dataset.mime).toBe("text/plain");
    expect(noteOf(display).textContent).toBe(WIDGET_UNAVAILABLE);
  });

  it("removes a view that arrives after the display went", async () => {
    const manager = new FakeManager("slider_1");
    const display = shown(widgetData(), null, manager);
    display.remove();
    await settled();
    expect(manager.live).toEqual([]);
    expect(display.el.querySelector(".widget-slider")).toBeNull();
  });
});

describe("in the chat", () => {
  const callWith = (display: Display | null, extra: Partial<ToolCall> = {}) =>
    toolCall({ name: "show", result: '"ok"', display, ...extra });

  it("shows a call's display under its card, visible while the card is closed", async () => {
    const model = new FakeModel({
      messages: [
        message("assistant", "", {
          tool_calls: [callWith({ data: { "text/html": "<b>hi</b>" }, note: null })],
        }),
      ],
    });
    const el = await view(model);
    const [card] = all(el, "tool-call") as HTMLDetailsElement[];
    expect(card.open).toBe(false);
    const display = get(el, "tool-display");
    expect(card.nextElementSibling).toBe(display);
    expect(display.querySelector("b")?.textContent).toBe("hi");
    // The raw result is still in the card.
    expect(card.querySelector(".cw-tool-result")?.textContent).toBe("ok");
  });

  it("has no display for a call without one (older messages too)", async () => {
    const older = toolCall({ result: '"ok"' });
    delete (older as Partial<ToolCall>).display;
    const el = await view(new FakeModel({ messages: [message("assistant", "", { tool_calls: [older] })] }));
    expect(all(el, "tool-display")).toHaveLength(0);
  });

  it("shows a running call's progress and follows it, keeping a live widget's node", async () => {
    const manager = new FakeManager("slider_1");
    const model = new FakeModel({ status: "working" });
    model.widget_manager = manager as unknown as FakeModel["widget_manager"];
    const el = await view(model);
    const draft = message("assistant", "", { status: "in_progress" });
    const working = { data: { "text/markdown": "working…", "text/plain": "working…" }, note: null };
    model.receive({
      kind: "draft",
      message: { ...draft, tool_calls: [callWith(working, { status: "running" })] },
    });
    await nextFrame();
    expect(get(el, "tool-display").textContent?.trim()).toBe("working…");

    const live = { data: widgetData(), note: null };
    model.receive({
      kind: "draft",
      message: { ...draft, tool_calls: [callWith(live, { status: "running" })] },
    });
    await nextFrame();
    await settled();
    const node = get(el, "live-widget");
    expect(node.firstChild).toBe(manager.created[0].el);

    // Other fields change (status, arguments), and a new snapshot brings an equal display.
    model.receive({
      kind: "draft",
      message: {
        ...draft,
        content: [{ type: "text", text: { value: "Here", annotations: [] } }],
        tool_calls: [callWith(structuredClone(live), { status: "completed", arguments: '{"a": 1}' })],
      },
    });
    await nextFrame();
    await settled();
    expect(get(el, "live-widget")).toBe(node);
    expect(manager.created).toHaveLength(1);
  });

  it("removes live widget views with their message, and when the view closes", async () => {
    const manager = new FakeManager("slider_1", "slider_2");
    const model = new FakeModel();
    model.widget_manager = manager as unknown as FakeModel["widget_manager"];
    const first = message("assistant", "", { tool_calls: [callWith({ data: widgetData(), note: null })] });
    const second = message("assistant", "", {
      tool_calls: [callWith({ data: widgetData("slider_2"), note: null })],
    });
    model.set("messages", [first, second]);
    await view(model);
    await settled();
    expect(manager.live).toHaveLength(2);

    model.set("messages", [second]); // an undo, a thread switch
    expect(manager.live.map((v) => v.model.id)).toEqual(["slider_2"]);
    await unmountAll();
    expect(manager.live).toEqual([]);
  });
});
