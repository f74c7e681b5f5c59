// The height option and the remembered height, without a layout engine (the sizes themselves are
// checked in a real browser: tests/browser/test_layout.py).
import { afterEach, describe, expect, it } from "vitest";
import { FakeModel, get, unmountAll, view } from "./fake-model";
import { ChatHeight, HeightMemory, learnModelId } from "./layout";

afterEach(async () => {
  await unmountAll();
  localStorage.clear();
});

describe("the height option", () => {
  it("keeps the stylesheet's height by default", async () => {
    const root = get(await view(new FakeModel()), "copilot-root");
    expect(root.dataset.height).toBe("default");
    expect(root.style.height).toBe("");
  });

  it("sets a CSS length, and follows a change from the kernel", async () => {
    const model = new FakeModel({ height: "600px" });
    const root = get(await view(model), "copilot-root");
    expect(root.dataset.height).toBe("fixed");
    expect(root.style.height).toBe("600px");
    model.set("height", "70vh");
    expect(root.style.height).toBe("70vh");
    model.set("height", "");
    expect(root.dataset.height).toBe("default");
    expect(root.style.height).toBe("");
  });

  it("fills the element it is shown in outside a notebook", async () => {
    const root = get(await view(new FakeModel({ height: "fill" })), "copilot-root");
    expect(root.dataset.height).toBe("fill");
    expect(root.style.height).toBe("100%");
  });
});

describe("the height the user dragged to", () => {
  it("is kept under the widget's model id, and read back by a new page", () => {
    const before = new HeightMemory();
    before.identify("model-1");
    before.remember("640px");
    const other = new HeightMemory();
    other.identify("model-2");
    other.remember("300px");

    const reloaded = new HeightMemory();
    expect(reloaded.height).toBeNull();
    expect(reloaded.identify("model-1")).toBe("640px");
    expect(new HeightMemory().identify("model-3")).toBeNull();
  });

  it("wins over the option, until the notebook's code sets another height", () => {
    const memory = new HeightMemory();
    memory.remember("650px");
    const root = document.createElement("div");
    const height = new ChatHeight(root, memory);
    height.setOption("500px");
    expect(root.style.height).toBe("650px");
    height.setOption("400px", true);
    expect(root.style.height).toBe("400px");
    expect(memory.height).toBeNull();
    height.dispose();
  });

  it("keeps only the latest widgets' heights", () => {
    for (let n = 0; n < 60; n++) {
      const memory = new HeightMemory();
      memory.identify(`model-${n}`);
      memory.remember(`${300 + n}px`);
    }
    const stored = JSON.parse(localStorage.getItem("copilot-widget:heights") ?? "{}");
    expect(Object.keys(stored)).toHaveLength(50);
    expect(new HeightMemory().identify("model-59")).toBe("359px");
  });
});

describe("the widget's model id", () => {
  it("comes from the view anywidget calls handlers with, once", () => {
    const model = new FakeModel();
    const ids: string[] = [];
    let handler: ((this: unknown) => void) | undefined;
    const proxy = {
      ...model,
      on: (_event: string, callback: (this: unknown) => void) => {
        handler = callback;
      },
      off: () => {
        handler = undefined;
      },
    } as unknown as FakeModel;
    learnModelId(proxy, (id) => ids.push(id));
    const view = { model: { model_id: "abc123" } };
    handler?.call(view);
    expect(ids).toEqual(["abc123"]);
    expect(handler).toBeUndefined(); // unsubscribed after the first message
  });

  it("is unknown where the host passes no view", () => {
    const model = new FakeModel();
    const ids: string[] = [];
    learnModelId(model, (id) => ids.push(id));
    model.receive({ kind: "reply", request_id: "r1", ok: true, error: null });
    expect(ids).toEqual([]);
  });
});
