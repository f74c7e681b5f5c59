"""The chat's size and looks in a real browser: the height= option, filling a panel, a height
dragged with the grip that stays, a 360 px wide chat with nothing cut, the Copy button clear of
the code, AA contrast in the light and dark themes, and the approval card kept in sight."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from .harness import Jupyter, add_cell_and_run, ask, open_and_run, running_jupyter

pytestmark = pytest.mark.browser

SETUP = """\
from IPython.display import HTML

from copilot_widget import Copilot, CopilotOutput
from copilot_widget.testing import call, offline_demo_client, text, tool_calls

board = CopilotOutput(HTML("<p id='board'>blank</p>"))
board
"""

COPILOT = '''\
state = {"color": "blank"}
CODE = 'print("' + "a very long line of code " * 12 + '")\\nx = 1'
LONG = [f"Line {i} of a long answer.\\n\\n" for i in range(80)]


def script(request: dict):
    last = request["messages"][-1]
    if last["role"] == "tool":
        return text("Done: ", last["content"], ". See [the docs](https://example.com).")
    prompt = last["content"].lower()
    if "paint" in prompt:  # a new colour each time: the run changes the state
        return tool_calls(call("paint", {"color": "blue" if state["color"] == "red" else "red"}))
    if "long" in prompt:
        return tool_calls(call("drop_table", {"table": "logs"}), text=LONG, delay=0.01)
    if "drop" in prompt:
        return tool_calls(call("drop_table", {"table": "users"}))
    if "code" in prompt:
        return text("Here it is:\\n\\n```python\\n", CODE, "\\n```\\n")
    return text("Ask me to paint the board, drop a table, or show code.")


copilot = Copilot(
    client=offline_demo_client(script),
    title="Layout",
    suggestions=["Paint the board", "Show me code"],
    height=HEIGHT,
)
copilot.track_state(get=lambda: dict(state), set=state.update)


@copilot.action
def paint(color: str) -> str:
    """Paint the board.

    Args:
        color: The colour.
    """
    state["color"] = color
    board.update(HTML(f"<p id='board'>{color}</p>"))
    return f"painted {color}"


@copilot.action(confirm=True)
def drop_table(table: str) -> str:
    """Drop a table.

    Args:
        table: The table to drop.
    """
    return f"dropped {table}"


copilot
'''

ROOT = "[data-testid='copilot-root']"
ANSWERS = "[data-testid='message'][data-role='assistant']"


def chat_notebook(jupyter: Jupyter, name: str, height: str | None = None) -> str:
    return jupyter.write_notebook(name, SETUP, COPILOT.replace("HEIGHT", repr(height)))


def url(jupyter: Jupyter, name: str, app: str) -> str:
    return jupyter.lab_url(name) if app == "lab" else jupyter.notebook_url(name)


def box(locator: Locator) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None, f"{locator} is not laid out"
    return found


def answered(page: Page, prompt: str, answer: str) -> None:
    ask(page, prompt)
    expect(page.locator(ANSWERS).last).to_contain_text(answer, timeout=20_000)
    expect(page.get_by_test_id("send-button")).to_be_visible(timeout=20_000)


def wait_for_the_card(page: Page, prompt: str = "Drop the users table") -> None:
    ask(page, prompt)
    expect(page.get_by_test_id("approval-card")).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("composer-reason")).to_contain_text("approve")


# ---------------------------------------------------------------------------------------------
# 1. height=


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_height_option_sizes_the_chat(page: Page, jupyter: Jupyter, app: str) -> None:
    name = chat_notebook(jupyter, f"height-{app}.ipynb", "300px")
    open_and_run(page, url(jupyter, name, app))
    root = page.locator(ROOT)
    expect(root).to_have_css("height", "300px")
    expect(root).to_have_css("resize", "vertical")

    # "fill" in a notebook: the notebook's visible height, composer included, no grip.
    add_cell_and_run(page, 'copilot.height = "fill"')
    expect(root).to_have_css("resize", "none")
    notebook = page.locator(".jp-WindowedPanel-outer").first
    page.wait_for_function(
        """([root, notebook]) => {
          const h = root.getBoundingClientRect().height;
          return h > 480 && h <= notebook.clientHeight && h >= notebook.clientHeight - 60;
        }""",
        arg=[root.element_handle(), notebook.element_handle()],
    )
    root.scroll_into_view_if_needed()
    expect(page.get_by_test_id("composer-input")).to_be_in_viewport(ratio=1)

    # Back to the default: the stylesheet's height, with the grip.
    add_cell_and_run(page, 'copilot.height = ""')
    expect(root).to_have_css("height", "480px")
    expect(root).to_have_css("resize", "vertical")


# ---------------------------------------------------------------------------------------------
# 2. A panel: the chat fills it, the composer in sight


def expect_fills(page: Page, panel: Locator) -> None:
    """The chat in `panel` is as tall as the panel (within a few px), its composer in sight."""
    root = panel.locator(ROOT)
    page.wait_for_function(
        """(panel) => {
          const root = panel.querySelector("[data-testid='copilot-root']");
          const gap = panel.getBoundingClientRect().bottom - root.getBoundingClientRect().bottom;
          return root.getBoundingClientRect().height > 200 && gap >= 0 && gap <= 4;
        }""",
        arg=panel.element_handle(),
    )
    chat, frame = box(root), box(panel)
    assert abs(chat["height"] - frame["height"]) <= 4, (chat, frame)
    expect(root).to_have_css("resize", "none")
    composer = panel.get_by_test_id("composer-input")
    expect(composer).to_be_in_viewport(ratio=1)
    field = box(composer)
    assert field["y"] + field["height"] <= frame["y"] + frame["height"], (field, frame)


OUTPUT_VIEW = """() => [...window.jupyterapp.shell.widgets("main")]
  .find((w) => w.node.querySelector(".jp-LinkedOutputView") !== null)"""


def test_the_chat_fills_an_output_view_and_a_side_panel_in_lab(
    page: Page, jupyter: Jupyter
) -> None:
    name = chat_notebook(jupyter, "panel-lab.ipynb")
    open_and_run(page, jupyter.lab_url(name))
    answered(page, "Show me code", "Here it is")
    # Right-click the chat's output: "Create New View for Cell Output".
    page.locator(".jp-Notebook .jp-OutputArea-output").filter(has=page.locator(ROOT)).click(
        button="right", position={"x": 4, "y": 4}
    )
    page.locator(".lm-Menu-item[data-command='notebook:create-output-view']").click()
    view = page.locator(".jp-LinkedOutputView")
    expect(view.locator(ROOT)).to_be_visible(timeout=20_000)
    expect_fills(page, view)
    # The notebook's own view keeps its height.
    expect(page.locator(f".jp-Notebook {ROOT}")).to_have_css("height", "480px")

    # The same view moved to the right side panel: it fills that one.
    page.evaluate(
        f"""() => {{
          const view = ({OUTPUT_VIEW})();
          window.jupyterapp.shell.add(view, "right", {{ rank: 1000 }});
          window.jupyterapp.shell.activateById(view.id);
        }}"""
    )
    side = page.locator("#jp-right-stack .jp-LinkedOutputView")
    expect(side.locator(ROOT)).to_be_visible()
    expect_fills(page, side)


def test_the_chat_fills_a_side_panel_in_notebook_7(page: Page, jupyter: Jupyter) -> None:
    name = chat_notebook(jupyter, "panel-notebook.ipynb")
    open_and_run(page, jupyter.notebook_url(name))
    # The chat's output area moves to the right side panel, as a side-car would show it.
    page.evaluate(
        """() => {
          const app = window.jupyterapp;
          const cell = app.shell.currentWidget.content.widgets[1];
          const area = cell.outputArea;
          area.id = "copilot-side-panel";
          area.title.label = "Copilot";
          app.shell.add(area, "right", { rank: 1000 });
          app.shell.activateById(area.id);
        }"""
    )
    panel = page.locator("#copilot-side-panel")
    expect(panel.locator(ROOT)).to_be_visible()
    expect_fills(page, panel)


# ---------------------------------------------------------------------------------------------
# 3. A height dragged with the grip stays


def drag_grip(page: Page, root: Locator, dy: float) -> None:
    """Drags the chat's resize grip (its bottom-right corner) down by `dy` pixels."""
    root.evaluate("(root) => root.scrollIntoView({ block: 'start' })")  # the grip in sight
    chat = box(root)
    x, y = chat["x"] + chat["width"] - 3, chat["y"] + chat["height"] - 3
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, y + dy / 2, steps=4)
    page.mouse.move(x, y + dy, steps=4)
    page.mouse.up()


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_a_dragged_height_stays_when_shown_again_and_after_a_reload(
    page: Page, jupyter: Jupyter, app: str
) -> None:
    name = chat_notebook(jupyter, f"drag-{app}.ipynb")
    open_and_run(page, url(jupyter, name, app))
    root = page.locator(ROOT)
    expect(root).to_have_css("height", "480px")
    drag_grip(page, root, 150)
    dragged = box(root)["height"]
    assert 600 <= dragged <= 660, dragged

    # Shown again in another cell: the new view takes the dragged height.
    add_cell_and_run(page, "copilot")
    expect(root).to_have_count(2)
    expect(root.nth(1)).to_have_css("height", f"{dragged:g}px")

    # A reload while the kernel lives: both views come back at that height.
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.reload()
    expect(root).to_have_count(2, timeout=60_000)
    for n in range(2):
        expect(root.nth(n)).to_have_css("height", f"{dragged:g}px", timeout=20_000)


