#!/usr/bin/env bash
# Set up a development environment from a fresh clone, then open the quickstart in JupyterLab.
#   bash scripts/setup.sh            # set up and open notebooks/01_quickstart.ipynb
#   bash scripts/setup.sh --no-lab   # set up only (CI)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"

# Chromium for the browser tests (Playwright drives the system browser; it downloads none).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "warning: chromium is not installed; the browser tests will fail" >&2
  fi
fi

# PostgreSQL for the tests of the PostgreSQL thread store (they start a server of their own
# with initdb and pg_ctl, which Debian puts under /usr/lib/postgresql/<version>/bin).
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "warning: PostgreSQL is not installed; its thread store tests will be skipped" >&2
  fi
fi

# The front end: exactly the npm packages package-lock.json names, then the bundle in
# copilot_widget/static/. `npm ci` never writes the lock file, and fails if it no longer
# matches package.json (after changing package.json, run `npm install` and commit the lock:
# it lists every platform's optional packages, so it is the same on every machine).
npm ci --no-audit --no-fund
npm run build

# Python: a virtual environment with the package (editable) and its development tools.
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"

if [ "${1:-}" != "--no-lab" ]; then
  exec .venv/bin/jupyter lab notebooks/01_quickstart.ipynb
fi
