"""What every vendor source shares: files of event types, mapped to the contract's tables.

A vendor writes one kind of event per file (an event type); each kind is owned by one of
the contract's tables, the one its records map to first (a push send: `messages`), and
may feed others too (a send also tells a campaign's name and a user's platform). A table's
export day reads the files of every kind it needs, maps them, and hands the rows to the
validation every source goes through, as text, each row naming its file and record.

The mapping itself is the vendor's (`VendorMapping`); this module reads the folders,
keeps the record numbers, writes the raw record (for the quarantine) and counts each
file's records (assets/sources/source_files.py).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from assets.contract import Table
from assets.ingest.csv_reader import RAW, RECORD_NUMBER, malformed_frame
from assets.ingest.readers import FileRecords, blamed_on
from assets.sources.layouts import DayDelivery, LandedFolder, OptoutLayout, safe_files
from assets.sources.source_files import listed_files

# the table that lists files of kinds no table uses (their records counted as ignored)
UNUSED_KINDS_TABLE = "app_events"


@dataclass
class VendorFile:
    """One vendor file of an export day, read into a frame of the vendor's own fields."""

    path: str  # relative to the landing folder: the name the lake and the quarantine keep
    kind: str  # the vendor's event type (or export kind)
    frame: pl.DataFrame  # one row per record, in file order, with RECORD_NUMBER and RAW


@dataclass
class DayContext:
    """What a mapping may need beyond one file: the day's other files (e.g. bounces)."""

    day: dt.date
    files: list[VendorFile]

    def of_kinds(self, kinds: Iterable[str]) -> list[VendorFile]:
        wanted = set(kinds)
        return [file for file in self.files if file.kind in wanted]


# a kind's mapping: the vendor frame to rows per table (the contract's columns as text,
# plus RECORD_NUMBER and RAW); several frames for one table keep their rows apart (a
# record number repeats only across frames)
Mapper = Callable[[pl.DataFrame, DayContext], dict[str, list[pl.DataFrame]]]


@dataclass
class KindMapping:
    owner: str  # the table that counts this kind's files (source_files)
    mapper: Mapper
    feeds: tuple[str, ...] = ()  # other tables its records give rows to
    # kinds whose files the mapping reads beside (e.g. a send's bounces of the same day)
    needs: tuple[str, ...] = ()

    @property
    def tables(self) -> tuple[str, ...]:
        return (self.owner, *self.feeds)


