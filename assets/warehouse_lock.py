"""Who may write the warehouse: one pipeline run at a time, and never while another process holds it.

A run finds out that it cannot write before it changes anything (the lake included):

- the run lock, an `flock` on a file beside the warehouse, is held for a whole `optout run`;
  it says which process holds it, so a second run can name it;
- DuckDB's own lock: any other process with the file open (a BI tool, a notebook, even
  read-only) keeps dbt from writing, so a run opens the file for writing once, at once.

Both checks leave nothing behind: a killed holder's `flock` goes with its process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from assets.processes import describe_process

# the process holds the run lock: steps it runs in-process may write (the lock is per process)
_held_by_this_process: set[Path] = set()


class WarehouseBusyError(Exception):
    """Another writer or reader holds the warehouse; the message says who."""


def run_lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".run-lock")


@contextlib.contextmanager
def run_lock(
    warehouse: Path,
    purpose: str,
    wait_seconds: float = 0.0,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the run lock of `warehouse` for the block; wait up to `wait_seconds` for it."""
    path = run_lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _acquire(handle, path, wait_seconds, on_wait)
        os.ftruncate(handle, 0)
        holder = {"pid": os.getpid(), "since": _now(), "purpose": purpose}
        os.pwrite(handle, json.dumps(holder).encode(), 0)
        _held_by_this_process.add(path)
        try:
            yield
        finally:
            _held_by_this_process.discard(path)
            os.ftruncate(handle, 0)
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)


def _acquire(handle: int, path: Path, wait_seconds: float, on_wait: Callable[[str], None] | None) -> None:
    deadline = time.monotonic() + wait_seconds
    told = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            holder = run_lock_holder(path)
            if time.monotonic() >= deadline:
                raise WarehouseBusyError(f"{holder}; try again when it has finished") from None
            if on_wait and not told:
                on_wait(f"waiting for {holder}")
                told = True
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))


def run_lock_holder(path: Path) -> str:
    """Who holds the run lock, in words (the holder writes its pid and purpose into the file)."""
    try:
        holder = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        holder = {}
    if not holder:
        return f"another optout run holds {path}"
    return (
        f"another optout run ({holder.get('purpose', 'a run')}, {describe_process(holder.get('pid'))}, "
        f"since {holder.get('since', '?')}) is writing the warehouse"
    )


def check_run_lock_free(warehouse: Path) -> None:
    """For runs that do not take the lock themselves (Dagster UI, schedule): is a run writing?"""
    path = run_lock_path(warehouse)
    if path in _held_by_this_process or not path.exists():
        return
    handle = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(handle, fcntl.LOCK_UN)
    except BlockingIOError:
        raise WarehouseBusyError(run_lock_holder(path)) from None
    finally:
        os.close(handle)


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


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
