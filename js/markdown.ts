// Markdown from the model -> sanitised DOM. The model's text (and, through prompt injection,
// anything a tool returned) is untrusted: everything goes through DOMPurify before it
// touches the page.
import DOMPurify from "dompurify";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import julia from "highlight.js/lib/languages/julia";
import markdown from "highlight.js/lib/languages/markdown";
import pgsql from "highlight.js/lib/languages/pgsql";
import plaintext from "highlight.js/lib/languages/plaintext";
import python from "highlight.js/lib/languages/python";
import r from "highlight.js/lib/languages/r";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import yaml from "highlight.js/lib/languages/yaml";
import { Marked, type Token, type TokensList } from "marked";
import { beginMath, fillMath, mathExtensions } from "./math";

// The languages of data work keep the bundle small; their aliases (py, js, ts, sh, md, yml,
// postgres...) come with them.
for (const [name, language] of Object.entries({
  bash,
  javascript,
  json,
  julia,
  markdown,
  pgsql,
  plaintext,
  python,
  r,
  sql,
  typescript,
  yaml,
})) {
  hljs.registerLanguage(name, language);
}
// SQL dialects models name their fences after: PostgreSQL's own grammar, the generic one for
// the rest.
hljs.registerAliases(["psql", "postgre", "plpgsql", "timescaledb"], { languageName: "pgsql" });
hljs.registerAliases(
  [
    "mysql",
    "mariadb",
    "sqlite",
    "sqlite3",
    "duckdb",
    "bigquery",
    "tsql",
    "t-sql",
    "mssql",
    "plsql",
    "oracle",
    "snowflake",
    "redshift",
    "sparksql",
    "spark-sql",
    "hive",
    "hiveql",
    "trino",
    "presto",
    "athena",
    "clickhouse",
  ],
  { languageName: "sql" },
);
hljs.registerAliases(["jl"], { languageName: "julia" });
hljs.registerAliases(["rscript", "splus"], { languageName: "r" });

const marked = new Marked({
  gfm: true,
  renderer: {
    // Highlight here, before sanitising, so one DOMPurify pass covers the highlighter's output.
    code({ text, lang }) {
      const name = (lang ?? "").trim().split(/\s+/)[0].toLowerCase();
      const language = name && hljs.getLanguage(name) ? name : "plaintext";
      const html = hljs.highlight(text, { language, ignoreIllegals: true }).value;
      return `<pre><code class="hljs language-${language}">${html}</code></pre>\n`;
    },
  },
  extensions: mathExtensions,
});

const purify = DOMPurify();

// Only a link the user clicks may reach another host. Attributes the browser fetches (or
// sends to) by itself may hold nothing but an inline data: URL; img[src] is let through to
// `sanitize`, which turns remote images into links.
const URL_ATTRIBUTES = new Set([
  "action",
  "archive",
  "background",
  "cite",
  "classid",
  "codebase",
  "data",
  "dynsrc",
  "formaction",
  "href",
  "icon",
  "imagesrcset",
  "longdesc",
  "lowsrc",
  "manifest",
  "ping",
  "poster",
  "profile",
  "src",
  "srcset",
  "usemap",
  "xlink:href",
]);
// Never useful here: candidate lists of URLs, a URL told about every click, and ids and
// names that could clash with the page's.
const DROPPED_ATTRIBUTES = new Set(["srcset", "imagesrcset", "ping", "id", "name"]);
// The classes our own code renderer emits (highlight.js scopes and sub-scopes such as
// `function_`): anything else could borrow JupyterLab's or the widget's styling.
const KEPT_CLASS = /^(?:hljs(?:-[\w-]+)?|language-[\w-]+|[a-z][a-z\d]*_+)$/;
// Whitespace and control characters browsers ignore inside a URL.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds.
const URL_NOISE = /[\s\u0000-\u001f\u007f-\u009f\u00a0\u1680\u180e\u2000-\u2029\u205f\u3000\ufeff]/g;
// What reads as a URL in any other attribute: a network or script scheme, or `//host`.
const LOOKS_LIKE_URL =
  /^(?:\/\/|\\\\|[a-z][a-z\d+.-]*:\/\/|(?:https?|ftps?|wss?|file|blob|filesystem|javascript|vbscript|mhtml|jar):)/i;

