#!/usr/bin/env bash
# Refresh the README's screenshots (docs/screenshot-light.png, docs/screenshot-dark.png):
# run the browser test that takes them (JupyterLab, light and dark theme, offline scripted
# model), which writes them into test-results/, then copy them into docs/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
unset ANYWIDGET_HMR

rm -f test-results/screenshot-light.png test-results/screenshot-dark.png
python -m pytest -m browser -q \
  "tests/browser/test_quickstart.py::test_screenshot_in_light_and_dark_theme" "$@"
for theme in light dark; do
  cp "test-results/screenshot-$theme.png" "docs/screenshot-$theme.png"
  echo "docs/screenshot-$theme.png updated"
done
