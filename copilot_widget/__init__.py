"""A chat copilot that lives in a Jupyter notebook: your Python functions become its actions.

>>> from copilot_widget import Copilot
>>> copilot = Copilot()
>>> @copilot.action
... def fetch_user(user_id: str) -> dict:
...     '''Fetch a user's name from the database.'''
...     return {"name": "Darth Doe"}
"""

from __future__ import annotations

from ._actions import Action
from ._context import Readable
from ._errors import CopilotError, InvalidOptionsError, ProviderError, RunInProgressError
from ._output import CopilotOutput
from ._pages import PageStack, PageType
from ._run import Run
from ._widget import Copilot

__all__ = [
    "Action",
    "Copilot",
    "CopilotError",
    "CopilotOutput",
    "InvalidOptionsError",
    "PageStack",
    "PageType",
    "ProviderError",
    "Readable",
    "Run",
    "RunInProgressError",
]
__version__ = "0.1.0"
