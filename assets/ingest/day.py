"""Ingest one table's export day: read every file, validate, de-duplicate within the day, replace the lake day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

from assets.contract import TABLES, Table
from assets.ingest import lake
from assets.ingest.readers import UnreadableFileError, blamed_on, max_file_bytes
from assets.ingest.validate import Delivery, validate_files
from assets.privacy.suppression import SuppressionList
from assets.sources.layouts import DayDelivery, Layout, layout_for
from assets.sources.source_files import file_counts

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
    # vendor sources: records of the files this table owns that the marts do not use, by
    # the vendor's event type (counted in audit.source_files, reported by the run)
    ignored_by_kind: dict[str, int] = field(default_factory=dict)

    def as_frame(self) -> pl.DataFrame:
        row = asdict(self)
        return pl.DataFrame([{name: row[name] for name in LOG_SCHEMA}], schema=LOG_SCHEMA)


# Days are independent (no day reads another). Days are read two at a time (this machine
# class has two cores; decompression and polars' parsers release the GIL), and a batch of
# days is validated in one plan, whose fixed cost would otherwise dominate small days.
INGEST_THREADS = 2
DAYS_PER_BATCH = 8


@dataclass
class _DeliveredDay:
    result: DayResult
    deliveries: list[Delivery]
    # vendor sources: one row per vendor file this table owns (assets/sources/source_files.py)
    source_files: pl.DataFrame | None = None


_Checked = tuple[pl.DataFrame, pl.DataFrame] | UnreadableFileError


def ingest_days(
    landing_dir: Path,
    lake_dir: Path,
    table_name: str,
    days: list[dt.date],
    suppression: SuppressionList | None = None,
    layout: Layout | None = None,
    keep_ingestion_times: bool = False,
) -> Iterator[tuple[dt.date, DayResult | UnreadableFileError]]:
    """Ingest each day, yielding in day order its result or why it failed.

    A day that fails keeps its previous version in the lake; the other days go on. The
    records of people on the suppression list (erased) are left out of every day. The
    landing area is read as `layout` lays it out (default: OPTOUT_SOURCE's). With
    `keep_ingestion_times` (an erasure's rebuild: the same deliveries, less the erased
    people's records), a day already in the lake keeps the time it was ingested, the
    provenance the consent ledger shows; otherwise its time is now.
    """
    table = TABLES[table_name]
    max_bytes = max_file_bytes()
    layout = layout or layout_for()

    def read(day: dt.date) -> _DeliveredDay | UnreadableFileError:
        return _read_day(layout, table, landing_dir, day, max_bytes)

    with ThreadPoolExecutor(max_workers=INGEST_THREADS, thread_name_prefix=f"ingest-{table_name}") as pool:
        for start in range(0, len(days), DAYS_PER_BATCH):
            batch = days[start : start + DAYS_PER_BATCH]
            delivered = list(pool.map(read, batch))
            checked = _validate_batch(table, [d for d in delivered if isinstance(d, _DeliveredDay)])
            finished = pool.map(
                lambda day, checked=checked: _finish_day(
                    lake_dir, table, day, checked, suppression, keep_ingestion_times
                ),
                delivered,
            )
            yield from zip(batch, finished, strict=True)


def _finish_day(
    lake_dir: Path,
    table: Table,
    day: _DeliveredDay | UnreadableFileError,
    checked: dict[dt.date, _Checked],
    suppression: SuppressionList | None,
    keep_ingestion_times: bool = False,
) -> DayResult | UnreadableFileError:
    if isinstance(day, UnreadableFileError):
        return day
    if keep_ingestion_times and (
        earlier := lake.ingestion_time(lake_dir, table.name, day.result.export_date)
    ):
        day.result.ingested_at = earlier
    outcome = checked[day.result.export_date]
    if isinstance(outcome, UnreadableFileError):
        return outcome
    valid, quarantine = outcome
    suppressed = None
    if suppression is not None:
        valid, quarantine, suppressed = _without_suppressed(day.result, valid, quarantine, suppression)
    return _write_day(lake_dir, table, day, valid, quarantine, suppressed)


def _without_suppressed(
    result: DayResult, valid: pl.DataFrame, quarantine: pl.DataFrame, suppression: SuppressionList
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The day's records minus those of erased people, who are then not counted as read either.

    The third frame names the records left out (file, record number), for the vendor
    file counts, which leave them out too.
    """
    valid_out = suppression.row_is_suppressed(valid)
    quarantine_out = suppression.raw_record_is_suppressed(quarantine["raw_record"])
    result.records_suppressed = int(valid_out.sum()) + int(quarantine_out.sum())
    result.records_read -= result.records_suppressed
    left_out = pl.concat(
        [
            valid.filter(valid_out).select("source_file", "record_number"),
            quarantine.filter(quarantine_out).select(
                pl.col("file_name").alias("source_file"), "record_number"
            ),
        ]
    )
    return valid.filter(~valid_out), quarantine.filter(~quarantine_out), left_out


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
    layout: Layout, table: Table, landing_dir: Path, day: dt.date, max_bytes: int
) -> _DeliveredDay | UnreadableFileError:
    try:
        delivered: DayDelivery = layout.read_day(table, landing_dir, day, max_bytes)
    except UnreadableFileError as exc:
        return exc
    result = DayResult(
        table.name,
        day,
        files_read=len(delivered.files),
        records_read=sum(read.records_read for read in delivered.reads),
        files=delivered.files,
        unknown_files=delivered.unknown,
        skipped_files=delivered.skipped,
    )
    if delivered.source_files is not None and delivered.source_files.height:
        ignored = (
            delivered.source_files.filter(pl.col("ignored") > 0)
            .group_by("event_type")
            .agg(pl.col("ignored").sum())
        )
        result.ignored_by_kind = dict(ignored.iter_rows())
    return _DeliveredDay(result, [Delivery(day, read) for read in delivered.reads], delivered.source_files)


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
            with blamed_on(f"{delivery.read.file_name} (export day {export_day})"):
                validate_files(table, [delivery])
        files = [delivery.read.file_name for delivery in day.deliveries]
        with blamed_on(f"the files {files} of export day {export_day}"):
            return validate_files(table, day.deliveries)
    except UnreadableFileError as exc:
        return exc


def _write_day(
    lake_dir: Path,
    table: Table,
    day: _DeliveredDay,
    valid: pl.DataFrame,
    quarantine: pl.DataFrame,
    suppressed: pl.DataFrame | None,
) -> DayResult:
    result = day.result
    delivered = valid
    if table.event_id:
        # repeats within the day only; an event an earlier export day delivered is told
        # apart once, in SQL (the staging models' first_delivery and audit.ingestion_log),
        # so a day's cost does not grow with the history before it
        valid = valid.filter(pl.col("event_id").is_first_distinct())
    result.records_loaded = valid.height
    result.records_quarantined = quarantine.height
    result.records_duplicate = result.records_read - result.records_loaded - result.records_quarantined
    files = {lake.DATA_FILE: valid, lake.QUARANTINE_FILE: quarantine, lake.LOG_FILE: result.as_frame()}
    # every day has the file (empty for optout's own contract): the audit model reads them all
    files[lake.SOURCE_FILES_FILE] = file_counts(day.source_files, delivered, valid, quarantine, suppressed)
    lake.replace_day(lake_dir, table.name, result.export_date, files)
    return result
