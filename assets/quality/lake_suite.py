"""Expectations on the lake: what every loaded record and ingested day must satisfy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from assets.contract import TABLES
from assets.ingest import lake
from assets.ingest.validate import CLOCK_SKEW, typed_schema
from assets.quality.suites import MIN_RECORDS_FOR_SHARE, SuiteOutcome, max_quarantine_share, run_suite

EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _read(lake_dir: Path, table: str, days: list[dt.date], file_name: str) -> pl.DataFrame | None:
    paths = _paths(lake_dir, table, days, file_name)
    return pl.read_parquet(paths) if paths else None


def _paths(lake_dir: Path, table: str, days: list[dt.date], file_name: str) -> list[Path]:
    paths = [lake.day_dir(lake_dir, table, d) / file_name for d in days]
    return [p for p in paths if p.exists()]


def records_profile(lake_dir: Path, table: str, days: list[dt.date]) -> tuple[pl.DataFrame, list[str]]:
    """Per export day, how many loaded records break each rule (all zero when the day is sound),
    and the columns the lake files hold.

    Counted by polars in one streaming pass: a year of records is never held in memory (nor
    handed to GE row by row), and the expectations judge one row per day.
    """
    paths = _paths(lake_dir, table, days, lake.DATA_FILE)
    if not paths:
        return pl.DataFrame(
            schema={"export_date": pl.Date, **dict.fromkeys(_rule_names(table), pl.UInt32)}
        ), []
    scan = pl.scan_parquet(paths)
    columns = scan.collect_schema().names()
    profile = scan.group_by("export_date").agg(_rules(table).values()).sort("export_date")
    return profile.collect(engine="streaming"), columns


def _rules(table: str) -> dict[str, pl.Expr]:
    """Count of records breaking each rule (a name that says what is wrong), per group."""
    contract = TABLES[table]
    rules: dict[str, pl.Expr] = {}
    for column in contract.columns:
        if column.required:
            rules[f"missing_{column.name}"] = pl.col(column.name).null_count()
        if column.kind == "enum":
            outside = pl.col(column.name).is_not_null() & ~pl.col(column.name).is_in(column.values)
            rules[f"outside_values_{column.name}"] = outside.sum()
    if contract.event_id:
        # once per export day; a repeat on a later day is a duplicate told apart in SQL
        rules["repeated_event_id"] = pl.len() - pl.col("event_id").n_unique()
    own_time = next(c.name for c in contract.columns if c.own_time)
    day_end = pl.col("export_date").cast(pl.Datetime("us", "UTC")) + pl.duration(days=1) + CLOCK_SKEW
    rules[f"{own_time}_after_day_end"] = (pl.col(own_time) > day_end).sum()
    timestamps = [c.name for c in contract.columns if c.kind == "timestamp"]
    before_2000 = pl.any_horizontal([pl.col(c) < pl.lit(EARLIEST) for c in timestamps])
    rules["timestamp_before_2000"] = before_2000.sum()
    return {name: expr.cast(pl.UInt32).alias(name) for name, expr in rules.items()}


def _rule_names(table: str) -> list[str]:
    return list(_rules(table))


def log_frame(lake_dir: Path, table: str, days: list[dt.date]) -> pl.DataFrame:
    """Per export day: whether its counts balance; plus the run's quarantine share (all days).

    The share is taken over the whole run, and only once the run read MIN_RECORDS_FOR_SHARE
    records of the table, so a small day or table with a couple of bad records does not
    block the marts; a feed whose records turned bad wholesale does.
    """
    frame = _read(lake_dir, table, days, lake.LOG_FILE)
    if frame is None:
        return pl.DataFrame(schema={"balance": pl.Int64, "quarantine_share": pl.Float64})
    read = frame["records_read"].sum()
    # a handful of records (a small dimension table) says nothing about the feed's health
    share = frame["records_quarantined"].sum() / read if read >= MIN_RECORDS_FOR_SHARE else 0.0
    return frame.select(
        (
            pl.col("records_read")
            - pl.col("records_loaded")
            - pl.col("records_quarantined")
            - pl.col("records_duplicate")
        ).alias("balance"),
        pl.lit(share, pl.Float64).alias("quarantine_share"),
    )


def lake_expectations(table: str) -> list:
    """On the per-day profile: every rule broken by no record of any day."""
    import great_expectations as gx

    return [
        gx.expectations.ExpectColumnValuesToBeBetween(column=name, min_value=0, max_value=0)
        for name in _rule_names(table)
    ]


def column_expectations(table: str) -> list:
    """The lake files hold exactly the typed columns and lineage."""
    import great_expectations as gx

    return [
        gx.expectations.ExpectTableColumnsToMatchSet(
            column_set=list(typed_schema(TABLES[table])), exact_match=True
        )
    ]


def log_expectations() -> list:
    import great_expectations as gx

    return [
        gx.expectations.ExpectColumnValuesToBeBetween(
            column="quarantine_share", min_value=0, max_value=max_quarantine_share()
        ),
        gx.expectations.ExpectColumnValuesToBeBetween(column="balance", min_value=0, max_value=0),
    ]


def validate_lake(lake_dir: Path, table: str, days: list[dt.date]) -> list[SuiteOutcome]:
    profile, columns = records_profile(lake_dir, table, days)
    # the column set is judged on an empty frame of the files' columns: no record is needed
    columns_frame = pl.DataFrame(schema=dict.fromkeys(columns or typed_schema(TABLES[table]), pl.String))
    return [
        run_suite(f"lake_{table}_columns", columns_frame, column_expectations(table)),
        run_suite(f"lake_{table}_records", profile, lake_expectations(table)),
        run_suite(f"lake_{table}_ingestion", log_frame(lake_dir, table, days), log_expectations()),
    ]
