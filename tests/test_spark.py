"""The same dbt models on Spark (the `spark` target, a local pyspark session): proven parity.

A data set the other tests do not use is run through `optout run` on each engine; every
mart, audit table and export file must be the same, and equal the independent reference.
Then, on Spark alone, day-by-day builds with a late and a re-delivered day must equal a
full refresh. The Spark extra is part of the test install (tests/run.sh): a missing
pyspark fails these tests, it never skips them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from assets.config import REPO_ROOT, read_settings
from assets.contract import TABLE_NAMES
from assets.generator.run import generate
from assets.generator.simulate import default_plants
from assets.ingest.day import ingest_table_day
from orchestration.dbt_project import DBT_PROJECT_DIR
from orchestration.spark_build import publish_spark_tables
from tests.conftest import make_workspace
from tests.dbt_runner import dbt
from tests.reference.compare import INGESTION_TIME_COLUMNS, KEYS, differences, warehouse_rows
from tests.reference.metrics import all_marts

pytestmark = pytest.mark.spark

START = dt.date(2026, 3, 1)
DAYS = 21
# every mart, not only those the reference computes
MARTS = sorted(p.stem for p in (DBT_PROJECT_DIR / "models" / "marts").glob("*.sql"))
COMPARED_AUDIT = ["quarantine", "user_attributes_as_built"]  # ingestion_log: per-run times


def _table(warehouse, schema: str, table: str) -> tuple[list[tuple[str, str]], pl.DataFrame]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        columns = connection.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).fetchall()
        frame = connection.table(f"{schema}.{table}").pl()
    # each engine's run ingested the landing at its own time: where they are null only
    ingestion_times = INGESTION_TIME_COLUMNS.get(table, ()) if schema == "marts" else ()
    frame = frame.with_columns(pl.col(name).is_not_null() for name in ingestion_times)
    exact = [name for name, data_type in columns if data_type not in ("DOUBLE", "FLOAT")]
    return columns, frame.sort(exact, nulls_last=True)


@pytest.fixture(scope="module")
def both_engines(tmp_path_factory, dbt_manifest):
    """One generated data set (with the planted bad campaign), run on DuckDB and on Spark."""
    landing = tmp_path_factory.mktemp("spark-landing")
    generate(landing, START, DAYS, 700, seed=61, planted=default_plants(DAYS))
    runs = {}
    for engine in ("duckdb", "spark"):
        ws = make_workspace(tmp_path_factory.mktemp(f"parity-{engine}"))
        shutil.copytree(landing, ws.landing)
        result = subprocess.run(
            [sys.executable, "-m", "orchestration.cli", "run"],
            env={**_environ(), **ws.env(), "OPTOUT_DBT_TARGET": engine},
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=1200,
        )
        assert result.returncode == 0, f"{engine}: {result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        runs[engine] = (ws, result)
    return runs


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "OPTOUT_DBT_TARGET"}


@pytest.mark.parametrize(
    ("schema", "table"), [("marts", t) for t in MARTS] + [("audit", t) for t in COMPARED_AUDIT]
)
def test_spark_and_duckdb_give_identical_tables(both_engines, schema, table):
    duck, spark = both_engines["duckdb"][0], both_engines["spark"][0]
    duck_columns, duck_rows = _table(duck.warehouse, schema, table)
    spark_columns, spark_rows = _table(spark.warehouse, schema, table)
    assert spark_columns == duck_columns  # names, order and types
    assert duck_rows.height > 0 or table == "mart_campaign_alerts"
    assert_frame_equal(spark_rows, duck_rows, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("table", sorted(KEYS))
def test_spark_marts_equal_the_independent_reference(both_engines, table):
    spark = both_engines["spark"][0]
    expected = all_marts(spark.lake)[table]
    actual = warehouse_rows(spark.warehouse, table)
    assert len(actual) == len(expected) > 0
    assert differences(table, actual, expected) == []


def test_spark_and_duckdb_write_the_same_export_files(both_engines):
    duck, spark = both_engines["duckdb"][0], both_engines["spark"][0]
    duck_files = sorted(p.relative_to(duck.exports) for p in duck.exports.rglob("*.csv"))
    assert len(duck_files) >= 4  # the rolling ranges (last week, month, year) and the report's
    assert sorted(p.relative_to(spark.exports) for p in spark.exports.rglob("*.csv")) == duck_files
    for name in duck_files:
        assert (spark.exports / name).read_bytes() == (duck.exports / name).read_bytes(), name
        # and the same exact values (the CSV escapes formula cells; its Parquet file does not)
        parquet = name.with_suffix(".parquet")
        assert_frame_equal(pl.read_parquet(spark.exports / parquet), pl.read_parquet(duck.exports / parquet))
    alert_files = sorted((duck.exports / "alerts").glob("*.json"))
    assert alert_files
    for name in alert_files:
        duck_alerts, spark_alerts = (
            {k: v for k, v in json.loads(p.read_text()).items() if k != "generated_at"}
            for p in (name, spark.exports / "alerts" / name.name)
        )
        assert duck_alerts["campaign_alerts"], "the planted campaign is flagged"
        assert _close(spark_alerts, duck_alerts), (spark_alerts, duck_alerts)


def _close(a, b) -> bool:
    """Equal, floats to 1e-9, through nested lists and dicts (pytest.approx stops at one level)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return a == pytest.approx(b, rel=1e-9, abs=1e-12)
    return a == b