const isData = (value: string) => value.replace(URL_NOISE, "").toLowerCase().startsWith("data:");

purify.addHook("uponSanitizeAttribute", (node, data) => {
  const name = data.attrName;
  const tag = node.nodeName.toLowerCase();
  if (DROPPED_ATTRIBUTES.has(name)) {
    data.keepAttr = false;
  } else if (name === "class") {
    const kept = data.attrValue.split(/\s+/).filter((token) => KEPT_CLASS.test(token));
    data.attrValue = kept.join(" ");
    if (kept.length === 0) data.keepAttr = false;
  } else if ((tag === "a" && name === "href") || (tag === "img" && name === "src")) {
    // A link needs a click; DOMPurify already refuses script URLs here.
  } else if (URL_ATTRIBUTES.has(name)) {
    if (!isData(data.attrValue)) data.keepAttr = false;
  } else if (LOOKS_LIKE_URL.test(data.attrValue.replace(URL_NOISE, ""))) {
    data.keepAttr = false;
  }
});

// Links open outside the notebook and cannot reach back into it.
purify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

const SANITIZE_CONFIG = {
  // HTML only: no SVG or MathML (fewer ways in, nothing a chat answer needs).
  USE_PROFILES: { html: true },
  // Nothing that embeds another document, submits data, restyles the page, loads media by
  // itself (their fallback text stays) or floats over the chat.
  FORBID_TAGS: [
    "style",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "form",
    "input",
    "button",
    "select",
    "textarea",
    "link",
    "meta",
    "base",
    "video",
    "audio",
    "source",
    "track",
    "picture",
    "template",
    "dialog",
  ],
  FORBID_ATTR: ["style", "srcdoc", "formaction", "ping", "srcset"],
  ALLOW_DATA_ATTR: false,
};

/** Sanitises an HTML string into a fragment (no scripts, handlers, javascript: URLs, nothing
 * that loads from another host without a click, none of the page's classes or ids). */
export function sanitize(html: string): DocumentFragment {
  // The leading <wbr> keeps the parser in the body: text that starts with <frameset> would
  // otherwise replace the body, and DOMPurify would return nothing at all.
  const fragment = purify.sanitize(`<wbr>${html}`, { ...SANITIZE_CONFIG, RETURN_DOM_FRAGMENT: true });
  if (fragment.firstChild?.nodeName === "WBR") fragment.firstChild.remove();
  // A remote image loads by itself, so injected text could leak data through its URL: it
  // becomes a link the user may choose to open. Inline (data:image/) images stay. The
  // fragment belongs to DOMPurify's inert document, so nothing loaded before this.
  for (const img of fragment.querySelectorAll("img")) {
    const src = img.getAttribute("src") ?? "";
    if (src.startsWith("data:image/")) continue;
    const text = `[image: ${img.getAttribute("alt") || src}]`;
    if (src === "" || isData(src)) {
      img.replaceWith(text);
      continue;
    }
    const link = document.createElement("a");
    link.href = src;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.className = "cw-image-link";
    link.textContent = text;
    img.replaceWith(link);
  }
  return fragment;
}

/** Renders model markdown to a sanitised fragment, with a Copy button on every code block and
 * `$…$` / `$$…$$` typeset as MathML. */
export function renderMarkdown(text: string): DocumentFragment {
  beginMath();
  return decorate(marked.parse(text, { async: false }));
}

/** Markdown blocks (from `marked.lexer`) rendered like `renderMarkdown`. */
function renderBlocks(blocks: Token[]): DocumentFragment {
  beginMath();
  return decorate(marked.parser(blocks));
}

