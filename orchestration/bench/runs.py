"""Timed processes: `optout run` in a fresh workspace, the way a user starts it.

Each workspace has its own lake, warehouse, exports and Dagster instance, handed to the
process as the environment variables every `optout` command reads, so a benchmark never
touches the user's data and starts from nothing. Output goes to a log file per process;
a process that fails stops the benchmark, naming the step and that log.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from assets.config import REPO_ROOT, load_settings
from orchestration.bench.breakdown import Breakdown, run_breakdown
from orchestration.bench.memory import PeakTreeMemory
from orchestration.commands.common import CliError


@dataclass(frozen=True)
class Workspace:
    root: Path
    landing: Path
    first_day: dt.date

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse" / "optout.duckdb"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "OPTOUT_LANDING_DIR": str(self.landing),
            "OPTOUT_LAKE_DIR": str(self.lake),
            "OPTOUT_WAREHOUSE": str(self.warehouse),
            "OPTOUT_EXPORT_DIR": str(self.root / "exports"),
            "OPTOUT_SERVING_DIR": str(self.root / "serving"),
            "DAGSTER_HOME": str(self.dagster_home),
            # the spark target's tables: emptied with the workspace, like the DuckDB file
            "OPTOUT_SPARK_WAREHOUSE": str(self.root / "spark-warehouse"),
            # the data set's first day: the user's own setting may start later
            "OPTOUT_FIRST_DAY": self.first_day.isoformat(),
        }

    def fresh(self) -> Workspace:
        """Empty the workspace (a previous benchmark's lake would turn a backfill into re-runs)."""
        if self.root.exists():
            shutil.rmtree(self.root)
        self.logs.mkdir(parents=True)
        return self


@dataclass(frozen=True)
class TimedProcess:
    name: str
    command: str  # as a user would type it
    seconds: float  # wall time, process start-up included
    peak_rss_bytes: int  # summed over the process and everything it started
    log: Path
    started_at: float = 0.0  # epoch seconds, to place the run's own records within the process
    ended_at: float = 0.0
    breakdown: Breakdown | None = None  # where the time went, for an `optout run`


def optout_command() -> list[str]:
    """The installed console script beside this Python, else the same entry point via -m."""
    script = Path(sys.executable).with_name("optout")
    return [str(script)] if script.exists() else [sys.executable, "-m", "orchestration.cli"]


def run_timed(name: str, command: list[str], shown: str, env: dict[str, str], log: Path) -> TimedProcess:
    """Run `command` to its end with stdout and stderr in `log`; time it and sample its memory."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        started = time.perf_counter()
        started_at = time.time()
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT
        )
        try:
            with PeakTreeMemory(process.pid) as memory:
                code = process.wait()
        except BaseException:  # interrupted: do not leave the run going on its own
            process.kill()
            process.wait()
            raise
        seconds = time.perf_counter() - started
        ended_at = started_at + seconds
    if code != 0:
        raise CliError(f"{name}: `{shown}` failed with exit code {code}; see {log}")
    return TimedProcess(name, shown, seconds, memory.peak_bytes, log, started_at, ended_at)


def optout_run(name: str, workspace: Workspace, start: dt.date, end: dt.date, log_name: str) -> TimedProcess:
    arguments = ["run", "--start", start.isoformat(), "--end", end.isoformat()]
    run = run_timed(
        name,
        [*optout_command(), *arguments],
        shlex.join(["optout", *arguments]),
        workspace.env(),
        workspace.logs / log_name,
    )
    # read now: the next run in the workspace, or any dbt build, replaces what it reads
    breakdown = run_breakdown(workspace.dagster_home, run.started_at, run.ended_at, dbt_run_results())
    return dataclasses.replace(run, breakdown=breakdown)


def dbt_run_results() -> Path:
    """dbt's run results of the pipeline's last build on the benchmark's target (the build
    steps share one target folder per engine: orchestration/dbt_assets.py)."""
    from orchestration.dbt_assets import run_target_paths  # Dagster and dagster-dbt: only when timing runs

    return next(iter(run_target_paths(load_settings()).values())) / "run_results.json"
