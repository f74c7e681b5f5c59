"""What the chat shows for a tool call: the richest safe representation of a value, as a
Jupyter mime bundle computed by IPython's display formatter, bounded in size.

Nothing here ever fails a call: a representation method that raises is logged and the next
one is used, down to `text/plain`. Nothing here makes anything safe to run either: `text/html`
and `image/svg+xml` are kept as the object wrote them, and the page sanitises them with the
rules it applies to model text (pandas escapes the cells of its tables itself).

The model never gets this bundle (see `model_text`): HTML and base64 cost tokens and carry
markup a prompt injection could hide in.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import logging
import pathlib
import re
import sys
from typing import Any, TypedDict

import ipywidgets
import pydantic
from IPython import get_ipython
from IPython.core.formatters import DisplayFormatter
from IPython.utils.dir2 import get_real_method

from ._serialize import clean_text, to_json

logger = logging.getLogger("copilot_widget")

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: The mime types the chat shows, richest first; anything else in a bundle is left out.
MIMES = (
    WIDGET_MIME,
    "text/html",
    "image/svg+xml",
    "image/png",
    "image/jpeg",
    "text/markdown",
    "text/latex",
    "text/plain",
)
TEXT_MIMES = ("text/html", "image/svg+xml", "text/markdown", "text/latex", "text/plain")
IMAGE_MIMES = ("image/png", "image/jpeg")

#: Characters of one text form: a long table or page, not a megabyte of markup in the chat's
#: synced state and the store (the state is re-sent with every new message).
MAX_TEXT_CHARS = 200_000
#: Characters of base64 of one image (about 1.1 MB of PNG): a detailed plot fits.
MAX_IMAGE_CHARS = 1_500_000
#: Characters of a whole display: the sum of its entries.
MAX_DISPLAY_CHARS = 3_000_000

WIDGET_ENDED = "A live widget: it ended with its kernel."

#: How a note names what was left out.
_WHAT = {
    "text/html": "HTML view",
    "image/svg+xml": "drawing",
    "image/png": "image",
    "image/jpeg": "image",
    "text/markdown": "Markdown view",
    "text/latex": "formula",
}
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
#: Values of these exact types have no representation richer than their JSON text.
_PLAIN_TYPES = (str, int, float, bool, type(None), dict, list, tuple, set, frozenset, bytes)


class Display(TypedDict):
    """What the chat shows for a call: a Jupyter mime bundle, bounded."""

    data: dict[str, Any]  # mime type -> value
    note: str | None  # said to the user: what was cut or left out, or why it is static


# -- what the chat shows ----------------------------------------------------------------------
def display_of(value: Any, *, rendered: bool = False) -> Display | None:
    """The display of a value, or None when it has nothing richer than its JSON text (the
    card shows that text). `rendered`: the value came from an action's `render=` function,
    which asked to show it: a string is shown as Markdown and any value at least as text.
    Never raises."""
    try:
        return _display_of(value, rendered)
    except Exception:  # a bug of ours or of the shell's formatters: the card shows the text
        logger.warning("Computing the display of a %s failed", type(value).__name__, exc_info=True)
        return None


def _display_of(value: Any, rendered: bool) -> Display | None:
    if value is None:
        return None
    if rendered and isinstance(value, str):
        return _bounded({"text/markdown": value, "text/plain": value}, set())
    if not rendered and type(value) in _PLAIN_TYPES:
        return None
    tables: set[str] = set()
    failed: list[tuple[str, str]] = []
    data = _special(value, tables)
    if data is None:
        data = _format(value, failed)
    rich = any(mime != "text/plain" for mime in data)
    if not rich and not failed and not rendered:
        return None
    if not isinstance(data.get("text/plain"), str):
        data["text/plain"] = _plain_text(value)
    display = _bounded(data, tables)
    if failed and not rich:  # say why the card shows text only
        mime, error = failed[0]
        what = _WHAT.get(mime, "rich view")
        display["note"] = f"The {what} could not be made ({error}); showing text."
    return display


def _special(value: Any, tables: set[str]) -> dict[str, Any] | None:
    """Values the standalone formatter does not know, or that need their own bounds."""
    if isinstance(value, ipywidgets.Widget) and getattr(value, "_view_name", None) is not None:
        comm = getattr(value, "comm", None)
        if comm is not None:  # a closed widget has no view to show
            view = {"model_id": value.model_id, "version_major": 2, "version_minor": 0}
            return {WIDGET_MIME: view, "text/plain": _plain_text(value)}
    figure = getattr(sys.modules.get("matplotlib.figure"), "Figure", None)
    if figure is not None and isinstance(value, figure):
        buffer = io.BytesIO()
        value.savefig(buffer, format="png", bbox_inches="tight")
        return {"image/png": buffer.getvalue(), "text/plain": _plain_text(value)}
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, pandas.DataFrame | pandas.Series):
        frame = value.to_frame() if isinstance(value, pandas.Series) else value
        # Shown like Jupyter shows it, cut to 20 rows and columns ("n rows × m columns").
        with pandas.option_context("display.max_rows", 20, "display.max_columns", 20):
            html = frame._repr_html_() or frame.to_html(max_rows=20, max_cols=20)
            text = repr(value)
        tables.add("text/html")
        return {"text/html": html, "text/plain": text}
    return None


_standalone: DisplayFormatter | None = None


def _formatter() -> DisplayFormatter:
    """The running shell's formatter (it knows the printers the notebook registered), else a
    standalone one."""
    global _standalone
    shell = get_ipython()
    formatter = getattr(shell, "display_formatter", None)
    if isinstance(formatter, DisplayFormatter):
        return formatter
    if _standalone is None:
        _standalone = DisplayFormatter()
    return _standalone


def _format(value: Any, failed: list[tuple[str, str]]) -> dict[str, Any]:
    """The bundle of `value` in the mime types the chat shows, as IPython's
    `DisplayFormatter.format` computes it (`_repr_mimebundle_` first, a printer registered for
    one type winning over it), but each method is called here: one that fails is logged and
    skipped instead of printing a traceback into the notebook, and the shell's `active_types`
    (a terminal's text only) do not apply to the chat. `_ipython_display_` is never called:
    it would display into whatever cell is running."""
    formatter = _formatter()
    data: dict[str, Any] = {}
    bundle = _compute(formatter.mimebundle_formatter, value, failed, bundle=True)
    if isinstance(bundle, tuple) and len(bundle) == 2:
        bundle = bundle[0]
    if isinstance(bundle, dict):
        data.update({mime: v for mime, v in bundle.items() if mime in MIMES})
    for mime in MIMES[1:-1]:
        per_type = formatter.formatters.get(mime)
        if per_type is None:
            continue
        if mime in data and not _registered(per_type, value):
            continue
        out = _compute(per_type, value, failed)
        if isinstance(out, tuple) and len(out) == 2:  # (data, metadata)
            out = out[0]
        if out is not None:
            data[mime] = out
    return data


def _registered(formatter: Any, value: Any) -> bool:
    try:
        formatter.lookup(value)
    except Exception:  # KeyError: no printer for this type
        return False
    return True


def _compute(
    formatter: Any, value: Any, failed: list[tuple[str, str]], *, bundle: bool = False
) -> Any:
    """What one formatter gives for `value` (None if nothing). One that fails is logged and
    its mime type added to `failed`."""
    try:
        printer = formatter.lookup(value)
    except KeyError:
        printer = None
    try:
        if printer is not None:
            return printer(value)
        method = get_real_method(value, formatter.print_method)
        if method is None:
            return None
        return method(include=list(MIMES), exclude=None) if bundle else method()
    except NotImplementedError:  # the documented way for a method to decline
        return None
    except Exception as exc:
        mime = getattr(formatter, "format_type", "a mime bundle")
        logger.warning(
            "%s failed to give %s; showing another form", type(value).__name__, mime, exc_info=True
        )
        failed.append((mime, type(exc).__name__))
        return None


def _plain_text(value: Any) -> str:
    """`text/plain` as the notebook would print it, or the plain `repr`."""
    formatter = _formatter().formatters.get("text/plain")
    # The formatter itself prints a traceback when the object's repr fails: call what it wraps.
    pretty = getattr(type(formatter).__call__, "__wrapped__", None)
    try:
        if formatter is not None and pretty is not None:
            text = pretty(formatter, value)
            if isinstance(text, str):
                return text
        return repr(value)
    except Exception:
        logger.warning("The repr of a %s failed", type(value).__name__, exc_info=True)
        return f"<{type(value).__name__} object (its repr failed)>"


# -- bounds -----------------------------------------------------------------------------------
def _bounded(raw: dict[str, Any], tables: set[str]) -> Display:
    """Keep the entries the chat can show, in the types it expects and within the bounds; say
    what was left out."""
    data: dict[str, Any] = {}
    dropped: list[tuple[str, int]] = []
    notes: list[str] = []
    for mime in MIMES:
        if mime not in raw:
            continue
        value = _entry(mime, raw[mime])
        if value is None:
            continue
        if mime == "image/jpeg" and "image/png" in data:
            continue  # the same picture twice (PIL gives both): the PNG is enough
        size = len(value) if isinstance(value, str) else 0
        if mime == "text/plain" and size > MAX_TEXT_CHARS:
            value = value[:MAX_TEXT_CHARS] + "\n…"
            notes.append(f"The text was cut to its first {_size(MAX_TEXT_CHARS)}.")
        elif size > (MAX_IMAGE_CHARS if mime in IMAGE_MIMES else MAX_TEXT_CHARS):
            dropped.append((mime, size))
            continue
        data[mime] = value
    if "text/plain" not in data:
        data["text/plain"] = ""
    while sum(len(v) for v in data.values() if isinstance(v, str)) > MAX_DISPLAY_CHARS:
        largest = max(
            (m for m in data if m not in ("text/plain", WIDGET_MIME)), key=lambda m: len(data[m])
        )
        dropped.append((largest, len(data.pop(largest))))
    if dropped:
        best = next((m for m in MIMES if m in data and m != "text/plain"), None)
        instead = "text" if best is None else f"the {_what(best, tables)}"
        notes[:0] = [
            f"The {_what(mime, tables)} was too large to show ({_size(size)}); showing {instead}."
            for mime, size in dropped
        ]
    return {"data": data, "note": " ".join(notes) or None}


def _entry(mime: str, value: Any) -> Any:
    """The value in the type the chat expects for `mime`, or None to leave it out."""
    if mime == WIDGET_MIME:
        if isinstance(value, dict) and isinstance(value.get("model_id"), str):
            return {"model_id": value["model_id"], "version_major": 2, "version_minor": 0}
        return None
    if mime in IMAGE_MIMES:
        if isinstance(value, bytes | bytearray | memoryview):
            return base64.b64encode(bytes(value)).decode("ascii")
        if isinstance(value, str):
            if value.startswith("data:"):
                value = value.partition(",")[2]
            value = "".join(value.split())
            if _BASE64.fullmatch(value) and len(value) % 4 == 0:
                return value
        logger.warning("Left out an %s that is not bytes or base64", mime)
        return None
    if isinstance(value, str):
        return clean_text(value)  # the store and the page take UTF-8 only
    return None


def _what(mime: str, tables: set[str]) -> str:
    return "table" if mime in tables else _WHAT.get(mime, mime)


def _size(chars: int) -> str:
    return f"{chars / 1e6:.1f} MB" if chars >= 1_000_000 else f"{round(chars / 1e3)} KB"


# -- what the model gets ----------------------------------------------------------------------
def model_text(value: Any) -> str:
    """The result as the model gets it: JSON text bounded by `_serialize.MAX_CHARS`, never HTML
    or base64. An object with a Markdown or LaTeX form gets that text; anything else is
    `to_json` as ever (data as JSON, a DataFrame as a bounded preview, another object as its
    repr: a figure is `<Figure size 400x250 with 1 Axes>`). Raises ResultError."""
    if not _is_data(value):
        text = _text_form(value)
        if text is not None:
            return to_json(text)
    return to_json(value)


def _is_data(value: Any) -> bool:
    if isinstance(value, (*_PLAIN_TYPES, pathlib.PurePath, pydantic.BaseModel, bytearray)):
        return True
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return True
    return type(value).__module__.split(".")[0] in ("pandas", "numpy")


def _text_form(value: Any) -> str | None:
    formatters = _formatter().formatters
    for mime in ("text/markdown", "text/latex"):
        formatter = formatters.get(mime)
        text = _compute(formatter, value, []) if formatter is not None else None
        if isinstance(text, tuple) and len(text) == 2:
            text = text[0]
        if isinstance(text, str) and text.strip():
            return text
    return None


# -- what a display becomes after its kernel ----------------------------------------------------
def live_widget(model_id: str) -> bool:
    """Whether `model_id` is a widget of this kernel that is still open."""
    registry = getattr(ipywidgets.widgets.widget, "_instances", None)  # ipywidgets 8
    if registry is None:  # pragma: no cover - ipywidgets 7
        registry = ipywidgets.Widget.widgets
    return model_id in registry


def reopened(display: Display | None) -> Display | None:
    """A saved display as this kernel can show it: a widget view whose widget is not alive
    here (the kernel that made it ended, or it was closed) becomes its static forms."""
    if display is None:
        return None
    data = display["data"]
    view = data.get(WIDGET_MIME)
    if view is None:
        return display
    if isinstance(view, dict) and isinstance(view.get("model_id"), str):
        if live_widget(view["model_id"]):
            return display
    static = {mime: v for mime, v in data.items() if mime != WIDGET_MIME}
    static.setdefault("text/plain", "")
    return {"data": static, "note": WIDGET_ENDED}


def images(display: Display | None) -> list[tuple[str, str]]:
    """The (mime type, base64) images of a display, for a model that can see them."""
    if display is None:
        return []
    data = display["data"]
    return [(mime, data[mime]) for mime in IMAGE_MIMES if isinstance(data.get(mime), str)]
