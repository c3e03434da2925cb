"""Ingest one table's export day: read every file, validate, de-duplicate within the day, replace the lake day."""

from __future__ import annotations

import datetime as dt
import re
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
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
from assets.ingest.validate import Delivery, validate_files
from assets.privacy.suppression import SuppressionList

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
    # repeats of an event id within this day; audit.ingestion_log adds those an earlier day delivered
    records_duplicate: int = 0
    ingested_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    files: list[str] = field(default_factory=list)
    unknown_files: list[str] = field(default_factory=list)
    # entries not read for safety (symlinks leaving the landing area, FIFOs, ...), with the reason
    skipped_files: list[str] = field(default_factory=list)
    # records of erased people left out before anything was counted (not in the lake's log:
    # the day reads as if they had never been delivered)
    records_suppressed: int = 0

    def as_frame(self) -> pl.DataFrame:
        row = asdict(self)
        return pl.DataFrame([{name: row[name] for name in LOG_SCHEMA}], schema=LOG_SCHEMA)


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


def landed_day_folders(landing_dir: Path, tables: tuple[str, ...]) -> list[tuple[str, dt.date, Path]]:
    """(table, export day, folder) of every export day folder that has landed, by table and day.

    The one walk of the landing area: `optout run` takes its default range from it, the
    landing sensor fingerprints the folders it finds.
    """
    found = []
    for table in tables:
        folder = landing_dir / table
        if folder.is_dir():
            found += [
                (table, dt.date.fromisoformat(child.name.removeprefix("dt=")), child)
                for child in folder.glob("dt=*")
                if is_export_day_folder(child.name)
            ]
    return sorted(found)


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


# Days are independent (no day reads another). Days are read two at a time (this machine
# class has two cores; decompression and polars' parsers release the GIL), and a batch of
# days is validated in one plan, whose fixed cost would otherwise dominate small days.
INGEST_THREADS = 2
DAYS_PER_BATCH = 8


@dataclass
class _DeliveredDay:
    result: DayResult
    deliveries: list[Delivery]


_Checked = tuple[pl.DataFrame, pl.DataFrame] | UnreadableFileError


def ingest_days(
    landing_dir: Path,
    lake_dir: Path,
    table_name: str,
    days: list[dt.date],
    suppression: SuppressionList | None = None,
) -> Iterator[tuple[dt.date, DayResult | UnreadableFileError]]:
    """Ingest each day, yielding in day order its result or why it failed.

    A day that fails keeps its previous version in the lake; the other days go on. The
    records of people on the suppression list (erased) are left out of every day.
    """
    table = TABLES[table_name]
    max_bytes = max_file_bytes()

    def read(day: dt.date) -> _DeliveredDay | UnreadableFileError:
        return _read_day(table, landing_dir, day, max_bytes)

    with ThreadPoolExecutor(max_workers=INGEST_THREADS, thread_name_prefix=f"ingest-{table_name}") as pool:
        for start in range(0, len(days), DAYS_PER_BATCH):
            batch = days[start : start + DAYS_PER_BATCH]
            delivered = list(pool.map(read, batch))
            checked = _validate_batch(table, [d for d in delivered if isinstance(d, _DeliveredDay)])
            finished = pool.map(
                lambda day, checked=checked: _finish_day(lake_dir, table, day, checked, suppression),
                delivered,
            )
            yield from zip(batch, finished, strict=True)


def _finish_day(
    lake_dir: Path,
    table: Table,
    day: _DeliveredDay | UnreadableFileError,
    checked: dict[dt.date, _Checked],
    suppression: SuppressionList | None,
) -> DayResult | UnreadableFileError:
    if isinstance(day, UnreadableFileError):
        return day
    outcome = checked[day.result.export_date]
    if isinstance(outcome, UnreadableFileError):
        return outcome
    valid, quarantine = outcome
    if suppression is not None:
        valid, quarantine = _without_suppressed(day.result, valid, quarantine, suppression)
    return _write_day(lake_dir, table, day.result, valid, quarantine)


