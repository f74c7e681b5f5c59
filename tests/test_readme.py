"""The README's testing example runs as written."""

from __future__ import annotations

import pathlib
import re


def test_readme_testing_example_passes() -> None:
    readme = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## Test your own copilot", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code is not None
    namespace: dict[str, object] = {}
    exec(compile(code.group(1), "README.md", "exec"), namespace)
    namespace["test_my_copilot"]()  # type: ignore[operator]
