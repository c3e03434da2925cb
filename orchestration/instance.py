"""The Dagster instance `optout` uses: DAGSTER_HOME, or data/dagster_home by default.

The same folder serves `dagster dev` and `optout serve` when DAGSTER_HOME points at it, so
runs started from the shell show in the UI. Its history (runs, event log, schedules, sensor
ticks, daemon heartbeats) is in SQLite files inside it, or in PostgreSQL when
OPTOUT_DAGSTER_POSTGRES_URL is set (orchestration/postgres_storage.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

from dagster import DagsterInstance

from assets.config import REPO_ROOT, SettingError, load_settings

DEFAULT_HOME = REPO_ROOT / "data" / "dagster_home"
# optout's own logs (runs, the services). Not `$DAGSTER_HOME/logs`: Dagster's webserver and
# daemon move that folder away to upload it to Dagster's telemetry server, whatever
# dagster.yaml says about telemetry (dagster/_core/telemetry_upload.py)
LOGS_FOLDER = "optout-logs"
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
STORAGE
# a run whose worker never came up is failed after 5 minutes; a run whose process died
# after it started is found by dead_run_sensor (the default launcher has no health check)
run_monitoring:
  enabled: true
  start_timeout_seconds: 300
  cancel_timeout_seconds: 300
"""


SQLITE_STORAGE = """\
# Dagster's SQLite event log, an engine per file, a batch of events per commit (orchestration/private_apis.py)
event_log_storage:
  module: orchestration.private_apis
  class: BatchingSqliteEventLogStorage
  config:
    # where Dagster's own SQLite event log would be (readers may open the instance without DAGSTER_HOME)
    base_dir: EVENTS_DIR"""
POSTGRES_STORAGE = """\
# runs, event log, schedules, sensor ticks and daemon heartbeats in PostgreSQL; each process
# reads the URL from OPTOUT_DAGSTER_POSTGRES_URL (it may hold a password: never written here)
storage:
  custom:
    module: orchestration.postgres_storage
    class: PostgresStorageFromSettings
    config: {}"""
POSTGRES_MARK = "class: PostgresStorageFromSettings"


def instance_yaml(home: Path, postgres: bool = False) -> str:
    """The instance config of a Dagster home folder: SQLite inside it (its event log by
    absolute path), or PostgreSQL."""
    if postgres:
        return INSTANCE_YAML.replace("STORAGE", POSTGRES_STORAGE)
    storage = SQLITE_STORAGE.replace("EVENTS_DIR", json.dumps(str(home.resolve() / "history" / "runs")))
    return INSTANCE_YAML.replace("STORAGE", storage)


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
    """The Dagster home, its dagster.yaml written for the storage the settings ask for."""
    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_HOME)
    home.mkdir(parents=True, exist_ok=True)
    postgres = load_settings().dagster_postgres_url is not None
    with _setting_up(home):
        config = home / "dagster.yaml"
        text = config.read_text() if config.exists() else None
        if text is None:
            config.write_text(instance_yaml(home, postgres))
        elif POSTGRES_MARK in text and not postgres:
            # falling back to SQLite would split the history and the one-run queue in two
            raise SettingError(
                f"the Dagster instance in {home} keeps its history in PostgreSQL (its dagster.yaml): "
                "set OPTOUT_DAGSTER_POSTGRES_URL as the service's environment file does, or point "
                "DAGSTER_HOME at another folder"
            )
        elif POSTGRES_MARK not in text and postgres:
            # the SQLite history stays in the folder (docs/deploy.md: copying it over)
            config.write_text(instance_yaml(home, postgres=True))
        elif FORMER_STORAGE_MODULE in text:
            config.write_text(text.replace(FORMER_STORAGE_MODULE, "module: orchestration.private_apis"))
    os.environ["DAGSTER_HOME"] = str(home)
    # and so every Dagster process optout starts (the services, `dagster` commands) leaves
    # the logs where they are and sends nothing: the one switch that uploader obeys
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    return home


def logs_folder(*parts: str) -> Path:
    """A folder of optout's logs in the Dagster home, created."""
    folder = ensure_home().joinpath(LOGS_FOLDER, *parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class InstanceUnreachableError(Exception):
    """The instance's PostgreSQL server did not answer; the message says where (no password)."""


def get_instance() -> DagsterInstance:
    home = ensure_home()
    with _setting_up(home):
        # the storages (runs, event log index, schedules) are created as the instance opens
        try:
            return DagsterInstance.get()
        except Exception as exc:
            url = load_settings().dagster_postgres_url
            if url is None or not _is_connection_error(exc):
                raise
            from orchestration.postgres_storage import shown_url

            raise InstanceUnreachableError(
                f"cannot reach the Dagster instance's PostgreSQL at {shown_url(url.get_secret_value())} "
                f"(OPTOUT_DAGSTER_POSTGRES_URL): {_first_cause(exc)}"
            ) from None


def _is_connection_error(exc: BaseException) -> bool:
    import sqlalchemy.exc
    from dagster_postgres.utils import DagsterPostgresException

    return isinstance(exc, DagsterPostgresException | sqlalchemy.exc.OperationalError)


def _first_cause(exc: BaseException) -> str:
    """The driver's own words (connection refused, authentication failed), on one line."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