@dataclass
class VendorSource:
    """A vendor's layout: how to find its folders and files, read a file, map each kind."""

    name: str
    kinds: dict[str, KindMapping]
    folders: Callable[[Path], list[LandedFolder]]
    read: Callable[[Path, int], pl.DataFrame]  # one file's records (vendor fields)
    extensions: tuple[str, ...]  # file names it reads (lower case endings)
    kind_of: Callable[[LandedFolder, Path], str] = field(default=lambda folder, path: folder.label)
    # tables the vendor exports nothing for, delivered beside its files in optout's contract
    # (`<table>/dt=<day>/`, docs/raw-exports.md): e.g. app activity from a product analytics tool
    contract_tables: tuple[str, ...] = ()

    # the folders by export day, walked once per layout object (ingestion makes one per run
    # step); days are read in threads, so the first walk is made under a lock
    _by_day: dict[dt.date, list[LandedFolder]] | None = field(default=None, init=False, repr=False)
    _walking: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def landed(self, landing_dir: Path) -> list[LandedFolder]:
        beside = [
            folder for folder in OptoutLayout().landed(landing_dir) if folder.label in self.contract_tables
        ]
        return self.folders(landing_dir) + beside

    def folders_of(self, landing_dir: Path, day: dt.date) -> list[LandedFolder]:
        with self._walking:
            if self._by_day is None:
                by_day: dict[dt.date, list[LandedFolder]] = {}
                for folder in self.folders(landing_dir):
                    by_day.setdefault(folder.day, []).append(folder)
                self._by_day = by_day
        return self._by_day.get(day, [])

    def unrecognised_folders(self, landing_dir: Path, table: str) -> list[str]:
        return []

    def kinds_read_by(self, table: str) -> set[str]:
        kinds = {kind for kind, mapping in self.kinds.items() if table in mapping.tables}
        return kinds | {need for kind in list(kinds) for need in self.kinds[kind].needs}

    def read_day(self, table: Table, landing_dir: Path, day: dt.date, max_bytes: int) -> DayDelivery:
        vendor = self._read_vendor_day(table, landing_dir, day, max_bytes)
        if table.name not in self.contract_tables:
            return vendor
        contract = OptoutLayout().read_day(table, landing_dir, day, max_bytes)
        return DayDelivery(
            contract.reads + vendor.reads,
            contract.files + vendor.files,
            contract.unknown + vendor.unknown,
            contract.skipped + vendor.skipped,
            vendor.source_files,
        )

    def _read_vendor_day(self, table: Table, landing_dir: Path, day: dt.date, max_bytes: int) -> DayDelivery:
        needed = self.kinds_read_by(table.name)
        files: list[VendorFile] = []
        unknown: list[str] = []
        skipped: list[str] = []
        for folder in self.folders_of(landing_dir, day):
            readable, unsafe = safe_files(folder, landing_dir)
            skipped += unsafe
            for path in readable:
                relative = str(path.relative_to(landing_dir))
                if not path.name.lower().endswith(self.extensions):
                    if table.name == UNUSED_KINDS_TABLE:
                        unknown.append(relative)
                    continue
                kind = self.kind_of(folder, path)
                used = kind in self.kinds
                if (used and kind in needed) or (not used and table.name == UNUSED_KINDS_TABLE):
                    with blamed_on(f"{path} (export day {day})"):
                        files.append(VendorFile(relative, kind, numbered(self.read(path, max_bytes))))
        return self._mapped(table, day, files, unknown, skipped)

    def _mapped(
        self, table: Table, day: dt.date, files: list[VendorFile], unknown: list[str], skipped: list[str]
    ) -> DayDelivery:
        context = DayContext(day, files)
        reads: list[FileRecords] = []
        listed: list[dict] = []
        for file in files:
            mapping = self.kinds.get(file.kind)
            if mapping is None or table.name not in mapping.tables:
                if mapping is None:  # a kind the marts do not use: counted, never read further
                    listed.append(_listed(file, day, UNUSED_KINDS_TABLE, ignored=file.frame.height))
                continue
            with blamed_on(f"{file.path} (export day {day})"):
                every_table = mapping.mapper(file.frame, context)
            rows = every_table.get(table.name, [])
            reads += [_file_records(file.path, table, part) for part in rows if part.height]
            if mapping.owner == table.name:
                # the first frame: one row per mapped record; a record may map to another table
                # only (an Airship file mixes sends, consent events and activity)
                owned = set(rows[0][RECORD_NUMBER].to_list()) if rows else set()
                anywhere = {
                    n
                    for parts in every_table.values()
                    for part in parts
                    for n in part[RECORD_NUMBER].to_list()
                }
                listed.append(
                    _listed(file, day, table.name, ignored=file.frame.height - len(anywhere | owned),
                            elsewhere=len(anywhere - owned))
                )  # fmt: skip
        return DayDelivery(
            reads,
            [file.path for file in files],
            unknown,
            skipped,
            source_files=listed_files(listed),
        )


def _listed(file: VendorFile, day: dt.date, owner: str, ignored: int, elsewhere: int = 0) -> dict:
    return {
        "path": file.path,
        "event_type": file.kind,
        "export_date": day,
        "table_name": owner,
        "records": file.frame.height,
        "ignored": ignored,
        "mapped_elsewhere": elsewhere,
    }


def numbered(frame: pl.DataFrame) -> pl.DataFrame:
    """The records with their 1-based number in the file and their raw text (JSON) for the quarantine."""
    raw = pl.struct(frame.columns).struct.json_encode() if frame.columns else pl.lit("{}")
    return frame.with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(RECORD_NUMBER), raw.alias(RAW)
    )


def _file_records(path: str, table: Table, rows: pl.DataFrame) -> FileRecords:
    """Mapped rows as a file of the contract's columns (text), read as JSONL is: the raw
    record kept for the quarantine is the vendor's own."""
    columns = [
        (pl.col(c).cast(pl.String) if c in rows.columns else pl.lit(None, pl.String)).alias(c)
        for c in table.column_names
    ]
    records = rows.select(*columns, pl.col(RECORD_NUMBER).cast(pl.Int64), pl.col(RAW).cast(pl.String))
    return FileRecords(path, "jsonl", records, malformed_frame([], []))


def with_fields(frame: pl.DataFrame, names: dict[str, pl.DataType]) -> pl.DataFrame:
    """The frame with every named field present (null where the file lacks it)."""
    missing = [pl.lit(None, dtype).alias(name) for name, dtype in names.items() if name not in frame.columns]
    return frame.with_columns(missing) if missing else frame


def epoch_ms_text(seconds: pl.Expr, milliseconds: pl.Expr | None = None) -> pl.Expr:
    """A time as the contract's epoch-milliseconds text (the milliseconds when the vendor has them)."""
    from_seconds = seconds.cast(pl.Int64) * 1000
    value = (
        pl.coalesce(milliseconds.cast(pl.Int64), from_seconds) if milliseconds is not None else from_seconds
    )
    return value.cast(pl.String)


def keep(frame: pl.DataFrame, *columns: pl.Expr) -> pl.DataFrame:
    """Rows of the contract's columns, with the record's number and raw text kept."""
    return frame.select(*columns, pl.col(RECORD_NUMBER), pl.col(RAW))
