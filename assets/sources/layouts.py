"""How a source lays out its landing folder, and how a table's export day is read from it.

A layout answers two questions, the same for every source:
- which folders hold which export day (`landed`): the run's default range, the landing
  sensor's fingerprints, retention and erasure walk them;
- what a table's export day holds (`read_day`): the contract's columns as text, record by
  record, ready for the one validation every source goes through.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import polars as pl

from assets.contract import TABLE_NAMES, Table
from assets.ingest.landing_area import (
    landed_day_folders,
    landing_files,
    unrecognised_day_folders,
    why_not_read,
)
from assets.ingest.readers import FileRecords, blamed_on, is_ignored, read_file

SOURCES = ("optout", "braze_currents", "onesignal", "airship")


@dataclass(frozen=True)
class LandedFolder:
    """A folder of the landing area that delivers one export day."""

    label: str  # the table (optout's contract) or the vendor's event type or export kind
    day: dt.date
    folder: Path
    nested: bool = False  # vendor layouts: files may lie at any depth below the folder

    def files(self) -> list[Path]:
        """Its regular files (hidden ones and `_SUCCESS` markers aside), in path order."""
        if not self.nested:
            return sorted(p for p in self.folder.iterdir() if p.is_file() and not is_ignored(p.name))
        found = []
        for root, folders, names in os.walk(self.folder):
            folders[:] = sorted(name for name in folders if not is_ignored(name))
            found += [Path(root, name) for name in names if not is_ignored(name)]
        return sorted(path for path in found if path.is_file())


@dataclass
class DayDelivery:
    """What a table's export day holds, as text records of the contract's columns."""

    reads: list[FileRecords]
    files: list[str]  # what was read, as the day's log lists it
    unknown: list[str] = field(default_factory=list)  # files of a kind the source does not read
    skipped: list[str] = field(default_factory=list)  # "<name>: <why>" for entries not read for safety
    # vendor sources: the files the table owns (assets/sources/source_files.py, LISTED columns)
    source_files: pl.DataFrame | None = None


class Layout(Protocol):
    name: str

    def landed(self, landing_dir: Path) -> list[LandedFolder]: ...

    def read_day(self, table: Table, landing_dir: Path, day: dt.date, max_bytes: int) -> DayDelivery: ...

    def unrecognised_folders(self, landing_dir: Path, table: str) -> list[str]: ...


class OptoutLayout:
    """optout's own contract: `<table>/dt=<YYYY-MM-DD>/<files>` (docs/raw-exports.md)."""

    name = "optout"

    def landed(self, landing_dir: Path) -> list[LandedFolder]:
        return [
            LandedFolder(table, day, folder)
            for table, day, folder in landed_day_folders(landing_dir, TABLE_NAMES)
        ]

    def read_day(self, table: Table, landing_dir: Path, day: dt.date, max_bytes: int) -> DayDelivery:
        landed = landing_files(landing_dir, table.name, day)
        reads = [read_landing_file(table, day, path, max_bytes) for path in landed.readable]
        return DayDelivery(reads, [p.name for p in landed.readable], landed.unknown, landed.skipped)

    def unrecognised_folders(self, landing_dir: Path, table: str) -> list[str]:
        return unrecognised_day_folders(landing_dir, table)


def read_landing_file(table: Table, day: dt.date, path: Path, max_bytes: int) -> FileRecords:
    """One file's records, or an UnreadableFileError naming it and the day."""
    with blamed_on(f"{path} (export day {day})"):
        return read_file(path, table.column_names, max_bytes)


def safe_files(folder: LandedFolder, landing_dir: Path) -> tuple[list[Path], list[str]]:
    """A vendor folder's files that may be read, and "<path>: <why>" for those skipped for safety."""
    landing_area = landing_dir.resolve()
    readable, skipped = [], []
    for path in folder.files() if folder.folder.is_dir() else []:
        unsafe = why_not_read(path, landing_area)
        if unsafe:
            skipped.append(f"{path.relative_to(landing_dir)}: {unsafe}")
        else:
            readable.append(path)
    return readable, skipped


_LAYOUTS: dict[str, Callable[[], Layout]] = {"optout": OptoutLayout}


def register(name: str, factory: Callable[[], Layout]) -> None:
    _LAYOUTS[name] = factory


# the module of each vendor source, imported on first use (optout's contract needs none of them)
_VENDOR_MODULES = {"braze_currents": "braze", "onesignal": "onesignal", "airship": "airship"}


def layout_for(source: str | None = None) -> Layout:
    """The layout of a source (default: OPTOUT_SOURCE)."""
    if source is None:
        from assets.config import load_settings

        source = load_settings().source
    if source not in _LAYOUTS:
        importlib.import_module(f"assets.sources.{_VENDOR_MODULES[source]}")  # registers itself
    return _LAYOUTS[source]()
