// A tiny element builder. Text is always set as text (never parsed as HTML).

type Attrs = Record<string, string | boolean | undefined>;

/** `h("button", {class: "x", type: "button"}, "Send")`: attributes set as strings; `true` sets
 * an empty attribute, `false`/`undefined` omit it. String children become text nodes. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === true) el.setAttribute(name, "");
    else if (typeof value === "string") el.setAttribute(name, value);
  }
  el.append(...children);
  return el;
}
