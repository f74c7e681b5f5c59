#!/usr/bin/env bash
# Run every check and test: Python lint and types, TypeScript lint, types and unit tests,
# then pytest (engine, widget, wheel, and the browser tests in JupyterLab and Notebook 7).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
unset ANYWIDGET_HMR

echo "== ruff"; ruff check copilot_widget copilot_widget_server tests bench; ruff format --check copilot_widget copilot_widget_server tests bench
echo "== mypy"; mypy
echo "== biome"; npm run --silent lint
echo "== tsc"; npm run --silent typecheck
echo "== vitest"; npm test --silent

# The browser tests run in a pytest process of their own: Playwright's sync API keeps an
# event loop running in the main thread, which the engine's blocking sends must not see.
# pytest exits with 5 when it collected no test. Without arguments that fails the run like any
# other error; with arguments (a file, `-k ...`) one of the two runs may select nothing, not both.
pytest_args=("$@")
selected_nothing=0
run_pytest() {  # run_pytest MARKER_EXPRESSION
  local status=0
  python -m pytest -m "$1" "${pytest_args[@]}" || status=$?
  if [ "$status" = 5 ] && [ "${#pytest_args[@]}" -gt 0 ]; then
    selected_nothing=$((selected_nothing + 1))
    return 0
  fi
  [ "$status" != 5 ] || echo "error: pytest -m '$1' collected no tests" >&2
  return "$status"
}
echo "== pytest"; run_pytest "not browser"
echo "== pytest, browser (Chromium, JupyterLab, Notebook 7)"; run_pytest browser
if [ "$selected_nothing" = 2 ]; then
  echo "error: no test matched: ${pytest_args[*]}" >&2
  exit 5
fi
echo "== all checks passed"
