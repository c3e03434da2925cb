"""Which program holds the warehouse open: what Dagster's run queue cannot know.

Runs queue one behind the other in Dagster (orchestration/run_queue.py). But any other
process with the DuckDB file open (a BI tool, a notebook, even read-only) keeps dbt from
writing it, and DuckDB names that process in its lock error. A run opens the file for
writing once, before it changes anything (the lake included), and stops with one line
naming the holder; a lock error met later is turned into the same line.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb

from assets.processes import describe_process


class WarehouseBusyError(Exception):
    """Another program holds the warehouse; the message says who."""


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


def check_warehouse_writable(warehouse: Path, wait_seconds: float = 0.0) -> None:
    """Open the warehouse for writing once and close it; raise WarehouseBusyError naming the holder."""
    if not warehouse.exists():
        return  # nobody can hold a file that is not there; dbt creates it
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            duckdb.connect(str(warehouse)).close()
            return
        except duckdb.IOException as exc:
            match = _LOCK_HOLDER.search(str(exc))
            if match is None:
                raise
            if time.monotonic() >= deadline:
                raise WarehouseBusyError(
                    f"{warehouse} is held open by {describe_process(int(match['pid']))}: "
                    "the run cannot write it and changed nothing; close that program (BI tools read "
                    "the serving copy in $OPTOUT_SERVING_DIR) or try again later"
                ) from None
            time.sleep(1.0)


def busy_reason(error: Exception | str, warehouse: Path | None = None) -> str | None:
    """A DuckDB lock error as one line naming the holder, or None for any other error."""
    match = _LOCK_HOLDER.search(str(error))
    if match is None:
        return None
    where = str(warehouse) if warehouse else "the warehouse"
    return f"{where} is held open by {describe_process(int(match['pid']))}; try again when it has finished"
