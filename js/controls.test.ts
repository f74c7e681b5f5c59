import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeModel, get, message, unmountAll, view } from "./fake-model";
import type { CopilotErrorType } from "./types";

afterEach(async () => {
  await unmountAll();
  vi.restoreAllMocks();
});

const visible = (node: HTMLElement) => !node.closest("[hidden]");

function press(target: HTMLElement, key: string, init: KeyboardEventInit = {}): KeyboardEvent {
  const event = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...init });
  target.dispatchEvent(event);
  return event;
}
const prompts = (model: FakeModel) => model.bodies.filter((m) => m.kind === "send");

describe("composer", () => {
  it("sends on Enter, trims, and clears the input", async () => {
    const model = new FakeModel();
    const el = await view(model);
    const input = get<HTMLTextAreaElement>(el, "composer-input");
    input.value = "  Add 2 circles  ";
    const event = press(input, "Enter");
    expect(event.defaultPrevented).toBe(true);
    expect(prompts(model)).toEqual([{ kind: "send", text: "Add 2 circles" }]);
    expect(input.value).toBe("");
  });

  it("keeps Shift+Enter for a new line and does not send an empty prompt", async () => {
    const model = new FakeModel();
    const el = await view(model);
    const input = get<HTMLTextAreaElement>(el, "composer-input");
    input.value = "line one";
    expect(press(input, "Enter", { shiftKey: true }).defaultPrevented).toBe(false);
    input.value = "   ";
    press(input, "Enter");
    expect(prompts(model)).toEqual([]);
  });

  it("sends with the Send button", async () => {
    const model = new FakeModel();
    const el = await view(model);
    get<HTMLTextAreaElement>(el, "composer-input").value = "hello";
    get(el, "send-button").click();
    expect(prompts(model)).toEqual([{ kind: "send", text: "hello" }]);
  });

  it("turns Send into Stop while a run is going on", async () => {
    const model = new FakeModel();
    const el = await view(model);
    expect(visible(get(el, "send-button"))).toBe(true);
    expect(visible(get(el, "stop-button"))).toBe(false);

    model.set("status", "working");
    expect(visible(get(el, "send-button"))).toBe(false);
    expect(visible(get(el, "stop-button"))).toBe(true);
    // Typing goes on, but Enter does not start a second run: the text stays, and it says why.
    const input = get<HTMLTextAreaElement>(el, "composer-input");
    const reason = get(el, "composer-reason");
    expect(visible(reason)).toBe(false);
    input.value = "next";
    press(input, "Enter");
    expect(prompts(model)).toEqual([]);
    expect(input.value).toBe("next");
    expect(visible(reason)).toBe(true);
    expect(reason.textContent).toMatch(/Not sent yet: the copilot is still answering/);

    get(el, "stop-button").click();
    expect(model.bodies.at(-1)).toEqual({ kind: "cancel" });
    model.set("status", "cancelling");
    expect(get<HTMLButtonElement>(el, "stop-button").disabled).toBe(true);
    model.set("status", "idle");
    expect(visible(get(el, "send-button"))).toBe(true);
    expect(visible(reason)).toBe(false); // the run ended: Enter sends it now
    press(input, "Enter");
    expect(prompts(model)).toEqual([{ kind: "send", text: "next" }]);
  });

  it("stops a run with Escape in the composer, and only during a run", async () => {
    const model = new FakeModel();
    const el = await view(model);
    const input = get<HTMLTextAreaElement>(el, "composer-input");
    press(input, "Escape");
    expect(model.bodies.filter((m) => m.kind === "cancel")).toEqual([]);
    model.set("status", "working");
    expect(press(input, "Escape").defaultPrevented).toBe(true);
    expect(model.bodies.at(-1)).toEqual({ kind: "cancel" });
    expect(get<HTMLButtonElement>(el, "stop-button").textContent).toBe("Stopping…");
  });

  it.each([
    [{ needs_setup: true }, /setup/i],
    [{ is_ready: false }, /kernel/i],
  ])("is disabled with a visible reason (%o)", async (state, reason) => {
    const model = new FakeModel(state);
    const el = await view(model);
    const input = get<HTMLTextAreaElement>(el, "composer-input");
    expect(input.disabled).toBe(true);
    expect(get<HTMLButtonElement>(el, "send-button").disabled).toBe(true);
    const described = el.querySelector<HTMLElement>(`#${input.getAttribute("aria-describedby")}`);
    expect(described && visible(described)).toBe(true);
    expect(described?.textContent).toMatch(reason);

    model.set("needs_setup", false);
    model.set("is_ready", true);
    expect(input.disabled).toBe(false);
    expect(described && visible(described)).toBe(false);
  });

  it("keeps keystrokes away from the notebook's shortcuts", async () => {
    const el = await view(new FakeModel());
    const root = get(el, "copilot-root");
    // Lumino (JupyterLab 4, Notebook 7) skips its shortcuts inside this attribute.
    expect(root.hasAttribute("data-lm-suppress-shortcuts")).toBe(true);
    const seen = vi.fn();
    for (const type of ["keydown", "keypress", "keyup"]) document.addEventListener(type, seen);
    const input = get(el, "composer-input");
    for (const type of ["keydown", "keypress", "keyup"]) {
      input.dispatchEvent(new KeyboardEvent(type, { key: "d", bubbles: true }));
    }
    for (const type of ["keydown", "keypress", "keyup"]) document.removeEventListener(type, seen);
    expect(seen).not.toHaveBeenCalled();
  });

  it("says why the kernel refused a prompt, and puts the prompt back", async () => {
    const model = new FakeModel();
    const el = await view(model);
    const input = get<HTMLTextAreaElement>(el, "composer-input");
    input.value = "Add 2 circles";
    press(input, "Enter");
    expect(input.value).toBe("");
    expect(model.last("send").request_id).toEqual(expect.any(String));
    await model.refuse("send", "A run is already in progress.");
    const notice = get(get(el, "composer-input").closest(".cw-composer") as HTMLElement, "refusal-notice");
    expect(visible(notice)).toBe(true);
    expect(notice.getAttribute("role")).toBe("status");
    expect(notice.textContent).toBe("A run is already in progress.");
    expect(input.value).toBe("Add 2 circles");
    expect(input.disabled).toBe(false);
    expect(get<HTMLButtonElement>(el, "send-button").disabled).toBe(false);

    // Typing clears it; an accepted prompt shows nothing.
    input.value = "Add 3 circles";
    input.dispatchEvent(new Event("input"));
    expect(visible(notice)).toBe(false);
    press(input, "Enter");
    await model.reply("send");
    expect(visible(notice)).toBe(false);
    expect(input.value).toBe("");
  });

  it("does not overwrite what was typed after a refused prompt", async () => {
    const model = new FakeModel();
    const el = await view(model);
    const input = get<HTMLTextAreaElement>(el, "composer-input");
    input.value = "first";
    press(input, "Enter");
    input.value = "second, typed meanwhile";
    await model.refuse("send", "No.");
    expect(input.value).toBe("second, typed meanwhile");
  });

  it("Stop waits for the kernel's answer and works again when refused", async () => {
    const model = new FakeModel({ status: "working" });
    const el = await view(model);
    const stop = get<HTMLButtonElement>(el, "stop-button");
    stop.click();
    stop.click();
    expect(model.bodies.filter((m) => m.kind === "cancel")).toHaveLength(1);
    expect(stop.disabled).toBe(true);
    expect(stop.textContent).toBe("Stopping…");
    await model.refuse("cancel", "The run could not be stopped.");
    expect(stop.disabled).toBe(false);
    expect(stop.textContent).toBe("Stop");
    expect(get(get(el, "composer-reason").parentElement as HTMLElement, "refusal-notice").textContent).toBe(
      "The run could not be stopped.",
    );
  });
});

