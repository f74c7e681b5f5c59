"""Tool schemas from type hints, docstrings, CopilotKit lists and pydantic models."""

from __future__ import annotations

import dataclasses
import enum
from typing import Annotated, Any, Literal, Optional, TypedDict

import pytest
from pydantic import BaseModel, Field

from copilot_widget import Copilot, InvalidOptionsError
from copilot_widget._schema import schema_from_function, strict_problem


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
