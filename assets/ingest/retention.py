"""Retention: export days older than OPTOUT_RETENTION_DAYS leave the landing area and the lake.

The rule (docs/privacy.md#retention): with N = OPTOUT_RETENTION_DAYS, export day D is
removed when D < today - N days, today being the date in UTC whatever the machine's time
zone. So N = 1 keeps yesterday and today, and `first_kept_day` is the oldest day kept.

What goes, per table: the landing folder `<table>/dt=<D>` with every file in it, and the
lake folder `<table>/dt=<D>` with the day's data, quarantine and ingestion log. Each folder
leaves atomically: every folder of a day is first renamed to a hidden name (readers only
see `dt=*`), then deleted; a removal cut short leaves hidden folders, which the next pass
deletes, never a visible day with part of its files. Symlinks are removed, never followed,
and a table folder that leads out of its area is left alone and named.

Nothing else is touched: the warehouse (staging tables, marts), the exports, the reports
and the serving copy keep what was built from those days.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from assets.ingest import lake
from assets.ingest.delivered import day_spans
from assets.ingest.landing_area import is_export_day_folder

if TYPE_CHECKING:
    from assets.sources.layouts import Layout

SETTING = "OPTOUT_RETENTION_DAYS"
# what an expired folder is renamed to before it is deleted: hidden from every reader
HIDDEN_PREFIX = ".expired-"
AREAS = ("landing", "lake")
SPANS_SHOWN = 3  # spans of removed days named on the summary line; more: first .. last (N days)


class RetentionError(OSError):
    """A folder the retention could not remove (permissions, say): one line naming it."""


def today_utc(now: dt.datetime | None = None) -> dt.date:
    """Today's date in UTC (`now` must carry its time zone; by default the clock's now)."""
    if now is None:
        return dt.datetime.now(dt.UTC).date()
    if now.tzinfo is None:
        raise ValueError("now must be time zone aware: a naive time would be the machine's local time")
    return now.astimezone(dt.UTC).date()


def first_kept_day(retention_days: int, today: dt.date) -> dt.date:
    """The oldest export day a retention of `retention_days` keeps: every earlier day is removed."""
    if retention_days < 1:
        raise ValueError(f"a retention of {retention_days} days would remove today's export day too")
    return today - dt.timedelta(days=retention_days)


def expired_days(days: Iterable[dt.date], retention_days: int | None, today: dt.date) -> list[dt.date]:
    """The days of `days` the retention removes (none without a retention), oldest first."""
    if retention_days is None:
        return []
    first_kept = first_kept_day(retention_days, today)
    return sorted({day for day in days if day < first_kept})


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def past_retention(days: Iterable[dt.date], retention_days: int | None, today: dt.date) -> str | None:
    """Why a run over `days` may not go on when some are older than the retention, in one
    line naming the setting; None when every day is kept (or no retention is set)."""
    old = expired_days(days, retention_days, today)
    if not old:
        return None
    first_kept = first_kept_day(retention_days, today)
    return (
        f"export {'day' if len(old) == 1 else 'days'} {day_spans(old)} older than the retention period: "
        f"{SETTING}={retention_days} removes every export day before {first_kept} from landing and lake "
        f"(docs/privacy.md#retention); start at {first_kept} or later"
    )


@dataclass
class TableRemoval:
    """What the retention removed of one raw table."""

    table: str
    landing_days: list[dt.date] = field(default_factory=list)
    lake_days: list[dt.date] = field(default_factory=list)
    landing_files: int = 0
    lake_files: int = 0
    records: int = 0  # rows of the lake days' data.parquet
    quarantined: int = 0  # rows of their quarantine.parquet

    @property
    def days(self) -> list[dt.date]:
        return sorted(set(self.landing_days) | set(self.lake_days))

    def line(self) -> str:
        """The table's removal in words, for the log."""
        parts = []
        if self.landing_days:
            parts.append(
                f"{_count(len(self.landing_days), 'landing day folder')} ({_count(self.landing_files, 'file')})"
            )
        if self.lake_days:
            parts.append(
                f"{_count(len(self.lake_days), 'lake day folder')} ({_count(self.records, 'record')}, "
                f"{self.quarantined:,} quarantined)"
            )
        return f"{self.table}: removed {_export_days(self.days)}: {', '.join(parts)}"

    def as_json(self) -> dict:
        return {
            "days": day_spans(self.days),
            "landing_days": len(self.landing_days),
            "landing_files": self.landing_files,
            "lake_days": len(self.lake_days),
            "lake_files": self.lake_files,
            "records": self.records,
            "quarantined": self.quarantined,
        }


