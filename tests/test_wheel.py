"""The wheel a user installs: it carries the built front end, declares exactly the packages the
code imports, and works in a fresh virtual environment without Jupyter, with openai 1.x and
with the latest openai."""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib.metadata
import json
import os
import pathlib
import re
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).parent.parent
PACKAGE = ROOT / "copilot_widget"
SERVER_EXTENSION = ROOT / "copilot_widget_server"

# Run in the fresh environment: a script with no event loop, so `send` runs to completion.
SCRIPT = '''
import importlib.metadata
import json

import openai

import copilot_widget
from copilot_widget import Copilot
from copilot_widget._messages import text_of
from copilot_widget.testing import ScriptedServer, call, text, tool_calls

script = [tool_calls(call("add", {"a": 2, "b": 3}, split=3)), text("The sum", " is 5.")]
with ScriptedServer(script) as server:
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
    copilot = Copilot(client=client, store=":memory:")
    calls = []

    @copilot.action
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        calls.append((a, b))
        return a + b

    run = copilot.send("What is 2 + 3?")
    requests = server.requests
    unused = len(server.unused)

# The server extension ships in the same wheel; outside a Jupyter server it says what it is for.
import copilot_widget_server
try:
    copilot_widget_server.KernelConnection
    server_extension = "loaded"
except AttributeError as exc:
    server_extension = str(exc)

installed = set()
for name in ("jupyterlab", "notebook", "ipykernel", "jupyter_server"):
    try:
        importlib.metadata.distribution(name)
        installed.add(name)
    except importlib.metadata.PackageNotFoundError:
        pass
print(json.dumps({
    "package": copilot_widget.__file__,
    "openai": openai.__version__,
    "status": run.status,
    "calls": calls,
    "answer": text_of(run.message) if run.message else None,
    "last_message": text_of(copilot.messages[-1]),
    "tool_results": [m["content"] for m in requests[-1]["messages"] if m["role"] == "tool"],
    "unused_replies": unused,
    "jupyter_installed": sorted(installed),
    "server_extension": server_extension,
}))
'''


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The wheel built from this checkout, once for the module."""
    outdir = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(outdir)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (built,) = outdir.glob("copilot_widget-*.whl")
    return built


def test_wheel_contains_the_bundle_and_typing_marker(wheel: pathlib.Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        bundle = archive.read("copilot_widget/static/widget.js")
        css = archive.read("copilot_widget/static/widget.css")
    assert "copilot_widget/py.typed" in names
    assert "copilot_widget/testing.py" in names
    # The server extension, and the file that enables it where the wheel is installed.
    assert "copilot_widget_server/__init__.py" in names
    config = "etc/jupyter/jupyter_server_config.d/copilot_widget_server.json"
    (enabling,) = (n for n in names if n.endswith(".data/data/" + config))
    with zipfile.ZipFile(wheel) as archive:
        enabled = json.loads(archive.read(enabling))
    assert enabled == {"ServerApp": {"jpserver_extensions": {"copilot_widget_server": True}}}
    assert len(bundle) > 10_000  # the real bundle, not a placeholder
    assert b"export" in bundle and b"render" in bundle  # an ES module with the widget's entry
    assert len(css) > 1_000


def _requirements(wheel: pathlib.Path) -> dict[str, str]:
    """The wheel's `Requires-Dist` outside extras: {normalized name: requirement}."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = (n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(metadata).decode().splitlines()
    requirements = [
        line.split(":", 1)[1].strip() for line in lines if line.startswith("Requires-Dist:")
    ]
    return {
        _normalize(re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0]): r
        for r in requirements
        if "extra ==" not in r
    }


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_modules() -> tuple[set[str], set[str]]:
    """Top-level modules the package imports, other than its own and the standard library's:
    (required, optional), optional ones being imported inside a `try` whose `except` catches
    ImportError."""
    required: set[str] = set()
    optional: set[str] = set()

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.Try) and any(_catches_import_error(h) for h in node.handlers):
            for child in node.body:
                visit(child, True)
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(child, guarded)
            return
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        (optional if guarded else required).update(n.split(".")[0] for n in names)
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    for path in [*PACKAGE.rglob("*.py"), *SERVER_EXTENSION.rglob("*.py")]:
        visit(ast.parse(path.read_text(encoding="utf-8")), False)
    ours = set(sys.stdlib_module_names) | {"copilot_widget", "copilot_widget_server"}
    return required - ours, optional - required - ours


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    catching = ("ImportError", "ModuleNotFoundError", "Exception", "BaseException")
    return any(isinstance(n, ast.Name) and n.id in catching for n in names)


