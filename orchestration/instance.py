"""The Dagster instance `optout` uses: DAGSTER_HOME, or data/dagster_home by default.

The same folder serves `dagster dev` when DAGSTER_HOME points at it, so runs started from
the shell show in the UI.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

from dagster import DagsterInstance

from assets.config import REPO_ROOT

DEFAULT_HOME = REPO_ROOT / "data" / "dagster_home"
INSTANCE_YAML = """\
telemetry:
  enabled: false
nux:
  enabled: false
concurrency:
  runs:
    # the one rule for "one writer of the warehouse": DuckDB has one writer, and readers
    # cannot open the file while it writes; every run reads or writes the warehouse, so runs
    # queue one behind the other. The daemon applies it to the UI's, the schedule's and the
    # sensor's runs and to `optout run` when it serves the instance; without a daemon
    # `optout run` waits for the same limit itself (orchestration/run_queue.py)
    max_concurrent_runs: 1
# Dagster's SQLite event log, an engine per file, a batch of events per commit (orchestration/private_apis.py)
event_log_storage:
  module: orchestration.private_apis
  class: BatchingSqliteEventLogStorage
  config:
    # where Dagster's own SQLite event log would be (readers may open the instance without DAGSTER_HOME)
    base_dir: EVENTS_DIR
# a run whose worker never came up is failed after 5 minutes; a run whose process died
# after it started is found by dead_run_sensor (the default launcher has no health check)
run_monitoring:
  enabled: true
  start_timeout_seconds: 300
  cancel_timeout_seconds: 300
"""


def instance_yaml(home: Path) -> str:
    """The instance config of a Dagster home folder (its event log inside it, by absolute path)."""
    return INSTANCE_YAML.replace("EVENTS_DIR", json.dumps(str(home.resolve() / "history" / "runs")))


# an instance set up by an earlier release names the storage's former module
FORMER_STORAGE_MODULE = "module: orchestration.event_log_storage"


@contextlib.contextmanager
def _setting_up(home: Path) -> Iterator[None]:
    """One process at a time sets the home up: Dagster creates its SQLite storage on first
    open, and two processes creating it at once stamp its schema twice (alembic then refuses
    the database: "more than one head"). Held for the set-up only, never for a run."""
    with (home / ".setup.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def ensure_home() -> Path:
    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_HOME)
    home.mkdir(parents=True, exist_ok=True)
    with _setting_up(home):
        config = home / "dagster.yaml"
        if not config.exists():
            config.write_text(instance_yaml(home))
        elif FORMER_STORAGE_MODULE in (text := config.read_text()):
            config.write_text(text.replace(FORMER_STORAGE_MODULE, "module: orchestration.private_apis"))
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def get_instance() -> DagsterInstance:
    home = ensure_home()
    with _setting_up(home):
        # the storages (runs, event log index, schedules) are created as the instance opens
        return DagsterInstance.get()
