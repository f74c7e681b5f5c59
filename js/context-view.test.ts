// "What the copilot sees": asked of the kernel when opened, shown as plain text.
import { afterEach, describe, expect, it } from "vitest";
import { FakeModel, get, settled, unmountAll, view } from "./fake-model";

afterEach(async () => {
  await unmountAll();
});

describe("the Context button", () => {
  it("asks the kernel for the context and shows it as text, never as markup", async () => {
    const model = new FakeModel();
    const el = await view(model);
    const panel = get(el, "context-panel");
    expect(panel.hidden).toBe(true);
    get(el, "context-button").click();
    expect(model.last("get_context").kind).toBe("get_context");
    const context = 'Be brief.\n## Pages\n{"pages": [{"type": "order"}]}<img src=x onerror="alert(1)">';
    model.receive({
      kind: "reply",
      request_id: model.last("get_context").request_id,
      ok: true,
      error: null,
      result: { context },
    });
    await settled();
    expect(panel.hidden).toBe(false);
    expect(get(el, "context-text").textContent).toBe(context);
    expect(panel.querySelector("img")).toBeNull();
    get(el, "context-close").click();
    expect(panel.hidden).toBe(true);
    expect(get(el, "context-button").getAttribute("aria-expanded")).toBe("false");
  });

  it("says why when the kernel cannot answer", async () => {
    const model = new FakeModel();
    const el = await view(model);
    get(el, "context-button").click();
    await model.refuse("get_context", "The kernel is gone.");
    expect(get(el, "context-text").textContent).toContain("The kernel is gone.");
  });
});
