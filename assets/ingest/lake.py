"""The Parquet lake: where each table's export day lives, and how a day is replaced atomically."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from pathlib import Path

import polars as pl

DATA_FILE = "data.parquet"
QUARANTINE_FILE = "quarantine.parquet"
LOG_FILE = "ingestion_log.parquet"
# vendor sources: one row per vendor file the table owns (empty for optout's own contract)
SOURCE_FILES_FILE = "source_files.parquet"
# a log file is written within this long after the ingestion time it records (clocks of one machine)
LOG_WRITE_MARGIN = dt.timedelta(minutes=10)


def day_dir(lake_dir: Path, table: str, day: dt.date) -> Path:
    return lake_dir / table / f"dt={day.isoformat()}"


def ingested_days(lake_dir: Path, table: str) -> list[dt.date]:
    root = lake_dir / table
    if not root.is_dir():
        return []
    days = []
    for child in root.iterdir():
        if child.is_dir() and child.name.startswith("dt=") and (child / LOG_FILE).exists():
            days.append(dt.date.fromisoformat(child.name.removeprefix("dt=")))
    return sorted(days)


def export_day_span(lake_dir: Path, tables: list[str]) -> tuple[dt.date | None, dt.date | None]:
    """The first and last export day any of `tables` holds in the lake."""
    days = [day for table in tables for day in ingested_days(lake_dir, table)]
    return (min(days), max(days)) if days else (None, None)


def ingestion_time(lake_dir: Path, table: str, day: dt.date) -> dt.datetime | None:
    """When the lake's version of a day was ingested (None: the lake does not hold the day)."""
    log = day_dir(lake_dir, table, day) / LOG_FILE
    if not log.exists():
        return None
    return pl.read_parquet(log, columns=["ingested_at"])["ingested_at"][0]


def days_ingested_since(lake_dir: Path, tables: list[str], moment: dt.datetime) -> list[dt.date]:
    """Export days (of any table) whose version in the lake was ingested after `moment`.

    Only the logs written since shortly before `moment` are opened (a log is written just
    after its `ingested_at`), so a daily run reads a few files, not one per day of history.
    """
    moment = moment.astimezone(dt.UTC)  # one time zone object: polars refuses `UTC` vs `Etc/UTC`
    written_after = (moment - LOG_WRITE_MARGIN).timestamp()
    logs = [
        path
        for table in tables
        for day in ingested_days(lake_dir, table)
        if (path := day_dir(lake_dir, table, day) / LOG_FILE).stat().st_mtime >= written_after
    ]
    if not logs:
        return []
    changed = (
        pl.scan_parquet(logs, missing_columns="insert", extra_columns="ignore")
        .filter(pl.col("ingested_at") > moment)
        .select(pl.col("export_date").unique().sort())
        .collect()
    )
    return changed["export_date"].to_list()


def replace_day(lake_dir: Path, table: str, day: dt.date, files: dict[str, pl.DataFrame]) -> Path:
    """Write the day's files into a hidden folder, then swap it in with renames.

    Readers glob `dt=*`, so the hidden folder is never seen half-written, and a failure
    before the swap leaves the previous version of the day as it was.
    """
    final = day_dir(lake_dir, table, day)
    final.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    staging = final.parent / f".tmp-{final.name}-{token}"
    staging.mkdir()
    try:
        for name, frame in files.items():
            # snappy: about half the time of the default zstd to write, read by every engine
            frame.write_parquet(staging / name, compression="snappy")
        retired = final.parent / f".old-{final.name}-{token}"
        if final.exists():
            final.rename(retired)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(retired, ignore_errors=True)
    return final


def clean_leftovers(lake_dir: Path, table: str) -> None:
    """Remove folders of interrupted writes (restoring a day whose swap was cut short)."""
    root = lake_dir / table
    if not root.is_dir():
        return
    for child in root.iterdir():
        if child.name.startswith(".old-"):
            original = root / child.name.removeprefix(".old-").rsplit("-", 1)[0]
            if not original.exists():
                child.rename(original)
                continue
        if child.name.startswith((".tmp-", ".old-")):
            shutil.rmtree(child, ignore_errors=True)
