// Math in answers: `$…$` and `$$…$$` typeset as MathML by KaTeX, currency and code left alone,
// and nothing in a formula able to run or load anything.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { renderMarkdown } from "./markdown";
import { renderTex } from "./math";

const page = (globalThis as unknown as { jsdom: { window: { pwned?: string } } }).jsdom.window;
const MATHML = "http://www.w3.org/1998/Math/MathML";

function render(text: string): HTMLElement {
  const host = document.createElement("div");
  host.className = "cw-message-body";
  host.append(renderMarkdown(text));
  document.body.append(host);
  return host;
}

/** Nothing in `root` runs, loads, links or borrows the page's classes. */
async function expectInert(root: HTMLElement): Promise<void> {
  expect(root.querySelectorAll("script, iframe, object, embed, style, svg, a, img, input")).toHaveLength(0);
  for (const node of root.querySelectorAll("*")) {
    for (const { name, value } of node.attributes) {
      expect(name.startsWith("on"), `${node.localName} ${name}`).toBe(false);
      expect(["href", "src", "xlink:href", "style", "id", "action"]).not.toContain(name);
      if (name === "class") expect(value).toMatch(/^(?:katex(?:-error)?|hljs.*|language-\w+)$/);
    }
    for (const type of ["load", "error", "click", "focus"]) node.dispatchEvent(new Event(type));
  }
  await new Promise((resolve) => setTimeout(resolve, 10));
  expect(page.pwned).toBeUndefined();
}

beforeEach(() => {
  page.pwned = undefined;
});
afterEach(() => {
  document.body.replaceChildren();
});

describe("math in answers", () => {
  it("typesets inline math as MathML inside the text", () => {
    const host = render("Euler: $e^{i\\pi} + 1 = 0$, done.");
    const math = host.querySelector("math");
    expect(math?.namespaceURI).toBe(MATHML);
    expect(math?.getAttribute("display")).toBeNull();
    expect(math?.querySelector("msup")).not.toBeNull();
    expect(host.querySelector("p")?.firstChild?.textContent).toBe("Euler: ");
    expect(host.textContent).toContain(", done.");
    expect(host.textContent).not.toContain("$");
  });

  it("typesets $$ blocks, on their own lines or inside a paragraph, as display math", () => {
    for (const text of [
      "$$\n\\sum_{i=1}^n x_i\n$$",
      "The sum:\n$$\\sum_{i=1}^n x_i$$\nas shown.",
      "Before\n\n$$\n\\sum_{i=1}^n x_i\n$$\n\nAfter",
    ]) {
      const host = render(text);
      const math = host.querySelectorAll("math");
      expect(math, text).toHaveLength(1);
      expect(math[0].getAttribute("display"), text).toBe("block");
      expect(math[0].querySelector("munderover"), text).not.toBeNull();
    }
  });

  it("leaves currency, escaped dollars, spaced dollars and code alone", () => {
    for (const text of [
      "It costs $5 and $10.",
      "Between $5 and $10, or $20.",
      "Prices: $3.50, $4.25",
      "A literal \\$x\\$ here.",
      "Spaced $ x $ is not math.",
      "A digit after: $x$5 is not math.",
      "In code: `$x^2$` stays.",
      "```\nprice = $x$\n```",
      "    indented $x$ code",
    ]) {
      const host = render(text);
      expect(host.querySelector("math"), text).toBeNull();
      expect(host.textContent, text).toContain("$");
    }
    expect(render("`$x^2$`").querySelector("code")?.textContent).toBe("$x^2$");
  });

  it("typesets math next to currency", () => {
    const host = render("Pay $5 for $x^2$ apples.");
    expect(host.querySelectorAll("math")).toHaveLength(1);
    expect(host.textContent).toContain("Pay $5 for ");
  });

  it("cannot run or load anything from a formula", async () => {
    const host = render(
      [
        "$\\href{javascript:window.pwned='href'}{click}$",
        "$\\url{javascript:window.pwned='url'}$",
        "$\\includegraphics{https://evil.test/x.png}$",
        "$\\htmlClass{jp-Dialog}{x} \\htmlId{cw-composer}{y} \\htmlStyle{color:red}{z}$",
        "$\\htmlData{onclick=window.pwned='data'}{w}$",
        "$<script>window.pwned='script'</script>$",
        "$x</math><img src=x onerror=window.pwned='break'>$",
        "$$\n<img src=x onerror=window.pwned='block'>\n$$",
        "$\\color{url(https://evil.test/c)}{x}$",
      ].join("\n\n"),
    );
    expect(host.querySelectorAll("math").length).toBeGreaterThanOrEqual(7);
    await expectInert(host);
  });

  it("shows a formula it cannot parse as its source, marked as an error", () => {
    const host = render("Broken: $\\frac{1$ here");
    const error = host.querySelector(".katex-error");
    expect(error?.textContent).toBe("\\frac{1");
    expect(error?.hasAttribute("style")).toBe(false);
  });

  it("does not let text forge a formula placeholder", () => {
    const host = render("\uE000abc:0\uE001 and $x$");
    expect(host.querySelectorAll("math")).toHaveLength(1);
    expect(host.textContent).toContain("\uE000abc:0\uE001");
  });
});

describe("renderTex", () => {
  it("returns a fresh copy each time", () => {
    const a = renderTex("x^2", false);
    const b = renderTex("x^2", false);
    expect(a).not.toBe(b);
    expect(a.querySelector("math")).not.toBe(b.querySelector("math"));
  });

  it("keeps only MathML and KaTeX's own spans", () => {
    const fragment = renderTex("\\colorbox{red}{x} \\boxed{y} \\rule{1em}{2em}", true);
    for (const node of fragment.querySelectorAll("*")) {
      expect(node.namespaceURI === MATHML || node.localName === "span", node.localName).toBe(true);
    }
  });
});