# ---------------------------------------------------------------------------------------------
# 4. 360 px wide: nothing cut

CLIPPED = """(root) => {
  const problems = [];
  const chat = root.getBoundingClientRect();
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && el.checkVisibility({ visibilityProperty: true });
  };
  const name = (el) =>
    `${el.tagName.toLowerCase()}.${[...el.classList].join(".")} "${
      (el.textContent || el.placeholder || "").trim().slice(0, 30)}"`;
  const CONTROLS = "button, input, textarea, select, summary, .cw-chip, .cw-badge, .cw-title, "
    + ".cw-model, .cw-tool-name, .cw-tool-status, .cw-approval-title";
  for (const el of root.querySelectorAll(CONTROLS)) {
    if (!visible(el)) continue;
    const r = el.getBoundingClientRect();
    const parent = el.parentElement.getBoundingClientRect();
    const span = (b) => `${b.left}-${b.right}`;
    if (r.left < chat.left - 0.5 || r.right > chat.right + 0.5)
      problems.push(`${name(el)} overflows the chat (${span(r)} of ${span(chat)})`);
    if (r.left < parent.left - 0.5 || r.right > parent.right + 0.5)
      problems.push(`${name(el)} overflows its parent (${span(r)} of ${span(parent)})`);
    if (el.tagName === "SELECT") {
      if (r.width < 60) problems.push(`${name(el)} is only ${r.width}px wide`);
    } else if (el.tagName !== "TEXTAREA" && el.scrollWidth > el.clientWidth + 1) {
      problems.push(`${name(el)} text is cut (${el.scrollWidth} > ${el.clientWidth})`);
    }
  }
  // The placeholder fits on the composer's line.
  const input = root.querySelector("[data-testid='composer-input']");
  if (input.value === "" && input.placeholder) {
    const style = getComputedStyle(input);
    const context = document.createElement("canvas").getContext("2d");
    context.font = style.font;
    const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const needed = context.measureText(input.placeholder).width;
    if (needed > room) problems.push(`the placeholder is cut (${needed} > ${room})`);
  }
  return problems;
}"""


