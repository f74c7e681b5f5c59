"""Tool results and readables become bounded JSON for the model."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import enum
import json
import pathlib

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel

from copilot_widget._serialize import ResultError, clean_text, to_json


class Kind(enum.Enum):
    CIRCLE = "circle"


@dataclasses.dataclass
class Shape:
    kind: Kind
    size: float


class User(BaseModel):
    name: str
    joined: datetime.date


def test_common_python_values() -> None:
    value = {
        "shape": Shape(Kind.CIRCLE, 2.5),
        "user": User(name="Ada", joined=datetime.date(2020, 1, 2)),
        "tags": {"a"},
        "pair": (1, 2),
    }
    assert json.loads(to_json(value)) == {
        "shape": {"kind": "circle", "size": 2.5},
        "user": {"name": "Ada", "joined": "2020-01-02"},
        "tags": ["a"],
        "pair": [1, 2],
    }
    assert to_json("plain text") == '"plain text"'
    assert to_json(None) == "null"


def test_numpy_scalars_and_arrays() -> None:
    assert json.loads(to_json({"n": np.int64(3), "x": np.float32(0.5), "b": np.bool_(True)})) == {
        "n": 3,
        "x": 0.5,
        "b": True,
    }
    array = json.loads(to_json(np.arange(6).reshape(2, 3)))
    assert array == {"type": "ndarray", "shape": [2, 3], "values": [0, 1, 2, 3, 4, 5]}


def test_dataframe_becomes_a_bounded_preview() -> None:
    frame = pd.DataFrame({"id": range(10_000), "name": [f"user {i}" for i in range(10_000)]})
    preview = json.loads(to_json(frame))
    assert preview["type"] == "DataFrame"
    assert preview["shape"] == [10_000, 2]
    assert preview["columns"] == ["id", "name"]
    assert len(preview["rows"]) == 20 and preview["rows"][0] == {"id": 0, "name": "user 0"}
    series = json.loads(to_json(frame["id"]))
    assert series["type"] == "Series" and series["values"][:3] == [0, 1, 2]


def test_unknown_objects_use_their_repr_and_big_values_are_truncated_with_a_note() -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque>"

    assert json.loads(to_json({"o": Opaque()})) == {"o": "<Opaque>"}
    big = json.loads(to_json(list(range(100_000)), max_chars=1_000))
    assert big["truncated"] is True
    assert "only the first 1000 are shown" in big["note"]
    assert len(big["preview"]) == 1_000


def test_values_that_cannot_be_json_raise_a_result_error_naming_the_problem() -> None:
    cyclic: list[object] = []
    cyclic.append(cyclic)
    loop: dict[str, object] = {}
    loop["self"] = loop

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("repr is broken")

    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    for value, problem in [
        (cyclic, "Circular reference"),
        ({"a": loop}, "Circular reference"),
        ({"x": Broken()}, "repr is broken"),
        (deep, "cannot be turned into JSON"),
        (10**5000, "4300 digits"),
    ]:
        with pytest.raises(ResultError, match=problem):
            to_json(value)


def test_bytes_are_text_when_utf8_else_a_bounded_base64_preview() -> None:
    assert to_json(b"caf\xc3\xa9") == '"café"'
    assert json.loads(to_json({"data": bytearray(b"ok")})) == {"data": "ok"}
    shown = json.loads(to_json({"blob": b"\xff\x00" * 10_000, "name": "x"}))
    assert shown["name"] == "x"
    blob = shown["blob"]
    assert blob["bytes"] == 20_000
    assert blob["note"] == "Not UTF-8 text: base64 of the first 1024 of 20000 bytes."
    assert base64.b64decode(blob["base64"]) == b"\xff\x00" * 512
    assert json.loads(to_json(memoryview(b"\xff"))) == {
        "bytes": 1,
        "base64": "/w==",
        "note": "Not UTF-8 text: base64 of 1 bytes.",
    }


@dataclasses.dataclass
class Entry:
    name: str
    data: bytes


class Listing(BaseModel):
    names: list[str]


def test_lone_surrogates_are_json_escapes_and_the_text_is_utf8() -> None:
    name = "caf\udce9.txt"  # os.listdir() on a file name that is not UTF-8
    for value in (
        name,
        [name, "ok"],
        {name: name},
        Entry(name, b"\xff"),
        Listing(names=[name]),
        [pathlib.PurePosixPath("/tmp") / name, pathlib.Path(name)],
        {"nested": ({name}, Kind.CIRCLE, datetime.date(2020, 1, 2))},
    ):
        text = to_json(value)
        text.encode("utf-8")
        assert "\\udce9" in text
        assert name in json.dumps(json.loads(text), ensure_ascii=False)
    assert json.loads(to_json([name])) == [name]  # the model can send the exact name back
    assert json.loads(to_json(Entry(name, b"\xff"))) == {
        "name": name,
        "data": {"bytes": 1, "base64": "/w==", "note": "Not UTF-8 text: base64 of 1 bytes."},
    }
    big = to_json([name] * 10_000, max_chars=100)
    big.encode("utf-8")
    assert json.loads(big)["truncated"] is True


def test_clean_text_makes_any_text_utf8_and_shows_what_was_there() -> None:
    assert clean_text("plain café ☕ 😀") == "plain café ☕ 😀"
    assert clean_text("caf\udce9") == "caf\\udce9"
    assert clean_text("\ud83d\ude00 and \ud800") == "\\ud83d\\ude00 and \\ud800"
    for text in ("caf\udce9", "\udfff\ud800x"):
        cleaned = clean_text(text)
        cleaned.encode("utf-8")
        assert clean_text(cleaned) == cleaned
