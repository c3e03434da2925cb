"""Generated data through `optout run` (Dagster, dbt): audit reconciles, marts equal the reference."""

import datetime as dt

import duckdb
import polars as pl
import pytest

from tests.helpers import write_good_messages
from tests.reference.compare import KEYS, differences, warehouse_rows
from tests.reference.metrics import all_marts


# the quick tier's end-to-end run: the sample through `optout run`, audited and checked
# against the independent reference
@pytest.mark.quick
def test_audit_reconciles_for_every_table_and_day(sample_run):
    with duckdb.connect(str(sample_run.warehouse), read_only=True) as connection:
        log = connection.table("audit.ingestion_log").pl()
        quarantine = connection.table("audit.quarantine").pl()
    assert log.height == 5 * 21
    assert (
        log["records_read"] == log["records_loaded"] + log["records_quarantined"] + log["records_duplicate"]
    ).all()
    per_day = quarantine.group_by("table_name", "export_date").len()
    joined = log.join(per_day, on=["table_name", "export_date"], how="left").with_columns(
        pl.col("len").fill_null(0)
    )
    assert (joined["len"] == joined["records_quarantined"]).all()
    assert log["records_quarantined"].sum() > 0 and log["records_duplicate"].sum() > 0


@pytest.mark.quick
@pytest.mark.parametrize("table", sorted(KEYS))
def test_mart_equals_the_independent_reference(sample_run, table):
    expected = all_marts(sample_run.lake)[table]
    actual = warehouse_rows(sample_run.warehouse, table)
    assert len(actual) == len(expected)
    assert differences(table, actual, expected) == []


def test_run_prints_a_summary_with_headline_numbers(sample_run):
    result = sample_run.optout("run", "--start", "2026-01-21", "--end", "2026-01-21")
    assert "Summary for export days 2026-01-21 .. 2026-01-21" in result.stdout
    # the headlines of the run's report: its range is the last 30 days, from the first ingested
    with duckdb.connect(str(sample_run.warehouse), read_only=True) as connection:
        facts = connection.table("marts.fct_opt_outs").pl()
        log = connection.table("audit.ingestion_log").pl()
    in_range = facts.filter(pl.col("opt_out_date").is_between(dt.date(2026, 1, 1), dt.date(2026, 1, 21)))
    assert f"2026-01-01 .. 2026-01-21 (the report's range): {in_range.height} opt-outs" in result.stdout
    top = (
        in_range.group_by("last_received_campaign_id")
        .len()
        .drop_nulls()
        .sort(["len", "last_received_campaign_id"], descending=[True, False])
    )
    assert f"top campaign #1: {top['last_received_campaign_id'][0]} " in result.stdout
    assert f"{top['len'][0]} attributed opt-outs in the range" in result.stdout
    # and what the run's own day ingested, over its tables, from the audit log
    day = log.filter(pl.col("export_date") == dt.date(2026, 1, 21))
    assert (
        f"  ingested 1 day of 5 tables: {day['records_read'].sum():,} records read, "
        f"{day['records_loaded'].sum():,} loaded, {day['records_quarantined'].sum():,} quarantined "
        f"(audit.quarantine), {day['records_duplicate'].sum():,} duplicate" in result.stdout
    )


def test_run_fails_with_one_line_reason_on_a_corrupt_file(workspace, dbt_manifest):
    write_good_messages(workspace.landing, ["2026-01-01", "2026-01-02", "2026-01-03"])
    (workspace.landing / "messages" / "dt=2026-01-02" / "part.csv.gz").write_bytes(
        b"\x1f\x8b\x08\x00 definitely not gzip"
    )
    result = workspace.optout("run", "--start", "2026-01-01", "--end", "2026-01-03", check=False)
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("optout run: ") and "part.csv.gz" in last_line and "2026-01-02" in last_line
    # the other days of the run are ingested; the broken day is not half-loaded
    assert [d.name for d in sorted((workspace.lake / "messages").glob("dt=*"))] == [
        "dt=2026-01-01",
        "dt=2026-01-03",
    ]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "OPTOUT_DBT_TARGET",
            "postgres",
            "optout run: OPTOUT_DBT_TARGET='postgres' is not one of duckdb, spark",
        ),
        (
            "OPTOUT_FIRST_DAY",
            "01/01/2026",
            "optout run: OPTOUT_FIRST_DAY='01/01/2026' is not a date (YYYY-MM-DD)",
        ),
    ],
)
@pytest.mark.quick
def test_a_setting_a_user_got_wrong_is_one_line(workspace, monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    result = workspace.optout("run", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == message


def test_run_refuses_days_before_the_first_partition_day(workspace, monkeypatch):
    monkeypatch.setenv("OPTOUT_FIRST_DAY", "2026-01-01")
    result = workspace.optout("run", "--start", "2025-12-31", "--end", "2026-01-02", check=False)
    assert result.returncode == 1
    assert "OPTOUT_FIRST_DAY" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.quick
def test_relative_paths_as_in_a_fresh_clone(workspace, monkeypatch):
    """The defaults are relative to the repository root (data/lake, ...): the views over the lake
    must still read it from wherever they are queried (the serving copy, a BI tool)."""
    import os

    from assets.config import REPO_ROOT
    from assets.generator.run import generate

    generate(workspace.landing, dt.date(2026, 1, 1), 3, 80, seed=3)
    for name in ("OPTOUT_LANDING_DIR", "OPTOUT_LAKE_DIR", "OPTOUT_WAREHOUSE", "OPTOUT_SERVING_DIR"):
        monkeypatch.setenv(name, os.path.relpath(os.environ[name], REPO_ROOT))
    workspace.env = lambda: {}  # the relative values above, not the workspace's absolute ones
    result = workspace.optout("run")
    assert "BI copy:" in result.stdout
    with duckdb.connect(str(workspace.warehouse), read_only=True) as connection:
        logged = connection.sql("select count(*) from audit.ingestion_log").fetchall()[0][0]
    assert logged == 5 * 3  # read from this test's folder, not dbt's
