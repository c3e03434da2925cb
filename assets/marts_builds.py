"""Which export days the marts hold, and whether the build that made them passed its checks.

The lake runs ahead of the marts: a run ingests its days first and builds the marts after,
and it can fail or be killed in between, or fail the checks. So what the exports and the
report may cover is not what the lake holds (audit.ingestion_log), but what the last build
of the marts read, and only once that build passed its checks. `audit.marts_builds` keeps
one row per build:

  building  the marts are being rewritten (a run killed here leaves the row so)
  built     dbt built them and its tests passed; the marts suite has not yet
  passed    the marts suite passed too: exports and the report may use them
  failed    dbt or the marts suite failed (detail says why)

Exports and the report read the newest row and refuse unless it has `passed`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb

from assets.exports.ranges import ExportRangeError
from assets.warehouse_holder import busy_reason

_CREATE = """
create table if not exists audit.marts_builds (
    run_id varchar primary key,
    status varchar not null,
    first_export_date date,
    last_export_date date,
    started_at timestamptz not null,
    finished_at timestamptz,
    detail varchar
)
"""
_START = "insert or replace into audit.marts_builds (run_id, status, started_at) values (?, 'building', ?)"
_BUILT = """
update audit.marts_builds
set status = 'built', finished_at = ?, first_export_date = ?, last_export_date = ?
where run_id = ?
"""
_PASSED = """
update audit.marts_builds set status = 'passed', finished_at = ?
where run_id = ? and status = 'built'
returning run_id
"""
_FAILED = "update audit.marts_builds set status = 'failed', finished_at = ?, detail = ? where run_id = ?"
_EXISTS = """
select count(*) from information_schema.tables
where table_schema = 'audit' and table_name = 'marts_builds'
"""
_LAST_PASSED_START = """
select max(started_at) from audit.marts_builds where status = 'passed'
"""
_LATEST = """
select run_id, status, first_export_date, last_export_date, finished_at, detail
from audit.marts_builds
order by started_at desc, run_id desc
limit 1
"""


class MartsNotReadyError(ExportRangeError):
    """The marts were not built by a run whose checks passed: nothing may be exported."""


@dataclass(frozen=True)
class MartsBuild:
    run_id: str
    status: str
    first_export_date: dt.date | None
    last_export_date: dt.date | None
    finished_at: dt.datetime | None
    detail: str | None


def _connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(warehouse))
    connection.execute("create schema if not exists audit")
    connection.execute(_CREATE)
    return connection


def start_build(warehouse: Path, run_id: str) -> None:
    """Before the marts change: from now on they are not to be trusted until checked."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with _connect(warehouse) as connection:
        connection.execute(_START, [run_id, _now()])


def finish_build(warehouse: Path, run_id: str, first_day: dt.date | None, last_day: dt.date | None) -> None:
    """dbt built the marts from the lake's export days [first_day, last_day]; its tests passed."""
    with _connect(warehouse) as connection:
        connection.execute(_BUILT, [_now(), first_day, last_day, run_id])


def mark_passed(warehouse: Path, run_id: str) -> bool:
    """The marts suite passed: the build of `run_id` (if this run built them) may be used."""
    if not warehouse.exists():
        return False
    with _connect(warehouse) as connection:
        return bool(connection.execute(_PASSED, [_now(), run_id]).fetchall())


def mark_failed(warehouse: Path, run_id: str, detail: str) -> None:
    if not warehouse.exists():
        return
    with _connect(warehouse) as connection:
        connection.execute(_FAILED, [_now(), detail[:2000], run_id])


def latest_build(connection: duckdb.DuckDBPyConnection) -> MartsBuild | None:
    # fetchall: DuckDB 2.0 wants a result read to its end before the next statement
    if not connection.execute(_EXISTS).fetchall()[0][0]:
        return None
    rows = connection.execute(_LATEST).fetchall()
    return MartsBuild(*rows[0]) if rows else None


def last_passed_build_start(warehouse: Path) -> dt.datetime | None:
    """When the newest build that passed its checks started; None if there is none.

    Every lake day ingested after that moment is not in the checked marts yet, whichever
    run ingested it (a run can be killed between ingesting and building).
    """
    if not warehouse.exists():
        return None
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        if not connection.execute(_EXISTS).fetchall()[0][0]:
            return None
        return connection.execute(_LAST_PASSED_START).fetchall()[0][0]


def checked_export_days(connection: duckdb.DuckDBPyConnection) -> tuple[dt.date, dt.date, str]:
    """(first, last export day, run id) the marts hold, from a build whose checks passed.

    Raises MartsNotReadyError with what to do otherwise.
    """
    build = latest_build(connection)
    if build is None:
        raise MartsNotReadyError("the marts have not been built by a checked run yet: run `optout run` first")
    if build.status == "passed":
        if build.first_export_date is None or build.last_export_date is None:
            raise MartsNotReadyError("no export day has been ingested yet: run `optout run` first")
        return build.first_export_date, build.last_export_date, build.run_id
    if build.status == "failed":
        raise MartsNotReadyError(
            f"the last build of the marts (run {build.run_id[:8]}) failed: {build.detail or 'see Dagster'}; "
            "fix it and run `optout run` again"
        )
    raise MartsNotReadyError(
        f"the marts were last rewritten by run {build.run_id[:8]}, which has not passed its checks "
        f"(status {build.status}: still running, or stopped); run `optout run` again"
    )


def read_checked_export_days(warehouse: Path) -> tuple[dt.date, dt.date, str]:
    """checked_export_days of a warehouse file, with a clear error if it is missing or busy."""
    if not warehouse.exists():
        raise MartsNotReadyError(f"no warehouse at {warehouse}: run `optout run` first")
    try:
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            return checked_export_days(connection)
    except duckdb.Error as exc:
        reason = busy_reason(exc, warehouse)
        if reason is None:
            raise
        raise MartsNotReadyError(reason) from None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
