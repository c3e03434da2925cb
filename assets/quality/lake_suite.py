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
    paths = [lake.day_dir(lake_dir, table, d) / file_name for d in days]
    paths = [p for p in paths if p.exists()]
    return pl.read_parquet(paths) if paths else None


def records_frame(lake_dir: Path, table: str, days: list[dt.date]) -> pl.DataFrame:
    """The loaded records, with the bounds of their times as seconds (easy to expect on)."""
    frame = _read(lake_dir, table, days, lake.DATA_FILE)
    if frame is None:
        frame = pl.DataFrame(schema=typed_schema(TABLES[table]))
    contract = TABLES[table]
    own_time = next(c.name for c in contract.columns if c.own_time)
    day_end = pl.col("export_date").cast(pl.Datetime("us", "UTC")) + pl.duration(days=1) + CLOCK_SKEW
    timestamps = [c.name for c in contract.columns if c.kind == "timestamp"]
    return frame.with_columns(
        (pl.col(own_time) - day_end).dt.total_seconds().alias("_seconds_after_day_end"),
        pl.min_horizontal([(pl.col(c) - pl.lit(EARLIEST)).dt.total_seconds() for c in timestamps]).alias(
            "_seconds_after_2000"
        ),
    )


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
    import great_expectations as gx

    contract = TABLES[table]
    columns = [*typed_schema(contract), "_seconds_after_day_end", "_seconds_after_2000"]
    expectations = [gx.expectations.ExpectTableColumnsToMatchSet(column_set=columns, exact_match=True)]
    for column in contract.columns:
        if column.required:
            expectations.append(gx.expectations.ExpectColumnValuesToNotBeNull(column=column.name))
        if column.kind == "enum":
            expectations.append(
                gx.expectations.ExpectColumnValuesToBeInSet(column=column.name, value_set=list(column.values))
            )
    if contract.event_id:
        # once per export day; a repeat on a later day is a duplicate told apart in SQL
        expectations.append(
            gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=["export_date", "event_id"])
        )
    expectations += [
        gx.expectations.ExpectColumnValuesToBeBetween(column="_seconds_after_day_end", max_value=0),
        gx.expectations.ExpectColumnValuesToBeBetween(column="_seconds_after_2000", min_value=0),
    ]
    return expectations


def log_expectations() -> list:
    import great_expectations as gx

    return [
        gx.expectations.ExpectColumnValuesToBeBetween(
            column="quarantine_share", min_value=0, max_value=max_quarantine_share()
        ),
        gx.expectations.ExpectColumnValuesToBeBetween(column="balance", min_value=0, max_value=0),
    ]


def validate_lake(lake_dir: Path, table: str, days: list[dt.date]) -> list[SuiteOutcome]:
    return [
        run_suite(f"lake_{table}_records", records_frame(lake_dir, table, days), lake_expectations(table)),
        run_suite(f"lake_{table}_ingestion", log_frame(lake_dir, table, days), log_expectations()),
    ]
