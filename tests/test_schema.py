"""Tool schemas from type hints, docstrings, CopilotKit lists and pydantic models."""

from __future__ import annotations

import dataclasses
import enum
import math
import re
import time
from typing import Annotated, Any, Literal, Optional, TypedDict

import pydantic
import pytest
from pydantic import BaseModel, Field

from copilot_widget import Copilot, InvalidOptionsError
from copilot_widget._schema import (
    ArgumentsError,
    parse_arguments,
    problems,
    schema_from_function,
    strict_problem,
)


def params(fn: Any) -> dict[str, Any]:
    schema = schema_from_function(fn.__name__, fn, None)
    assert strict_problem(schema.parameters) is None
    return schema.parameters


def prop(fn: Any, name: str) -> dict[str, Any]:
    return params(fn)["properties"][name]


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Point(TypedDict):
    x: float
    y: float


@dataclasses.dataclass
class Box:
    width: int
    height: int


class Shape(BaseModel):
    kind: Literal["circle", "square"]
    size: float = 1.0


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (Literal["a", "b"], {"type": "string", "enum": ["a", "b"]}),
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (Optional[str], {"anyOf": [{"type": "string"}, {"type": "null"}]}),  # noqa: UP045
        (str | None, {"anyOf": [{"type": "string"}, {"type": "null"}]}),
    ],
)
def test_simple_type_forms(annotation: Any, expected: dict[str, Any]) -> None:
    def action(value):  # type: ignore[no-untyped-def]
        pass

    action.__annotations__ = {"value": annotation}
    schema = params(action)
    assert schema["properties"]["value"] == expected
    assert schema["required"] == ["value"]
    assert schema["additionalProperties"] is False


def test_docstring_gives_descriptions_google_numpy_sphinx() -> None:
    def google(user_id: str, limit: int) -> None:
        """Fetch the user.

        Args:
            user_id: The ID of the user to fetch data for.
            limit: How many rows.
        """

    def numpy(user_id: str) -> None:
        """Fetch the user.

        Parameters
        ----------
        user_id : str
            The ID of the user.
        """

    def sphinx(user_id: str) -> None:
        """Fetch the user.

        :param user_id: The ID of the user.
        """

    g = schema_from_function("google", google, None)
    assert g.description == "Fetch the user."
    assert g.parameters["properties"]["user_id"]["description"] == (
        "The ID of the user to fetch data for."
    )
    assert g.parameters["properties"]["limit"]["description"] == "How many rows."
    for fn in (numpy, sphinx):
        s = schema_from_function(fn.__name__, fn, None)
        assert s.description == "Fetch the user."
        assert s.parameters["properties"]["user_id"]["description"] == "The ID of the user."


def test_enum_typeddict_dataclass_pydantic_and_annotated() -> None:
    def action(
        color: Color,
        point: Point,
        box: Box,
        shape: Shape,
        note: Annotated[str, Field(description="A short note.")],
    ) -> None:
        pass

    schema = params(action)
    defs = schema["$defs"]
    assert defs["Color"]["enum"] == ["red", "blue"]
    assert defs["Point"]["required"] == ["x", "y"]
    assert defs["Box"]["properties"]["width"]["type"] == "integer"
    assert defs["Shape"]["required"] == ["kind", "size"]  # strict: every key required
    assert schema["properties"]["note"]["description"] == "A short note."
    validated = schema_from_function("action", action, None).validate(
        {
            "color": "red",
            "point": {"x": 1, "y": 2},
            "box": {"width": 3, "height": 4},
            "shape": {"kind": "circle", "size": 2},
            "note": "hi",
        }
    )
    assert validated["color"] is Color.RED
    assert validated["box"] == Box(3, 4)
    assert validated["shape"] == Shape(kind="circle", size=2)


def test_dict_becomes_strict_key_value_pairs_and_back() -> None:
    def action(scores: dict[str, int]) -> None:
        pass

    schema = params(action)
    items = schema["properties"]["scores"]["items"]
    assert schema["properties"]["scores"]["type"] == "array"
    assert items["required"] == ["key", "value"]
    validated = schema_from_function("action", action, None).validate(
        {"scores": [{"key": "a", "value": 1}, {"key": "b", "value": 2}]}
    )
    assert validated == {"scores": {"a": 1, "b": 2}}


