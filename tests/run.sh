#!/usr/bin/env bash
# The whole test suite from a fresh clone: venv, install, lint, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3.11 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev,spark]"

# The UI and report tests drive Debian's Chromium (never a browser a tool downloads itself);
# the Spark tests run pyspark on Debian's Java 17.
MISSING=""
command -v chromium >/dev/null 2>&1 || MISSING="$MISSING chromium"
command -v java >/dev/null 2>&1 || MISSING="$MISSING openjdk-17-jre-headless"
if [ -n "$MISSING" ]; then
  echo "installing Debian's$MISSING for the browser and Spark tests"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null
  # shellcheck disable=SC2086  # one word per package
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $MISSING >/dev/null
fi

export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff"
ruff check .
ruff format --check .
echo "== sqlfluff (dbt templater)"
# lint compiles the models only: an in-memory warehouse keeps the real one untouched
OPTOUT_WAREHOUSE=":memory:" sqlfluff lint dbt_project/models --disable-progress-bar
echo "== pytest"
python -m pytest "$@"