describe("suggestions", () => {
  it("sends a suggestion when its chip is clicked, and hides chips while working", async () => {
    const model = new FakeModel({ suggestions: ["Summarise the data", "Plot it"] });
    const el = await view(model);
    const chips = [...el.querySelectorAll<HTMLButtonElement>('[data-testid="suggestion"]')];
    expect(chips.map((c) => c.textContent)).toEqual(["Summarise the data", "Plot it"]);
    chips[1].click();
    expect(prompts(model)).toEqual([{ kind: "send", text: "Plot it" }]);

    model.set("status", "working");
    expect(visible(chips[0])).toBe(false);
    model.set("status", "idle");
    model.set("suggestions", ["New one"]);
    const updated = el.querySelectorAll('[data-testid="suggestion"]');
    expect([...updated].map((c) => c.textContent)).toEqual(["New one"]);
  });

  it("shows chips while they help: in an empty thread, and when the app offers new ones", async () => {
    const model = new FakeModel({ suggestions: ["Plot it"] });
    const el = await view(model);
    const shown = () => visible(get(el, "suggestion"));
    expect(shown()).toBe(true);
    const conversation = [message("user", "Plot it"), message("assistant", "Done.")];
    model.set("messages", conversation); // the conversation started: they are in the way
    expect(shown()).toBe(false);
    model.set("suggestions", ["Now as a table"]); // refreshed by the app: they help again
    expect(shown()).toBe(true);
    model.set("messages", [...conversation, message("user", "more"), message("assistant", "ok")]);
    expect(shown()).toBe(false);
    model.set("messages", []); // a new thread
    expect(shown()).toBe(true);
  });

  it("hides chips when prompts cannot be sent", async () => {
    const el = await view(new FakeModel({ suggestions: ["Hi"], needs_setup: true }));
    expect(visible(get(el, "suggestion"))).toBe(false);
  });

  it("says under the composer why a suggestion was refused", async () => {
    const model = new FakeModel({ suggestions: ["Plot it"] });
    const el = await view(model);
    get(el, "suggestion").click();
    expect(model.last("send")).toEqual({ kind: "send", text: "Plot it", request_id: expect.any(String) });
    await model.refuse("send", "Connect a model first.");
    const composer = get(el, "composer-input").closest(".cw-composer") as HTMLElement;
    expect(get(composer, "refusal-notice").textContent).toBe("Connect a model first.");
  });
});

