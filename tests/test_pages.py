"""The page stack: page types, navigation, validation, snapshots for the model, and threads."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import typing
from typing import Any, Literal

import pytest
import typing_extensions
from pydantic import BaseModel, Field

from copilot_widget import InvalidOptionsError
from copilot_widget._errors import CallbackError
from copilot_widget._pages import (
    HEADING,
    SNAPSHOT_CHARS,
    PageStack,
    PageType,
    reachable,
    where,
)


@dataclasses.dataclass
class Search:
    """Find shapes on the canvas."""

    query: str
    kind: Literal["circle", "square"] = "circle"
    limit: int = 10


class Filters(typing.TypedDict):  # typing's TypedDict, which pydantic reads only from 3.12
    """Narrow the results."""

    colour: str
    min_size: int


class Options(typing_extensions.TypedDict):
    dark: bool
    zoom: typing_extensions.NotRequired[float]


class Detail(BaseModel):
    """One shape, being edited."""

    shape_id: int
    size: int = Field(gt=0)
    tags: list[str] = []


class Undocumented(BaseModel):
    name: str


@dataclasses.dataclass
class Plain:
    x: int


class NotAPage:
    x: int


@dataclasses.dataclass
class Locked:
    lock: threading.Lock


def shapes_stack() -> PageStack:
    stack = PageStack()
    stack.declare(Search)
    stack.declare(Filters)
    stack.declare(Detail)
    return stack


# -- page types ---------------------------------------------------------------------------------


def test_a_page_type_from_a_dataclass_has_its_name_description_and_schema() -> None:
    page_type = PageType.from_class(Search)
    assert page_type.name == "Search"
    assert page_type.description == "Find shapes on the canvas."
    assert page_type.cls is Search
    assert page_type.schema["properties"]["kind"]["enum"] == ["circle", "square"]
    assert page_type.schema["required"] == ["query"]


def test_a_page_type_from_a_typeddict_of_typing_or_typing_extensions() -> None:
    filters = PageType.from_class(Filters)
    assert set(filters.schema["properties"]) == {"colour", "min_size"}
    assert sorted(filters.schema["required"]) == ["colour", "min_size"]
    assert filters.description == "Narrow the results."
    options = PageType.from_class(Options)
    assert options.schema["required"] == ["dark"]
    assert options.validate({"zoom": "1.5"}) == {"zoom": 1.5}


def test_a_page_type_from_a_pydantic_model_keeps_its_constraints() -> None:
    detail = PageType.from_class(Detail, name="Shape detail", description="Edit a shape.")
    assert (detail.name, detail.description) == ("Shape detail", "Edit a shape.")
    assert detail.schema["properties"]["size"]["exclusiveMinimum"] == 0
    with pytest.raises(InvalidOptionsError, match=r"size: Input should be greater than 0"):
        detail.validate({"size": 0})


def test_without_a_docstring_the_description_is_empty() -> None:
    # Not BaseModel's docstring, nor the signature dataclasses write.
    assert PageType.from_class(Undocumented).description == ""
    assert PageType.from_class(Plain).description == ""


@pytest.mark.parametrize(
    ("cls", "why"),
    [
        (NotAPage, "must be a dataclass, a TypedDict or a pydantic model class"),
        (int, "must be a dataclass, a TypedDict or a pydantic model class"),
        (Plain(1), "must be a dataclass, a TypedDict or a pydantic model class"),
        ("Search", "must be a dataclass, a TypedDict or a pydantic model class"),
        (Locked, "Locked cannot be described as JSON"),
    ],
)
def test_classes_that_cannot_be_page_types_are_refused(cls: Any, why: str) -> None:
    with pytest.raises(InvalidOptionsError, match=why):
        PageType.from_class(cls)


def test_names_must_be_non_empty_and_declared_once() -> None:
    stack = PageStack()
    with pytest.raises(InvalidOptionsError, match="non-empty name"):
        stack.declare(Search, name="  ")
    with pytest.raises(InvalidOptionsError, match="non-empty name"):
        stack.declare(Search, name=3)  # type: ignore[arg-type]
    stack.declare(Search)
    with pytest.raises(InvalidOptionsError, match="'Search' is already declared"):
        stack.declare(Search)
    with pytest.raises(InvalidOptionsError, match="'Search' is already declared"):
        stack.declare(Detail, name="Search")
    stack.declare(Search, name="Search again")
    assert list(stack.types) == ["Search", "Search again"]


# -- values -------------------------------------------------------------------------------------


def test_partial_values_are_allowed_and_kept_as_json_data_of_the_fields_given() -> None:
    stack = shapes_stack()
    assert stack.push("Search").value == {}
    assert stack.push("Search", {"kind": "square"}).value == {"kind": "square"}
    assert stack.push("Detail", {"shape_id": "7"}).value == {"shape_id": 7}
    assert stack.push(Search, Search("red", limit=3)).value == {
        "query": "red",
        "kind": "circle",
        "limit": 3,
    }
    detail = stack.push("Detail", Detail(shape_id=1, size=2, tags=["a"]))
    assert detail.value == {"shape_id": 1, "size": 2, "tags": ["a"]}
    assert [p.type.name for p in stack.pages] == ["Search", "Search", "Detail", "Search", "Detail"]


def test_wrong_types_and_unknown_fields_are_refused_naming_each_field() -> None:
    stack = shapes_stack()
    with pytest.raises(InvalidOptionsError) as caught:
        stack.push("Search", {"kind": "triangle", "limit": "many", "colour": "red"})
    message = str(caught.value)
    assert message.startswith("Page 'Search': ")
    assert "kind: Input should be 'circle' or 'square'" in message
    assert "limit: Input should be a valid integer" in message
    assert "colour: Extra inputs are not permitted" in message
    assert stack.pages == []  # nothing was pushed


def test_values_of_another_class_or_kind_are_refused() -> None:
    stack = shapes_stack()
    with pytest.raises(InvalidOptionsError, match="the value is a Detail, not a Search"):
        stack.push("Search", Detail(shape_id=1, size=1))
    with pytest.raises(InvalidOptionsError, match="must be a dict of fields, a Search or None"):
        stack.push("Search", ["red"])


def test_pages_are_named_by_name_class_or_page_type_once_declared() -> None:
    stack = shapes_stack()
    search = stack.types["Search"]
    assert stack.push(search).type is search
    assert stack.push(Search).type is search
    with pytest.raises(InvalidOptionsError, match=r"No page type named 'Nope'; declared: Search"):
        stack.push("Nope")
    with pytest.raises(InvalidOptionsError, match="not a declared page type"):
        stack.push(Options)
    with pytest.raises(InvalidOptionsError, match="not declared on this stack"):
        stack.push(PageType.from_class(Search))


def test_the_pages_given_out_are_copies() -> None:
    stack = shapes_stack()
    stack.push("Detail", {"tags": ["a"]})
    top = stack.top
    assert top is not None
    top.value["tags"].append("b")
    assert stack.pages[0].value == {"tags": ["a"]}


# -- navigation and listeners -------------------------------------------------------------------


def test_push_replace_pop_and_clear_tell_listeners_the_snapshots_before_and_after() -> None:
    stack = shapes_stack()
    events: list[tuple[dict[str, Any], dict[str, Any]]] = []
    stack.on_change(lambda old, new: events.append((old, new)))

    def types(snapshot: dict[str, Any]) -> list[str]:
        return [page["type"] for page in snapshot["pages"]]

    stack.push("Search", {"query": "red"})
    stack.push("Detail", {"shape_id": 1})
    stack.replace("Detail", {"shape_id": 2})
    popped = stack.pop()
    stack.push("Filters", {"colour": "red"})
    stack.clear()
    stack.clear()  # nothing changes: no event

    assert popped.type.name == "Detail" and popped.value == {"shape_id": 2}
    assert [(types(old), types(new)) for old, new in events] == [
        ([], ["Search"]),
        (["Search"], ["Search", "Detail"]),
        (["Search", "Detail"], ["Search", "Detail"]),
        (["Search", "Detail"], ["Search"]),
        (["Search"], ["Search", "Filters"]),
        (["Search", "Filters"], []),
    ]
    old, new = events[2]
    assert old["pages"][-1]["value"] == {"shape_id": 1}
    assert new["pages"][-1]["value"] == {"shape_id": 2}
    assert set(new["types"]) == {"Search", "Detail"}
    assert stack.top is None


def test_replace_and_pop_on_an_empty_stack_say_so() -> None:
    stack = shapes_stack()
    with pytest.raises(IndexError, match="empty"):
        stack.pop()
    with pytest.raises(IndexError, match="push a page before replacing"):
        stack.replace("Search")


def test_a_failing_listener_is_logged_and_never_breaks_navigation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stack = shapes_stack()
    seen: list[int] = []

    def broken(old: dict[str, Any], new: dict[str, Any]) -> None:
        raise RuntimeError("listener bug")

    stack.on_change(broken)
    unsubscribe = stack.on_change(lambda old, new: seen.append(len(new["pages"])))
    with caplog.at_level(logging.WARNING, logger="copilot_widget"):
        stack.push("Search")
        stack.push("Detail")
    assert seen == [1, 2]
    failures = [r.exc_info[1] for r in caplog.records if r.exc_info]
    assert [str(exc) for exc in failures] == ["listener bug", "listener bug"]
    unsubscribe()
    unsubscribe()  # twice is fine
    stack.pop()
    assert seen == [1, 2]
    assert len(stack.pages) == 1


def test_pushing_and_popping_from_many_threads_never_corrupts_the_stack() -> None:
    stack = shapes_stack()
    lock = threading.Lock()
    events: list[tuple[list[Any], list[Any]]] = []

    def record(old: dict[str, Any], new: dict[str, Any]) -> None:
        with lock:
            events.append((old["pages"], new["pages"]))

    stack.on_change(record)
    threads_count, rounds, kept = 8, 100, 5
    start = threading.Barrier(threads_count)
    popped_all = threading.Barrier(threads_count)
    failures: list[BaseException] = []

    def navigate(n: int) -> None:
        try:
            start.wait()
            for i in range(rounds):
                stack.push("Search", {"query": f"{n}-{i}"})
                stack.pop()  # each pop follows this thread's own push: never empty
            popped_all.wait()
            for i in range(kept):
                stack.push("Detail", {"shape_id": n * 100 + i})
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=navigate, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    pages = stack.pages
    assert len(pages) == threads_count * kept
    assert {p.value["shape_id"] for p in pages} == {
        n * 100 + i for n in range(threads_count) for i in range(kept)
    }
    assert len(events) == threads_count * (2 * rounds + kept)
    for old, new in events:  # every change is one whole push or pop
        if len(new) == len(old) + 1:
            assert new[:-1] == old
        else:
            assert len(new) == len(old) - 1 and old[:-1] == new


# -- the getter alternative ---------------------------------------------------------------------


def test_a_getter_gives_the_pages_as_pairs_or_dicts() -> None:
    state: list[Any] = [("Search", {"query": "red"}), {"type": "Detail", "value": {"size": 3}}]
    stack = PageStack.from_getter(lambda: state, types=[Search, Detail])
    snapshot = stack.snapshot()
    assert [(p["type"], p["value"]) for p in snapshot["pages"]] == [
        ("Search", {"query": "red"}),
        ("Detail", {"size": 3}),
    ]
    assert set(snapshot["types"]) == {"Search", "Detail"}
    state.pop()  # the app navigated back: the next snapshot follows
    assert [p.type.name for p in stack.pages] == ["Search"]
    with pytest.raises(TypeError, match="reads its pages from the app's getter"):
        stack.push("Search")
    with pytest.raises(TypeError, match="reads its pages from the app's getter"):
        stack.pop()


def test_bad_pages_from_a_getter_become_unavailable_entries() -> None:
    state = [
        ("Search", {"query": "red"}),
        ("Unknown", {}),
        ("Detail", {"size": -1}),
        "garbage",
        {"type": "Detail", "value": {"shape_id": 4}},
    ]
    stack = PageStack.from_getter(lambda: state, types=[Search, Detail])
    pages = stack.snapshot()["pages"]
    assert [p.get("type") for p in pages] == ["Search", "Unknown", "Detail", None, "Detail"]
    assert "No page type named 'Unknown'" in pages[1]["unavailable"]
    assert "size: Input should be greater than 0" in pages[2]["unavailable"]
    assert "(type name, value)" in pages[3]["unavailable"]
    assert pages[4]["value"] == {"shape_id": 4}
    assert [p.value for p in stack.pages] == [{"query": "red"}, {"shape_id": 4}]
    # An unavailable page is not a page of that type.
    assert where(stack.snapshot(), "Detail") == 4
    state.pop()
    assert where(stack.snapshot(), "Detail") is None


def test_a_getter_that_raises_is_an_unavailable_entry_never_an_exception_in_the_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> list[Any]:
        raise ZeroDivisionError("division by zero")

    stack = PageStack.from_getter(broken, types=[Search])
    with caplog.at_level(logging.WARNING, logger="copilot_widget"):
        snapshot = stack.snapshot()
        text = stack.render()
    assert snapshot == {
        "pages": [{"unavailable": "The page getter failed: ZeroDivisionError: division by zero"}],
        "types": {},
    }
    assert "ZeroDivisionError: division by zero" in text
    assert "The page getter failed" in caplog.text
    with pytest.raises(CallbackError, match="ZeroDivisionError"):
        stack.pages  # noqa: B018 - read from app code, the error is the app's to see


def test_a_getter_must_be_callable() -> None:
    with pytest.raises(InvalidOptionsError, match="must be callable"):
        PageStack.from_getter([("Search", {})])  # type: ignore[arg-type]


# -- snapshot and render ------------------------------------------------------------------------


def test_the_snapshot_is_json_with_the_types_of_the_pages_on_the_stack() -> None:
    stack = shapes_stack()
    stack.push("Search", {"query": "red"})
    stack.push("Search", {"query": "blue"})
    snapshot = stack.snapshot()
    assert snapshot["pages"] == [
        {"type": "Search", "description": "Find shapes on the canvas.", "value": {"query": "red"}},
        {"type": "Search", "description": "Find shapes on the canvas.", "value": {"query": "blue"}},
    ]
    assert list(snapshot["types"]) == ["Search"]  # Filters and Detail are not on the stack
    assert snapshot["types"]["Search"] == stack.types["Search"].schema
    assert "note" not in snapshot
    assert json.loads(json.dumps(snapshot)) == snapshot


def big_stack(lower: int, lower_chars: int) -> PageStack:
    stack = shapes_stack()
    for i in range(lower):
        stack.push("Search", {"query": f"lower {i} " + "x" * lower_chars})
    stack.push("Detail", {"shape_id": 42, "size": 3, "tags": ["top", "y" * 2000]})
    return stack


def test_over_the_bound_lower_pages_are_summarised_first_and_the_top_kept_whole() -> None:
    stack = big_stack(lower=5, lower_chars=2000)
    full = stack.snapshot(max_chars=None)
    assert len(json.dumps(full)) > SNAPSHOT_CHARS
    snapshot = stack.snapshot()
    assert len(json.dumps(snapshot, ensure_ascii=False)) <= SNAPSHOT_CHARS
    top = snapshot["pages"][-1]
    assert top == full["pages"][-1]  # whole, description and value
    assert snapshot["types"]["Detail"] == full["types"]["Detail"]
    summarised = [p for p in snapshot["pages"] if "fields" in p]
    assert summarised[0] == {"type": "Search", "fields": ["query"]}
    assert len(summarised) + sum("value" in p for p in snapshot["pages"][:-1]) == 5
    assert snapshot["note"].startswith("To fit in 8,000 characters: ")
    assert f"{len(summarised)} lower pages summarised as the fields given" in snapshot["note"]
    # The bottom pages go first: those still whole are the ones just below the top.
    kinds = ["fields" in p for p in snapshot["pages"][:-1]]
    assert kinds == sorted(kinds, reverse=True)


def test_when_summaries_are_not_enough_the_bottom_pages_are_left_out() -> None:
    stack = big_stack(lower=400, lower_chars=10)
    snapshot = stack.snapshot(max_chars=4_000)
    assert len(json.dumps(snapshot, ensure_ascii=False)) <= 4_000
    assert snapshot["pages"][-1]["value"]["shape_id"] == 42
    left_out = 401 - len(snapshot["pages"])
    assert left_out > 0
    assert f"the bottom {left_out} pages left out" in snapshot["note"]
    # What is kept are the pages nearest the top.
    assert snapshot["pages"][-2] == {"type": "Search", "fields": ["query"]}
    assert where(snapshot, "Detail") == len(snapshot["pages"]) - 1


def test_a_top_page_over_the_bound_is_cut_last_and_says_so() -> None:
    stack = shapes_stack()
    stack.push("Search", {"query": "below"})
    stack.push("Detail", {"shape_id": 1, "tags": ["z" * 30 for _ in range(400)]})
    snapshot = stack.snapshot(max_chars=3_000)
    assert len(json.dumps(snapshot, ensure_ascii=False)) <= 3_000
    assert [p["type"] for p in snapshot["pages"]] == ["Detail"]
    top = snapshot["pages"][0]
    assert top["value"]["truncated"] is True
    assert top["value"]["preview"].startswith('{"shape_id": 1, "tags": ["zzz')
    assert "the top page's value cut short" in snapshot["note"]
    assert "the bottom 1 page left out" in snapshot["note"]


def test_render_gives_the_heading_and_the_top_page_s_values() -> None:
    stack = shapes_stack()
    stack.push("Search", {"query": "red circles"})
    stack.push("Detail", {"shape_id": 1234, "tags": ["urgent"]})
    text = stack.render()
    assert text.startswith(HEADING + "\n")
    assert '"shape_id": 1234' in text and '"urgent"' in text
    assert json.loads(text.splitlines()[-1]) == stack.snapshot()


def test_render_is_utf8_even_with_a_lone_surrogate_in_a_value() -> None:
    stack = shapes_stack()
    stack.push("Search", {"query": "caf\udce9.csv"})  # a file name from os.listdir()
    text = stack.render()
    text.encode("utf-8")
    assert json.loads(text.splitlines()[-1])["pages"][0]["value"]["query"] == "caf\udce9.csv"


def test_render_of_an_empty_stack() -> None:
    text = PageStack().render()
    assert json.loads(text.splitlines()[-1]) == {"pages": [], "types": {}}


# -- page requirements of actions ---------------------------------------------------------------


def test_where_finds_the_nearest_page_of_a_type_top_first() -> None:
    stack = shapes_stack()
    stack.push("Search", {"query": "a"})
    stack.push("Detail", {"shape_id": 1})
    stack.push("Search", {"query": "b"})
    snapshot = stack.snapshot()
    assert where(snapshot, "Search") == 2
    assert where(snapshot, stack.types["Detail"]) == 1
    assert where(snapshot, "Filters") is None
    assert where({}, "Search") is None


def test_an_action_is_reachable_when_its_page_is_open_or_a_navigation_opens_it() -> None:
    stack = shapes_stack()
    stack.push("Search", {"query": "a"})
    snapshot = stack.snapshot()

    def open_detail() -> None:
        stack.push("Detail")

    navigations = {"Detail": open_detail}
    assert reachable(snapshot, "Search", {}) is True  # open: no navigation needed
    assert reachable(snapshot, "Detail", navigations) is True  # not open, but can be opened
    assert reachable(snapshot, "Detail", {}) is False
    assert reachable(snapshot, stack.types["Filters"], navigations) is False
