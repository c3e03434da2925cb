"""Ingest one table's export day: read every file, validate, de-duplicate, replace the lake day."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

from assets.contract import TABLES
from assets.ingest import lake
from assets.ingest.readers import file_format, is_ignored, read_file
from assets.ingest.validate import QUARANTINE_SCHEMA, typed_schema, validate_file

LOG_SCHEMA = {
    "table_name": pl.String,
    "export_date": pl.Date,
    "files_read": pl.Int64,
    "records_read": pl.Int64,
    "records_loaded": pl.Int64,
    "records_quarantined": pl.Int64,
    "records_duplicate": pl.Int64,
    "ingested_at": pl.Datetime("us", "UTC"),
    "files": pl.List(pl.String),
    "unknown_files": pl.List(pl.String),
}


@dataclass
class DayResult:
    table_name: str
    export_date: dt.date
    files_read: int = 0
    records_read: int = 0
    records_loaded: int = 0
    records_quarantined: int = 0
    records_duplicate: int = 0
    ingested_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    files: list[str] = field(default_factory=list)
    unknown_files: list[str] = field(default_factory=list)

    def as_frame(self) -> pl.DataFrame:
        return pl.DataFrame([asdict(self)], schema=LOG_SCHEMA)


def landing_files(landing_dir: Path, table: str, day: dt.date) -> tuple[list[Path], list[str]]:
    """(files to read in name order, names of files with an extension the contract does not accept)."""
    folder = landing_dir / table / f"dt={day.isoformat()}"
    if not folder.is_dir():
        return [], []
    readable, unknown = [], []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if is_ignored(path.name) or not path.is_file():
            continue
        (readable if file_format(path.name) else unknown).append(path)
    return readable, [p.name for p in unknown]


def ingest_table_day(landing_dir: Path, lake_dir: Path, table_name: str, day: dt.date) -> DayResult:
    table = TABLES[table_name]
    files, unknown = landing_files(landing_dir, table_name, day)
    result = DayResult(table_name, day, files=[p.name for p in files], unknown_files=unknown)
    valid_parts, quarantine_parts = [], []
    for path in files:
        read = read_file(path, table.column_names)
        valid, quarantine = validate_file(table, day, read)
        result.files_read += 1
        result.records_read += read.records_read
        valid_parts.append(valid)
        quarantine_parts.append(quarantine)
    valid = pl.concat(valid_parts) if valid_parts else pl.DataFrame(schema=typed_schema(table))
    quarantine = pl.concat(quarantine_parts) if quarantine_parts else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    if table.event_id:
        valid = _drop_duplicate_events(valid, lake_dir, table_name, day)
    result.records_loaded = valid.height
    result.records_quarantined = quarantine.height
    result.records_duplicate = result.records_read - result.records_loaded - result.records_quarantined
    lake.replace_day(
        lake_dir,
        table_name,
        day,
        {
            lake.DATA_FILE: valid,
            lake.QUARANTINE_FILE: quarantine,
            lake.LOG_FILE: result.as_frame(),
        },
    )
    return result


def _drop_duplicate_events(
    valid: pl.DataFrame, lake_dir: Path, table_name: str, day: dt.date
) -> pl.DataFrame:
    """Keep an event once: the first in file-name and record order, unless an earlier day has it."""
    first_today = valid.filter(pl.col("event_id").is_first_distinct())
    seen_before = lake.earlier_event_ids(lake_dir, table_name, day, first_today["event_id"])
    return first_today.filter(~pl.col("event_id").is_in(seen_before.implode()))
