"""Tool results and readable values as JSON text for the model, bounded in size."""

from __future__ import annotations

import json
from typing import Any

import pydantic_core

#: Characters of JSON a single tool result or readable may add to a request.
MAX_CHARS = 16_000
_PREVIEW_ROWS = 20


def _fallback(value: Any) -> Any:
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
    return repr(value)


def to_json(value: Any, *, max_chars: int = MAX_CHARS) -> str:
    """JSON text of a value; over `max_chars` it becomes a truncated preview that says so."""
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    else:
        jsonable = pydantic_core.to_jsonable_python(
            value, fallback=_fallback, serialize_unknown=False
        )
        text = json.dumps(jsonable, ensure_ascii=False, default=repr)
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