describe("error banner", () => {
  it("shows the error; Retry sends retry and the close button dismiss_error", async () => {
    const model = new FakeModel();
    const el = await view(model);
    expect(visible(get(el, "error-banner"))).toBe(false);

    model.set("error", { type: "rate_limit_error", message: "Slow down", retryable: true });
    const banner = get(el, "error-banner");
    expect(visible(banner)).toBe(true);
    expect(banner.getAttribute("role")).toBe("alert");
    expect(banner.textContent).toContain("Slow down");
    get(el, "retry-button").click();
    expect(model.bodies.at(-1)).toEqual({ kind: "retry" });
    await model.reply("retry");
    banner.querySelector<HTMLButtonElement>('button[aria-label="Dismiss error"]')?.click();
    expect(model.bodies.at(-1)).toEqual({ kind: "dismiss_error" });

    model.set("error", { type: "action_error", message: "Bad action", retryable: false });
    expect(visible(get(el, "retry-button"))).toBe(false);
    model.set("error", null);
    expect(visible(banner)).toBe(false);
  });

  it("shows error text as text", async () => {
    const model = new FakeModel({
      error: { type: "server_error", message: "<img src=x onerror=alert(1)>", retryable: false },
    });
    const el = await view(model);
    expect(get(el, "error-banner").querySelector("img")).toBeNull();
    expect(get(el, "error-banner").textContent).toContain("<img src=x onerror=alert(1)>");
  });

  it("Retry waits for the kernel's answer, and says why it was refused", async () => {
    const model = new FakeModel({
      error: { type: "server_error", message: "HTTP 500", retryable: true },
    });
    const el = await view(model);
    const retry = get<HTMLButtonElement>(el, "retry-button");
    retry.click();
    retry.click();
    expect(model.bodies.filter((m) => m.kind === "retry")).toHaveLength(1);
    expect(retry.disabled).toBe(true);
    expect(retry.textContent).toBe("Retrying…");
    await model.refuse("retry", "There is nothing to retry.");
    expect(retry.disabled).toBe(false);
    expect(retry.textContent).toBe("Retry");
    const notice = get(get(el, "error-banner"), "refusal-notice");
    expect(visible(notice)).toBe(true);
    expect(notice.textContent).toBe("There is nothing to retry.");
    // A new error replaces the banner's content, the old refusal with it.
    model.set("error", { type: "server_error", message: "HTTP 502", retryable: true });
    expect(visible(notice)).toBe(false);
  });

  it.each([
    ["server_error", "The model server failed"],
    ["rate_limit_error", "Rate limited"],
    ["authentication_error", "Authentication failed"],
    ["insufficient_balance_error", "Out of credit"],
    ["invalid_options_error", "Invalid options"],
    ["action_error", "An action failed"],
    ["internal_error", "copilot-widget hit an internal error"],
    ["callback_error", "Your callback failed"],
    ["something_new", "Error"],
    ["constructor", "Error"],
  ])("titles a %s %j", async (type, title) => {
    const model = new FakeModel({
      error: { type: type as CopilotErrorType, message: "details", retryable: false },
    });
    const el = await view(model);
    const banner = get(el, "error-banner");
    expect(banner.querySelector(".cw-error-title")?.textContent).toBe(`${title}:`);
    if (type !== "server_error") expect(banner.textContent).not.toContain("The model server failed");
  });

  it("offers Retry only when the error says it is retryable", async () => {
    const model = new FakeModel({
      error: { type: "internal_error", message: "a bug", retryable: false },
    });
    const el = await view(model);
    expect(visible(get(el, "retry-button"))).toBe(false);
    model.set("error", { type: "server_error", message: "HTTP 500", retryable: true });
    expect(visible(get(el, "retry-button"))).toBe(true);
    model.set("error", { type: "callback_error", message: "oops", retryable: false });
    expect(visible(get(el, "retry-button"))).toBe(false);
  });
});

