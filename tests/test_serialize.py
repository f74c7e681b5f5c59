"""Tool results and readables become bounded JSON for the model."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json

import numpy as np
import pandas as pd
from pydantic import BaseModel

from copilot_widget._serialize import to_json


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
