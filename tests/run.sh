#!/usr/bin/env bash
# The test suite. From a fresh clone: venv, install, lint, every test (what CI runs).
#   bash tests/run.sh            everything (the slow suites too: Spark, Superset, browser, faults)
#   bash tests/run.sh --quick    the quick tier, once the environment is installed: lint, unit
#                                tests, dbt unit tests on an empty target, one small end-to-end run
# Further arguments go to pytest (e.g. `bash tests/run.sh --quick -x`).
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
if [ "${1:-}" = "--quick" ]; then
  QUICK=1
  shift
fi
started=$SECONDS

if [ "$QUICK" = 1 ] && [ -x .venv/bin/optout ]; then
  echo "== quick tier (the environment is installed; the full run installs it again)"
else
  if [ ! -x .venv/bin/python ]; then
    python3.11 -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[dev,spark]"

  # The UI and report tests drive Debian's Chromium (never a browser a tool downloads itself);
  # the Spark tests run pyspark on Debian's Java 17; the service tests run Debian's PostgreSQL.
  MISSING=""
  command -v chromium >/dev/null 2>&1 || MISSING="$MISSING chromium"
  command -v java >/dev/null 2>&1 || MISSING="$MISSING openjdk-17-jre-headless"
  # the service tests start a throw-away PostgreSQL server (Debian's PostgreSQL 15)
  command -v pg_config >/dev/null 2>&1 || MISSING="$MISSING postgresql"
  if [ -n "$MISSING" ]; then
    echo "installing Debian's$MISSING for the browser and Spark tests"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq >/dev/null
    # shellcheck disable=SC2086  # one word per package
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $MISSING >/dev/null
  fi
fi

export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff"
ruff check .
ruff format --check .
echo "== sqlfluff (dbt templater)"
# lint compiles the models only: an in-memory warehouse keeps the real one untouched
OPTOUT_WAREHOUSE=":memory:" sqlfluff lint dbt_project/models --disable-progress-bar
echo "== pytest"
if [ "$QUICK" = 1 ]; then
  python -m pytest -m quick "$@"
else
  # the slowest tests listed at the end: the suite must stay well inside CI's time
  python -m pytest --durations=25 "$@"
fi
echo "== done in $((SECONDS - started)) s"