def narrow(page: Page, width: int = 360) -> Locator:
    """Makes the element the chat is shown in `width` px wide; returns the chat."""
    root = page.locator(ROOT)
    root.evaluate("(root, width) => { root.parentElement.style.width = `${width}px`; }", width)
    expect(root).to_have_css("width", f"{width}px")
    return root


def expect_nothing_clipped(root: Locator, state: str) -> None:
    problems = root.evaluate(CLIPPED)
    assert not problems, f"{state}: {problems}"


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_nothing_is_cut_in_a_360px_wide_chat(page: Page, jupyter: Jupyter, app: str) -> None:
    name = chat_notebook(jupyter, f"narrow-{app}.ipynb")
    open_and_run(page, url(jupyter, name, app))
    root = narrow(page)
    expect(page.get_by_test_id("suggestion").first).to_be_visible()
    expect_nothing_clipped(root, "an empty thread")
    answered(page, "Show me code", "Here it is")
    answered(page, "Paint the board", "painted")
    expect(page.get_by_test_id("undo-button")).to_be_visible()
    expect_nothing_clipped(root, "answers with a tool card and code")
    wait_for_the_card(page)
    page.get_by_test_id("approval-card").scroll_into_view_if_needed()
    expect_nothing_clipped(root, "the approval card")
    page.get_by_test_id("reject-button").click()
    expect(page.get_by_test_id("reject-reason")).to_be_visible()
    expect_nothing_clipped(root, "the approval card, rejecting")


