"""Fixtures for the browser tests: Playwright on the system Chromium, one Jupyter server."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from .harness import CHROMIUM, CHROMIUM_ARGS, Jupyter, running_jupyter


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 1000}}


@pytest.fixture(scope="session")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jupyter]:
    workdir: pathlib.Path = tmp_path_factory.mktemp("jupyter")
    with running_jupyter(workdir) as server:
        yield server
