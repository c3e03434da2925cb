"""Tools of the fault suite: start `optout run` and kill its process group at a chosen moment,
compare two workspaces' results, and look for anything a killed writer left behind."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from assets.config import REPO_ROOT
from assets.serving.layout import SNAPSHOTS
from tests.conftest import Workspace
from tests.reference.compare import INGESTION_TIME_COLUMNS

LOG_NAMED = re.compile(r"full log: (\S+\.log)")


def start_optout(ws: Workspace, *args: str) -> subprocess.Popen:
    """`optout ARGS` in its own process group (so a kill takes dbt with it), output merged."""
    return subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", *args],
        env={**os.environ, **ws.env()},
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def log_lines(process: subprocess.Popen, seen: list[str], timeout: float = 600) -> Iterator[str]:
    """The lines of a run's full log as they are written; its terminal output goes to `seen`.

    The terminal shows each step once; the moments the fault suite waits for (a day of a
    table, a dbt model, an export) are in the log file the run names in its first line.
    """
    path = None
    for line in process.stdout:
        seen.append(line)
        if match := LOG_NAMED.search(line):
            path = Path(match.group(1))
            break
    if path is None:
        return
    # the rest of the terminal output is read aside, so the run never waits on a full pipe
    drain = threading.Thread(target=lambda: seen.extend(process.stdout), daemon=True)
    drain.start()
    deadline = time.monotonic() + timeout
    while not path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    with path.open(encoding="utf-8", errors="replace") as log:
        while time.monotonic() < deadline:
            line = log.readline()
            if line:
                yield line
            elif process.poll() is not None:
                yield from log
                break
            else:
                time.sleep(0.02)
    drain.join(timeout=60)


def kill_when(process: subprocess.Popen, pattern: str, delay: float = 0.0, timeout: float = 600) -> str:
    """Follow the run's log until a line matches `pattern`, then `kill -9` the whole process group.

    Returns the terminal output seen; fails if the process ended before the moment came.
    """
    seen: list[str] = []
    for line in log_lines(process, seen, timeout):
        if re.search(pattern, line):
            time.sleep(delay)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=60)
            return "".join(seen)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    raise AssertionError(f"never saw {pattern!r}; output:\n{''.join(seen)[-3000:]}")


def mart_tables(warehouse: Path) -> dict[str, list[tuple]]:
    """Every table of the `marts` schema, all rows in a fixed order; of the columns that hold
    when a run ingested a day, only whether they are null (another run ingests at its own time)."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        names = [
            row[0]
            for row in connection.sql(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        return {name: sorted(_rows(connection, name), key=repr) for name in names}


def _rows(connection: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    times = INGESTION_TIME_COLUMNS.get(table, ())
    replaced = f" replace ({', '.join(f'{c} is not null as {c}' for c in times)})" if times else ""
    return connection.sql(f"select *{replaced} from marts.{table}").fetchall()


def serving_tables(ws: Workspace) -> dict[str, list[tuple]]:
    """The `marts` tables of the published serving copy (its DuckDB file), as mart_tables reads them."""
    return mart_tables(ws.serving / "optout.duckdb")


def export_files(ws: Workspace) -> dict[str, bytes]:
    """Every export's CSV and Parquet file (the exact values), by name."""
    folder = ws.exports / "opted_out_users"
    return {
        path.name: path.read_bytes() for path in sorted([*folder.glob("*.csv"), *folder.glob("*.parquet")])
    }


def leftovers(ws: Workspace) -> list[str]:
    """Hidden temp files and folders anywhere in the lake, the exports and the warehouse folder."""
    found = []
    for root in (ws.lake, ws.exports, ws.warehouse.parent, ws.serving):
        if root.exists():
            found += [str(path.relative_to(ws.root)) for path in root.rglob("*") if _is_leftover(path)]
    return found


def _is_leftover(path: Path) -> bool:
    name = path.name
    if name == SNAPSHOTS:  # the serving copy's published snapshots live there
        return False
    hidden_temp = name.startswith(".") and (name.endswith(".tmp") or path.is_dir())
    return hidden_temp or name.startswith((".tmp-", ".old-")) or name.endswith(".wal")


def unfinished_runs(ws: Workspace) -> list[str]:
    """Runs the workspace's Dagster instance still shows as starting, started or canceling."""
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    statuses = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
    with DagsterInstance.from_config(str(ws.dagster_home)) as instance:
        return [r.dagster_run.run_id for r in instance.get_run_records(filters=RunsFilter(statuses=statuses))]


def lake_state(ws: Workspace) -> dict[str, tuple[int, int]]:
    """Every lake file with its size and modification time: any change by a run shows."""
    if not ws.lake.exists():
        return {}
    return {
        str(path.relative_to(ws.lake)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(ws.lake.rglob("*"))
        if path.is_file()
    }
