// Markdown from the model -> sanitised DOM. The model's text (and, through prompt injection,
// anything a tool returned) is untrusted: everything goes through DOMPurify before it
// touches the page.
import DOMPurify from "dompurify";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import markdown from "highlight.js/lib/languages/markdown";
import plaintext from "highlight.js/lib/languages/plaintext";
import python from "highlight.js/lib/languages/python";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import { Marked } from "marked";

// A handful of common languages keeps the bundle small; their aliases (py, js, ts, sh, md...)
// come with them.
for (const [name, language] of Object.entries({
  bash,
  javascript,
  json,
  markdown,
  plaintext,
  python,
  sql,
  typescript,
})) {
  hljs.registerLanguage(name, language);
}

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
});

const purify = DOMPurify();

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
  // Nothing that embeds another document, submits data, or restyles the page.
  FORBID_TAGS: [
    "style",
    "iframe",
    "frame",
    "object",
    "embed",
    "form",
    "input",
    "button",
    "select",
    "textarea",
    "link",
    "meta",
    "base",
  ],
  FORBID_ATTR: ["style", "srcdoc", "formaction"],
  ALLOW_DATA_ATTR: false,
};

/** Sanitises an HTML string into a fragment (no scripts, handlers, javascript: URLs...). */
export function sanitize(html: string): DocumentFragment {
  return purify.sanitize(html, { ...SANITIZE_CONFIG, RETURN_DOM_FRAGMENT: true });
}

/** Renders model markdown to a sanitised fragment, with a Copy button on every code block. */
export function renderMarkdown(text: string): DocumentFragment {
  const fragment = sanitize(marked.parse(text, { async: false }));
  // A remote image loads by itself, so injected text could leak data through its URL: it
  // becomes a link the user may choose to open. Inline (data:) images stay.
  for (const img of fragment.querySelectorAll("img")) {
    const src = img.getAttribute("src") ?? "";
    if (src.startsWith("data:image/")) continue;
    const link = document.createElement("a");
    link.href = src;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.className = "cw-image-link";
    link.textContent = `[image: ${img.getAttribute("alt") || src}]`;
    img.replaceWith(link);
  }
  for (const pre of fragment.querySelectorAll("pre")) {
    const block = document.createElement("div");
    block.className = "cw-code";
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
