"""Daily incremental runs give exactly the marts of one full refresh (and of the reference)."""

import datetime as dt

import duckdb
import polars as pl
import pytest

from assets.contract import TABLE_NAMES
from assets.generator.run import generate
from assets.ingest.day import ingest_table_day
from orchestration.dbt_assets import dbt_build_args
from tests.dbt_runner import dbt
from tests.reference.compare import KEYS, differences, warehouse_rows
from tests.reference.metrics import all_marts

START = dt.date(2026, 1, 1)
DAYS = 12


# tables the reference does not compute, held to incremental = full refresh all the same
# (the delivery exposures are incremental; the alert marts read them)
EXACT_TABLES = (
    "intermediate.int_delivery_exposures",
    "marts.mart_campaign_alerts",
    "marts.mart_opt_out_rate_alerts",
)


def _snapshot(warehouse):
    return {table: warehouse_rows(warehouse, table) for table in KEYS}


def _sorted_rows(warehouse, table):
    """Every row of `table`, floats rounded to 9 digits (sums in another order), sorted."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        frame = connection.table(table).pl()
    frame = frame.with_columns(pl.col(pl.Float64).round(9))
    return frame.sort(frame.columns, nulls_last=True).to_dicts()


def test_day_by_day_equals_full_refresh(workspace, dbt_manifest, monkeypatch):
    generate(workspace.landing, START, DAYS, 400, seed=21)
    for offset in range(DAYS):
        day = START + dt.timedelta(days=offset)
        for table in TABLE_NAMES:
            ingest_table_day(workspace.landing, workspace.lake, table, day)
        # the daily schedule's shape: re-ingest the late-arrival days, rebuild from the first
        if offset >= 2:
            for table in TABLE_NAMES:
                ingest_table_day(workspace.landing, workspace.lake, table, day - dt.timedelta(days=2))
        # the first build has no incremental table to start from: a full one (as rebuild_start_date does)
        dbt(*dbt_build_args(False, max(START, day - dt.timedelta(days=2)) if offset else None, day))

    # an old day is delivered again with corrected content (the sensor's case): one of its
    # subscription files is withdrawn, the day re-ingested, the marts rebuilt from it
    corrected = START + dt.timedelta(days=3)
    folder = workspace.landing / "subscriptions" / f"dt={corrected}"
    withdrawn = sorted(p for p in folder.iterdir() if p.name.startswith("export-"))[0]
    withdrawn.unlink()
    ingest_table_day(workspace.landing, workspace.lake, "subscriptions", corrected)
    dbt(*dbt_build_args(False, corrected, START + dt.timedelta(days=DAYS - 1)))
    incremental = _snapshot(workspace.warehouse)
    incremental_exact = {table: _sorted_rows(workspace.warehouse, table) for table in EXACT_TABLES}

    dbt("build", "--full-refresh")
    full = _snapshot(workspace.warehouse)
    for table in EXACT_TABLES:
        rows = _sorted_rows(workspace.warehouse, table)
        assert rows, table
        assert incremental_exact[table] == rows, table
    expected = all_marts(workspace.lake)
    for table in KEYS:
        assert differences(table, incremental[table], full[table]) == [], table
        assert differences(table, full[table], expected[table]) == [], table
        assert len(incremental[table]) == len(expected[table])


def test_a_start_date_while_an_incremental_model_is_missing_fails_loudly(workspace, dbt_manifest):
    # never a mart silently built from the horizon only (the pipeline then rebuilds it whole)
    generate(workspace.landing, START, 2, 100, seed=3)
    for table in TABLE_NAMES:
        ingest_table_day(workspace.landing, workspace.lake, table, START)
    with pytest.raises(AssertionError, match="would build it from that horizon only"):
        dbt("build", "--select", "stg_lake__messages", vars={"start_date": str(START)})
