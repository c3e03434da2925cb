"""The serving copy BI tools read: what it holds, who can open it, and that it never blocks or tears."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import venv
from pathlib import Path

import duckdb
import pytest

from assets import marts_builds
from assets.atomic_files import FileWriteError
from assets.generator.run import generate
from assets.marts_builds import MartsNotReadyError
from assets.report import numbers
from assets.serving.copy import PERIOD_COLUMNS, publish_serving_copy, reporting_periods
from assets.serving.layout import SNAPSHOTS, current_snapshot
from tests.conftest import SAMPLE_START
from tests.faults import start_optout

SERVED = ("marts", "audit")
REPORTING_NAMES = "select table_name from information_schema.tables where table_schema = 'reporting'"


def warehouse_tables(warehouse: Path) -> dict[str, tuple[list[tuple], list[tuple]]]:
    """(column types, rows in a fixed order) of every table of the served schemas."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return relations(
            connection,
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('marts', 'audit')",
        )


def relations(connection, names_sql: str, source=lambda name: name) -> dict:
    names = [row[0] for row in connection.sql(names_sql + " order by 1").fetchall()]
    out = {}
    for name in names:
        relation = connection.sql(f"select * from {source(name)}")
        out[name] = (
            list(zip(relation.columns, map(str, relation.types), strict=True)),
            sorted(relation.fetchall(), key=repr),
        )
    return out


def parquet_tables(serving: Path) -> dict:
    with duckdb.connect() as connection:
        files = sorted(
            f"{schema}.{path.stem}" for schema in SERVED for path in (serving / schema).glob("*.parquet")
        )
        names = " union all ".join(f"select '{name}'" for name in files)
        return relations(
            connection,
            f"select * from ({names})",
            lambda name: f"read_parquet('{serving / name.split('.')[0] / name.split('.')[1]}.parquet')",
        )


def snapshot_row(serving: Path) -> dict:
    with duckdb.connect(str(serving / "optout.duckdb"), read_only=True) as connection:
        relation = connection.sql("select * from serving.snapshot")
        return dict(zip(relation.columns, relation.fetchall()[0], strict=True))


def test_the_serving_copy_holds_the_checked_marts_in_duckdb_and_parquet(sample_run):
    expected = warehouse_tables(sample_run.warehouse)
    assert {name.split(".")[0] for name in expected} == set(SERVED) and len(expected) >= 11

    with duckdb.connect(str(sample_run.serving / "optout.duckdb"), read_only=True) as connection:
        in_file = relations(
            connection,
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('marts', 'audit')",
        )
        table_rows = dict(
            connection.sql(
                "select table_schema || '.' || table_name, row_count from serving.tables"
            ).fetchall()
        )
    assert in_file == expected  # same names, column types and rows
    assert parquet_tables(sample_run.serving) == expected  # Parquet too (HUGEINT would come back DOUBLE)
    served = {name: rows for name, rows in table_rows.items() if name.split(".")[0] in SERVED}
    assert served == {name: len(rows) for name, (_, rows) in expected.items()}

    first, last, build_run = marts_builds.read_checked_export_days(sample_run.warehouse)
    snapshot = snapshot_row(sample_run.serving)
    assert (snapshot["first_export_date"], snapshot["last_export_date"]) == (first, last)
    assert snapshot["export_days"] == (last - first).days + 1 == 21
    assert snapshot["run_id"] == snapshot["marts_build_run_id"] == build_run  # one run built and published
    assert snapshot["storage_version"] == "v1.4.0"
    assert snapshot["snapshot_id"] == current_snapshot(sample_run.serving).name
    assert snapshot_row(sample_run.serving)["snapshot_id"].endswith(build_run[:8])
    # user data: the copy is for its owner, like the warehouse (a BI service reads it as that user)
    assert (current_snapshot(sample_run.serving) / "optout.duckdb").stat().st_mode & 0o077 == 0


def typed_rows(relation) -> tuple[list[tuple], list[tuple]]:
    """(column names and types, rows in a fixed order) of a relation."""
    columns = list(zip(relation.columns, map(str, relation.types), strict=True))
    return columns, sorted(relation.fetchall(), key=repr)