@functools.cache
def _providers() -> dict[str, set[str]]:
    """{top-level module: normalized names of the distributions installing it}"""
    return {
        module: set(map(_normalize, dists))
        for module, dists in importlib.metadata.packages_distributions().items()
    }


def _modules_of(distribution: str) -> set[str]:
    """Top-level modules a distribution installs, or else those its requirements install
    (a distribution such as griffe 2 is only a name for others)."""
    own = {m for m, dists in _providers().items() if distribution in dists}
    if own:
        return own
    requires = importlib.metadata.distribution(distribution).requires or []
    names = {_normalize(re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0]) for r in requires}
    return {m for m, dists in _providers().items() if names & dists}


def test_wheel_requires_exactly_the_imported_packages(wheel: pathlib.Path) -> None:
    # An optional import (inside `try: ... except ImportError`) may be declared or not.
    required, optional = _imported_modules()
    provided = {name: _modules_of(name) for name in _requirements(wheel)}

    undeclared = {m for m in required if not any(m in mods for mods in provided.values())}
    unused = {name for name, mods in provided.items() if not mods & (required | optional)}
    assert undeclared == set(), f"imported but not in [project] dependencies: {undeclared}"
    assert unused == set(), f"declared but never imported: {unused}"


def test_wheel_supports_openai_1_and_the_current_major(wheel: pathlib.Path) -> None:
    requirement = _requirements(wheel)["openai"]
    assert re.search(r">=1\.", requirement) and "<4" in requirement, requirement


def _clean_environment() -> dict[str, str]:
    """For pip and the fresh interpreter: nothing of this checkout's virtual environment."""
    unwanted = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k not in unwanted}
    return {**env, "PYTHONNOUSERSITE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


# The fresh environments: the wheel alone (so the latest openai), and with the openai 1.x line.
VARIANTS = {"openai-latest": [], "openai-1": ["openai<2"]}


@dataclasses.dataclass
class FreshVenv:
    python: pathlib.Path
    pip: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def fresh_venvs(
    wheel: pathlib.Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, FreshVenv]:
    """One fresh virtual environment per variant with the wheel installed by pip from the
    package index, the installs running side by side."""
    installs = {}
    for name, extra in VARIANTS.items():
        venv = tmp_path_factory.mktemp(name) / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        # This environment's pip installs into the fresh one.
        command = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
        process = subprocess.Popen(
            [*command, str(wheel), *extra],
            env=_clean_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        installs[name] = (python, process)
    venvs = {}
    for name, (python, process) in installs.items():
        out, err = process.communicate(timeout=600)
        venvs[name] = FreshVenv(
            python, subprocess.CompletedProcess(process.args, process.returncode, out, err)
        )
    return venvs


@pytest.mark.parametrize(
    ("variant", "major"),
    [
        pytest.param("openai-1", 1, id="openai-1"),
        pytest.param("openai-latest", 3, id="openai-latest"),
    ],
)
def test_wheel_works_in_a_fresh_venv_without_jupyter(
    fresh_venvs: dict[str, FreshVenv], tmp_path: pathlib.Path, variant: str, major: int
) -> None:
    venv = fresh_venvs[variant]
    assert venv.pip.returncode == 0, venv.pip.stderr

    script = tmp_path / "use_the_wheel.py"
    script.write_text(SCRIPT, encoding="utf-8")
    ran = subprocess.run(
        [str(venv.python), str(script)],
        cwd=tmp_path,
        env=_clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout.strip().splitlines()[-1])

    assert pathlib.Path(result["package"]).is_relative_to(venv.python.parent.parent)
    assert result["jupyter_installed"] == []
    assert int(result["openai"].split(".")[0]) == major
    assert result["status"] == "completed"
    assert result["calls"] == [[2, 3]]  # the action ran with the model's arguments
    assert result["tool_results"] == ["5"]  # and its result went back to the model
    assert result["answer"] == result["last_message"] == "The sum is 5."
    assert result["unused_replies"] == 0
    assert "is for a Jupyter server or Voilà" in result["server_extension"]
    assert "jupyter_server is not installed" in result["server_extension"]
