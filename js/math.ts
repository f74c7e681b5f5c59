// TeX -> MathML with KaTeX, for `$…$` / `$$…$$` in answers and for `text/latex` results.
// MathML output only: Chromium, Firefox and Safari render MathML Core natively, so no fonts or
// stylesheet are needed. The TeX is untrusted: KaTeX runs with trust: false (no \href, \url,
// \includegraphics, \html*), escapes every character it outputs, and what it outputs is still
// checked against a short list of elements and attributes before it reaches the page.
import katex from "katex";
import type { TokenizerAndRendererExtension } from "marked";

const MATHML = "http://www.w3.org/1998/Math/MathML";
// Longer formulas are shown as their source: KaTeX's time grows with the input.
const MAX_TEX = 10_000;

// Presentation attributes only: none of them loads or runs anything.
const MATH_ATTRIBUTES = new Set([
  "accent",
  "accentunder",
  "columnalign",
  "columnlines",
  "columnspacing",
  "depth",
  "display",
  "displaystyle",
  "encoding",
  "fence",
  "form",
  "frame",
  "height",
  "largeop",
  "linethickness",
  "lspace",
  "mathbackground",
  "mathcolor",
  "mathsize",
  "mathvariant",
  "maxsize",
  "minsize",
  "movablelimits",
  "notation",
  "rowalign",
  "rowlines",
  "rowspacing",
  "rspace",
  "scriptlevel",
  "separator",
  "stretchy",
  "symmetric",
  "voffset",
  "width",
  "xmlns",
]);
const KATEX_CLASS = /^katex(?:-display|-error)?$/;

/** Keeps only what KaTeX's MathML output is made of: MathML elements with presentation
 * attributes, and KaTeX's own wrapper and error spans. Anything else becomes its text. */
function harden(root: DocumentFragment): void {
  for (const el of [...root.querySelectorAll("*")]) {
    const isMath = el.namespaceURI === MATHML;
    if (!isMath && el.localName !== "span") {
      el.replaceWith(el.textContent ?? "");
      continue;
    }
    for (const { name, value } of [...el.attributes]) {
      const keep = isMath
        ? MATH_ATTRIBUTES.has(name)
        : (name === "class" && KATEX_CLASS.test(value)) || name === "title";
      if (!keep) el.removeAttribute(name);
    }
  }
}

// The draft re-renders its whole answer every frame: each formula is typeset once.
const cache = new Map<string, DocumentFragment>();
const CACHE_SIZE = 500;

/** TeX typeset as MathML (inline, or a block when `display`); a formula KaTeX cannot parse
 * shows its source, marked as an error. */
export function renderTex(tex: string, display: boolean): DocumentFragment {
  const key = `${display ? "D" : "I"}${tex}`;
  let fragment = cache.get(key);
  if (fragment === undefined) {
    fragment = typeset(tex, display);
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    cache.set(key, fragment);
  }
  return fragment.cloneNode(true) as DocumentFragment;
}

function typeset(tex: string, display: boolean): DocumentFragment {
  if (tex.length > MAX_TEX) {
    const fragment = document.createDocumentFragment();
    const code = document.createElement("code");
    code.textContent = tex;
    fragment.append(code);
    return fragment;
  }
  const html = katex.renderToString(tex, {
    output: "mathml",
    displayMode: display,
    throwOnError: false,
    trust: false,
    strict: "ignore",
    maxSize: 50,
    maxExpand: 500,
  });
  // A template's content is inert: nothing in it loads or runs while it is checked.
  const template = document.createElement("template");
  template.innerHTML = html;
  harden(template.content);
  return template.content;
}

// -- Math in Markdown -------------------------------------------------------------------------
// `$…$` is math only when no space follows the opening `$` or precedes the closing one, and no
// digit follows the closing one: "$5 and $10" stays currency. `\$` is a dollar sign (Marked's
// escapes run first). Code spans and code blocks are tokenised before any `$` in them is seen.
const INLINE = /^\$(?![\s$])((?:\\[^\n]|[^\\$\n])*?[^\s\\])\$(?!\d)/;
// `$$…$$` inside a paragraph (may span lines, not blank ones).
const INLINE_DISPLAY = /^\$\$((?:\\[\s\S]|[^\\$])+?)\$\$/;
// `$$…$$` as a block of its own.
const BLOCK = /^ {0,3}\$\$((?:\\[\s\S]|[^\\$])+?)\$\$[^\S\n]*(?:\n+|$)/;

interface MathToken {
  type: "math";
  raw: string;
  text: string;
  display: boolean;
}

/** Formulas of the Markdown being rendered, stood in for by placeholders until the HTML is
 * sanitised (the sanitiser allows no MathML); see `fillMath`. */
let formulas: MathToken[] = [];
let nonce = "";

const placeholder = (token: MathToken): string => {
  formulas.push(token);
  return `\uE000${nonce}:${formulas.length - 1}\uE001`;
};

function inlineStart(src: string): number | undefined {
  for (let index = src.indexOf("$"); index !== -1; index = src.indexOf("$", index + 1)) {
    if (index > 0 && src[index - 1] === "\\") continue;
    const rest = src.slice(index);
    if (INLINE_DISPLAY.test(rest) || INLINE.test(rest)) return index;
  }
  return undefined;
}

const noBlankLine = (text: string) => !/\n[^\S\n]*\n/.test(text);

export const mathExtensions: TokenizerAndRendererExtension[] = [
  {
    name: "math",
    level: "block",
    tokenizer(src) {
      const match = BLOCK.exec(src);
      if (match === null || !noBlankLine(match[1])) return undefined;
      return { type: "math", raw: match[0], text: match[1].trim(), display: true };
    },
    renderer: (token) => `<p>${placeholder(token as unknown as MathToken)}</p>\n`,
  },
  {
    name: "mathInline",
    level: "inline",
    start: inlineStart,
    tokenizer(src) {
      const display = INLINE_DISPLAY.exec(src);
      if (display !== null && noBlankLine(display[1]))
        return { type: "mathInline", raw: display[0], text: display[1].trim(), display: true };
      const inline = INLINE.exec(src);
      if (inline !== null) return { type: "mathInline", raw: inline[0], text: inline[1], display: false };
      return undefined;
    },
    renderer: (token) => placeholder(token as unknown as MathToken),
  },
];

/** Starts collecting the formulas of one Markdown text. */
export function beginMath(): void {
  formulas = [];
  nonce = Math.random().toString(36).slice(2, 10);
}

/** Replaces the placeholders in sanitised `root` with the typeset formulas collected since
 * `beginMath`. */
export function fillMath(root: DocumentFragment): void {
  const found = formulas;
  formulas = [];
  if (found.length === 0) return;
  const pattern = new RegExp(`\uE000${nonce}:(\\d+)\uE001`, "g");
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const texts: Text[] = [];
  for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
    if ((node as Text).data.includes("\uE000")) texts.push(node as Text);
  }
  for (const text of texts) {
    const parts: (Node | string)[] = [];
    let last = 0;
    for (const match of text.data.matchAll(pattern)) {
      const token = found[Number(match[1])];
      if (token === undefined) continue;
      parts.push(text.data.slice(last, match.index), renderTex(token.text, token.display));
      last = match.index + match[0].length;
    }
    if (parts.length === 0) continue;
    parts.push(text.data.slice(last));
    text.replaceWith(...parts);
  }
}