def test_the_serving_copy_holds_the_reporting_views_as_tables_per_period(sample_run):
    """Dashboards cannot set the views' range: the copy holds each view's rows for every period."""
    last_day = marts_builds.read_checked_export_days(sample_run.warehouse)[1]
    periods = reporting_periods(last_day)
    assert [(p.name, p.start, p.end) for p in periods] == [
        ("last_week", dt.date(2026, 1, 15), dt.date(2026, 1, 21)),
        ("last_month", dt.date(2025, 12, 23), dt.date(2026, 1, 21)),
        ("last_year", dt.date(2025, 1, 22), dt.date(2026, 1, 21)),
    ]
    views = {}  # (view, period) -> the view's rows with the period's range set
    with duckdb.connect(str(sample_run.warehouse), read_only=True) as connection:
        names = [row[0] for row in connection.sql(REPORTING_NAMES).fetchall()]
        for period in periods:
            numbers.set_range(connection, period.start, period.end)
            views |= {
                (name, period.name): typed_rows(connection.sql(f"select * from reporting.{name}"))
                for name in names
            }
        numbers.set_range(connection, periods[0].start, periods[0].end)
        headline = numbers.read_headlines(connection)
    assert sorted(names) == [
        "rpt_campaigns", "rpt_headlines", "rpt_ingestion", "rpt_last_events", "rpt_pressure",
        "rpt_rate_by_platform", "rpt_rate_left_out", "rpt_retain_churn", "rpt_send_days", "rpt_trend",
    ]  # fmt: skip

    with duckdb.connect(str(sample_run.serving / "optout.duckdb"), read_only=True) as connection:
        assert sorted(row[0] for row in connection.sql(REPORTING_NAMES).fetchall()) == sorted(names)
        table_rows = dict(
            connection.sql(
                "select table_name, row_count from serving.tables where table_schema = 'reporting'"
            ).fetchall()
        )
        tables = {}
        for name in names:
            relation = connection.sql(f"select * from reporting.{name}")
            assert relation.columns[:3] == list(PERIOD_COLUMNS)
            assert table_rows[name] == len(relation.fetchall())
            tables[name] = typed_rows(relation)
            for period in periods:
                rows = connection.sql(
                    f"select * exclude (period, period_start, period_end) from reporting.{name} "
                    f"where period = '{period.name}' and period_start = '{period.start}' "
                    f"and period_end = '{period.end}'"
                )
                # the view's columns, types and rows for the period's range
                assert typed_rows(rows) == views[(name, period.name)], (name, period.name)
        send_days = dict(
            connection.sql("select period, count(*) from reporting.rpt_send_days group by period").fetchall()
        )
        top = connection.sql(
            "select campaign_id, attributed_opt_outs_in_range from reporting.rpt_campaigns "
            "where period = 'last_week' and campaign_rank = 1"
        ).fetchall()
    # one row per covered day of each period: the last 7, then all 21 days twice
    assert (
        send_days == {"last_week": 7, "last_month": 21, "last_year": 21} and table_rows["rpt_send_days"] == 49
    )
    # the top campaign of the last week, as the report of those days names it
    assert top == [(headline["top_campaign_id"], headline["top_campaign_opt_outs"])]
    # the Parquet files hold the same rows, types included
    with duckdb.connect() as files:
        for name in names:
            path = sample_run.serving / "reporting" / f"{name}.parquet"
            assert typed_rows(files.sql(f"select * from read_parquet('{path}')")) == tables[name], name
    assert (sample_run.serving / "reporting").resolve().parent == current_snapshot(sample_run.serving)


def test_a_duckdb_1_4_client_reads_every_row_of_the_serving_copy(sample_run, tmp_path):
    """BI drivers lag behind DuckDB: a 1.4 client (from the package registry) must open the file."""
    client = tmp_path / "duckdb14"
    venv.EnvBuilder(with_pip=True).create(client)
    subprocess.run(
        [client / "bin" / "python", "-m", "pip", "install", "--quiet", "duckdb>=1.4,<1.5"],
        check=True,
        timeout=600,
    )
    out = tmp_path / "read_by_1_4"
    script = textwrap.dedent(
        f"""
        import duckdb, pathlib
        out = pathlib.Path({str(out)!r})
        connection = duckdb.connect({str(sample_run.serving / "optout.duckdb")!r}, read_only=True)
        print(duckdb.__version__)
        for schema, table in connection.sql(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('marts', 'audit', 'reporting')"
        ).fetchall():
            (out / schema).mkdir(parents=True, exist_ok=True)
            connection.sql(f"copy {{schema}}.{{table}} to '{{out / schema / table}}.parquet' (format parquet)")
        """
    )
    version = subprocess.run(
        [client / "bin" / "python", "-c", script], check=True, capture_output=True, text=True, timeout=300
    ).stdout.strip()
    assert version.startswith("1.4."), version
    # what the 1.4 client read, written back out, equals the warehouse row for row
    assert parquet_tables(out) == warehouse_tables(sample_run.warehouse)
    # and the reporting tables equal the copy's
    read = sorted((out / "reporting").glob("*.parquet"))
    assert len(read) == 10
    with duckdb.connect(str(sample_run.serving / "optout.duckdb"), read_only=True) as connection:
        for path in read:
            assert typed_rows(connection.sql(f"select * from read_parquet('{path}')")) == typed_rows(
                connection.sql(f"select * from reporting.{path.stem}")
            ), path.stem


