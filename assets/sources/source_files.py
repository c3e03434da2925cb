"""Vendor files as ingestion saw them: per file, where each of its records went.

Every record of a vendor file ends in one place: mapped to a row of the contract's tables
(loaded), ignored (an event type or a channel the marts do not use), quarantined, or a
duplicate of an event id delivered before. Ingestion counts them per file and export day
into the lake (`source_files.parquet`, written by the table that owns the file's event
type); `audit.source_files` adds the duplicates only SQL can see (an id an earlier export
day delivered) and checks that the four add up to the file's records.

A record counts once however many rows it maps to (a push send is a `sent` and, when no
bounce follows, a `delivered` message): by its (file, record number).
"""

from __future__ import annotations

import polars as pl

SCHEMA = {
    "path": pl.String,  # relative to the landing folder
    "event_type": pl.String,  # the vendor's own name for the file's events
    "export_date": pl.Date,
    "table_name": pl.String,  # the table whose ingestion owns (and counts) the file
    "records": pl.Int64,  # records in the file (those of erased people left out)
    "ignored": pl.Int64,
    # mapped to another table than the owner only (their quarantine or repeats show there)
    "mapped_elsewhere": pl.Int64,
    "quarantined": pl.Int64,
    "duplicate_in_day": pl.Int64,  # repeats of an event id within the export day
    "loaded": pl.Int64,  # records with a row in the lake (an earlier day may hold the same id)
}

LISTED = ["path", "event_type", "export_date", "table_name", "records", "ignored", "mapped_elsewhere"]


def listed_files(rows: list[dict]) -> pl.DataFrame:
    """The files a table reads on a day, as the mapping counted them (`LISTED` columns)."""
    return pl.DataFrame(rows, schema={name: SCHEMA[name] for name in LISTED})


def file_counts(
    listed: pl.DataFrame | None,
    delivered: pl.DataFrame,
    loaded: pl.DataFrame,
    quarantine: pl.DataFrame,
    suppressed: pl.DataFrame | None,
) -> pl.DataFrame:
    """Per listed file: its records' outcomes. `delivered` holds the valid rows before the
    day's repeats are dropped, `loaded` after; `suppressed` the (file, record) of erased people."""
    if listed is None or listed.height == 0:
        return pl.DataFrame(schema=SCHEMA)
    delivered_records = _records(delivered, "source_file")
    loaded_records = _records(loaded, "source_file")
    quarantined_records = _records(quarantine, "file_name").join(
        delivered_records, on=["path", "record_number"], how="anti"
    )
    repeated_records = delivered_records.join(loaded_records, on=["path", "record_number"], how="anti")
    left_out = _records(suppressed, "source_file") if suppressed is not None else _records(None, "")
    counts = listed
    for name, records in (
        ("loaded", loaded_records),
        ("duplicate_in_day", repeated_records),
        ("quarantined", quarantined_records),
        ("suppressed", left_out),
    ):
        counts = counts.join(records.group_by("path").len(name), on="path", how="left")
    return counts.select(
        "path",
        "event_type",
        "export_date",
        "table_name",
        (pl.col("records") - pl.col("suppressed").fill_null(0)).alias("records"),
        "ignored",
        "mapped_elsewhere",
        pl.col("quarantined").fill_null(0),
        pl.col("duplicate_in_day").fill_null(0),
        pl.col("loaded").fill_null(0),
    ).cast(SCHEMA)


def _records(frame: pl.DataFrame | None, file_column: str) -> pl.DataFrame:
    """The distinct (path, record number) pairs of a frame's rows."""
    if frame is None or frame.height == 0:
        return pl.DataFrame(schema={"path": pl.String, "record_number": pl.Int64})
    return frame.select(pl.col(file_column).alias("path"), pl.col("record_number").cast(pl.Int64)).unique()
