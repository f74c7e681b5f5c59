"""The page stack: where the user is in a notebook app, as context for the model (OpenCUI).

An app's interaction state is a stack of pages. Each page has a *page type*, which says what
the page can capture (a dataclass, a TypedDict or a pydantic model class; its JSON schema is
given to the model), and a *value*: what the user has entered on it so far. The top page was
opened from the one below it. The stack is a snapshot of where the user is now, not a history.

Values may be partial, since a user fills a page one field at a time: a field that is missing
is fine, a field that is given is checked whole against its type (so a nested object given on
a page is complete), and an unknown field or a wrong type is refused with an error that names
the field. Checking is pydantic's usual one, so `"3"` is read as the integer 3 but `"huge"` is
refused. A page keeps its value as JSON data, only the fields given.

An app that keeps its own state can give a getter instead of pushing pages
(`PageStack.from_getter`): it is called each time the snapshot is read, and whatever goes
wrong in it becomes an "unavailable" entry in the snapshot, never an exception in a run.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
import logging
import sys
import threading
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias

import pydantic
import typing_extensions
from pydantic import BaseModel, ConfigDict

from . import _serialize
from ._errors import CallbackError, InvalidOptionsError, quote
from ._schema import problems

logger = logging.getLogger("copilot_widget")

#: Characters of JSON the page stack may add to the system prompt.
SNAPSHOT_CHARS = 8_000

HEADING = "## Pages the user has open (bottom to top)"

_EXPLANATION = (
    "Each page was opened from the one below it; the top page is where the user is now. "
    "`value` holds what the user has entered on a page so far; `types` gives the JSON "
    "schema of each page type."
)


@dataclasses.dataclass(frozen=True, eq=False)
class PageType:
    """What a page can capture: a name, a description, the Python class and its JSON schema."""

    name: str
    description: str
    cls: type
    schema: dict[str, Any]
    _input: pydantic.TypeAdapter[Any] = dataclasses.field(repr=False)

    @classmethod
    def from_class(
        cls, page_class: Any, name: str | None = None, description: str | None = None
    ) -> PageType:
        """The page type of a dataclass, TypedDict or pydantic model class; raises
        InvalidOptionsError for anything else, or for an empty name."""
        if not _is_page_class(page_class):
            raise InvalidOptionsError(
                f"A page type must be a dataclass, a TypedDict or a pydantic model class, "
                f"got {quote(page_class)}."
            )
        name = page_class.__name__ if name is None else name
        if not isinstance(name, str) or not name.strip():
            raise InvalidOptionsError(
                f"A page type needs a non-empty name, got {quote(name)} for {page_class.__name__}."
            )
        if description is None:
            description = _own_doc(page_class)
        elif not isinstance(description, str):
            raise InvalidOptionsError(f"Page type {name!r}: description must be a string.")
        try:
            fields = _fields(page_class)
            schema = pydantic.TypeAdapter(_schema_target(page_class)).json_schema()
            checker = pydantic.TypeAdapter(_partial(name, fields))
        except (
            pydantic.PydanticSchemaGenerationError,
            pydantic.PydanticUserError,
            TypeError,
            NameError,
        ) as exc:
            raise InvalidOptionsError(
                f"Page type {name!r}: {page_class.__name__} cannot be described as JSON "
                f"({type(exc).__name__}: {exc})."
            ) from None
        return cls(name.strip(), description, page_class, schema, checker)

    def validate(self, value: Any) -> dict[str, Any]:
        """The page's value as JSON data, only the fields given; raises InvalidOptionsError
        naming each field that is unknown or of the wrong type.

        `value` is a dict of fields (possibly partial), an instance of the page type's class,
        or None (nothing entered yet).
        """
        given = self._fields_of(value)
        try:
            checked = self._input.validate_python(given)
        except pydantic.ValidationError as exc:
            raise InvalidOptionsError(f"Page {self.name!r}: {problems(exc)}") from None
        data: dict[str, Any] = self._input.dump_python(checked, mode="json")
        return data

    def _fields_of(self, value: Any) -> dict[Any, Any]:
        if value is None:
            return {}
        if isinstance(value, Mapping):
            return dict(value)
        is_instance = isinstance(value, BaseModel) or (
            dataclasses.is_dataclass(value) and not isinstance(value, type)
        )
        if is_instance and not isinstance(value, self.cls):
            raise InvalidOptionsError(
                f"Page {self.name!r}: the value is a {type(value).__name__}, not a "
                f"{self.cls.__name__}."
            )
        if isinstance(value, BaseModel):
            return {name: getattr(value, name) for name in type(value).model_fields}
        if is_instance:
            return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        raise InvalidOptionsError(
            f"Page {self.name!r}: a page's value must be a dict of fields, a "
            f"{self.cls.__name__} or None, got {type(value).__name__}."
        )


@dataclasses.dataclass(frozen=True)
class Page:
    """A page on the stack: its type and the user's input so far, as JSON data."""

    type: PageType
    value: dict[str, Any]


