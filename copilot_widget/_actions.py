"""Actions: functions the copilot calls (backend) or that update what the user sees (frontend)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, get_args, overload

from ._errors import InvalidOptionsError
from ._schema import ToolSchema, schema_from_function, schema_from_parameters

Available = Literal["enabled", "disabled", "frontend"]
Kind = Literal["backend", "frontend"]

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ACTION_OPTIONS = (
    "name",
    "description",
    "parameters",
    "available",
    "paired_action",
    "kind",
    "confirm",
    "timeout",
    "render",
    "vision",
    "page",
)
#: `render(arguments, result, status)`: what a call shows at each status (CopilotKit's render).
Render = Callable[[dict[str, Any], Any, str], Any]


def check_choice(what: str, value: Any, choices: Iterable[Any]) -> None:
    choices = tuple(choices)
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise InvalidOptionsError(f"{what} must be one of {options}, got {value!r}.")


class Action:
    """A registered action. `available` may be changed at any time."""

    def __init__(
        self,
        handler: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        parameters: Any = None,
        available: Available = "enabled",
        paired_action: str | None = None,
        kind: Kind | None = None,
        confirm: bool = False,
        timeout: float | None = None,
        render: Render | Literal[False] | None = None,
        vision: bool | None = None,
        page: str | None = None,
    ) -> None:
        if not callable(handler):
            raise InvalidOptionsError(f"An action needs a callable, got {handler!r}.")
        name = name if name is not None else getattr(handler, "__name__", None)
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidOptionsError(
                f"Action name {name!r} is not valid: use 1-64 letters, digits, '_' or '-'."
            )
        check_choice(f"Action {name!r}: available", available, get_args(Available))
        if kind is not None:
            check_choice(f"Action {name!r}: kind", kind, get_args(Kind))
        if paired_action is not None and not (
            isinstance(paired_action, str) and _NAME.match(paired_action)
        ):
            raise InvalidOptionsError(
                f"Action {name!r}: paired_action must be the name of another action, "
                f"got {paired_action!r}."
            )
        if paired_action == name:
            raise InvalidOptionsError(f"Action {name!r} cannot be paired with itself.")
        if not isinstance(confirm, bool):
            raise InvalidOptionsError(f"Action {name!r}: confirm must be True or False.")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
        ):
            raise InvalidOptionsError(
                f"Action {name!r}: timeout must be a positive number of seconds or None, "
                f"got {timeout!r}."
            )
        if render is not None and render is not False and not callable(render):
            raise InvalidOptionsError(
                f"Action {name!r}: render must be a function (arguments, result, status), "
                f"False or None, got {render!r}."
            )
        if render is not None and render is not False and inspect.iscoroutinefunction(render):
            # It is called as the call changes state, also while a run is being cancelled.
            raise InvalidOptionsError(
                f"Action {name!r}: render must be a plain (not async) function."
            )
        if vision is not None and not isinstance(vision, bool):
            raise InvalidOptionsError(
                f"Action {name!r}: vision must be True, False or None (follow the copilot), "
                f"got {vision!r}."
            )
        if page is not None and not (isinstance(page, str) and page.strip()):
            raise InvalidOptionsError(
                f"Action {name!r}: page must be the name of a page type, got {page!r}."
            )
        if description is not None and not isinstance(description, str):
            raise InvalidOptionsError(f"Action {name!r}: description must be a string.")
        implied_frontend = paired_action is not None or available == "frontend"
        if kind == "backend" and implied_frontend:
            raise InvalidOptionsError(
                f"Action {name!r}: an action with paired_action or available='frontend' is a "
                f"frontend action; drop kind='backend'."
            )
        self.name: str = name
        self.handler = handler
        self.kind: Kind = kind or ("frontend" if implied_frontend else "backend")
        self.paired_action = paired_action
        self.confirm = confirm
        #: What a call shows: a function of (arguments, result, status), False for the compact
        #: card, None for the result's own representation.
        self.render: Render | Literal[False] | None = render
        #: Whether the model sees the images a call shows (None: as the copilot says).
        self.vision = vision
        self.timeout = float(timeout) if timeout is not None else None
        #: The page type this action acts on (see _navigation.py); None: any page.
        self.page = page
        #: For the action offered with the way to its page: the navigation it runs first, and
        #: the registered action it then runs.
        self.navigation: Action | None = None
        self.original: Action | None = None
        self.is_async = inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
            getattr(handler, "__call__", None)  # noqa: B004 - callable objects with async __call__
        )
        self.schema: ToolSchema = (
            schema_from_function(name, handler, description)
            if parameters is None
            else schema_from_parameters(name, parameters, handler, description)
        )
        self.description = self.schema.description
        self._available: Available = available
        self._on_change: Callable[[], None] | None = None

    @property
    def available(self) -> Available:
        """`"enabled"` (offered to the model), `"disabled"`, or `"frontend"` (never offered)."""
        return self._available

    @available.setter
    def available(self, value: Available) -> None:
        check_choice(f"Action {self.name!r}: available", value, get_args(Available))
        self._available = value
        if self._on_change is not None:
            self._on_change()

    @property
    def offered(self) -> bool:
        """Whether the model sees this action as a tool."""
        return self._available == "enabled"

    def spec(self) -> dict[str, Any]:
        """The public description synced to the front end (never the handler)."""
        return {
            "name": self.name,
            "description": self.description,
            "parameters": self.schema.parameters,
            "kind": self.kind,
            "available": self._available,
            "confirm": self.confirm,
            "paired_action": self.paired_action,
        }

    def tool(self) -> dict[str, Any]:
        """The Chat Completions tool definition."""
        function: dict[str, Any] = {
            "name": self.name,
            "parameters": self.schema.parameters,
            "strict": True,
        }
        if self.description:
            function["description"] = self.description
        return {"type": "function", "function": function}

    def paired_arguments(self, result: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """How a backend result is passed to this (paired) action: a dict as keyword arguments
        (keys the handler does not take are left out), anything else as one argument."""
        if not isinstance(result, dict):
            return (result,), {}
        params = inspect.signature(self.handler).parameters
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return (), dict(result)
        return (), {k: v for k, v in result.items() if k in params}

    def __repr__(self) -> str:
        return f"<Action {self.name} kind={self.kind} available={self._available}>"


class ActionAPI:
    """The action registry of `Copilot`: register, list and remove actions."""

    if TYPE_CHECKING:  # provided by Copilot
        _actions: dict[str, Action]
        action_specs: list[dict[str, Any]]

        def _check_page(self, action: Action) -> None: ...  # NavigationAPI

    @overload
    def action(self, fn: Callable[..., Any], /) -> Callable[..., Any]: ...
    @overload
    def action(self, fn: Callable[..., Any], /, **options: Any) -> Callable[..., Any]: ...
    @overload
    def action(self, /, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...

    def action(self, fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        """Register a function as an action: `@copilot.action` or `@copilot.action(name=...)`.

        Options: name, description, parameters (a CopilotKit list or a pydantic model),
        available ("enabled", "disabled", "frontend"), paired_action, kind ("backend",
        "frontend"), confirm, timeout (seconds), render (a function of arguments, result and
        status whose value the chat shows for a call, or False for the compact card), vision
        (whether the model sees the images a call shows; None follows the copilot), page (the
        page type it acts on: see `navigation`). Returns the function unchanged.
        """
        unknown = set(options) - set(ACTION_OPTIONS)
        if unknown:
            raise TypeError(
                f"action() got unexpected keyword argument(s) {', '.join(sorted(unknown))}; "
                f"accepted: {', '.join(ACTION_OPTIONS)}."
            )

        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            action = Action(handler, **options)
            if action.name in self._actions:
                raise InvalidOptionsError(
                    f"An action named {action.name!r} is already registered; "
                    f"remove it first with remove_action({action.name!r}) or pick another name."
                )
            self._check_page(action)
            action._on_change = self._sync_actions
            self._actions[action.name] = action
            self._sync_actions()
            return handler

        return register if fn is None else register(fn)

    def remove_action(self, name: str) -> None:
        """Unregister an action."""
        if name not in self._actions:
            raise KeyError(f"No action named {name!r}; registered: {', '.join(self._actions)}.")
        self._actions.pop(name)._on_change = None
        self._sync_actions()

    @property
    def actions(self) -> dict[str, Action]:
        """The registered actions by name (a copy); set `.available` on one to change it."""
        return dict(self._actions)

    def _sync_actions(self) -> None:
        self.action_specs = [action.spec() for action in self._actions.values()]