describe("header and setup", () => {
  it("shows the title and the offline demo badge", async () => {
    const model = new FakeModel({ title: "Data helper" });
    const el = await view(model);
    expect(el.querySelector(".cw-title")?.textContent).toBe("Data helper");
    expect(visible(get(el, "offline-badge"))).toBe(false);
    model.set("offline_demo", true);
    expect(visible(get(el, "offline-badge"))).toBe(true);
  });

  it("shows the setup card when credentials are missing", async () => {
    const model = new FakeModel({ needs_setup: true });
    const el = await view(model);
    const card = get(el, "setup-card");
    expect(visible(card)).toBe(true);
    expect(card.textContent).toContain("OPENAI_API_KEY");
    expect(card.textContent).toContain("base_url=");
    model.set("needs_setup", false);
    expect(visible(card)).toBe(false);
  });

  it("shows the setup card when the provider refuses the key, and hides it once cleared", async () => {
    const model = new FakeModel({ needs_setup: false });
    const el = await view(model);
    const card = get(el, "setup-card");
    expect(visible(card)).toBe(false);
    model.set("error", { type: "authentication_error", message: "Incorrect API key", retryable: false });
    expect(visible(card)).toBe(true);
    expect(visible(get(el, "composer-input"))).toBe(true);
    model.set("error", null);
    expect(visible(card)).toBe(false);
  });

  it("says no key is configured when none is", async () => {
    const el = await view(new FakeModel({ needs_setup: true }));
    const card = get(el, "setup-card");
    expect(card.textContent).toContain("No API key is configured");
    expect(card.textContent).not.toMatch(/rejected/i);
    expect(visible(get(el, "setup-error"))).toBe(false);
  });

  it("says the provider rejected the key (with its message) when one is configured", async () => {
    const model = new FakeModel({
      needs_setup: false,
      error: {
        type: "authentication_error",
        message: "The provider refused the credentials: Incorrect API key provided: sk-...abcd",
        retryable: false,
      },
    });
    const el = await view(model);
    const card = get(el, "setup-card");
    expect(visible(card)).toBe(true);
    expect(card.textContent).not.toContain("No API key is configured");
    expect(card.textContent).toMatch(/rejected the API key/);
    expect(get(el, "setup-error").textContent).toBe(
      "The provider refused the credentials: Incorrect API key provided: sk-...abcd",
    );
    expect(card.textContent).toContain("OPENAI_API_KEY");
    // No key at all wins: the card says so.
    model.set("needs_setup", true);
    expect(card.textContent).toContain("No API key is configured");
    expect(visible(get(el, "setup-error"))).toBe(false);
  });
});

describe("copy button", () => {
  afterEach(() => {
    Reflect.deleteProperty(navigator, "clipboard");
    Reflect.deleteProperty(document, "execCommand");
  });

  it("copies the code of its block", async () => {
    const writeText = vi.fn(() => Promise.resolve());
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const el = await view(
      new FakeModel({ messages: [message("assistant", "```python\nx = 1\nprint(x)\n```")] }),
    );
    const button = el.querySelector<HTMLButtonElement>("button.cw-copy");
    button?.click();
    expect(writeText).toHaveBeenCalledWith("x = 1\nprint(x)");
    await vi.waitFor(() => expect(button?.textContent).toBe("Copied"));
  });

  it("falls back to execCommand without the Clipboard API", async () => {
    expect(navigator.clipboard).toBeUndefined();
    let copied: string | undefined;
    const execCommand = vi.fn(() => {
      copied = document.querySelector<HTMLTextAreaElement>("textarea[readonly]")?.value;
      return true;
    });
    Object.defineProperty(document, "execCommand", { value: execCommand, configurable: true });
    const el = await view(new FakeModel({ messages: [message("assistant", "```\ny = 2\n```")] }));
    const button = el.querySelector<HTMLButtonElement>("button.cw-copy");
    button?.click();
    await vi.waitFor(() => expect(button?.textContent).toBe("Copied"));
    expect(execCommand).toHaveBeenCalledWith("copy");
    expect(copied).toBe("y = 2");
    // The helper textarea is gone again.
    expect(document.querySelector("textarea[readonly]")).toBeNull();
  });
});

describe("header", () => {
  it("shows the model in use, and follows it", async () => {
    const model = new FakeModel({ model: "gpt-4o-mini" });
    const el = await view(model);
    const name = get(el, "model-name");
    expect(visible(name)).toBe(true);
    expect(name.textContent).toBe("gpt-4o-mini");
    model.set("model", "llama3.2");
    expect(name.textContent).toBe("llama3.2");
    model.set("model", "");
    expect(visible(name)).toBe(false);
  });
});
