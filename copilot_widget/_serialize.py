"""Tool results and readable values as JSON text for the model, bounded in size.

The text is always encodable as UTF-8, whatever the value holds:

- a lone surrogate (a file name from `os.listdir()` on a file system that is not UTF-8, such as
  `'caf\\udce9.txt'`) becomes the JSON escape `\\udce9`; decoding the JSON gives the original
  string back, so the model can send the exact name to another action;
- `bytes` (and `bytearray`, `memoryview`) that are UTF-8 become that text; other bytes become
  `{"bytes": <length>, "base64": <the first 1024 bytes>, "note": ...}`, a bounded form that
  says what it is.

A value that cannot be represented (it contains itself, or its serialisation raises) raises
ResultError, which the caller reports as a failed tool call.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import pathlib
from typing import Any

import pydantic
import pydantic_core

#: Characters of JSON a single tool result or readable may add to a request.
MAX_CHARS = 16_000
_PREVIEW_ROWS = 20
_PREVIEW_BYTES = 1024


class ResultError(ValueError):
    """A value cannot be turned into JSON for the model; the message says why."""


def clean_text(text: str) -> str:
    """The text with each lone surrogate (not encodable as UTF-8) as a visible escape:
    `'caf\\udce9'` becomes `'caf\\\\udce9'`. Everything else is unchanged, so the result is
    deterministic and cleaning it again changes nothing. Inside a JSON string the escape is
    the JSON escape of the same character."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _bytes(data: bytes | bytearray | memoryview) -> Any:
    raw = bytes(data)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    head = raw[:_PREVIEW_BYTES]
    of = f"the first {len(head)} of {len(raw)}" if len(head) < len(raw) else f"{len(raw)}"
    return {
        "bytes": len(raw),
        "base64": base64.b64encode(head).decode("ascii"),
        "note": f"Not UTF-8 text: base64 of {of} bytes.",
    }


def _fallback(value: Any) -> Any:
    if isinstance(value, memoryview):
        return _bytes(value)
    if isinstance(value, pathlib.PurePath):
        return str(value)
    module = type(value).__module__.split(".")[0]
    if module == "pandas" and hasattr(value, "to_dict") and hasattr(value, "shape"):
        # DataFrame / Series: a bounded preview, not the whole table.
        head = value.head(_PREVIEW_ROWS)
        preview: dict[str, Any] = {
            "type": type(value).__name__,
            "shape": list(value.shape),
        }
        if hasattr(value, "columns"):
            preview["columns"] = [str(c) for c in value.columns]
            preview["rows"] = json.loads(head.to_json(orient="records", date_format="iso"))
        else:
            preview["values"] = json.loads(head.to_json(orient="values", date_format="iso"))
        return preview
    if module == "numpy":
        if hasattr(value, "tolist") and getattr(value, "ndim", 0) > 0:
            flat = value.ravel()[: _PREVIEW_ROWS * 50]
            return {"type": "ndarray", "shape": list(value.shape), "values": flat.tolist()}
        if hasattr(value, "item"):
            return value.item()
    return clean_text(repr(value))


def _dumps(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    jsonable = pydantic_core.to_jsonable_python(value, fallback=_fallback, serialize_unknown=False)
    return json.dumps(jsonable, ensure_ascii=False, default=repr)


def _plain(value: Any, seen: frozenset[int] = frozenset()) -> Any:
    """The value as plain JSON data, for what pydantic cannot encode: strings with lone
    surrogates and bytes that are not UTF-8 (at any depth of containers, dataclasses and
    pydantic models). Strings are kept as they are; `to_json` escapes them at the end."""
    if isinstance(value, str) or value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _bytes(value)
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if id(value) in seen:
        raise ValueError("Circular reference detected")
    inner = seen | {id(value)}
    if isinstance(value, dict):
        return {_key(k): _plain(v, inner) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v, inner) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name), inner) for f in dataclasses.fields(value)}
    if isinstance(value, pydantic.BaseModel):
        return {name: _plain(getattr(value, name), inner) for name in type(value).model_fields}
    return pydantic_core.to_jsonable_python(value, fallback=_fallback, serialize_unknown=False)


def _key(key: Any) -> Any:
    return key if isinstance(key, (str, int, float, bool)) or key is None else str(key)


def to_json(value: Any, *, max_chars: int = MAX_CHARS) -> str:
    """JSON text of a value, encodable as UTF-8; over `max_chars` it becomes a truncated
    preview that says so. Raises ResultError for a value that cannot be represented."""
    try:
        try:
            text = _dumps(value)
        except UnicodeError:  # a lone surrogate or bytes that are not UTF-8
            text = json.dumps(_plain(value), ensure_ascii=False)
    except Exception as exc:  # the value's own code (repr, properties) may raise anything
        raise ResultError(
            clean_text(f"The result cannot be turned into JSON ({type(exc).__name__}: {exc}).")
        ) from exc
    text = clean_text(text)  # lone surrogates only occur inside JSON strings: JSON escapes
    if len(text) <= max_chars:
        return text
    return json.dumps(
        {
            "truncated": True,
            "note": f"The result was {len(text)} characters; only the first {max_chars} are shown.",
            "preview": text[:max_chars],
        },
        ensure_ascii=False,
    )