@dataclass
class Removal:
    """What one pass of the retention removed, by table (tables with nothing removed are left out)."""

    retention_days: int
    first_kept: dt.date
    tables: dict[str, TableRemoval] = field(default_factory=dict)
    # folders left alone, with why (a table folder leading out of its area)
    skipped: list[str] = field(default_factory=list)
    # hidden folders of a pass cut short, deleted by this one (counted by the pass that hid them)
    leftovers: int = 0

    @property
    def days(self) -> list[dt.date]:
        return sorted({day for removal in self.tables.values() for day in removal.days})

    @property
    def files(self) -> int:
        return sum(r.landing_files + r.lake_files for r in self.tables.values())

    @property
    def records(self) -> int:
        """Lake records removed: loaded and quarantined."""
        return sum(r.records + r.quarantined for r in self.tables.values())

    def summary(self) -> str:
        """One line: what went, or that nothing was left to remove."""
        head = f"retention {_days(self.retention_days)}"
        if not self.tables:
            return f"{head}: no export day before {self.first_kept} left to remove"
        landing = any(r.landing_days for r in self.tables.values())
        in_lake = any(r.lake_days for r in self.tables.values())
        where = "landing and lake" if landing and in_lake else "landing" if landing else "the lake"
        return (
            f"{head}: removed {_export_days(self.days)} ({_count(len(self.tables), 'table')}, "
            f"{_count(self.files, 'file')}, {_count(self.records, 'record')}) from {where}"
        )

    def as_metadata(self) -> dict:
        """Plain values for the asset's materialization (the summary line included)."""
        return {
            "retention_days": self.retention_days,
            "first_kept_day": self.first_kept.isoformat(),
            "removed_days": day_spans(self.days),
            "files_removed": self.files,
            "records_removed": self.records,
            "tables": {table: removal.as_json() for table, removal in sorted(self.tables.items())},
            "skipped": self.skipped,
            "leftovers_deleted": self.leftovers,
            "summary": self.summary(),
        }


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _export_days(days: list[dt.date]) -> str:
    """`export day D`, `export days D1 .. D2, D3`, or `export days D1 .. D2 (N days)` when the
    days are too scattered to name every span."""
    if len(days) == 1:
        return f"export day {days[0]}"
    spans = day_spans(days)
    if spans.count(",") < SPANS_SHOWN:
        return f"export days {spans}"
    return f"export days {days[0]} .. {days[-1]} ({_days(len(days))})"


@dataclass(frozen=True)
class _Expired:
    table: str
    area: str  # landing | lake
    day: dt.date
    path: Path


