// The action buttons the model offers under a finished answer: each runs an action with
// arguments, or sends a reply text. Labels and titles are set as text only.
import { h } from "./dom";
import { RefusalNotice } from "./panels";
import type { Reply, Requester } from "./protocol";
import type { ActionButton } from "./types";

/** The tool the model offers buttons with (`copilot_widget/_buttons.py` TOOL_NAME): an internal
 * step, not an action of the app, so the chat shows its buttons and not its call. */
export const OFFER_BUTTONS_TOOL = "offer_buttons";

/** What the rows of a list share: where clicks go, whether a run is going on, whether a click
 * is on its way (all rows disabled until the kernel refuses it, or until the `messages` update
 * that records it), and the last refusal. */
export interface ButtonHost {
  request: Requester;
  readonly working: boolean;
  sending: boolean;
  /** How many clicks were sent: an answer to an older click than the last changes nothing. */
  clicks: number;
  /** The last click the kernel refused: the message whose row shows why. */
  refusal: { messageId: string; reply: Reply } | null;
  /** Re-renders every row (a click disables them all). */
  refresh(): void;
  /** Where the focus goes when the row it was on goes away. */
  readonly fallback: HTMLElement;
}

// How long the visible "what it runs" line may get before it is cut with an ellipsis.
const MAX_SHOWN = 80;
// Control, zero-width and bidi characters in model text could hide or reorder what is shown:
// they are shown escaped instead.
const INVISIBLE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds.
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g;

function visible(text: string): string {
  return text.replace(INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function shorten(text: string): string {
  const chars = Array.from(text);
  return chars.length > MAX_SHOWN ? `${chars.slice(0, MAX_SHOWN - 1).join("")}…` : text;
}

/** `name(key=value, ...)` with the values as JSON; `short` cuts the arguments to a bounded
 * length. */
export function describeAction(b: ActionButton, short = false): string {
  const args = Object.entries(b.arguments ?? {})
    .map(([key, value]) => `${key}=${JSON.stringify(value) ?? String(value)}`)
    .join(", ");
  const name = visible(b.action ?? "");
  return `${short ? shorten(name) : name}(${short ? shorten(visible(args)) : visible(args)})`;
}

/** The title of a button: what a click does, in full. */
export function buttonTitle(b: ActionButton): string {
  if (b.action) return `Runs ${describeAction(b)}`;
  if (b.reply != null) return `Sends: ${b.reply}`;
  return b.label;
}

/** The visible line under the label: what a click runs or sends (empty: nothing to add). */
export function buttonEffect(b: ActionButton): string {
  if (b.action) return `Runs ${describeAction(b, true)}`;
  if (b.reply != null) {
    return b.reply === b.label ? "Sends this as your reply" : `Sends: ${shorten(visible(b.reply))}`;
  }
  return "";
}

/** The row of buttons under one finished assistant message (empty and hidden without any). */
export class ActionButtonRow {
  readonly el = h("div", {
    class: "cw-action-buttons",
    "data-testid": "action-buttons",
    role: "group",
    "aria-label": "Suggested actions",
    tabindex: "-1",
    hidden: true,
  });
  #host: ButtonHost;
  #messageId = "";
  #key = "";
  #buttons: HTMLButtonElement[] = [];
  #notice = new RefusalNotice();

  /** The user asked something since this answer: its options may no longer fit (the kernel
   * refuses such clicks too). */
  #stale = false;

  constructor(host: ButtonHost) {
    this.#host = host;
  }

  set stale(stale: boolean) {
    if (stale === this.#stale) return;
    this.#stale = stale;
    this.render();
  }

  update(messageId: string, buttons: readonly ActionButton[]): void {
    this.#messageId = messageId;
    const key = JSON.stringify(buttons);
    if (key !== this.#key) {
      this.#key = key;
      this.#buttons = buttons.map((b) => {
        const el = h(
          "button",
          {
            type: "button",
            class: "cw-action-button",
            "data-testid": "action-button",
            "data-action": b.action ?? "",
            title: buttonTitle(b),
          },
          h("span", { class: "cw-action-label", "data-testid": "action-button-label" }, b.label),
        );
        // Shown, not only in the tooltip: the label is the model's words, this is what happens.
        const effect = buttonEffect(b);
        if (effect !== "") {
          el.append(
            h("span", { class: "cw-action-runs", "data-testid": "action-button-runs", dir: "ltr" }, effect),
          );
        }
        el.addEventListener("click", () => this.#click(b.id));
        return el;
      });
      this.el.replaceChildren(...this.#buttons, this.#notice.el);
    }
    this.render();
  }

  render(): void {
    const hadFocus = this.el.contains(document.activeElement);
    const { working, sending } = this.#host;
    this.el.hidden = this.#buttons.length === 0 || working;
    for (const b of this.#buttons) b.disabled = sending || working || this.#stale;
    this.el.dataset.stale = String(this.#stale);
    this.el.title = this.#stale ? "From an earlier answer: ask again for up-to-date options" : "";
    const refusal = this.#host.refusal;
    if (refusal !== null && refusal.messageId === this.#messageId) this.#notice.show(refusal.reply);
    else this.#notice.clear();
    if (!hadFocus) return;
    // Keyboard users stay on the row while its buttons are disabled, else go to the list.
    if (this.el.hidden || !this.el.isConnected) this.#host.fallback.focus();
    else if (sending) this.el.focus();
  }

  #click(buttonId: string): void {
    const host = this.#host;
    if (host.sending || host.working || this.#stale || this.el.hidden) return;
    const messageId = this.#messageId;
    const click = ++host.clicks;
    host.sending = true;
    host.refusal = null;
    host.refresh();
    void host.request({ kind: "click_button", message_id: messageId, button_id: buttonId }).then((reply) => {
      // Taken: the row waits for the `messages` update that records the click.
      if (reply.ok || click !== host.clicks) return;
      host.sending = false;
      host.refusal = { messageId, reply };
      host.refresh();
    });
  }
}