PageRef: TypeAlias = str | PageType | type
"""A page type given by name, as a PageType, or as the class it was declared from."""

Listener = Callable[[dict[str, Any], dict[str, Any]], Any]
Getter = Callable[[], Iterable[Any]]


class PageStack:
    """The pages the user has open, bottom to top; safe to use from several threads.

    Declare the page types, then `push`, `replace` (the top page), `pop` and `clear` as the
    user navigates. `snapshot()` is the JSON context for the model and `render()` its text for
    the system prompt. Listeners registered with `on_change` are called after every change with
    the snapshots before and after it (unbounded); a listener that raises is logged and never
    stops the navigation. Each pair is taken at the change, under the stack's lock; with
    changes from several threads at once, the pairs may reach listeners in another order.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._types: dict[str, PageType] = {}
        self._pages: tuple[Page, ...] = ()
        self._listeners: list[Listener] = []
        self._getter: Getter | None = None

    @classmethod
    def from_getter(cls, getter: Getter, types: Iterable[type | PageType] = ()) -> PageStack:
        """A stack whose pages come from the app: `getter()` returns the pages bottom to top,
        each as `(type name, value)` or `{"type": name, "value": value}`.

        The page types are declared from `types` (classes or PageTypes), or later with
        `declare`. Such a stack cannot be changed with push/pop and sends no change events:
        the app changes its own state.
        """
        if not callable(getter):
            raise InvalidOptionsError(f"A page getter must be callable, got {quote(getter)}.")
        stack = cls()
        stack._getter = getter
        for page_type in types:
            stack.declare(page_type)
        return stack

    # -- page types -----------------------------------------------------------------------------

    def declare(
        self, cls: type | PageType, name: str | None = None, description: str | None = None
    ) -> PageType:
        """Declare a page type (by default named after the class); a name can be declared
        once."""
        if isinstance(cls, PageType):
            if name is not None or description is not None:
                raise InvalidOptionsError(
                    f"Page type {cls.name!r} is already built: give name and description "
                    "when declaring from a class."
                )
            page_type = cls
        else:
            page_type = PageType.from_class(cls, name, description)
        with self._lock:
            if page_type.name in self._types:
                raise InvalidOptionsError(
                    f"A page type named {page_type.name!r} is already declared; pick another name."
                )
            self._types[page_type.name] = page_type
        return page_type

    @property
    def types(self) -> dict[str, PageType]:
        """The declared page types by name (a copy)."""
        with self._lock:
            return dict(self._types)

    # -- navigation -----------------------------------------------------------------------------

    def push(self, page: PageRef, value: Any = None) -> Page:
        """Open a page on top of the stack; `value` is the user's input so far."""
        new = self._new_page(page, value)
        self._update(lambda pages: (*pages, new))
        return _copy(new)

    def replace(self, page: PageRef, value: Any = None) -> Page:
        """Put another page (or the same page with a new value) in place of the top page."""
        new = self._new_page(page, value)

        def change(pages: tuple[Page, ...]) -> tuple[Page, ...]:
            if not pages:
                raise IndexError("The page stack is empty: push a page before replacing it.")
            return (*pages[:-1], new)

        self._update(change)
        return _copy(new)

    def pop(self) -> Page:
        """Close the top page and return it."""
        popped: list[Page] = []

        def change(pages: tuple[Page, ...]) -> tuple[Page, ...]:
            if not pages:
                raise IndexError("pop from an empty page stack")
            popped.append(pages[-1])
            return pages[:-1]

        self._update(change)
        return _copy(popped[0])

    def clear(self) -> None:
        """Close every page."""
        self._update(lambda pages: ())

    @property
    def pages(self) -> list[Page]:
        """The pages, bottom to top (copies). For a getter's stack, the entries it gives that
        are valid; a getter that raises raises CallbackError here."""
        if self._getter is None:
            with self._lock:
                return [_copy(page) for page in self._pages]
        return [entry for entry in self._read_getter(raising=True) if isinstance(entry, Page)]

    @property
    def top(self) -> Page | None:
        """The page the user is on, or None when no page is open."""
        pages = self.pages
        return pages[-1] if pages else None

    def on_change(self, callback: Listener) -> Callable[[], None]:
        """Call `callback(old_snapshot, new_snapshot)` after every change; returns a function
        that unsubscribes it."""
        if not callable(callback):
            raise InvalidOptionsError(f"A page listener must be callable, got {quote(callback)}.")
        with self._lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return unsubscribe

    # -- context for the model ------------------------------------------------------------------

    def snapshot(self, max_chars: int | None = SNAPSHOT_CHARS) -> dict[str, Any]:
        """The stack as JSON data: `{"pages": [{"type", "description", "value"}, ...],
        "types": {name: JSON schema}}`, with the types of the pages on it.

        Over `max_chars` characters of JSON, the lower pages are summarised first (bottom
        first: a summary keeps the type and the names of the fields given), then left out,
        and only then is the top page cut; `note` says what was left out. Never raises.
        """
        if self._getter is not None:
            entries: list[Page | dict[str, Any]] = list(self._read_getter(raising=False))
        else:
            with self._lock:
                entries = list(self._pages)
        return _bounded([_entry(e) for e in entries], max_chars)

    def render(self, max_chars: int = SNAPSHOT_CHARS) -> str:
        """The snapshot as a block of the system prompt."""
        # Lone surrogates (from file names) as JSON escapes: the prompt must be UTF-8.
        text = _serialize.clean_text(json.dumps(self.snapshot(max_chars), ensure_ascii=False))
        return f"{HEADING}\n{_EXPLANATION}\n{text}"

    # -- internals ------------------------------------------------------------------------------

    def _page_type(self, page: PageRef) -> PageType:
        with self._lock:
            types = dict(self._types)
        if isinstance(page, PageType):
            if types.get(page.name) is not page:
                raise InvalidOptionsError(
                    f"Page type {page.name!r} is not declared on this stack: declare it first."
                )
            return page
        if isinstance(page, str):
            if page not in types:
                raise InvalidOptionsError(
                    f"No page type named {page!r}; declared: {', '.join(types) or 'none'}."
                )
            return types[page]
        for page_type in types.values():
            if page_type.cls is page:
                return page_type
        raise InvalidOptionsError(
            f"{quote(page)} is not a declared page type: declare it first, or give the page "
            "type's name."
        )

    def _new_page(self, page: PageRef, value: Any) -> Page:
        self._refuse_changes_to_a_getter()
        page_type = self._page_type(page)
        return Page(page_type, page_type.validate(value))

    def _refuse_changes_to_a_getter(self) -> None:
        if self._getter is not None:
            raise TypeError(
                "This page stack reads its pages from the app's getter: change the app's "
                "state instead of pushing or popping pages."
            )

    def _update(self, change: Callable[[tuple[Page, ...]], tuple[Page, ...]]) -> None:
        self._refuse_changes_to_a_getter()
        with self._lock:
            old = self._pages
            new = change(old)
            if new == old:
                return
            self._pages = new
            listeners = list(self._listeners)
        if not listeners:
            return
        # Pages are never mutated once on the stack, so the snapshots need no lock.
        before = _bounded([_entry(p) for p in old], None)
        after = _bounded([_entry(p) for p in new], None)
        for listener in listeners:
            try:
                listener(before, after)
            except Exception:
                logger.warning("A page stack listener failed", exc_info=True)

    def _read_getter(self, *, raising: bool) -> list[Page | dict[str, Any]]:
        assert self._getter is not None
        try:
            raw = list(self._getter())
        except Exception as exc:
            if raising:
                raise CallbackError(f"The page getter failed: {_why(exc)}") from exc
            logger.warning("The page getter failed", exc_info=True)
            return [{"unavailable": f"The page getter failed: {_why(exc)}"}]
        entries: list[Page | dict[str, Any]] = []
        for item in raw:
            name: Any = None
            try:
                name, value = _getter_entry(item)
                page_type = self._page_type(name)
                entries.append(Page(page_type, page_type.validate(value)))
            except Exception as exc:  # the app's values may raise anything when read
                logger.warning("A page from the page getter is unavailable: %s", exc)
                label = name if isinstance(name, str) else getattr(name, "name", None)
                label = label or getattr(name, "__name__", None)
                entry = {"type": label} if isinstance(label, str) else {}
                entries.append({**entry, "unavailable": _cut(str(exc))})
        return entries


