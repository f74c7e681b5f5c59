"""Options of `Copilot`: a typo is caught by the type checker and refused at run time."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from copilot_widget import Copilot


def test_an_unknown_option_is_refused_with_the_valid_names() -> None:
    with pytest.raises(TypeError, match="temprature") as refused:
        Copilot(api_key="k", temprature=0.2)  # type: ignore[call-arg]
    assert "instructions" in str(refused.value) and "max_steps" in str(refused.value)


def test_the_type_checker_catches_a_typo_in_an_option(tmp_path: pathlib.Path) -> None:
    snippet = tmp_path / "typo.py"
    snippet.write_text(
        "from copilot_widget import Copilot\n"
        'Copilot(api_key="k", max_steps=3)\n'
        'Copilot(api_key="k", temprature=0.2)\n'
        'Copilot(api_key="k", max_steps="3")\n'
    )
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--strict", str(snippet)],
        capture_output=True,
        text=True,
        cwd=pathlib.Path(__file__).parent.parent,
    )
    errors = [line for line in checked.stdout.splitlines() if ": error:" in line]
    assert any(":3:" in e and "temprature" in e for e in errors), checked.stdout
    assert any(":4:" in e and "max_steps" in e for e in errors), checked.stdout
    assert not any(":2:" in e for e in errors), checked.stdout
