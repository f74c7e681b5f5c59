"""Tool schemas: a Python signature (or a CopilotKit parameter list, or a pydantic model)
becomes a pydantic model that validates the model's arguments and a strict JSON schema.

Type forms become schemas through pydantic; docstrings are read by griffe. Two adjustments make
every supported form valid for OpenAI strict mode: a parameter with a default becomes nullable
(the model sends `null` to mean "use the default"), and `dict[str, V]` is described as a list of
`{key, value}` pairs, because strict mode allows no free-form object keys.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, Union

import griffe
import openai
import pydantic
import typing_extensions
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import InitErrorDetails, PydanticCustomError

from ._errors import InvalidOptionsError

_NO_DEFAULT = inspect.Parameter.empty


@dataclasses.dataclass(frozen=True)
class ToolSchema:
    """What an action's parameters look like to the model and how its arguments are checked."""

    model: type[BaseModel]
    parameters: dict[str, Any]
    description: str
    #: parameters whose default applies when the model sends null
    defaults: frozenset[str]

    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Validated keyword arguments for the handler; raises pydantic.ValidationError.

        Arguments are checked as the JSON the model sent, strictly: a number must be a finite
        JSON number (not a bool, not a string such as "nan"), an integer has no fraction.
        """
        arguments = dict(arguments)
        text = self._json_text(arguments)
        # pydantic's JSON parser refuses lone surrogates (a file name from os.listdir() that
        # the model copied), so the strict check reads U+FFFD in their place.
        checked = _SURROGATES.sub("\ufffd", text)
        instance = self.model.model_validate_json(checked, strict=True)
        if checked != text:
            # The handler gets the strings as sent.
            instance = self.model.model_validate(arguments)
        return {
            name: getattr(instance, name)
            for name in type(instance).model_fields
            if not (name in self.defaults and getattr(instance, name) is None)
        }

    def _json_text(self, arguments: dict[str, Any]) -> str:
        """The arguments as JSON text; a value that is not JSON data is refused by name."""
        for name, value in arguments.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise _invalid(self.model, name, value, "finite_number")
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError, RecursionError) as exc:
                why = PydanticCustomError(
                    "not_json", "Input should be JSON data ({why})", {"why": str(exc)}
                )
                raise _invalid(self.model, name, value, why) from None
        return json.dumps(arguments, ensure_ascii=False)


_SURROGATES = re.compile("[\ud800-\udfff]")


def _invalid(
    model: type[BaseModel], name: str, value: Any, kind: str | PydanticCustomError
) -> pydantic.ValidationError:
    error: InitErrorDetails = {"type": kind, "loc": (name,), "input": value}
    return pydantic.ValidationError.from_exception_data(model.__name__, [error])


#: Bounds on what a tool call's arguments may hold; far beyond any real call.
MAX_DEPTH = 64
#: The longest arguments text of one call (from the model, a button, or edited on the card).
MAX_ARGUMENT_CHARS = 100_000
MAX_DIGITS = 100  # below Python's own int-string limit (640 at its lowest), so int() never fails


class ArgumentsError(ValueError):
    """A tool call's arguments cannot be used; the message is meant for the model."""


def parse_arguments(text: str) -> dict[str, Any]:
    """The one way a tool call's argument text becomes a dict; raises ArgumentsError.

    Empty text means no arguments. Refused: invalid JSON, anything but an object, duplicate
    keys (one could hide an invalid value), NaN and infinities, integers over MAX_DIGITS
    digits, nesting deeper than MAX_DEPTH.
    """
    if not isinstance(text, str):
        raise ArgumentsError("The arguments must be JSON text.")
    if not text.strip():
        return {}
    if len(text) > MAX_ARGUMENT_CHARS:
        raise ArgumentsError(
            f"The arguments are {len(text):,} characters long; at most {MAX_ARGUMENT_CHARS:,} "
            "are accepted. Send smaller arguments."
        )
    try:
        value = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constant,
            parse_int=_bounded_int,
            parse_float=_finite_float,
        )
    except ArgumentsError:
        raise
    except RecursionError:
        raise _too_deep() from None
    except ValueError as exc:  # JSONDecodeError and its relatives
        raise ArgumentsError(
            f"The arguments are not valid JSON ({exc}). Send one JSON object whose keys are "
            f"the parameter names."
        ) from None
    if not isinstance(value, dict):
        raise ArgumentsError(
            f"The arguments must be a JSON object whose keys are the parameter names, "
            f"not {type(value).__name__ if value is not None else 'null'}."
        )
    if _depth_over(value, MAX_DEPTH):
        raise _too_deep()
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ArgumentsError(
                f"The arguments give the key {key!r} more than once; give it once."
            )
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ArgumentsError(f"The arguments contain {name}, which is not a JSON number.")