# -- page requirements of actions ---------------------------------------------------------------


def where(snapshot: Mapping[str, Any], page_type: str | PageType) -> int | None:
    """The index in `snapshot["pages"]` of the nearest page of that type, top first, or None.

    Indices are those of the snapshot given: take an unbounded one
    (`stack.snapshot(max_chars=None)`) to count pages that a bounded one left out.
    """
    name = page_type.name if isinstance(page_type, PageType) else page_type
    pages = snapshot.get("pages") or []
    for index in range(len(pages) - 1, -1, -1):
        entry = pages[index]
        if isinstance(entry, Mapping) and entry.get("type") == name and "unavailable" not in entry:
            return index
    return None


def reachable(
    snapshot: Mapping[str, Any],
    page_type: str | PageType,
    navigations: Mapping[str, Callable[..., Any]],
) -> bool:
    """Whether an action that needs a page of `page_type` makes sense now.

    It does when such a page is on the stack (the user has it open, and its value is in the
    context), or when the app registered a navigation to that page type in `navigations`
    (target page type name -> the function that opens it), so that the copilot can open the
    page first. A registered navigation is taken as possible from anywhere: whether it
    succeeds from the current page is for the navigation function to say when it runs.
    """
    name = page_type.name if isinstance(page_type, PageType) else page_type
    return where(snapshot, name) is not None or name in navigations


