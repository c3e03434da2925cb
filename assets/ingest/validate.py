"""Type and validate a file's records against the contract, giving each bad record its reason.

The reason of a record with several faults is the first one in the order of the contract's
"Bad input" table, columns in contract order; all of it is one vectorized expression.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from assets.contract import MALFORMED, Table
from assets.ingest.readers import RAW, RECORD_NUMBER, FileRecords, raw_text
from assets.ingest.timestamps import EARLIEST_VALID, parse_timestamp

CLOCK_SKEW = dt.timedelta(hours=1)
REASON = "_reason"

QUARANTINE_SCHEMA = {
    "table_name": pl.String,
    "export_date": pl.Date,
    "file_name": pl.String,
    "record_number": pl.Int64,
    "raw_record": pl.String,
    "reason": pl.String,
}


def typed_schema(table: Table) -> dict[str, pl.DataType]:
    types = {"timestamp": pl.Datetime("us", "UTC")}
    schema: dict[str, pl.DataType] = {c.name: types.get(c.kind, pl.String) for c in table.columns}
    schema.update(export_date=pl.Date, source_file=pl.String, record_number=pl.Int64)
    return schema


def _cleaned(table: Table) -> list[pl.Expr]:
    """Contract columns as the typed tables keep them (enums lower case, trimmed)."""
    exprs = []
    for column in table.columns:
        value = pl.col(column.name)
        if column.kind == "enum" or column.name == "event_name":
            value = value.str.strip_chars()
        if column.kind == "enum":
            value = value.str.to_lowercase()
        exprs.append(pl.when(value != "").then(value).alias(column.name))
    return exprs


def _reason(table: Table, export_day: dt.date) -> pl.Expr:
    day_end = dt.datetime.combine(export_day + dt.timedelta(days=1), dt.time(), dt.UTC)
    latest_own_time = pl.lit(day_end + CLOCK_SKEW).cast(pl.Datetime("us", "UTC"))
    rules: list[tuple[pl.Expr, str]] = []
    for column in table.columns:
        if column.required:
            rules.append((pl.col(column.name).is_null(), f"missing_required:{column.name}"))
    for column in table.columns:
        if column.kind == "enum":
            rules.append(
                (
                    pl.col(column.name).is_not_null() & ~pl.col(column.name).is_in(column.values),
                    f"invalid_value:{column.name}",
                )
            )
        if column.name == "error_code":
            failed = pl.col("event_type") == "failed"
            rules.append((failed == pl.col("error_code").is_null(), "invalid_value:error_code"))
    for column in table.columns:
        if column.kind != "timestamp":
            continue
        parsed = pl.col(f"_ts_{column.name}")
        unparsable = pl.col(column.name).is_not_null() & (parsed.is_null() | (parsed < EARLIEST_VALID))
        rules.append((unparsable, f"invalid_timestamp:{column.name}"))
        if column.own_time:
            rules.append((parsed > latest_own_time, f"future_timestamp:{column.name}"))
    return pl.coalesce([pl.when(cond).then(pl.lit(reason)) for cond, reason in rules])


def validate_file(table: Table, export_day: dt.date, read: FileRecords) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(typed valid records, quarantine rows) of one file; every record lands in one of them."""
    records = read.records
    missing = [c for c in table.column_names if c not in records.columns]
    records = records.with_columns(pl.lit(None, pl.String).alias(c) for c in missing)
    timestamps = [c.name for c in table.columns if c.kind == "timestamp"]
    checked = (
        records.with_columns(_cleaned(table))
        .with_columns(parse_timestamp(pl.col(c)).alias(f"_ts_{c}") for c in timestamps)
        .with_columns(_reason(table, export_day).alias(REASON))
    )
    valid = (
        checked.filter(pl.col(REASON).is_null())
        .with_columns(pl.col(f"_ts_{c}").alias(c) for c in timestamps)
        .select(
            *table.column_names,
            pl.lit(export_day).alias("export_date"),
            pl.lit(read.file_name).alias("source_file"),
            pl.col(RECORD_NUMBER).alias("record_number"),
        )
        .cast(typed_schema(table))
    )
    bad_mask = checked[REASON].is_not_null()
    bad = records.filter(bad_mask)
    invalid = pl.DataFrame(
        {
            "record_number": bad[RECORD_NUMBER],
            "raw_record": raw_text(bad, read.format),
            "reason": checked[REASON].filter(bad_mask),
        }
    )
    malformed = read.malformed.select(
        pl.col(RECORD_NUMBER).alias("record_number"),
        pl.col(RAW).alias("raw_record"),
        pl.lit(MALFORMED).alias("reason"),
    )
    quarantine = (
        pl.concat([malformed, invalid], how="vertical_relaxed")
        .with_columns(
            pl.lit(table.name).alias("table_name"),
            pl.lit(export_day).alias("export_date"),
            pl.lit(read.file_name).alias("file_name"),
        )
        .select(list(QUARANTINE_SCHEMA))
        .cast(QUARANTINE_SCHEMA)
        .sort("record_number")
    )
    return valid, quarantine