def _without_suppressed(
    result: DayResult, valid: pl.DataFrame, quarantine: pl.DataFrame, suppression: SuppressionList
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The day's records minus those of erased people, who are then not counted as read either."""
    kept_valid = valid.filter(~suppression.row_is_suppressed(valid))
    kept_quarantine = quarantine.filter(~suppression.raw_record_is_suppressed(quarantine["raw_record"]))
    result.records_suppressed = valid.height - kept_valid.height + quarantine.height - kept_quarantine.height
    result.records_read -= result.records_suppressed
    return kept_valid, kept_quarantine


def ingest_table_day(
    landing_dir: Path,
    lake_dir: Path,
    table_name: str,
    day: dt.date,
    suppression: SuppressionList | None = None,
) -> DayResult:
    """Ingest one table's export day (raises UnreadableFileError when it cannot be read)."""
    ((_, outcome),) = ingest_days(landing_dir, lake_dir, table_name, [day], suppression)
    if isinstance(outcome, UnreadableFileError):
        raise outcome
    return outcome


def _read_day(
    table: Table, landing_dir: Path, day: dt.date, max_bytes: int
) -> _DeliveredDay | UnreadableFileError:
    try:
        landed = landing_files(landing_dir, table.name, day)
        reads = [read_landing_file(table, day, path, max_bytes) for path in landed.readable]
    except UnreadableFileError as exc:
        return exc
    result = DayResult(
        table.name,
        day,
        files_read=len(reads),
        records_read=sum(read.records_read for read in reads),
        files=[p.name for p in landed.readable],
        unknown_files=landed.unknown,
        skipped_files=landed.skipped,
    )
    return _DeliveredDay(result, [Delivery(day, read) for read in reads])


def read_landing_file(table: Table, day: dt.date, path: Path, max_bytes: int) -> FileRecords:
    """One file's records, or an UnreadableFileError naming it and the day."""
    with _blamed_on(f"{path} (export day {day})"):
        return read_file(path, table.column_names, max_bytes)


def _validate_batch(table: Table, days: list[_DeliveredDay]) -> dict[dt.date, _Checked]:
    """Each day's typed valid records and quarantine rows, the whole batch checked in one plan.

    Should that fail, each day is checked alone, so only the day at fault fails.
    """
    try:
        valid, quarantine = validate_files(table, [d for day in days for d in day.deliveries])
    except MemoryError:
        raise
    except (Exception, pl.exceptions.PanicException):
        return {day.result.export_date: _validate_alone(table, day) for day in days}
    valid_by_day = valid.partition_by("export_date", as_dict=True, maintain_order=True)
    quarantine_by_day = quarantine.partition_by("export_date", as_dict=True, maintain_order=True)
    return {
        day.result.export_date: (
            valid_by_day.get((day.result.export_date,), valid.clear()),
            quarantine_by_day.get((day.result.export_date,), quarantine.clear()),
        )
        for day in days
    }


def _validate_alone(table: Table, day: _DeliveredDay) -> _Checked:
    """One day checked alone; should that fail too, each file alone, to name the one at fault."""
    export_day = day.result.export_date
    try:
        return validate_files(table, day.deliveries)
    except MemoryError:
        raise
    except (Exception, pl.exceptions.PanicException):
        pass
    try:
        for delivery in day.deliveries:
            with _blamed_on(f"{delivery.read.file_name} (export day {export_day})"):
                validate_files(table, [delivery])
        files = [delivery.read.file_name for delivery in day.deliveries]
        with _blamed_on(f"the files {files} of export day {export_day}"):
            return validate_files(table, day.deliveries)
    except UnreadableFileError as exc:
        return exc


def _write_day(
    lake_dir: Path, table: Table, result: DayResult, valid: pl.DataFrame, quarantine: pl.DataFrame
) -> DayResult:
    if table.event_id:
        # repeats within the day only; an event an earlier export day delivered is told
        # apart once, in SQL (the staging models' first_delivery and audit.ingestion_log),
        # so a day's cost does not grow with the history before it
        valid = valid.filter(pl.col("event_id").is_first_distinct())
    result.records_loaded = valid.height
    result.records_quarantined = quarantine.height
    result.records_duplicate = result.records_read - result.records_loaded - result.records_quarantined
    lake.replace_day(
        lake_dir,
        table.name,
        result.export_date,
        {lake.DATA_FILE: valid, lake.QUARANTINE_FILE: quarantine, lake.LOG_FILE: result.as_frame()},
    )
    return result


@contextmanager
def _blamed_on(what: str) -> Iterator[None]:
    """Whatever goes wrong inside fails the table-day as unreadable, naming `what`.

    The lake keeps that day's previous version and the other days go on, never an error
    that names neither file nor day. Running out of memory is not the file's fault and
    stays what it is, like an interrupt.
    """
    try:
        yield
    except (UnreadableFileError, MemoryError):
        raise
    # polars reports a bug it hits as a PanicException, a BaseException: one file's bug too
    except (Exception, pl.exceptions.PanicException) as exc:
        raise UnreadableFileError(f"cannot read {what}: unexpected {type(exc).__name__}: {exc}") from exc
