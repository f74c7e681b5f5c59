#!/usr/bin/env bash
# Run every check and test: Python lint and types, TypeScript lint, types and unit tests,
# then pytest (engine, widget, wheel, and the browser tests in JupyterLab and Notebook 7).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
unset ANYWIDGET_HMR

echo "== ruff"; ruff check copilot_widget tests bench; ruff format --check copilot_widget tests bench
echo "== mypy"; mypy
echo "== biome"; npm run --silent lint
echo "== tsc"; npm run --silent typecheck
echo "== vitest"; npm test --silent
# The browser tests run in a pytest process of their own: Playwright's sync API keeps an
# event loop running in the main thread, which the engine's blocking sends must not see.
echo "== pytest"; python -m pytest -m "not browser" "$@"
echo "== pytest, browser (Chromium, JupyterLab, Notebook 7)"; python -m pytest -m browser "$@"