# ---------------------------------------------------------------------------------------------
# 5. The Copy button never covers code


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_the_copy_button_does_not_cover_the_first_line(
    page: Page, jupyter: Jupyter, app: str
) -> None:
    name = chat_notebook(jupyter, f"copy-{app}.ipynb")
    open_and_run(page, url(jupyter, name, app))
    answered(page, "Show me code", "Here it is")
    block = page.locator(".cw-code").last
    expect(block).to_have_attribute("data-language", "Python")
    button = box(block.get_by_role("button", name="Copy code"))
    # The first line's box: a range over the text up to the first newline.
    line = block.locator("pre code").evaluate(
        """(code) => {
          const range = document.createRange();
          range.setStart(code, 0);
          const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const end = node.textContent.indexOf("\\n");
            if (end >= 0) { range.setEnd(node, end); break; }
          }
          const r = range.getBoundingClientRect();
          const pre = code.parentElement.getBoundingClientRect();
          // What shows of the line: the part inside the scrolling block.
          const right = Math.min(r.right, pre.right);
          return { x: r.left, y: r.top, width: right - r.left, height: r.height };
        }"""
    )
    assert line["width"] > button["width"], line  # the line runs under the button's column
    overlap_x = min(line["x"] + line["width"], button["x"] + button["width"]) - max(
        line["x"], button["x"]
    )
    overlap_y = min(line["y"] + line["height"], button["y"] + button["height"]) - max(
        line["y"], button["y"]
    )
    assert overlap_x <= 0 or overlap_y <= 0, (line, button)


# ---------------------------------------------------------------------------------------------
# 6. AA contrast, light and dark

CONTRAST = """(root) => {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 1;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  // Any CSS colour (rgb(), color(srgb ...), oklab()...) as sRGB bytes and an alpha of 0 to 1.
  const parse = (css) => {
    context.clearRect(0, 0, 1, 1);
    context.fillStyle = "rgba(0, 0, 0, 0)";
    context.fillStyle = css;
    context.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = context.getImageData(0, 0, 1, 1).data;
    return [r, g, b, a / 255];
  };
  const over = ([r, g, b, a], [R, G, B]) =>
    [r * a + R * (1 - a), g * a + G * (1 - a), b * a + B * (1 - a), 1];
  const mix = (c, backdrop, o) => c.map((v, i) => (i < 3 ? v * o + backdrop[i] * (1 - o) : 1));
  const luminance = ([r, g, b]) => {
    const linear = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  };
  const ratio = (a, b) => {
    const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  // The colours seen of text in `color` on `el` and of the background right behind it: every
  // ancestor's background composited from the page down, every opacity applied.
  const seen = (el, color) => {
    const chain = [];
    for (let node = el; node; node = node.parentElement) chain.unshift(node);
    let background = [255, 255, 255, 1];
    const groups = [];
    for (const node of chain) {
      const style = getComputedStyle(node);
      const opacity = Number(style.opacity);
      if (opacity < 1) groups.push([background, opacity]);
      const layer = parse(style.backgroundColor);
      if (layer[3] > 0) background = over(layer, background);
    }
    let text = over(parse(color), background);
    for (const [backdrop, opacity] of groups.reverse()) {
      text = mix(text, backdrop, opacity);
      background = mix(background, backdrop, opacity);
    }
    return [text, background];
  };
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0
      && el.checkVisibility({ visibilityProperty: true, opacityProperty: true });
  };
  const name = (el) => {
    const id = el.closest("[data-testid]")?.dataset.testid ?? "";
    const text = (el.textContent || el.placeholder || el.value || "").trim().slice(0, 30);
    return `${el.tagName.toLowerCase()}.${[...el.classList].join(".")} [${id}] "${text}"`;
  };
  const results = [];
  const check = (el, color, what) => {
    const [text, background] = seen(el, color);
    results.push({ what, ratio: Math.round(ratio(text, background) * 100) / 100 });
  };
  // Controls, and the small text that names what the chat is doing with them. Disabled
  // controls are exempt (WCAG 1.4.3).
  const CONTROLS = "button, input, textarea, select, summary, a, .cw-model, "
    + ".cw-composer-reason, .cw-code[data-language]";
  for (const control of root.querySelectorAll(CONTROLS)) {
    if (!visible(control) || control.disabled) continue;
    if (control.matches(".cw-code")) {  // the code is content: only the language's name
      check(control, getComputedStyle(control, "::before").color, `${name(control)} language`);
      continue;
    }
    const texts = [control, ...control.querySelectorAll("*")].filter((el) => visible(el)
      && [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== ""));
    for (const el of texts) check(el, getComputedStyle(el).color, name(el));
    const field = control.tagName === "TEXTAREA" || control.tagName === "INPUT";
    const placeholder = getComputedStyle(control, "::placeholder").color;
    if (field && control.placeholder && control.value === "")
      check(control, placeholder, `${name(control)} placeholder`);
    if (control.tagName === "SELECT")
      check(control, getComputedStyle(control).color, name(control));
  }
  return results;
}"""

