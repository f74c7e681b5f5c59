"""Actions that know their page (OpenCUI): where the page an action needs is open, the action is
offered as it is; where it is not, it is offered with the way there (the app's navigation to
that page, then the action: one call, one approval); where there is no way there, it is not
offered at all.

`copilot.navigation("order", open_order)` registers how the app takes the user to a page type;
`@copilot.action(page="order")` says an action acts on that page. The way-there action keeps
the action's name; its parameters are the navigation's and the action's together (they must
not share a name), so the model fills both in one call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._actions import Action
from ._errors import InvalidOptionsError
from ._options import check_str
from ._pages import PageStack, where
from ._schema import _build
from ._tools import invoke

logger = logging.getLogger("copilot_widget")


def check_names(navigation: Action, action: Action) -> None:
    """Refuse a navigation and an action on its page whose parameters share a name: one call
    fills both."""
    shared = set(navigation.schema.model.model_fields) & set(action.schema.model.model_fields)
    if shared:
        names = ", ".join(sorted(shared))
        raise InvalidOptionsError(
            f"Action {action.name!r} and the navigation to page {action.page!r} both have "
            f"the parameter(s) {names}: rename one, since a call fills both."
        )


def offered_actions(
    actions: Mapping[str, Action],
    snapshot: Mapping[str, Any],
    navigations: Mapping[str, Action],
    made: dict[tuple[Action, Action, str], Action],
) -> dict[str, Action]:
    """The actions as the model may call them from where the user is (`snapshot`, the page
    stack). `made`: the way-there actions built so far (kept, so that each is built once)."""
    offered: dict[str, Action] = {}
    for name, action in actions.items():
        page = action.page
        if page is None or not action.offered or where(snapshot, page) is not None:
            offered[name] = action  # (a frontend or disabled one: as registered)
        elif page in navigations:
            navigation = navigations[page]
            key = (action, navigation, action.available)
            if key not in made:
                made[key] = _way_there(action, navigation)
            offered[name] = made[key]
        # else: the page is not open and cannot be opened, so the action makes no sense now
    return offered


def _way_there(action: Action, navigation: Action) -> Action:
    """`action` preceded by `navigation`, as one action of the same name."""
    check_names(navigation, action)
    first = set(navigation.schema.model.model_fields)

    async def navigate_then_act(**arguments: Any) -> Any:
        # Each where it belongs, as a call of its own would run (a sync one in its thread).
        await invoke(navigation, (), {k: v for k, v in arguments.items() if k in first})
        return await invoke(action, (), {k: v for k, v in arguments.items() if k not in first})

    description = (
        f"{action.description}\n\nThe {action.page!r} page this acts on is not open: calling "
        f"this first takes the user there ({navigation.description or navigation.name}), "
        "then acts."
    ).strip()
    fields = {
        name: (info.annotation, info)
        for schema in (navigation.schema, action.schema)
        for name, info in schema.model.model_fields.items()
    }
    schema = _build(
        action.name, fields, description, set(navigation.schema.defaults | action.schema.defaults)
    )
    way = Action(
        navigate_then_act,
        name=action.name,
        description=description,
        parameters=schema.model,
        available=action.available,
        paired_action=action.paired_action,
        kind=action.kind,
        confirm=action.confirm,
        timeout=action.timeout,
        render=action.render,
        vision=action.vision,
    )
    way.schema = schema  # with the defaults that apply when the model sends null
    way.page = action.page
    way.navigation = navigation
    way.original = action
    return way


class NavigationAPI:
    """How `Copilot` takes the user to a page, and offers actions from where the user is."""

    if TYPE_CHECKING:  # provided by Copilot
        _actions: dict[str, Action]
        _navigations: dict[str, Action]
        _ways: dict[tuple[Action, Action, str], Action]

        @property
        def pages(self) -> PageStack: ...

    def navigation(self, page: str, fn: Callable[..., Any] | None = None) -> Any:
        """Register how the app takes the user to a page of type `page`: `fn(**arguments)`
        opens it (and pushes it on `copilot.pages`); the model fills its parameters, read from
        its type hints and docstring like an action's. An action registered with `page=` is
        then offered where that page is not open too, as the way there and the action in one
        call. Use as `copilot.navigation("order", open_order)` or `@copilot.navigation("order")`.
        Returns the function unchanged."""
        check_str("page", page, empty_ok=False)
        if page not in self.pages.types:
            declared = ", ".join(self.pages.types) or "none"
            raise InvalidOptionsError(
                f"No page type named {page!r}: declare it first with copilot.pages.declare(...) "
                f"(declared: {declared})."
            )

        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            navigation = Action(handler)
            for action in self._actions.values():
                if action.page == page:
                    check_names(navigation, action)
            self._navigations[page] = navigation
            return handler

        return register if fn is None else register(fn)

    def _check_page(self, action: Action) -> None:
        if action.page is None:
            return
        if action.page not in self.pages.types:  # a typo would hide the action for good
            logger.warning(
                "Action %r acts on the page type %r, which is not declared (yet): it is offered "
                "only once a page of that type is open. Declared: %s.",
                action.name,
                action.page,
                ", ".join(self.pages.types) or "none",
            )
        navigation = self._navigations.get(action.page)
        if navigation is not None:
            check_names(navigation, action)

    def _offered_actions(self) -> dict[str, Action]:
        """The actions from where the user is now (read before every step)."""
        if all(action.page is None for action in self._actions.values()):
            return dict(self._actions)  # nothing depends on the pages: no need to read them
        snapshot = self.pages.snapshot(max_chars=None)
        return offered_actions(self._actions, snapshot, self._navigations, self._ways)
