"""Results you can see: a call shows its result's richest safe representation (a bounded mime
bundle), the model gets a compact text form, `render=` chooses what a call shows, `vision=`
lets the model see the images, and displays survive a restart (a dead widget turns static)."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import pathlib
import threading
import warnings
from typing import Any

import ipywidgets
import pytest

from copilot_widget import Copilot, InvalidOptionsError
from copilot_widget._display import (
    MAX_IMAGE_CHARS,
    MAX_TEXT_CHARS,
    WIDGET_ENDED,
    WIDGET_MIME,
    display_of,
    model_text,
)
from copilot_widget.testing import call, text, tool_calls

pandas = pytest.importorskip("pandas")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def one_call(name: str, arguments: dict[str, Any] | None = None) -> list[Any]:
    return [tool_calls(call(name, arguments or {})), text("Done.")]


def the_call(copilot: Copilot) -> Any:
    (found,) = [c for m in copilot.messages for c in m["tool_calls"]]
    return found


def tool_contents(server: Any) -> list[str]:
    return [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "tool"]


def big_frame() -> Any:
    return pandas.DataFrame(
        {"n": range(1000), "name": [f"row {i}" for i in range(1000)], "html": ["<b>x</b>"] * 1000}
    )


def a_figure() -> Any:
    figure_module = pytest.importorskip("matplotlib.figure")
    figure = figure_module.Figure(figsize=(4, 2.5))
    figure.add_subplot().plot([1, 3, 2])
    return figure


def live_widgets() -> Any:
    with warnings.catch_warnings():  # the registry ipywidgets 8 still offers, deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        return ipywidgets.Widget.widgets


# -- what a call shows, what the model gets ---------------------------------------------------
def test_a_dataframe_shows_as_a_bounded_table_and_the_model_gets_compact_text(
    scripted: Any,
) -> None:
    copilot, server = scripted(one_call("sales"))

    @copilot.action
    def sales() -> Any:
        """The sales table."""
        return big_frame()

    assert copilot.send("show the sales").status == "completed"
    display = the_call(copilot)["display"]
    html = display["data"]["text/html"]
    assert "<table" in html and "1000 rows × 3 columns" in html
    assert html.count("<tr>") < 30  # cut to 20 rows, not 1000
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html  # cells stay escaped
    assert "[1000 rows x 3 columns]" in display["data"]["text/plain"]
    sent = json.dumps(server.requests[-1])
    assert "<table" not in sent and "&lt;b&gt;" not in sent
    (content,) = tool_contents(server)
    preview = json.loads(content)
    assert preview["shape"] == [1000, 3] and len(preview["rows"]) == 20


def test_a_matplotlib_figure_shows_as_a_png(scripted: Any) -> None:
    figure = a_figure()
    copilot, server = scripted(one_call("plot"))
    copilot.action(lambda: figure, name="plot", description="Plot the sales.")

    copilot.send("plot it")
    display = the_call(copilot)["display"]
    assert set(display["data"]) == {"image/png", "text/plain"}
    assert base64.b64decode(display["data"]["image/png"]).startswith(PNG_SIGNATURE)
    (content,) = tool_contents(server)
    assert json.loads(content) == "<Figure size 400x250 with 1 Axes>"
    assert display["data"]["image/png"][:40] not in json.dumps(server.requests[-1])


def test_a_pil_image_shows_as_a_png() -> None:
    image_module = pytest.importorskip("PIL.Image", reason="pillow is not installed")
    display = display_of(image_module.new("RGB", (8, 8), "red"))
    assert display is not None
    assert base64.b64decode(display["data"]["image/png"]).startswith(PNG_SIGNATURE)
    assert "image/jpeg" not in display["data"]  # the same picture once


class Hostile:
    def _repr_html_(self) -> str:
        return "<img src=x onerror=alert(1)>"


def test_html_is_kept_as_written_for_the_page_to_sanitise(scripted: Any) -> None:
    copilot, server = scripted(one_call("card"))
    copilot.action(lambda: Hostile(), name="card", description="A card.")
    copilot.send("show")
    shown = the_call(copilot)
    assert shown["status"] == "completed"
    assert shown["display"]["data"]["text/html"] == "<img src=x onerror=alert(1)>"
    assert "onerror" not in json.dumps(server.requests[-1])  # the model gets the repr


class Rich:
    def _repr_markdown_(self) -> str:
        return "**bold**"

    def _repr_latex_(self) -> str:
        return r"$x^2$"

    def _repr_svg_(self) -> str:
        return '<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>'

    def _repr_jpeg_(self) -> bytes:
        return b"\xff\xd8\xff fake"


def test_every_repr_method_gives_its_mime_type() -> None:
    display = display_of(Rich())
    assert display is not None
    data = display["data"]
    assert data["text/markdown"] == "**bold**" and data["text/latex"] == "$x^2$"
    assert data["image/svg+xml"].startswith("<svg")
    assert base64.b64decode(data["image/jpeg"]) == b"\xff\xd8\xff fake"
    assert data["text/plain"].startswith("<")
    assert display["note"] is None


def test_the_model_gets_a_text_form_never_markup() -> None:
    assert json.loads(model_text(Rich())) == "**bold**"  # Markdown before LaTeX
    assert json.loads(model_text(Hostile())).startswith("<test_display.Hostile")
    assert json.loads(model_text(datetime.date(2024, 5, 1))) == "2024-05-01"  # data as ever


class Bundle:
    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {
            "text/html": "<i>mine</i>",
            "application/javascript": "alert(1)",  # the chat shows no script
            "text/plain": "Bundle()",
        }


def test_a_mime_bundle_is_kept_to_the_types_the_chat_shows() -> None:
    display = display_of(Bundle())
    assert display == {"data": {"text/html": "<i>mine</i>", "text/plain": "Bundle()"}, "note": None}


@pytest.mark.parametrize("value", ["text", 3, {"a": [1, 2]}, [1, 2], None, (1,)])
def test_plain_values_keep_the_compact_card(value: Any) -> None:
    assert display_of(value) is None


class Huge:
    def _repr_html_(self) -> str:
        return "<p>" + "x" * 3_400_000 + "</p>"


def test_a_representation_over_its_bound_is_dropped_with_a_note(scripted: Any) -> None:
    copilot, _ = scripted(one_call("huge"))
    copilot.action(lambda: Huge(), name="huge", description="Huge.")
    copilot.send("go")
    display = the_call(copilot)["display"]
    assert "text/html" not in display["data"] and "text/plain" in display["data"]
    assert display["note"] == "The HTML view was too large to show (3.4 MB); showing text."


def test_a_big_table_and_image_are_dropped_naming_what_they_were() -> None:
    class Big:
        def _repr_png_(self) -> bytes:
            return b"\x89PNG" + b"\0" * MAX_IMAGE_CHARS

    display = display_of(Big())
    assert display is not None and "image/png" not in display["data"]
    assert display["note"] is not None and display["note"].startswith("The image was too large")
    # Cells are cut to 50 characters; headers are not.
    wide = pandas.DataFrame({f"{i}" * (MAX_TEXT_CHARS // 15): [1] for i in range(20)})
    display = display_of(wide)
    assert display is not None and "text/html" not in display["data"]
    assert display["note"] is not None and display["note"].startswith("The table was too large")


class Broken:
    def _repr_html_(self) -> str:
        raise ValueError("no html today")


def test_a_failing_repr_falls_back_to_text_and_the_call_completes(scripted: Any) -> None:
    copilot, server = scripted(one_call("broken"))
    copilot.action(lambda: Broken(), name="broken", description="Broken.")
    assert copilot.send("go").status == "completed"
    shown = the_call(copilot)
    assert shown["status"] == "completed" and shown["error"] is None
    assert list(shown["display"]["data"]) == ["text/plain"]
    assert shown["display"]["note"] == "The HTML view could not be made (ValueError); showing text."
    assert "test_display.Broken" in tool_contents(server)[0]


def test_a_widget_result_shows_live(scripted: Any) -> None:
    slider = ipywidgets.IntSlider(value=7)
    copilot, _ = scripted(one_call("slider"))
    copilot.action(lambda: slider, name="slider", description="A slider.")
    copilot.send("go")
    data = the_call(copilot)["display"]["data"]
    assert data[WIDGET_MIME] == {
        "model_id": slider.model_id,
        "version_major": 2,
        "version_minor": 0,
    }
    assert data["text/plain"] == "IntSlider(value=7)"
    assert live_widgets()[slider.model_id] is slider


# -- render= ----------------------------------------------------------------------------------
class Card:
    def __init__(self, status: str) -> None:
        self.status = status

    def _repr_html_(self) -> str:
        return f"<p>{self.status}</p>"


@pytest.mark.parametrize(
    ("confirm", "statuses"),
    [
        (False, ["pending", "running", "completed"]),
        (True, ["pending", "requires_action", "running", "completed"]),
    ],
)
def test_render_is_called_at_each_status_and_replaces_the_display(
    scripted: Any, confirm: bool, statuses: list[str]
) -> None:
    seen: list[tuple[str, dict[str, Any], Any]] = []

    def render(arguments: dict[str, Any], result: Any, status: str) -> Any:
        seen.append((status, arguments, result))
        return Card(status)

    copilot, _ = scripted(one_call("sales", {"region": "north"}))

    @copilot.action(render=render, confirm=confirm)
    def sales(region: str) -> Any:
        """Sales of a region."""
        return big_frame()

    copilot.send("go")
    if confirm:
        copilot.approve(copilot.pending_approvals[0]["tool_call_id"])
    assert [s for s, _, _ in seen] == statuses
    assert all(arguments == {"region": "north"} for _, arguments, _ in seen)
    assert [r is None for _, _, r in seen] == [True] * (len(statuses) - 1) + [False]
    display = the_call(copilot)["display"]
    assert display["data"]["text/html"] == "<p>completed</p>"  # not the table


def test_render_shows_the_arguments_the_user_approved_after_editing(scripted: Any) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []
    copilot, _ = scripted(one_call("sales", {"region": "north"}))

    @copilot.action(
        confirm=True,
        render=lambda arguments, result, status: seen.append((status, arguments)) or Card(status),
    )
    def sales(region: str) -> str:
        """Sales of a region."""
        return f"sales of {region}"

    copilot.send("go")
    copilot.approve(copilot.pending_approvals[0]["tool_call_id"], {"region": "south"})
    assert seen == [
        ("pending", {"region": "north"}),
        ("requires_action", {"region": "north"}),
        ("running", {"region": "south"}),  # what runs is what the user approved
        ("completed", {"region": "south"}),
    ]


def test_render_shows_a_rejected_call_as_rejected(scripted: Any) -> None:
    seen: list[str] = []
    copilot, _ = scripted(one_call("sales"))
    copilot.action(
        big_frame,
        name="sales",
        description="Sales.",
        confirm=True,
        render=lambda arguments, result, status: seen.append(status) or Card(status),
    )
    copilot.send("go")
    copilot.reject(copilot.pending_approvals[0]["tool_call_id"], reason="not now")
    assert seen == ["pending", "requires_action", "rejected"]
    assert the_call(copilot)["display"]["data"]["text/html"] == "<p>rejected</p>"


async def test_render_shows_a_cancelled_call_as_cancelled(scripted: Any) -> None:
    seen: list[str] = []
    started = threading.Event()  # set on the engine's loop, waited for on the test's
    copilot, _ = scripted(one_call("slow"))

    async def slow() -> None:
        started.set()
        await asyncio.sleep(30)

    copilot.action(
        slow,
        description="Slow.",
        render=lambda arguments, result, status: seen.append(status) or Card(status),
    )
    run = copilot.send("go")
    assert await asyncio.to_thread(started.wait, 5)
    run.cancel()
    await run
    assert seen == ["pending", "running", "cancelled"]
    assert the_call(copilot)["display"]["data"]["text/html"] == "<p>cancelled</p>"


def test_render_may_return_markdown_text_or_nothing(scripted: Any) -> None:
    copilot, _ = scripted(one_call("note"))
    copilot.action(
        lambda: 3,
        name="note",
        description="A note.",
        render=lambda arguments, result, status: f"**{result}**" if result else None,
    )
    copilot.send("go")
    assert the_call(copilot)["display"]["data"]["text/markdown"] == "**3**"

    copilot2, _ = scripted(one_call("quiet"), store=":memory:")
    copilot2.action(big_frame, name="quiet", description="Quiet.", render=lambda a, r, s: None)
    copilot2.send("go")
    assert the_call(copilot2)["display"] is None


def test_a_failing_render_falls_back_to_the_default_display(scripted: Any) -> None:
    errors: list[Any] = []
    copilot, server = scripted(one_call("sales"))
    copilot.on("error", errors.append)

    def render(arguments: dict[str, Any], result: Any, status: str) -> Any:
        raise RuntimeError("render is broken")

    copilot.action(big_frame, name="sales", description="Sales.", render=render)
    run = copilot.send("go")
    assert run.status == "completed"
    shown = the_call(copilot)
    assert shown["status"] == "completed" and shown["error"] is None
    assert "<table" in shown["display"]["data"]["text/html"]
    assert [e["data"]["type"] for e in errors] == ["callback_error"]  # reported once
    assert "render is broken" in errors[0]["data"]["message"]
    assert len(server.requests) == 2  # the run went on


def test_render_false_keeps_the_compact_card(scripted: Any) -> None:
    copilot, _ = scripted(one_call("sales"))
    copilot.action(big_frame, name="sales", description="Sales.", render=False)
    copilot.send("go")
    shown = the_call(copilot)
    assert shown["display"] is None
    assert json.loads(shown["result"])["shape"] == [1000, 3]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"render": "html"}, "render must be a function"),
        ({"render": True}, "render must be a function"),
        ({"vision": "yes"}, "vision must be True, False or None"),
    ],
)
def test_render_and_vision_options_are_checked(options: dict[str, Any], message: str) -> None:
    copilot = Copilot(api_key="k", store=":memory:")
    with pytest.raises(InvalidOptionsError, match=message):
        copilot.action(lambda: 1, name="x", **options)

    async def async_render(arguments: dict[str, Any], result: Any, status: str) -> None:
        return None

    with pytest.raises(InvalidOptionsError, match="plain"):
        copilot.action(lambda: 1, name="y", render=async_render)
    with pytest.raises(InvalidOptionsError, match="vision must be True or False"):
        Copilot(api_key="k", store=":memory:", vision="yes")  # type: ignore[typeddict-item]


# -- vision -----------------------------------------------------------------------------------
def image_messages(request: dict[str, Any]) -> list[Any]:
    return [
        m for m in request["messages"] if m["role"] == "user" and isinstance(m["content"], list)
    ]


def test_with_vision_the_model_sees_the_images(scripted: Any) -> None:
    figure = a_figure()
    copilot, server = scripted(one_call("plot"), vision=True)
    copilot.action(lambda: figure, name="plot", description="Plot.")
    copilot.send("plot it")
    request = server.requests[1]
    (seen,) = image_messages(request)
    assert request["messages"][-1] is seen  # after the tool results of its message
    assert request["messages"][-2]["role"] == "tool"
    call_id = the_call(copilot)["id"]
    part_text, part_image = seen["content"]
    assert part_text == {"type": "text", "text": f"Images from the results of: plot ({call_id})"}
    url = part_image["image_url"]["url"]
    assert part_image["type"] == "image_url" and url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.partition(",")[2]).startswith(PNG_SIGNATURE)
    for message in request["messages"]:
        assert "display" not in message  # the display itself is never sent


@pytest.mark.parametrize(
    ("copilot_vision", "action_vision"), [(False, None), (True, False), (False, False)]
)
def test_without_vision_no_image_is_sent(
    scripted: Any, copilot_vision: bool, action_vision: bool | None
) -> None:
    figure = a_figure()
    copilot, server = scripted(one_call("plot"), vision=copilot_vision)
    copilot.action(lambda: figure, name="plot", description="Plot.", vision=action_vision)
    copilot.send("plot it")
    assert image_messages(server.requests[1]) == []
    assert "image_url" not in json.dumps(server.requests[1])


def test_an_action_may_turn_vision_on_by_itself(scripted: Any) -> None:
    figure = a_figure()
    copilot, server = scripted(one_call("plot"))
    copilot.action(lambda: figure, name="plot", description="Plot.", vision=True)
    copilot.send("plot it")
    assert len(image_messages(server.requests[1])) == 1


# -- persistence ------------------------------------------------------------------------------
def test_displays_survive_a_restart(scripted: Any, tmp_path: pathlib.Path) -> None:
    store = tmp_path / "threads.sqlite3"
    figure = a_figure()
    script = [tool_calls(call("sales", {}), call("plot", {})), text("Here.")]
    copilot, _ = scripted(script, store=store)
    copilot.action(big_frame, name="sales", description="Sales.")
    copilot.action(lambda: figure, name="plot", description="Plot.")
    copilot.send("go")
    before = [c["display"] for c in copilot.messages[1]["tool_calls"]]
    assert "text/html" in before[0]["data"] and "image/png" in before[1]["data"]
    thread_id = copilot.thread["id"]
    copilot.close()

    again = Copilot(api_key="k", store=store)  # a new kernel on the same store
    assert again.thread["id"] == thread_id
    assert [c["display"] for c in again.messages[1]["tool_calls"]] == before
    again.close()


def test_a_widget_that_ended_comes_back_static(scripted: Any, tmp_path: pathlib.Path) -> None:
    store = tmp_path / "threads.sqlite3"
    slider = ipywidgets.IntSlider(value=3)
    copilot, _ = scripted(one_call("slider"), store=store)
    copilot.action(lambda: slider, name="slider", description="A slider.")
    copilot.send("go")
    copilot.close()

    alive = Copilot(api_key="k", store=store)  # the widget still lives in this kernel
    assert WIDGET_MIME in the_call(alive)["display"]["data"]
    alive.close()

    slider.close()  # as when its kernel ended
    again = Copilot(api_key="k", store=store)
    display = the_call(again)["display"]
    assert display == {"data": {"text/plain": "IntSlider(value=3)"}, "note": WIDGET_ENDED}
    again.close()