# What each state must show, so that the contrast check covers it.
STATES: dict[str, list[str]] = {
    "an empty thread": [
        "suggestion",
        "thread-picker",
        "composer-input",
        "send-button",
        "model-name",
    ],
    "answers": ["undo-button", "tool-call-output-link", "message"],
    "an approval": ["approve-button", "reject-button", "stop-button", "composer-reason"],
}


def contrast_failures(page: Page, seen: dict[str, float]) -> list[str]:
    results: list[dict[str, Any]] = page.locator(ROOT).evaluate(CONTRAST)
    for result in results:
        seen[result["what"]] = min(result["ratio"], seen.get(result["what"], 99))
    return [f"{r['ratio']}:1 {r['what']}" for r in results if r["ratio"] < 4.5]


def walk_through_the_states(page: Page, theme: str) -> list[str]:
    failures: list[str] = []
    seen: dict[str, float] = {}
    page.get_by_test_id("new-thread-button").click()
    expect(page.get_by_test_id("message")).to_have_count(0)

    def check(state: str) -> None:
        for testid in STATES[state]:
            expect(page.get_by_test_id(testid).first).to_be_visible()
        failures.extend(f"{theme}, {state}: {f}" for f in contrast_failures(page, seen))

    check("an empty thread")
    answered(page, "Show me code", "Here it is")
    answered(page, "Paint the board", "painted")
    page.locator("[data-testid='tool-call'] summary").first.click()  # the card's details too
    check("answers")
    wait_for_the_card(page)
    check("an approval")
    page.get_by_test_id("approve-button").click()
    expect(page.get_by_test_id("send-button")).to_be_visible(timeout=20_000)
    worst = sorted(seen.items(), key=lambda item: item[1])[:5]
    print(f"{theme}: the lowest contrast ratios:", worst)
    return failures


@pytest.fixture
def own_jupyter(tmp_path: pathlib.Path) -> Iterator[Jupyter]:
    """A server of its own: the theme a test picks is saved in its settings."""
    with running_jupyter(tmp_path) as server:
        yield server


def set_theme(page: Page, theme: str, light: bool) -> None:
    page.evaluate(
        "(theme) => window.jupyterapp.commands.execute('apputils:change-theme', { theme })", theme
    )
    page.wait_for_function(
        "(light) => document.body.dataset.jpThemeLight === String(light)", arg=light
    )
    # The theme's style sheet is in: the chat's background follows it.
    page.wait_for_function(
        """(light) => {
          const [r] = getComputedStyle(document.querySelector("[data-testid='copilot-root']"))
            .backgroundColor.match(/\\d+/g).map(Number);
          return light ? r > 200 : r < 80;
        }""",
        arg=light,
    )


def test_every_control_meets_aa_contrast_in_light_and_dark(
    page: Page, own_jupyter: Jupyter
) -> None:
    name = chat_notebook(own_jupyter, "contrast.ipynb")
    open_and_run(page, own_jupyter.lab_url(name))
    set_theme(page, "JupyterLab Light", light=True)
    failures = walk_through_the_states(page, "light")
    set_theme(page, "JupyterLab Dark", light=False)
    failures += walk_through_the_states(page, "dark")
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------------------------
# 8. The approval card stays in sight


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_the_approval_card_after_a_long_answer_is_in_sight(
    page: Page, jupyter: Jupyter, app: str
) -> None:
    name = chat_notebook(jupyter, f"pinned-{app}.ipynb", "320px")
    open_and_run(page, url(jupyter, name, app))
    wait_for_the_card(page, "A long answer, then drop the logs table")
    expect(page.get_by_test_id("draft")).to_contain_text("Line 79 of a long answer.")
    approve = page.get_by_test_id("approve-button")
    # Within the list's visible box, once the list has settled.
    page.wait_for_function(
        """(button) => {
          const list = document.querySelector("[data-testid='message-list']")
            .getBoundingClientRect();
          const b = button.getBoundingClientRect();
          return b.height > 0 && b.top >= list.top && b.bottom <= list.bottom;
        }""",
        arg=approve.element_handle(),
        timeout=5_000,
    )
    list_box, button = box(page.get_by_test_id("message-list")), box(approve)
    assert list_box["y"] <= button["y"], (list_box, button)
    assert button["y"] + button["height"] <= list_box["y"] + list_box["height"], (list_box, button)