# -- helpers ------------------------------------------------------------------------------------


def _is_page_class(cls: Any) -> bool:
    if not isinstance(cls, type):
        return False
    return (
        issubclass(cls, BaseModel)
        or dataclasses.is_dataclass(cls)
        or typing_extensions.is_typeddict(cls)
    )


def _own_doc(cls: type) -> str:
    """The class's own docstring: not one inherited (BaseModel's), nor the signature that
    dataclasses write when there is none."""
    doc = cls.__dict__.get("__doc__")
    if not isinstance(doc, str):
        return ""
    if dataclasses.is_dataclass(cls) and doc.startswith(f"{cls.__name__}("):
        return ""
    return inspect.cleandoc(doc)


_REQUIRED_MARKS = {
    mark
    for module in (typing, typing_extensions)
    for mark in (getattr(module, "Required", None), getattr(module, "NotRequired", None))
    if mark is not None
}


def _fields(cls: type) -> dict[str, Any]:
    """Each field's annotation, with what pydantic needs to check it (constraints included)."""
    if issubclass(cls, BaseModel):
        return {
            name: typing.Annotated[(info.annotation, *info.metadata)]
            if info.metadata
            else info.annotation
            for name, info in cls.model_fields.items()
        }
    hints = typing.get_type_hints(cls, include_extras=True)
    if dataclasses.is_dataclass(cls):
        return {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    fields = {}
    for name, hint in hints.items():
        # A partial value makes every field optional, whatever the TypedDict requires.
        while typing.get_origin(hint) in _REQUIRED_MARKS:
            hint = typing.get_args(hint)[0]
        fields[name] = hint
    return fields


def _schema_target(cls: type) -> Any:
    """The class, or for a `typing.TypedDict` before Python 3.12 (which pydantic cannot read)
    the same TypedDict rebuilt with typing_extensions."""
    if (
        sys.version_info < (3, 12)
        and typing_extensions.is_typeddict(cls)
        and type(cls).__module__ == "typing"
    ):
        hints = typing.get_type_hints(cls, include_extras=True)
        rebuilt: Any = typing_extensions.TypedDict(  # type: ignore[misc]
            cls.__name__, hints, total=getattr(cls, "__total__", True)
        )
        rebuilt.__doc__ = cls.__doc__
        return rebuilt
    return cls


def _partial(name: str, fields: Mapping[str, Any]) -> Any:
    """A TypedDict of the fields, each optional, refusing unknown keys: what checks a page's
    value. A TypedDict (not a model) so that any field name works."""
    optional = {field: typing_extensions.NotRequired[hint] for field, hint in fields.items()}
    partial: Any = typing_extensions.TypedDict(  # type: ignore[misc]
        f"{name}_input", optional, total=False
    )
    return pydantic.with_config(ConfigDict(extra="forbid"))(partial)


def _getter_entry(item: Any) -> tuple[Any, Any]:
    if isinstance(item, Mapping):
        if "type" not in item:
            raise InvalidOptionsError(
                f"A page from the getter has no 'type': {quote(dict(item))}; give "
                "{'type': name, 'value': ...} or (name, value)."
            )
        return item["type"], item.get("value")
    if isinstance(item, tuple) and len(item) == 2:
        return item[0], item[1]
    raise InvalidOptionsError(
        f"A page from the getter must be (type name, value) or {{'type': name, 'value': ...}}, "
        f"got {quote(item)}."
    )


def _copy(page: Page) -> Page:
    return Page(page.type, copy.deepcopy(page.value))


def _why(exc: BaseException) -> str:
    return _cut(f"{type(exc).__name__}: {exc}")


def _cut(text: str, limit: int = 300) -> str:
    text = _serialize.clean_text(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _entry(page: Page | dict[str, Any]) -> dict[str, Any]:
    """A page as a snapshot entry (an unavailable one is already one)."""
    if isinstance(page, dict):
        return dict(page)
    return {
        "type": page.type.name,
        "description": page.type.description,
        "value": copy.deepcopy(page.value),
        "_schema": page.type.schema,
    }


def _size(snapshot: Mapping[str, Any]) -> int:
    return len(json.dumps(snapshot, ensure_ascii=False))


def _bounded(entries: list[dict[str, Any]], max_chars: int | None) -> dict[str, Any]:
    """The snapshot of these entries, within `max_chars` characters of JSON when given.

    Entries carry their type's schema under `_schema` until here, where the schemas of the
    pages kept whole become `types`. The bottom `summarised` pages are summarised, the bottom
    `left_out` of those left out; each count is found by bisection, so that a long stack
    costs a few dozen attempts, not one per page.
    """
    lower = max(len(entries) - 1, 0)

    def build(
        summarised: int = 0, left_out: int = 0, top_schema: bool = True, top_value: Any = None
    ) -> dict[str, Any]:
        types: dict[str, Any] = {}
        pages = []
        for index in range(left_out, len(entries)):
            entry = dict(entries[index])
            schema = entry.pop("_schema", None)
            is_top = index == len(entries) - 1
            if index < summarised and "value" in entry:
                entry = {"type": entry["type"], "fields": sorted(entry["value"])}
            elif schema is not None and (top_schema or not is_top):
                types.setdefault(entry["type"], schema)
            if is_top and top_value is not None:
                entry["value"] = top_value
            pages.append(entry)
        snapshot: dict[str, Any] = {"pages": pages, "types": types}
        notes = []
        if summarised > left_out:
            notes.append(
                f"{_count(summarised - left_out, 'lower page')} summarised as the fields given"
            )
        if left_out:
            notes.append(f"the bottom {_count(left_out, 'page')} left out")
        if not top_schema:
            notes.append("the top page's schema left out")
        if top_value is not None:
            notes.append("the top page's value cut short")
        if notes:
            snapshot["note"] = f"To fit in {max_chars:,} characters: {'; '.join(notes)}."
        return snapshot

    def fits(snapshot: Mapping[str, Any]) -> bool:
        return max_chars is None or _size(snapshot) <= max_chars

    def fewest(attempt: Callable[[int], dict[str, Any]]) -> dict[str, Any] | None:
        """The attempt with the smallest count in 1..lower that fits, if the largest does."""
        best = attempt(lower)
        if not fits(best):
            return None
        low, high = 0, lower  # attempt(low) does not fit (or is the one already tried)
        while high - low > 1:
            middle = (low + high) // 2
            candidate = attempt(middle)
            if fits(candidate):
                best, high = candidate, middle
            else:
                low = middle
        return best

    snapshot = build()
    if fits(snapshot) or max_chars is None:
        return snapshot
    # 1. Summarise the lower pages, bottom first: the top page is kept whole longest.
    found = fewest(lambda n: build(summarised=n))
    # 2. Then leave them out, bottom first.
    found = found or fewest(lambda n: build(summarised=lower, left_out=n))
    if found is not None:
        return found
    # 3. Only the top page is left: its schema goes, then its value is cut.
    snapshot = build(lower, lower, top_schema=False)
    top = snapshot["pages"][-1] if snapshot["pages"] else {}
    if fits(snapshot) or "value" not in top:
        return snapshot
    budget = max(max_chars - _size(build(lower, lower, False, {})), 0)
    while True:
        value = json.loads(_serialize.to_json(top["value"], max_chars=budget))
        snapshot = build(lower, lower, top_schema=False, top_value=value)
        if fits(snapshot) or budget == 0:
            return snapshot
        budget = budget * 2 // 3


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