def _bounded_int(literal: str) -> int:
    digits = len(literal.lstrip("-"))
    if digits > MAX_DIGITS:
        raise ArgumentsError(
            f"The arguments contain a number with {digits} digits; at most {MAX_DIGITS} are "
            f"allowed."
        )
    return int(literal)


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ArgumentsError(f"The arguments contain a number out of range: {literal[:40]}.")
    return value


def _too_deep() -> ArgumentsError:
    return ArgumentsError(f"The arguments are nested more than {MAX_DEPTH} levels deep.")


def _depth_over(value: Any, limit: int) -> bool:
    """Whether lists and objects nest deeper than `limit` (iterative: no recursion limit)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def problems(exc: pydantic.ValidationError) -> str:
    """A validation error as one line the model (or a person) can act on."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
        for err in exc.errors(include_url=False)
    )


def function_docs(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """The docstring's summary and per-parameter descriptions (Google, NumPy or Sphinx)."""
    text = inspect.getdoc(fn) or ""
    if not text:
        return "", {}
    if re.search(r"^\s*:param\s", text, re.MULTILINE):
        style: Literal["google", "numpy", "sphinx"] = "sphinx"
    elif re.search(r"^\s*-{3,}\s*$", text, re.MULTILINE):
        style = "numpy"
    else:
        style = "google"
    sections = griffe.Docstring(text, parser=style).parse(warnings=False)
    summary_parts: list[str] = []
    params: dict[str, str] = {}
    for section in sections:
        if section.kind is griffe.DocstringSectionKind.text:
            summary_parts.append(str(section.value).strip())
        elif section.kind is griffe.DocstringSectionKind.parameters:
            for param in section.value:
                params[param.name] = " ".join(str(param.description).split())
    return "\n\n".join(p for p in summary_parts if p), params


def _pairs_to_dict(value: Any) -> Any:
    """`[{key, value}, ...]` as a dict. Every pair must be well formed and every key unique,
    so that nothing is dropped and no duplicate hides an invalid value."""
    if not isinstance(value, list):
        return value  # a dict from a Python caller, or a wrong type that pydantic reports
    mapping: dict[str, Any] = {}
    for i, item in enumerate(value):
        if not (isinstance(item, dict) and item.keys() == {"key", "value"}):
            raise ValueError(f"item {i} should be an object with exactly 'key' and 'value'")
        if not isinstance(item["key"], str):
            raise ValueError(f"item {i} should have a string 'key'")
        if item["key"] in mapping:
            raise ValueError(f"the key {item['key']!r} is given more than once")
        mapping[item["key"]] = item["value"]
    return mapping


@dataclasses.dataclass(frozen=True)
class _PairsSchema:
    """The JSON schema of `dict[str, V]` as `[{key, value}, ...]`. V's schema comes from the
    same generator as the rest, so its definitions (an Enum, a dataclass) are kept."""

    value: Any

    def __get_pydantic_json_schema__(
        self, _core: Any, handler: pydantic.GetJsonSchemaHandler
    ) -> dict[str, Any]:
        # Through a list, so that V's own metadata (a nested mapping's schema) applies.
        values: Any = list[self.value]  # type: ignore[name-defined]
        value_schema = handler(pydantic.TypeAdapter(values).core_schema)["items"]
        item = {
            "type": "object",
            "properties": {"key": {"type": "string"}, "value": value_schema},
            "required": ["key", "value"],
            "additionalProperties": False,
        }
        return {"type": "array", "items": item, "description": "Key/value pairs of a mapping."}


def _strict_friendly(annotation: Any) -> Any:
    """Rewrite `dict[str, V]` (at any depth of generics) as a strict-valid list of pairs."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        return Annotated[(_strict_friendly(args[0]), *annotation.__metadata__)]
    if origin in (dict, Mapping) and args and args[0] is str:
        value: Any = _strict_friendly(args[1])
        mapping: Any = dict[str, value]
        return Annotated[mapping, BeforeValidator(_pairs_to_dict), _PairsSchema(value)]
    if origin in (list, Sequence, tuple, set, frozenset) and args:
        inner: Any = tuple(_strict_friendly(a) for a in args)
        return list[inner[0]] if origin in (list, Sequence) else origin[inner]
    if origin in (Union, types.UnionType):
        return Union[tuple(_strict_friendly(a) for a in args)]  # noqa: UP007
    if typing.is_typeddict(annotation) and type(annotation).__module__ == "typing":
        # Before Python 3.12 pydantic only reads typing_extensions' TypedDict.
        hints = typing.get_type_hints(annotation, include_extras=True)
        return typing_extensions.TypedDict(  # type: ignore[operator]
            annotation.__name__,
            {k: _strict_friendly(v) for k, v in hints.items()},
            total=annotation.__total__,
        )
    return annotation


def _is_nullable(annotation: Any) -> bool:
    if annotation is None or annotation is type(None):
        return True
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _is_nullable(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return any(_is_nullable(a) for a in typing.get_args(annotation))
    return False


def _field(default: Any, description: str | None) -> Any:
    # Without a docstring entry, leave any `Annotated[..., Field(description=...)]` in charge.
    return Field(default, description=description) if description else Field(default)


def _nullable(annotation: Any) -> Any:
    """`T | None`, keeping `Annotated` metadata (such as a description) on the outside."""
    if typing.get_origin(annotation) is Annotated:
        inner, *metadata = typing.get_args(annotation)
        return Annotated[(inner | None, *metadata)]
    return annotation | None


def _build(
    action: str,
    fields: dict[str, tuple[Any, Any]],
    description: str,
    defaults: set[str],
) -> ToolSchema:
    # Each parameter is checked on its own first, so that a refusal names it.
    for pname, (annotation, _) in fields.items():
        try:
            pydantic.TypeAdapter(annotation).json_schema()
        except (
            pydantic.PydanticSchemaGenerationError,
            pydantic.PydanticUserError,
            TypeError,
        ) as exc:
            raise InvalidOptionsError(
                f"Action {action!r}: parameter {pname!r} has a type that cannot become a JSON "
                f"schema ({_describe(annotation)}: {exc}). Use str, int, float, bool, Literal, "
                f"Enum, list, dict[str, ...], TypedDict, a dataclass or a pydantic model."
            ) from exc
    model = pydantic.create_model(  # type: ignore[call-overload]
        f"{action}_arguments", __config__=ConfigDict(extra="forbid"), **fields
    )
    try:
        tool = openai.pydantic_function_tool(model, name=action, description=description)
    except Exception as exc:  # the openai helper raises plain errors for unsupported forms
        raise InvalidOptionsError(
            f"Action {action!r}: its parameters cannot become a strict tool schema: {exc}"
        ) from exc
    parameters: dict[str, Any] = dict(tool["function"].get("parameters", {}))
    parameters.pop("title", None)
    for prop in parameters.get("properties", {}).values():
        prop.pop("title", None)
        if "default" in prop:
            default = prop.pop("default")
            if default is not None:
                note = f"(default: {default!r})"
                prop["description"] = f"{prop.get('description', '')} {note}".strip()
    problem = strict_problem(parameters)
    if problem:
        raise InvalidOptionsError(
            f"Action {action!r}: its parameter schema is not valid for strict mode: {problem}"
        )
    return ToolSchema(model, parameters, description, frozenset(defaults))


def _describe(annotation: Any) -> str:
    if typing.get_origin(annotation) is None and isinstance(annotation, type):
        return annotation.__name__
    return repr(annotation).replace("typing.", "")


def schema_from_function(
    action: str, fn: Callable[..., Any], description: str | None
) -> ToolSchema:
    """Schema from a function's type hints and docstring."""
    summary, param_docs = function_docs(fn)
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise InvalidOptionsError(
            f"Action {action!r}: its type hints cannot be resolved: {exc}"
        ) from exc
    fields: dict[str, tuple[Any, Any]] = {}
    defaults: set[str] = set()
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise InvalidOptionsError(
                f"Action {action!r}: parameter {param.name!r} is *args/**kwargs, which the "
                f"model cannot fill; give each argument its own typed parameter."
            )
        if param.kind is param.POSITIONAL_ONLY:
            raise InvalidOptionsError(
                f"Action {action!r}: parameter {param.name!r} is positional-only; the model "
                f"passes arguments by name."
            )
        if param.name not in hints:
            raise InvalidOptionsError(
                f"Action {action!r}: parameter {param.name!r} has no type hint; annotate it "
                f"(for example `{param.name}: str`) so the model knows what to send."
            )
        annotation = _strict_friendly(hints[param.name])
        doc = param_docs.get(param.name)
        if param.default is _NO_DEFAULT:
            fields[param.name] = (annotation, _field(..., doc))
        else:
            if not _is_nullable(annotation):
                defaults.add(param.name)
                annotation = _nullable(annotation)
            fields[param.name] = (annotation, _field(param.default, doc))
    return _build(action, fields, description or summary, defaults)


_COPILOTKIT_TYPES: dict[str, Any] = {
    "string": str,
    "number": float,
    "integer": int,
    "boolean": bool,
}


def _copilotkit_type(action: str, spec: Mapping[str, Any], path: str) -> Any:
    kind = spec.get("type", "string")
    if not isinstance(kind, str):
        raise InvalidOptionsError(f"Action {action!r}: parameter {path!r} has a non-string type.")
    is_list = kind.endswith("[]")
    base = kind[:-2] if is_list else kind
    enum = spec.get("enum")
    if base == "object":
        item: Any = _copilotkit_model(action, spec.get("attributes") or [], path)
    elif base in _COPILOTKIT_TYPES:
        item = Literal[tuple(enum)] if enum else _COPILOTKIT_TYPES[base]
    else:
        raise InvalidOptionsError(
            f"Action {action!r}: parameter {path!r} has unknown type {kind!r}; expected one of "
            f"string, number, integer, boolean, object, or any of those followed by []."
        )
    return list[item] if is_list else item


def _copilotkit_model(
    action: str, params: Sequence[Mapping[str, Any]], path: str
) -> type[BaseModel]:
    fields = _copilotkit_fields(action, params, path)
    return pydantic.create_model(  # type: ignore[call-overload, no-any-return]
        f"{action}_{path or 'arguments'}".replace(".", "_"),
        __config__=ConfigDict(extra="forbid"),
        **fields,
    )


def _copilotkit_fields(
    action: str, params: Sequence[Mapping[str, Any]], path: str
) -> dict[str, tuple[Any, Any]]:
    if not isinstance(params, Sequence) or isinstance(params, str):
        raise InvalidOptionsError(
            f"Action {action!r}: parameters must be a list of {{'name', 'type', ...}} dicts, "
            f"a pydantic model class, or omitted."
        )
    fields: dict[str, tuple[Any, Any]] = {}
    for spec in params:
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            raise InvalidOptionsError(
                f"Action {action!r}: each parameter must be a dict with a 'name' string, "
                f"got {spec!r}."
            )
        name = spec["name"]
        full = f"{path}.{name}" if path else name
        annotation = _copilotkit_type(action, spec, full)
        description = spec.get("description")
        if spec.get("required", True):
            fields[name] = (annotation, Field(..., description=description))
        else:
            fields[name] = (annotation | None, Field(None, description=description))
    return fields


def schema_from_parameters(
    action: str, parameters: Any, fn: Callable[..., Any], description: str | None
) -> ToolSchema:
    """Schema from `parameters=`: a CopilotKit list or a pydantic model class."""
    summary, _ = function_docs(fn)
    text = description or summary
    if isinstance(parameters, type) and issubclass(parameters, BaseModel):
        fields = {name: (info.annotation, info) for name, info in parameters.model_fields.items()}
        return _build(action, fields, text or inspect.getdoc(parameters) or "", set())
    return _build(action, _copilotkit_fields(action, parameters, ""), text, set())


def strict_problem(schema: Any, path: str = "$") -> str | None:
    """Why a JSON schema is not valid for OpenAI strict mode, or None if it is."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            if schema.get("additionalProperties") is not False:
                return f"{path}: objects must set additionalProperties to false"
            props = schema.get("properties", {})
            if sorted(schema.get("required", [])) != sorted(props):
                return f"{path}: every property must be required"
        for key, value in schema.items():
            problem = strict_problem(value, f"{path}.{key}")
            if problem:
                return problem
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            problem = strict_problem(value, f"{path}[{i}]")
            if problem:
                return problem
    return None