def test_defaults_are_nullable_and_null_means_default() -> None:
    def action(query: str, limit: int = 10, tag: str | None = None) -> None:
        pass

    schema = params(action)
    assert schema["required"] == ["query", "limit", "tag"]
    assert schema["properties"]["limit"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    assert "(default: 10)" in schema["properties"]["limit"]["description"]
    assert "default" not in schema["properties"]["limit"]
    tool = schema_from_function("action", action, None)
    assert tool.validate({"query": "q", "limit": None, "tag": None}) == {
        "query": "q",
        "tag": None,
    }
    assert tool.validate({"query": "q", "limit": 3, "tag": "x"})["limit"] == 3


class Unschemable:
    pass


def test_a_parameter_that_cannot_be_a_schema_is_refused_naming_it() -> None:
    copilot = Copilot(api_key="sk-test")

    def plot(figure: Unschemable) -> None:
        pass

    with pytest.raises(InvalidOptionsError, match=r"'plot'.*'figure'"):
        copilot.action(plot)

    def untyped(x) -> None:  # type: ignore[no-untyped-def]
        pass

    with pytest.raises(InvalidOptionsError, match=r"'untyped'.*'x'.*no type hint"):
        copilot.action(untyped)

    def star(*args: int) -> None:
        pass

    with pytest.raises(InvalidOptionsError, match=r"'star'.*'args'"):
        copilot.action(star)
    assert copilot.actions == {}


def test_copilotkit_parameter_list() -> None:
    copilot = Copilot(api_key="sk-test")

    def add_todo(**kwargs: Any) -> None:
        pass

    copilot.action(
        add_todo,
        name="addTodo",
        description="Add a todo",
        parameters=[
            {"name": "title", "type": "string", "description": "The title"},
            {"name": "priority", "type": "string", "enum": ["low", "high"]},
            {"name": "tags", "type": "string[]", "required": False},
            {
                "name": "items",
                "type": "object[]",
                "attributes": [
                    {"name": "label", "type": "string"},
                    {"name": "n", "type": "number"},
                ],
            },
        ],
    )
    action = copilot.actions["addTodo"]
    schema = action.schema.parameters
    assert strict_problem(schema) is None
    assert action.description == "Add a todo"
    assert schema["properties"]["priority"]["enum"] == ["low", "high"]
    assert schema["properties"]["tags"]["anyOf"][1] == {"type": "null"}
    item = schema["properties"]["items"]["items"]
    assert "$ref" in item or item["properties"]["label"] == {"type": "string"}
    with pytest.raises(InvalidOptionsError, match="unknown type 'strnig'"):
        copilot.action(add_todo, name="bad", parameters=[{"name": "x", "type": "strnig"}])


def test_pydantic_model_as_parameters() -> None:
    copilot = Copilot(api_key="sk-test")

    class CreateShape(BaseModel):
        """Create a shape on the canvas."""

        kind: Literal["circle", "square"]
        x: float = Field(description="Left edge")

    def create_shape(kind: str, x: float) -> None:
        pass

    copilot.action(create_shape, parameters=CreateShape)
    action = copilot.actions["create_shape"]
    assert action.description == "Create a shape on the canvas."
    assert action.schema.parameters["properties"]["x"]["description"] == "Left edge"
    assert strict_problem(action.schema.parameters) is None


def test_strict_problem_catches_non_strict_schemas() -> None:
    assert strict_problem({"type": "object", "properties": {}}) is not None
    assert (
        strict_problem(
            {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "required": [],
                "additionalProperties": False,
            }
        )
        is not None
    )


# -- arguments from the model --------------------------------------------------------------


def test_parse_arguments_gives_a_dict() -> None:
    assert parse_arguments('{"a": 1, "b": [1.5, "x", null, true], "c": {"d": "caf\\u00e9"}}') == {
        "a": 1,
        "b": [1.5, "x", None, True],
        "c": {"d": "café"},
    }
    # A model may send nothing at all for an action without parameters.
    assert parse_arguments("") == {}
    assert parse_arguments("  \n") == {}
    # A file name the model copied from an earlier result (see _serialize.to_json).
    assert parse_arguments('{"path": "caf\\udce9.txt"}') == {"path": "caf\udce9.txt"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": ', "not valid JSON"),
        ("{: 1}", "not valid JSON"),
        ('{"a": 1, : 2}', "not valid JSON"),
        ('{"a" 1}', "not valid JSON"),
        ('{"a": 1,}', "not valid JSON"),
        ('{"a": 1} {"b": 2}', "not valid JSON"),
        ("\ufeff{}", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('"text"', "must be a JSON object"),
        ("null", "must be a JSON object"),
        ('{"a": 1, "a": "x"}', "'a' more than once"),
        ('{"a": {"b": 1, "b": 2}}', "'b' more than once"),
        ('{"a": NaN}', "NaN"),
        ('{"a": Infinity}', "Infinity"),
        ('{"a": [-Infinity]}', "-Infinity"),
        ('{"a": 1e999}', "out of range"),
        ('{"a": ' + "9" * 5000 + "}", "5000 digits"),
        ('{"a": -' + "9" * 101 + "}", "101 digits"),
        ('{"a": ' + "[" * 64 + "]" * 64 + "}", "nested"),
        ("[" * 40_000 + "]" * 40_000, "nested"),
        ('{"a":' * 15_000 + "1" + "}" * 15_000, "nested"),
        ('{"a": "' + "x" * 100_000 + '"}', "at most 100,000 are accepted"),
    ],
)
def test_parse_arguments_refuses_bad_input_with_a_message_for_the_model(
    text: str, message: str
) -> None:
    with pytest.raises(ArgumentsError, match=re.escape(message)):
        parse_arguments(text)


def test_parse_arguments_accepts_the_largest_allowed_sizes() -> None:
    assert parse_arguments('{"a": ' + "9" * 100 + "}") == {"a": int("9" * 100)}
    # The object itself is the first of 64 levels.
    deepest = parse_arguments('{"a": ' + "[" * 63 + "]" * 63 + "}")["a"]
    for _ in range(62):
        deepest = deepest[0]
    assert deepest == []


def test_parse_arguments_deep_nesting_is_refused_quickly() -> None:
    start = time.perf_counter()
    for text in ("[" * 1_000_000, "{" * 1_000_000, '{"a":' * 500_000 + "1" + "}" * 500_000):
        with pytest.raises(ArgumentsError):
            parse_arguments(text)
    assert time.perf_counter() - start < 5


def test_parse_arguments_never_raises_anything_else() -> None:
    # Every single-character deletion, insertion and replacement of a valid object.
    valid = '{"a": [1, -2.5e3, "x\\u00e9", true, null], "b": {"c": false}}'
    alphabet = '{}[]:,"\\ 0-.eE+aINn\udce9\x00'
    texts = set()
    for i in range(len(valid) + 1):
        texts.add(valid[:i] + valid[i + 1 :])
        for char in alphabet:
            texts.add(valid[:i] + char + valid[i:])
            texts.add(valid[:i] + char + valid[i + 1 :])
    parsed = 0
    for text in texts:
        try:
            result = parse_arguments(text)
        except ArgumentsError as exc:
            assert str(exc)
        else:
            assert isinstance(result, dict)
            parsed += 1
    assert parsed  # some mutations are still valid objects


# -- strict validation ---------------------------------------------------------------------


def numbers(f: float, i: int, box: Box, shape: Shape, maybe: float | None = None) -> None:
    pass


VALID_NUMBERS = {
    "f": 1.5,
    "i": 2,
    "box": {"width": 1, "height": 2},
    "shape": {"kind": "circle", "size": 1},
    "maybe": None,
}


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"f": math.nan}, "f"),
        ({"f": math.inf}, "f"),
        ({"f": -math.inf}, "f"),
        ({"maybe": math.nan}, "maybe"),
        ({"f": "nan"}, "f"),
        ({"f": "inf"}, "f"),
        ({"f": "Infinity"}, "f"),
        ({"f": "1.5"}, "f"),
        ({"f": True}, "f"),
        ({"f": False}, "f"),
        ({"i": True}, "i"),
        ({"i": 2.5}, "i"),
        ({"i": "3"}, "i"),
        ({"box": {"width": True, "height": 2}}, "box.width"),
        ({"shape": {"kind": "circle", "size": math.nan}}, "shape"),
        ({"shape": {"kind": "circle", "size": "inf"}}, "shape.size"),
        ({"shape": {"kind": "circle", "size": True}}, "shape.size"),
    ],
)
def test_validate_refuses_numbers_that_are_not_numbers(change: dict[str, Any], where: str) -> None:
    tool = schema_from_function("numbers", numbers, None)
    assert tool.validate(VALID_NUMBERS)["f"] == 1.5
    with pytest.raises(pydantic.ValidationError) as info:
        tool.validate({**VALID_NUMBERS, **change})
    assert problems(info.value).startswith(f"{where}: ")