def apply_retention(
    landing_dir: Path,
    lake_dir: Path,
    tables: Iterable[str],
    retention_days: int,
    today: dt.date,
    vendor_layout: Layout | None = None,
) -> Removal:
    """Remove every landing and lake day folder of `tables` older than the retention.

    With a vendor's landing folder (`vendor_layout`), its export-day folders (Braze's hour
    folders, ...) are removed from the landing area instead of the tables' `dt=` folders.

    Oldest day first; each day's folders (every table, both areas) are renamed to hidden
    names, then deleted. Idempotent: a second pass finds nothing, and finishes a pass that
    was cut short.
    """
    tables = list(tables)
    removal = Removal(retention_days, first_kept_day(retention_days, today))
    roots = {"landing": landing_dir, "lake": lake_dir}
    for table in tables:
        for root in roots.values():
            removal.leftovers += _delete_hidden_leftovers(root / table, root)
        # a lake day whose swap was cut short comes back under its name first, so it is judged too
        if _inside(lake_dir / table, lake_dir):
            lake.clean_leftovers(lake_dir, table)
    expired = _expired_folders(roots, tables, removal)
    if vendor_layout is not None:  # a vendor's folders in the landing area, by their export day
        expired += [
            _Expired(folder.label, "landing", folder.day, folder.folder)
            for folder in vendor_layout.landed(landing_dir)
            if folder.nested and folder.day < removal.first_kept  # `<table>/dt=` folders: above
        ]
    for day in sorted({entry.day for entry in expired}):
        of_the_day = [entry for entry in expired if entry.day == day]
        hidden = []
        for entry in of_the_day:
            _count_removed(entry, removal)
            hidden.append(_hide(entry.path))
        for path in hidden:
            _delete(path)
    return removal


def _expired_folders(roots: dict[str, Path], tables: list[str], removal: Removal) -> list[_Expired]:
    found = []
    for area, root in roots.items():
        for table in tables:
            folder = root / table
            if not folder.is_dir():
                continue
            if not _inside(folder, root):
                removal.skipped.append(
                    f"{folder}: the table folder leads out of the {area} area (a symlink): not followed, "
                    "nothing in it removed"
                )
                continue
            for child in folder.iterdir():
                if not is_export_day_folder(child.name):
                    continue
                day = dt.date.fromisoformat(child.name.removeprefix("dt="))
                if day < removal.first_kept:
                    found.append(_Expired(table, area, day, child))
    return found


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def _count_removed(entry: _Expired, removal: Removal) -> None:
    counts = removal.tables.setdefault(entry.table, TableRemoval(entry.table))
    files = _files_in(entry.path)
    if entry.area == "landing":
        counts.landing_days.append(entry.day)
        counts.landing_files += files
        return
    counts.lake_days.append(entry.day)
    counts.lake_files += files
    if entry.path.is_dir() and not entry.path.is_symlink():
        counts.records += _rows(entry.path / lake.DATA_FILE)
        counts.quarantined += _rows(entry.path / lake.QUARANTINE_FILE)


def _files_in(path: Path) -> int:
    """Entries that are not folders under `path` (itself, when it is a file or a symlink)."""
    if path.is_symlink() or not path.is_dir():
        return 1
    total = 0
    for folder, subfolders, files in os.walk(path):  # symlinks to folders are not followed
        total += len(files) + sum((Path(folder) / name).is_symlink() for name in subfolders)
    return total


def _rows(path: Path) -> int:
    """Rows of a Parquet file, from its footer; 0 when it is missing or unreadable."""
    if not path.is_file():
        return 0
    try:
        return int(pl.scan_parquet(path).select(pl.len()).collect().item())
    except (OSError, pl.exceptions.PolarsError):
        return 0


def _hide(path: Path) -> Path:
    hidden = path.with_name(f"{HIDDEN_PREFIX}{path.name}-{uuid.uuid4().hex[:8]}")
    try:
        path.rename(hidden)
    except OSError as exc:
        raise RetentionError(f"cannot remove {path}: {exc.strerror or exc}") from None
    return hidden


def _delete(path: Path) -> None:
    try:
        if path.is_symlink() or not path.is_dir():
            path.unlink(missing_ok=True)  # a symlink goes, never what it leads to
        else:
            shutil.rmtree(path)
    except OSError as exc:
        raise RetentionError(
            f"cannot remove {path} (hidden already; the next run deletes it): {exc.strerror or exc}"
        ) from None


def _delete_hidden_leftovers(folder: Path, root: Path) -> int:
    """Deletes the folders an earlier pass hid but did not get to delete; how many."""
    if not folder.is_dir() or not _inside(folder, root):
        return 0
    leftovers = [child for child in folder.iterdir() if child.name.startswith(HIDDEN_PREFIX)]
    for child in leftovers:
        _delete(child)
    return len(leftovers)
