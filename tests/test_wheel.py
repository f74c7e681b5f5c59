"""The wheel a user installs carries the built front end."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import zipfile

ROOT = pathlib.Path(__file__).parent.parent


def test_wheel_contains_the_bundle_and_typing_marker(tmp_path: pathlib.Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("copilot_widget-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("widget.js", "widget.css"):
        assert f"copilot_widget/static/{name}" in names
    assert "copilot_widget/py.typed" in names
    assert "copilot_widget/testing.py" in names
    bundle = zipfile.ZipFile(wheel).read("copilot_widget/static/widget.js")
    assert len(bundle) > 10_000  # the real bundle, not a placeholder