def test_validate_keeps_valid_values_and_gives_the_handler_the_original_strings() -> None:
    def action(path: str, color: Color, point: Point, pair: tuple[int, str], n: float) -> None:
        pass

    tool = schema_from_function("action", action, None)
    assert tool.validate(
        {
            "path": "caf\udce9.txt",
            "color": "red",
            "point": {"x": 1, "y": 2.5},
            "pair": [1, "a"],
            "n": 3,
        }
    ) == {
        "path": "caf\udce9.txt",
        "color": Color.RED,
        "point": {"x": 1.0, "y": 2.5},
        "pair": (1, "a"),
        "n": 3.0,
    }
    with pytest.raises(pydantic.ValidationError, match="color"):
        tool.validate(
            {
                "path": "caf\udce9.txt",
                "color": "green",
                "point": {"x": 1, "y": 2},
                "pair": [1, "a"],
                "n": 3,
            }
        )


def test_validate_refuses_values_that_are_not_json() -> None:
    def action(value: Any) -> None:
        pass

    tool = schema_from_function("action", action, None)
    assert tool.validate({"value": [1, {"a": None}]}) == {"value": [1, {"a": None}]}
    for value in (object(), [math.nan], {"a": {"b": math.inf}}, 10**5000):
        with pytest.raises(pydantic.ValidationError) as info:
            tool.validate({"value": value})
        assert problems(info.value).startswith("value: Input should be")


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([{"key": "a", "value": 1}, 5], "item 1"),
        ([{"key": "a", "value": 1}, "junk"], "item 1"),
        ([{"key": "a"}], "item 0"),
        ([{"value": 1}], "item 0"),
        ([{"key": 1, "value": 1}], "item 0"),
        ([{"key": "a", "value": 1, "extra": 2}], "item 0"),
        ([{"key": "a", "value": "bad"}, {"key": "a", "value": 1}], "'a' is given more than once"),
        ([{"key": "a", "value": 1}, {"key": "b", "value": "bad"}], "scores.b"),
    ],
)
def test_dict_pairs_are_all_checked_and_none_is_dropped(pairs: list[Any], message: str) -> None:
    def action(scores: dict[str, int]) -> None:
        pass

    tool = schema_from_function("action", action, None)
    with pytest.raises(pydantic.ValidationError) as info:
        tool.validate({"scores": pairs})
    assert message in problems(info.value)


def test_dict_pairs_keep_enum_and_nested_values() -> None:
    def action(colors: dict[str, Color], boxes: dict[str, dict[str, Box]]) -> None:
        pass

    # The value types' definitions are kept (registering this action used to fail).
    schema = params(action)
    assert schema["properties"]["colors"]["items"]["properties"]["value"] == {
        "$ref": "#/$defs/Color"
    }
    assert "Box" in schema["$defs"]
    tool = schema_from_function("action", action, None)
    assert tool.validate(
        {
            "colors": [{"key": "a", "value": "red"}],
            "boxes": [{"key": "x", "value": [{"key": "y", "value": {"width": 1, "height": 2}}]}],
        }
    ) == {"colors": {"a": Color.RED}, "boxes": {"x": {"y": Box(1, 2)}}}
    # A Python caller may pass a plain dict.
    assert tool.validate({"colors": {"a": "blue"}, "boxes": {}})["colors"] == {"a": Color.BLUE}
