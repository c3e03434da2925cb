"""Write the serving copy of the marts, audit and reporting tables, and publish it (layout.py).

The copy is written by a fresh in-memory DuckDB that attaches the warehouse read-only and
the new file in DuckDB 1.4's storage format (`STORAGE_VERSION 'v1.4.0'`): BI drivers lag
behind DuckDB, and a 1.4 client refuses a file in 2.0's format. The same tables go to
Parquet for tools without a DuckDB driver. `serving.snapshot` and `serving.tables` say
what the copy holds: which run published it, which export days its marts cover, and how
many rows each table has.

The reporting views (dbt_project/models/reporting) compute ranks, totals and shares for
the range a session sets, which a BI tool cannot set. The copy holds each of them as a
table for every period (reporting_periods: the export presets, ending on the last export
day of the checked marts), the period named in its first columns: a dashboard filters
`period` and reads the view's own numbers, re-deriving none.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from assets.exports.ranges import PRESET_DAYS, preset_range
from assets.marts_builds import MartsNotReadyError, checked_export_days, latest_build
from assets.report.numbers import SCHEMA as REPORTING_SCHEMA
from assets.report.numbers import set_range
from assets.serving.layout import DATABASE_FILE, discard, new_snapshot_folder, publish_snapshot
from assets.warehouse_holder import busy_reason

STORAGE_VERSION = "v1.4.0"
SCHEMAS = ("marts", "audit")
# every reporting table starts with these: the period its numbers are for
PERIOD_COLUMNS = ("period", "period_start", "period_end")


@dataclass(frozen=True)
class Period:
    name: str
    start: dt.date
    end: dt.date


def reporting_periods(last_day: dt.date) -> list[Period]:
    """The periods the reporting tables hold: each export preset, ending on `last_day`."""
    ranges = [preset_range(name, last_day) for name in PRESET_DAYS]
    return [Period(r.preset, r.start, r.end) for r in ranges]


@dataclass(frozen=True)
class ServingSnapshot:
    snapshot_id: str
    folder: Path
    run_id: str
    first_export_date: dt.date
    last_export_date: dt.date
    table_rows: dict[str, int]


def publish_serving_copy(warehouse: Path, serving_dir: Path, run_id: str) -> ServingSnapshot:
    """Copy the checked marts (and audit) of `warehouse` into a new snapshot and publish it.

    Refuses (MartsNotReadyError) unless the last build of the marts passed its checks; on
    any failure the published snapshot stays as it was.
    """
    published_at = dt.datetime.now(dt.UTC)
    snapshot_id = f"{published_at:%Y%m%dT%H%M%S%fZ}-{run_id[:8]}"
    staging = new_snapshot_folder(serving_dir, snapshot_id)
    try:
        with _attach_warehouse(warehouse) as connection:
            first_day, last_day, build_run_id = checked_export_days(connection)
            built_at = latest_build(connection).finished_at
            table_rows = _copy_tables(connection, staging)
            table_rows |= _copy_reporting(connection, staging, reporting_periods(last_day))
            _write_snapshot_tables(
                connection,
                staging,
                {
                    "snapshot_id": snapshot_id,
                    "run_id": run_id,
                    "marts_build_run_id": build_run_id,
                    "first_export_date": first_day,
                    "last_export_date": last_day,
                    "export_days": (last_day - first_day).days + 1,
                    "marts_built_at": built_at,
                    "published_at": published_at,
                    "storage_version": STORAGE_VERSION,
                },
                table_rows,
            )
            connection.execute("checkpoint serving_copy")
            connection.execute("detach serving_copy")
        _sync_files(staging)
        folder = publish_snapshot(serving_dir, staging, snapshot_id)
    except BaseException:
        discard(staging)
        raise
    return ServingSnapshot(snapshot_id, folder, run_id, first_day, last_day, table_rows)


class _attach_warehouse:
    """An in-memory DuckDB with the warehouse attached read-only as `w` (clear error if busy)."""

    def __init__(self, warehouse: Path):
        self.warehouse = warehouse

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        if not self.warehouse.exists():
            raise MartsNotReadyError(f"no warehouse at {self.warehouse}: run `optout run` first")
        self.connection = duckdb.connect()
        try:
            self.connection.execute(f"attach {_quote(self.warehouse)} as w (read_only)")
            self.connection.execute("use w")
        except duckdb.Error as exc:
            self.connection.close()
            reason = busy_reason(exc, self.warehouse)
            if reason is None:
                raise
            raise MartsNotReadyError(reason) from None
        return self.connection

    def __exit__(self, *exc_info) -> None:
        self.connection.close()


def _copy_tables(connection: duckdb.DuckDBPyConnection, staging: Path) -> dict[str, int]:
    """Every table and view of the served schemas, into the 1.4-format file and to Parquet."""
    connection.execute(
        f"attach {_quote(staging / DATABASE_FILE)} as serving_copy (storage_version '{STORAGE_VERSION}')"
    )
    relations = connection.execute(
        """
        select table_schema, table_name from information_schema.tables
        where table_catalog = 'w' and table_schema in ?
        order by table_schema, table_name
        """,
        [list(SCHEMAS)],
    ).fetchall()
    table_rows: dict[str, int] = {}
    for schema in SCHEMAS:
        connection.execute(f"create schema serving_copy.{schema}")
        (staging / schema).mkdir()
    for schema, table in relations:
        source = f"w.{schema}.{_identifier(table)}"
        connection.execute(
            f"create table serving_copy.{schema}.{_identifier(table)} as select * from {source}"
        )
        connection.execute(
            f"copy serving_copy.{schema}.{_identifier(table)} "
            f"to {_quote(staging / schema / f'{table}.parquet')} (format parquet)"
        )
        count = connection.execute(f"select count(*) from serving_copy.{schema}.{_identifier(table)}")
        table_rows[f"{schema}.{table}"] = count.fetchall()[0][0]
    return table_rows


def _copy_reporting(
    connection: duckdb.DuckDBPyConnection, staging: Path, periods: list[Period]
) -> dict[str, int]:
    """Each reporting view as a table of its rows for every period, in the file and to Parquet."""
    views = connection.execute(
        """
        select table_name from information_schema.tables
        where table_catalog = 'w' and table_schema = ?
        order by table_name
        """,
        [REPORTING_SCHEMA],
    ).fetchall()
    connection.execute(f"create schema serving_copy.{REPORTING_SCHEMA}")
    (staging / REPORTING_SCHEMA).mkdir()
    table_rows: dict[str, int] = {}
    for (view,) in views:
        target = f"serving_copy.{REPORTING_SCHEMA}.{_identifier(view)}"
        for number, period in enumerate(periods):
            set_range(connection, period.start, period.end)  # the views now cover the period
            rows = (
                f"select cast(? as varchar) as period, cast(? as date) as period_start, "
                f"cast(? as date) as period_end, * from w.{REPORTING_SCHEMA}.{_identifier(view)}"
            )
            statement = f"create table {target} as {rows}" if number == 0 else f"insert into {target} {rows}"
            connection.execute(statement, [period.name, period.start, period.end])
        connection.execute(
            f"copy {target} to {_quote(staging / REPORTING_SCHEMA / f'{view}.parquet')} (format parquet)"
        )
        count = connection.execute(f"select count(*) from {target}").fetchall()[0][0]
        table_rows[f"{REPORTING_SCHEMA}.{view}"] = count
    return table_rows


def _write_snapshot_tables(
    connection: duckdb.DuckDBPyConnection, staging: Path, snapshot: dict, table_rows: dict[str, int]
) -> None:
    """`serving.snapshot` (one row: what this copy is) and `serving.tables` (rows per table)."""
    connection.execute("create schema serving_copy.serving")
    (staging / "serving").mkdir()
    columns = ", ".join(f"? as {name}" for name in snapshot)
    connection.execute(
        f"create table serving_copy.serving.snapshot as select {columns}", list(snapshot.values())
    )
    connection.execute(
        "create table serving_copy.serving.tables as "
        "select split_part(name, '.', 1) as table_schema, split_part(name, '.', 2) as table_name, "
        "row_count::bigint as row_count from (select unnest(?) as name, unnest(?) as row_count)",
        [list(table_rows), list(table_rows.values())],
    )
    for table in ("snapshot", "tables"):
        connection.execute(
            f"copy serving_copy.serving.{table} to {_quote(staging / 'serving' / f'{table}.parquet')} "
            "(format parquet)"
        )


def _sync_files(folder: Path) -> None:
    """Flush the snapshot to disk before it is published (a crash must not publish holes)."""
    for path in folder.rglob("*"):
        if path.is_file():
            handle = os.open(path, os.O_RDONLY)
            try:
                os.fsync(handle)
            finally:
                os.close(handle)


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
