"""Type and validate a file's records against the contract, giving each bad record its reason.

The reason of a record with several faults is the first one in the order of the contract's
"Bad input" table, columns in contract order; all of it is one vectorized expression.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from assets.contract import MALFORMED, Table
from assets.ingest.readers import RAW, RECORD_NUMBER, FileRecords, raw_text_expr
from assets.ingest.timestamps import EARLIEST_VALID, parse_timestamp, timestamp_parts

CLOCK_SKEW = dt.timedelta(hours=1)
REASON = "_reason"
SOURCE_FILE = "_source_file"

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


def _reason(table: Table) -> pl.Expr:
    """The first fault of each record (null when valid); its export day is the `export_date` column."""
    day_end = pl.col("export_date").cast(pl.Datetime("us", "UTC")) + pl.duration(days=1)
    latest_own_time = day_end + pl.lit(CLOCK_SKEW)
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


@dataclass
class Delivery:
    """One landing file's records and the export day that delivered it."""

    export_day: dt.date
    read: FileRecords


def validate_files(table: Table, deliveries: list[Delivery]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(typed valid records, quarantine rows) of files of one or more days, in delivery then record order.

    Every file's contract columns go through one lazy plan, collected once: a plan costs
    milliseconds to build and optimize whatever its size, so a batch of days pays it once,
    not every file. Both outputs carry `export_date`, to split them by day.
    """
    file_index = "_file_index"
    timestamps = [c.name for c in table.columns if c.kind == "timestamp"]
    stacked = pl.concat(
        [
            _contract_columns(table, delivery.read.records).with_columns(
                pl.lit(index, pl.Int32).alias(file_index),
                pl.lit(delivery.read.file_name, pl.String).alias(SOURCE_FILE),
                pl.lit(delivery.export_day, pl.Date).alias("export_date"),
            )
            for index, delivery in enumerate(deliveries)
        ]
        or [pl.DataFrame(schema=_stacked_schema(table, file_index))]
    )
    checked = (
        stacked.lazy()
        .with_columns(_cleaned(table))
        .with_columns(timestamp_parts(pl.col(c)).alias(f"_parts_{c}") for c in timestamps)
        .with_columns(parse_timestamp(pl.col(c), pl.col(f"_parts_{c}")).alias(f"_ts_{c}") for c in timestamps)
        .with_columns(_reason(table).alias(REASON))
    )
    valid_plan = (
        checked.filter(pl.col(REASON).is_null())
        .select(
            *(
                pl.col(f"_ts_{c.name}").alias(c.name) if c.kind == "timestamp" else pl.col(c.name)
                for c in table.columns
            ),
            pl.col("export_date"),
            pl.col(SOURCE_FILE).alias("source_file"),
            pl.col(RECORD_NUMBER).alias("record_number"),
        )
        .cast(typed_schema(table))
    )
    bad_plan = checked.filter(pl.col(REASON).is_not_null()).select(file_index, RECORD_NUMBER, REASON)
    valid, bad = pl.collect_all([valid_plan, bad_plan])
    by_file = bad.partition_by(file_index, as_dict=True) if bad.height else {}
    quarantine = [
        _file_quarantine(table, delivery, by_file.get((index,)))
        for index, delivery in enumerate(deliveries)
        if delivery.read.malformed.height or (index,) in by_file
    ]
    return valid, pl.concat(quarantine) if quarantine else pl.DataFrame(schema=QUARANTINE_SCHEMA)


def _stacked_schema(table: Table, file_index: str) -> dict[str, pl.DataType]:
    return {
        **dict.fromkeys(table.column_names, pl.String),
        RECORD_NUMBER: pl.Int64,
        file_index: pl.Int32,
        SOURCE_FILE: pl.String,
        "export_date": pl.Date,
    }


def _contract_columns(table: Table, records: pl.DataFrame) -> pl.DataFrame:
    """The contract's columns of a file (a missing one null) and the record number."""
    return records.select(
        *(
            pl.col(c) if c in records.columns else pl.lit(None, pl.String).alias(c)
            for c in table.column_names
        ),
        RECORD_NUMBER,
    )


def _file_quarantine(table: Table, delivery: Delivery, bad: pl.DataFrame | None) -> pl.DataFrame:
    """One file's quarantine rows: its malformed records and those a rule refused, by record number."""
    read = delivery.read
    malformed = read.malformed.lazy().select(
        pl.col(RECORD_NUMBER).alias("record_number"),
        pl.col(RAW).alias("raw_record"),
        pl.lit(MALFORMED).alias("reason"),
    )
    parts = [malformed]
    if bad is not None:
        # the raw text is the file's own fields, before cleaning (a missing column shown empty)
        missing = [c for c in table.column_names if c not in read.records.columns]
        fields = [c for c in read.records.columns if not c.startswith("_")] + missing
        lineage = [RECORD_NUMBER, RAW] if read.format == "jsonl" else [RECORD_NUMBER]
        refused = (
            read.records.lazy()
            .select(*fields[: len(fields) - len(missing)], *lineage)
            .with_columns(pl.lit(None, pl.String).alias(c) for c in missing)
            .join(bad.lazy().select(RECORD_NUMBER, REASON), on=RECORD_NUMBER, maintain_order="left")
        )
        parts.append(
            refused.select(
                pl.col(RECORD_NUMBER).alias("record_number"),
                raw_text_expr(fields or None, read.format).alias("raw_record"),
                pl.col(REASON).alias("reason"),
            )
        )
    return (
        pl.concat(parts, how="vertical_relaxed")
        .with_columns(
            pl.lit(table.name).alias("table_name"),
            pl.lit(delivery.export_day).alias("export_date"),
            pl.lit(read.file_name).alias("file_name"),
        )
        .select(list(QUARANTINE_SCHEMA))
        .cast(QUARANTINE_SCHEMA)
        .sort("record_number")
        .collect()
    )