READER = textwrap.dedent(
    """
    import duckdb, json, sys, time, pathlib
    serving, stop, out = map(pathlib.Path, sys.argv[1:4])
    held = duckdb.connect(str(serving / "optout.duckdb"), read_only=True)  # kept open all along
    seen = {"held": [], "fresh": [], "parquet": [], "errors": [], "queries": 0}
    CONSISTENT = '''
        select s.snapshot_id, t.row_count = (select count(*) from marts.fct_opt_outs)
        from serving.snapshot as s, serving.tables as t
        where t.table_schema = 'marts' and t.table_name = 'fct_opt_outs'
    '''
    while not stop.exists():
        try:
            seen["held"].append(held.sql(CONSISTENT).fetchall()[0])
            with duckdb.connect(str(serving / "optout.duckdb"), read_only=True) as fresh:
                seen["fresh"].append(fresh.sql(CONSISTENT).fetchall()[0])
            with duckdb.connect() as files:
                seen["parquet"].append(files.sql(
                    f"select (select snapshot_id from '{serving}/serving/snapshot.parquet'),"
                    f" (select count(*) from '{serving}/marts/mart_opt_out_daily.parquet')"
                ).fetchall()[0])
            seen["queries"] += 3
        except Exception as exc:  # every failure is the finding
            seen["errors"].append(repr(exc))
        time.sleep(0.01)
    out.write_text(json.dumps(seen))
    """
)


def test_readers_never_fail_or_block_a_run_and_see_whole_snapshots(workspace, dbt_manifest, tmp_path):
    generate(workspace.landing, SAMPLE_START, 6, 250, seed=5)
    workspace.optout("run")
    before = current_snapshot(workspace.serving).name

    stop, out = tmp_path / "stop", tmp_path / "reader.json"
    reader = subprocess.Popen([sys.executable, "-c", READER, workspace.serving, stop, out])
    try:
        time.sleep(2)  # the reader holds the copy open before the run starts
        run = start_optout(workspace, "run", "--start", "2026-01-03", "--end", "2026-01-03")
        output, _ = run.communicate(timeout=900)
        time.sleep(1)
    finally:
        stop.touch()
        reader.wait(timeout=120)
    assert run.returncode == 0, output[-3000:]  # the writer never waited for the reader
    seen = json.loads(out.read_text())
    assert seen["errors"] == [] and seen["queries"] > 30, seen["errors"][:3]

    after = current_snapshot(workspace.serving).name
    assert after != before
    # a connection opened before keeps its snapshot; every read was of one whole snapshot
    assert {tuple(row) for row in seen["held"]} == {(before, True)}
    assert {tuple(row) for row in seen["fresh"]} <= {(before, True), (after, True)}
    assert seen["fresh"][0][0] == before and seen["fresh"][-1][0] == after
    assert [row[0] for row in seen["parquet"]][-1] == after
    assert snapshot_row(workspace.serving)["snapshot_id"] == after  # a new connection sees the new one


def test_a_publish_that_fails_leaves_the_last_snapshot_and_nothing_else(sample_run, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(sample_run.warehouse, warehouse)
    serving = tmp_path / "serving"
    first = publish_serving_copy(warehouse, serving, "run-good")
    published = parquet_tables(serving)

    # the marts were rebuilt and failed their checks: nothing is published from them
    marts_builds.start_build(warehouse, "run-bad")
    marts_builds.mark_failed(warehouse, "run-bad", "ge_marts_suite: a reconciliation failed")
    with pytest.raises(MartsNotReadyError, match="failed: ge_marts_suite"):
        publish_serving_copy(warehouse, serving, "run-bad")
    # a folder where a stable name must be: refused before anything changed
    marts_builds.start_build(warehouse, "run-next")
    marts_builds.finish_build(
        warehouse, "run-next", *marts_builds.read_checked_export_days(sample_run.warehouse)[:2]
    )
    marts_builds.mark_passed(warehouse, "run-next")
    (serving / "audit").unlink()
    (serving / "audit").mkdir()
    with pytest.raises(FileWriteError, match="audit is a folder optout did not write"):
        publish_serving_copy(warehouse, serving, "run-next")

    assert current_snapshot(serving).name == first.snapshot_id
    assert [p.name for p in (serving / SNAPSHOTS).iterdir()] == [first.snapshot_id]  # no half-written one
    (serving / "audit").rmdir()
    os.symlink("current/audit", serving / "audit")
    assert parquet_tables(serving) == published

    # two publishes later only the current snapshot and the one before it are kept
    ids = [publish_serving_copy(warehouse, serving, f"run-{n}").snapshot_id for n in range(3)]
    assert sorted(p.name for p in (serving / SNAPSHOTS).iterdir()) == ids[-2:]
    assert current_snapshot(serving).name == ids[-1]