/** The markdown of an answer still streaming into `root`, rendered a block at a time. A block
 * is final once the next one has begun: it is rendered once and kept, and only the last block
 * is rendered again as text arrives. A frame then costs the size of one block, not of the whole
 * answer, which would grow quadratically over a long reply. (The finished message is rendered
 * whole, so a construct that spans blocks, rare in answers, is right in the end.) */
export class MarkdownStream {
  #root: HTMLElement;
  #text = "";
  /** Characters of the text whose blocks are final and in `root`. */
  #final = 0;
  /** The nodes of the last block, replaced at every update. */
  #last: ChildNode[] = [];
  /** Link reference definitions seen so far (a later block may use an earlier one). */
  #links: TokensList["links"] = {};

  constructor(root: HTMLElement) {
    this.#root = root;
  }

  update(text: string): void {
    if (text === this.#text) return;
    if (!text.startsWith(this.#text.slice(0, this.#final))) {
      this.#links = {}; // not a continuation (the draft was replaced): start again
      this.#restart();
    }
    this.#text = text;
    let blocks = this.#lex(text.slice(this.#final));
    if (Object.keys(blocks.links).some((label) => !(label in this.#links))) {
      // A new link reference definition: blocks before it may use it, render them all again.
      Object.assign(this.#links, blocks.links);
      this.#restart();
      blocks = this.#lex(text);
    }
    let last = blocks.length - 1;
    while (last > 0 && blocks[last].type === "space") last -= 1;
    const done = blocks.slice(0, Math.max(last, 0));
    const raw = done.map((block) => block.raw).join("");
    for (const node of this.#last) node.remove();
    let rest: Token[] = blocks;
    if (done.length > 0 && text.startsWith(raw, this.#final)) {
      this.#root.append(renderBlocks(done));
      this.#final += raw.length;
      rest = blocks.slice(last);
    }
    const fragment = renderBlocks(rest);
    this.#last = [...fragment.childNodes];
    this.#root.append(fragment);
  }

  #restart(): void {
    this.#root.replaceChildren();
    this.#final = 0;
    this.#last = [];
  }

  #lex(markdown: string): TokensList {
    const lexer = new marked.Lexer(marked.defaults);
    Object.assign(lexer.tokens.links, this.#links);
    return lexer.lex(markdown);
  }
}

/** Sanitises rendered HTML, typesets its formulas, and gives each code block its strip. */
function decorate(html: string): DocumentFragment {
  const fragment = sanitize(html);
  // The sanitiser allows no MathML: the formulas go in after it, typeset by our own code.
  fillMath(fragment);
  for (const pre of fragment.querySelectorAll("pre")) {
    const block = document.createElement("div");
    block.className = "cw-code";
    // The strip above the code shows the language's name beside the Copy button.
    const language = /\blanguage-(\S+)/.exec(pre.querySelector("code")?.className ?? "")?.[1];
    const grammar = language === undefined ? undefined : hljs.getLanguage(language);
    const label = grammar === hljs.getLanguage("plaintext") ? undefined : grammar?.name;
    if (label) block.dataset.language = label;
    pre.replaceWith(block);
    block.append(
      copyButton(() => pre.textContent ?? ""),
      pre,
    );
  }
  return fragment;
}

function copyButton(getText: () => string): HTMLButtonElement {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "cw-copy";
  button.textContent = "Copy";
  button.setAttribute("aria-label", "Copy code");
  button.addEventListener("click", async () => {
    const ok = await copyText(getText());
    button.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(() => {
      button.textContent = "Copy";
    }, 1500);
  });
  return button;
}

/** Copies text to the clipboard; falls back to execCommand where the Clipboard API is missing
 * or refused (insecure origins, some embedding iframes). */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // Fall through to the legacy path.
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  try {
    return document.execCommand("copy");
  } catch {
    return false;
  } finally {
    area.remove();
  }
}
