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

/** A `type="button"` button with a test id: the controls of the chat are all built this way. */
export function button(
  label: string,
  testid: string,
  className: string,
  attrs: Attrs = {},
): HTMLButtonElement {
  return h("button", { type: "button", class: className, "data-testid": testid, ...attrs }, label);
}