def test_spark_tables_sit_in_spark_layout_and_the_ui_shows_them(both_engines):
    spark, result = both_engines["spark"]
    for table in MARTS:
        folder = spark.spark_warehouse / "marts.db" / table
        assert list(folder.rglob("*.parquet")), f"no Parquet for marts.{table} in {folder}"
    # the daily marts are partitioned by their date, as an incremental model on Spark is
    assert list((spark.spark_warehouse / "marts.db" / "mart_opt_out_daily").glob("date=*"))
    # the Dagster assets: kind spark, row counts of what Spark built
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "from dagster import AssetKey, DagsterInstance\n"
            "from orchestration.definitions import defs\n"
            "key = AssetKey(['marts', 'fct_opt_outs'])\n"
            "print(sorted(defs().resolve_asset_graph().get(key).kinds))\n"
            "event = DagsterInstance.get().get_latest_materialization_event(key)\n"
            "print(event.asset_materialization.metadata['dagster/row_count'].value)\n",
        ],
        env={**_environ(), **spark.env(), "OPTOUT_DBT_TARGET": "spark"},
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    kinds, row_count = probe.stdout.strip().splitlines()[-2:]
    assert kinds == "['dbt', 'spark']"
    with duckdb.connect(str(spark.warehouse), read_only=True) as connection:
        assert int(row_count) == connection.execute("select count(*) from marts.fct_opt_outs").fetchone()[0]
    # Spark's own logging stays in the run's log file; the terminal shows the usual progress
    terminal = result.stdout + result.stderr
    assert not re.search(r"\d\d/\d\d/\d\d \d\d:\d\d:\d\d (WARN|INFO|ERROR) ", terminal)  # log4j's lines
    assert "SparkSession" not in terminal and "log4j" not in terminal
    log_file = re.search(r"^  full log:\s+(\S+)$", result.stdout, re.MULTILINE).group(1)
    assert re.search(r"\d\d/\d\d/\d\d \d\d:\d\d:\d\d WARN ", Path(log_file).read_text())  # kept there
    assert len(terminal.splitlines()) < 40
    assert "built on Spark: Parquet tables in " in result.stdout


def test_back_to_duckdb_after_spark_rebuilds_whole_and_agrees(both_engines):
    # the Spark build left views over its Parquet in the warehouse: a DuckDB build cannot
    # continue them incrementally, so it rebuilds every table whole (rebuild_start_date)
    duck, (spark, _) = both_engines["duckdb"][0], both_engines["spark"]
    last_day = str(START + dt.timedelta(days=DAYS - 1))
    result = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "run", "--start", last_day, "--end", last_day],
        env={**_environ(), **spark.env(), "OPTOUT_DBT_TARGET": "duckdb"},
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=1200,
    )
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    with duckdb.connect(str(spark.warehouse), read_only=True) as connection:
        kinds = dict(
            connection.execute(
                "select table_name, table_type from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        )
    assert set(kinds.values()) == {"BASE TABLE"}, kinds
    for table in MARTS:
        _, rows = _table(spark.warehouse, "marts", table)
        _, expected = _table(duck.warehouse, "marts", table)
        assert_frame_equal(rows, expected, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)


INCREMENTAL_START = dt.date(2026, 1, 1)


def _spark_snapshot(ws) -> dict[str, list[dict]]:
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "spark-test" / "manifest.json").read_text())
    publish_spark_tables(read_settings(), manifest)
    return {table: warehouse_rows(ws.warehouse, table) for table in KEYS}


def test_spark_day_by_day_equals_full_refresh(workspace, dbt_manifest, monkeypatch):
    monkeypatch.setenv("OPTOUT_DBT_TARGET", "spark")
    # as the pipeline's Spark step builds (orchestration/spark_build.py): no reporting views
    target = [
        "--target-path",
        str(DBT_PROJECT_DIR / "target" / "spark-test"),
        "--exclude",
        "reporting",
        "resource_type:unit_test",
    ]
    days = 7
    generate(workspace.landing, INCREMENTAL_START, days, 300, seed=23)
    workspace.warehouse.parent.mkdir(parents=True)
    for offset in range(days):
        day = INCREMENTAL_START + dt.timedelta(days=offset)
        for table in TABLE_NAMES:
            ingest_table_day(workspace.landing, workspace.lake, table, day)
        if offset not in (4, 6):
            continue  # a first build of five days, then one of two more (each Spark build is costly)
        # the daily schedule's shape: the late-arrival day again, rebuilt from it
        late = day - dt.timedelta(days=2)
        for table in TABLE_NAMES:
            ingest_table_day(workspace.landing, workspace.lake, table, late)
        dbt("build", *target, vars={"start_date": str(late)} if offset > 4 else None)

    # an old day delivered again with content withdrawn: its partitions must shrink
    corrected = INCREMENTAL_START + dt.timedelta(days=1)
    folder = workspace.landing / "subscriptions" / f"dt={corrected}"
    withdrawn = sorted(p for p in folder.iterdir() if p.name.startswith("export-"))[0]
    withdrawn.unlink()
    ingest_table_day(workspace.landing, workspace.lake, "subscriptions", corrected)
    dbt("build", *target, vars={"start_date": str(corrected)})
    incremental = _spark_snapshot(workspace)

    dbt("build", *target, "--full-refresh")
    full = _spark_snapshot(workspace)
    expected = all_marts(workspace.lake)
    for table in KEYS:
        assert differences(table, incremental[table], full[table]) == [], table
        assert differences(table, full[table], expected[table]) == [], table
        assert len(incremental[table]) == len(full[table]) == len(expected[table])
    assert sum(len(rows) for rows in full.values()) > 0
