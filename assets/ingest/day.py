"""Ingest one table's export day: read every file, validate, de-duplicate, replace the lake day."""

from __future__ import annotations

import datetime as dt
import re
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import polars as pl

from assets.contract import TABLES, Table
from assets.ingest import lake
from assets.ingest.readers import (
    FileRecords,
    UnreadableFileError,
    file_format,
    is_ignored,
    max_file_bytes,
    read_file,
)
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
    "skipped_files": pl.List(pl.String),
}

_DAY_FOLDER_NAME = re.compile(r"dt=\d{4}-\d{2}-\d{2}")


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
    # entries not read for safety (symlinks leaving the landing area, FIFOs, ...), with the reason
    skipped_files: list[str] = field(default_factory=list)

    def as_frame(self) -> pl.DataFrame:
        return pl.DataFrame([asdict(self)], schema=LOG_SCHEMA)


class LandingDay(NamedTuple):
    readable: list[Path]  # files to read, in name order
    unknown: list[str]  # names of files with an extension the contract does not accept
    skipped: list[str]  # "<name>: <why>" for entries not read for safety


def landing_files(landing_dir: Path, table: str, day: dt.date) -> LandingDay:
    """The entries of a table's day folder, sorted into files to read, unknown and skipped ones.

    Nothing outside the landing area is read: a symlink leading out of it (the file, the
    day folder or the table folder) is skipped, as is anything but a regular file (a FIFO
    would block the read forever).
    """
    folder = landing_dir / table / f"dt={day.isoformat()}"
    if not folder.is_dir():
        return LandingDay([], [], [])
    landing_area = landing_dir.resolve()
    for level, path in (("table folder", folder.parent), ("day folder", folder)):
        if not path.resolve().is_relative_to(landing_area):
            # not an empty delivery: the day fails and keeps what it held before
            raise UnreadableFileError(
                f"cannot read {folder}: the {level} is a symlink to a folder outside the landing area "
                "(not followed; the day keeps its previous version)"
            )
    readable, unknown, skipped = [], [], []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if is_ignored(path.name):
            continue
        unsafe = _why_not_read(path, landing_area)
        if unsafe:
            skipped.append(f"{path.name}: {unsafe}")
        elif file_format(path.name):
            readable.append(path)
        else:
            unknown.append(path.name)
    return LandingDay(readable, unknown, skipped)


def _why_not_read(path: Path, landing_area: Path) -> str | None:
    """Why an entry of a day folder must not be opened, or None for a regular file inside the landing area."""
    try:
        target = path.resolve(strict=True)
        mode = target.stat().st_mode
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python 3.11)
        return "symlink that leads nowhere (broken or a loop)"
    if not target.is_relative_to(landing_area):
        return "symlink to a file outside the landing area"
    if stat.S_ISDIR(mode):
        return "a folder, not a file"
    if not stat.S_ISREG(mode):
        return f"not a regular file ({_file_kind(mode)})"
    return None


def _file_kind(mode: int) -> str:
    kinds = {
        stat.S_ISFIFO: "FIFO",
        stat.S_ISSOCK: "socket",
        stat.S_ISCHR: "character device",
        stat.S_ISBLK: "block device",
    }
    return next((name for test, name in kinds.items() if test(mode)), "special file")


def unrecognised_day_folders(landing_dir: Path, table: str) -> list[str]:
    """Folders under a table folder that are not export days (`dt=YYYY-MM-DD`, a real date).

    They are never read; listing them lets the run say so instead of ignoring them silently.
    """
    folder = landing_dir / table
    if not folder.is_dir():
        return []
    return sorted(
        child.name
        for child in folder.iterdir()
        if child.is_dir() and not is_ignored(child.name) and not is_export_day_folder(child.name)
    )


def is_export_day_folder(name: str) -> bool:
    # fullmatch first: Python's fromisoformat also takes `20260105` and `2026-W02-1`,
    # which the ingestion never looks for
    if not _DAY_FOLDER_NAME.fullmatch(name):
        return False
    try:
        dt.date.fromisoformat(name.removeprefix("dt="))
    except ValueError:
        return False
    return True


def ingest_table_day(landing_dir: Path, lake_dir: Path, table_name: str, day: dt.date) -> DayResult:
    table = TABLES[table_name]
    max_bytes = max_file_bytes()
    landed = landing_files(landing_dir, table_name, day)
    result = DayResult(
        table_name,
        day,
        files=[p.name for p in landed.readable],
        unknown_files=landed.unknown,
        skipped_files=landed.skipped,
    )
    valid_parts, quarantine_parts = [], []
    for path in landed.readable:
        read, valid, quarantine = read_and_validate(table, day, path, max_bytes)
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


def read_and_validate(
    table: Table, day: dt.date, path: Path, max_bytes: int
) -> tuple[FileRecords, pl.DataFrame, pl.DataFrame]:
    """One file's records, typed valid ones and quarantine rows.

    Whatever goes wrong with one file fails its table-day as an unreadable file naming it
    (the lake keeps that day's previous version; the other days go on), never as an error
    that names neither file nor day. Running out of memory is not the file's fault and
    stays what it is, like an interrupt.
    """
    try:
        read = read_file(path, table.column_names, max_bytes)
        valid, quarantine = validate_file(table, day, read)
    except (UnreadableFileError, MemoryError):
        raise
    # polars reports a bug it hits as a PanicException, a BaseException: one file's bug too
    except (Exception, pl.exceptions.PanicException) as exc:
        raise UnreadableFileError(
            f"cannot read {path} (export day {day}): unexpected {type(exc).__name__}: {exc}"
        ) from exc
    return read, valid, quarantine


def _drop_duplicate_events(
    valid: pl.DataFrame, lake_dir: Path, table_name: str, day: dt.date
) -> pl.DataFrame:
    """Keep an event once: the first in file-name and record order, unless an earlier day has it."""
    first_today = valid.filter(pl.col("event_id").is_first_distinct())
    seen_before = lake.earlier_event_ids(lake_dir, table_name, day, first_today["event_id"])
    return first_today.filter(~pl.col("event_id").is_in(seen_before.implode()))
