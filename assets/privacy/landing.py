"""Rewrite landing files without the records of the people being erased.

Each file that holds one of their records is written again without those records, every
other record byte for byte as it was (CSV and JSONL are edited record by record, never
re-serialised; Parquet keeps its schema), compressed as it was, and swapped in atomically
under its own name with its old modification time (the landing sensor then sees nothing
new to ingest). A file none of their ids appears in is only read. The same sweep, looking
only, lists their records as delivered (`landing_records_of`, for subject access).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from assets.atomic_files import replace_all, temp_name, write_temp_beside
from assets.contract import TABLE_NAMES
from assets.ingest.landing_area import landed_day_folders, landing_files
from assets.ingest.readers import file_format, max_file_bytes
from assets.privacy.matching import Subjects, id_field_values, leaf_values, record_values

ID_COLUMNS = ("user_id", "external_id")


@dataclass
class LandingSweep:
    records_removed: int = 0
    files_rewritten: list[str] = field(default_factory=list)
    # files ingestion does not read (unknown extension) in which one of the ids appears as text
    unreadable_mentions: list[str] = field(default_factory=list)
    # files that cannot be read (a broken gzip, a bad Parquet file, too large): "<file>: <why>"
    unreadable: list[str] = field(default_factory=list)
    # a look only (subject access): each of their records as delivered, nothing rewritten
    found: list[dict] | None = None


@dataclass
class _Pass:
    """What one sweep of the landing area works with, and where its results go."""

    landing_dir: Path
    subjects: Subjects
    sweep: LandingSweep
    needles: list[bytes] = field(init=False)
    max_bytes: int = field(default_factory=max_file_bytes)

    def __post_init__(self) -> None:
        self.needles = _needles(self.subjects)

    def mentioned_in(self, path: Path) -> bool:
        """Does the file (decompressed, within OPTOUT_MAX_FILE_BYTES) hold one of the ids' forms?"""
        return _mentions(_read(path, self.max_bytes), self.needles)

    def their_records(self, path: Path, records: list) -> int:
        """A file's records that are theirs: listed when looking, else counted for removal."""
        if self.sweep.found is not None:
            name = str(path.relative_to(self.landing_dir))
            self.sweep.found.extend({"landing_file": name, "record": record} for record in records)
        return len(records)

    def without_their_text_records(
        self, path: Path, text: str, kept: list[str], kind: str, compressed: bool
    ) -> int:
        """A CSV or JSON lines file: its records not in `kept` listed when looking, else the
        file rewritten as `kept` (gzip when `compressed`); returns how many were theirs."""
        gone = _records_left_out(text, kept, kind)
        if gone and self.sweep.found is None:
            new = "".join(kept).encode("utf-8", errors="surrogateescape")
            _swap_in(path, gzip.compress(new) if compressed else new)
        return self.their_records(path, gone)


def erase_from_landing(landing_dir: Path, subjects: Subjects, source: str = "optout") -> LandingSweep:
    """Rewrite every landing file holding their records without them."""
    return _sweep_landing(landing_dir, subjects, source, LandingSweep())


def landing_records_of(landing_dir: Path, subjects: Subjects, source: str = "optout") -> LandingSweep:
    """Their records as the landing area holds them, file by file (the same matching as the
    erasure, nothing rewritten): every field a delivery has, those the lake does not keep too."""
    return _sweep_landing(landing_dir, subjects, source, LandingSweep(found=[]))


def _sweep_landing(landing_dir: Path, subjects: Subjects, source: str, sweep: LandingSweep) -> LandingSweep:
    work = _Pass(landing_dir, subjects, sweep)
    if source != "optout":
        # a vendor's own folders; the contract's `<table>/dt=` folders beside them (a table the
        # vendor does not export) go the contract's way below
        _erase_from_vendor_files(work, source)
    for table, day, folder in landed_day_folders(landing_dir, TABLE_NAMES):
        landed = landing_files(landing_dir, table, day)
        for path in landed.readable:
            try:
                removed = _erase_from_file(path, work)
            except (OSError, EOFError, ValueError, pa.ArrowException, pl.exceptions.PolarsError) as exc:
                # ingestion fails such a file's day too; a person looks at it
                sweep.unreadable.append(f"{path.relative_to(landing_dir)}: {exc}")
                continue
            if removed:
                sweep.records_removed += removed
                sweep.files_rewritten.append(str(path.relative_to(landing_dir)))
        for name in landed.unknown:
            path = folder / name
            try:
                mentioned = work.mentioned_in(path)
            except (OSError, EOFError, ValueError) as exc:
                sweep.unreadable.append(f"{path.relative_to(landing_dir)}: {exc}")
                continue
            if mentioned:
                sweep.unreadable_mentions.append(str(path.relative_to(landing_dir)))
    return sweep


def _needles(subjects: Subjects) -> list[bytes]:
    """Byte strings of which one at least is in any file holding one of the ids (a quick pre-check)."""
    forms = set()
    for value in subjects.all_ids:
        forms |= {value, json.dumps(value)[1:-1], value.replace('"', '""')}
    return [form.encode() for form in forms if form]


def _mentions(data: bytes, needles: list[bytes]) -> bool:
    return any(needle in data for needle in needles)


def _read(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, decompressed; a ValueError past OPTOUT_MAX_FILE_BYTES (as ingestion refuses it)."""
    with gzip.open(path) if path.name.endswith(".gz") else path.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"more than OPTOUT_MAX_FILE_BYTES={max_bytes} bytes once decompressed")
    return data


def _erase_from_file(path: Path, work: _Pass) -> int:
    kind = file_format(path.name)
    if kind == "parquet":
        return _erase_from_parquet(path, work)
    data = _read(path, work.max_bytes)
    if not _mentions(data, work.needles):
        return 0
    text = data.decode("utf-8", errors="surrogateescape")
    kept = _csv_without(text, work.subjects) if kind == "csv" else _jsonl_without(text, work.subjects)
    return work.without_their_text_records(path, text, kept, kind, path.name.endswith(".gz"))


def _records_left_out(text: str, kept: list[str], kind: str) -> list:
    """The records a sweep would remove, as delivered: a CSV record by its header's names
    (its raw text when ragged), a JSON line parsed (its text when it does not parse). A
    record's text decides whether it is kept, so the same text is never both."""
    staying = set(kept)
    if kind == "csv":
        records = list(_csv_records(text))
        header = next(csv.reader(io.StringIO(records[0])), [])
        return [_csv_record(record, header) for record in records[1:] if record not in staying]
    lines = text.splitlines(keepends=True)
    return [_json_record(line) for line in lines if line not in staying and line.strip()]


def _csv_record(record: str, header: list[str]) -> dict | str:
    try:
        fields = next(csv.reader(io.StringIO(record)), [])
    except csv.Error:
        return record
    return dict(zip(header, fields, strict=True)) if len(fields) == len(header) else record


def _json_record(line: str) -> object:
    try:
        return json.loads(line)
    except ValueError:
        return line


def _csv_records(text: str) -> Iterator[str]:
    """The records of an RFC 4180 text exactly as written, line ends included; a record runs
    on over line breaks while one of its quoted fields is open (an odd count of quotes)."""
    record = ""
    for match in re.finditer(r"[^\n]*\n|[^\n]+$", text):
        record += match.group()
        if record.count('"') % 2 == 0:
            yield record
            record = ""
    if record:
        yield record


def _csv_without(text: str, subjects: Subjects) -> list[str]:
    records = list(_csv_records(text))
    if not records:
        return records
    header = next(csv.reader(io.StringIO(records[0])), [])
    positions = {name.strip().lstrip("\ufeff"): index for index, name in enumerate(header)}
    kept = [records[0]]
    for record in records[1:]:
        try:
            fields = next(csv.reader(io.StringIO(record)), [])
        except csv.Error:
            fields = record_values(record)
        if len(fields) == len(header):
            belongs = any(
                subjects.holds(column, fields[positions[column]])
                for column in ID_COLUMNS
                if column in positions
            )
        else:  # a ragged record: which field is the id is unknown, any value counts
            belongs = any(value.strip() in subjects.all_ids for value in fields)
        if not belongs:
            kept.append(record)
    return kept


def _jsonl_without(text: str, subjects: Subjects) -> list[str]:
    kept = []
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if not stripped:
            kept.append(line)
            continue
        try:
            record = json.loads(stripped)
        except ValueError:
            record = None
        if isinstance(record, dict):
            belongs = any(
                subjects.holds(column, record.get(column))
                for column in ID_COLUMNS
                if isinstance(record.get(column), str | int)
            )
        else:
            belongs = subjects.mentioned_in_record(stripped)
        if not belongs:
            kept.append(line)
    return kept


def _erase_from_parquet(path: Path, work: _Pass) -> int:
    subjects = work.subjects
    schema_names = pq.read_schema(path).names
    columns = [c for c in ID_COLUMNS if c in schema_names]
    if not columns:
        return 0
    ids = pl.read_parquet(path, columns=columns)
    mask = pl.Series([False] * ids.height)
    for column in columns:
        wanted = subjects.external_ids if column == "external_id" else subjects.user_ids
        mask = mask | ids[column].cast(pl.String).is_in(list(wanted)).fill_null(False)
    removed = int(mask.sum())
    if removed and work.sweep.found is not None:
        return work.their_records(path, pl.read_parquet(path).filter(mask).to_dicts())
    if removed:
        table = pq.read_table(path)
        kept = table.filter(pa.array((~mask).to_list()))
        temp = temp_name(path)
        pq.write_table(kept, temp)
        _replace_keeping_times(temp, path)
    return removed


def _swap_in(path: Path, data: bytes) -> None:
    _replace_keeping_times(write_temp_beside(path, data), path)


def _replace_keeping_times(temp: Path, path: Path) -> None:
    status = path.stat()
    os.chmod(temp, status.st_mode & 0o7777)
    os.utime(temp, ns=(status.st_atime_ns, status.st_mtime_ns))
    replace_all([(temp, path)])


# -- a vendor's landing folder (OPTOUT_SOURCE): its own fields name people ------------------
def _erase_from_vendor_files(work: _Pass, source: str) -> None:
    """Every file of a vendor's folders: a record whose id fields (matching.VENDOR_ID_FIELDS,
    nested ones included: Airship's `device.named_user_id`) hold one of the ids goes; a line
    that does not parse goes when any of its values is one of them."""
    from assets.sources.layouts import layout_for, safe_files  # vendor readers: imported on use

    landing_dir, sweep = work.landing_dir, work.sweep
    for folder in layout_for(source).landed(landing_dir):
        if not folder.nested:
            continue  # a `<table>/dt=` folder of the contract: erased as the contract's
        readable, _ = safe_files(folder, landing_dir)  # never a symlink out of the landing area
        for path in readable:
            name = str(path.relative_to(landing_dir))
            try:
                if not _is_vendor_data(path):
                    if work.mentioned_in(path):
                        sweep.unreadable_mentions.append(name)
                    continue
                removed = _erase_from_vendor_file(path, work)
            except (OSError, EOFError, ValueError) as exc:
                sweep.unreadable.append(f"{name}: {exc}")
                continue
            if removed:
                sweep.records_removed += removed
                sweep.files_rewritten.append(name)


VENDOR_DATA_ENDINGS = (".avro", ".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".json", ".json.gz")


def _is_vendor_data(path: Path) -> bool:
    return path.name.lower().endswith(VENDOR_DATA_ENDINGS)


def _erase_from_vendor_file(path: Path, work: _Pass) -> int:
    lowered, subjects = path.name.lower(), work.subjects
    if lowered.endswith(".avro"):
        return _erase_from_avro(path, work)
    data = _read(path, work.max_bytes)
    if not _mentions(data, work.needles):
        return 0
    text = data.decode("utf-8", errors="surrogateescape")
    if ".csv" in lowered:
        records = list(_csv_records(text))
        header = next(csv.reader(io.StringIO(records[0])), []) if records else []
        kept = records[:1] + [r for r in records[1:] if not _csv_line_names(r, header, subjects)]
    else:
        kept = [line for line in text.splitlines(keepends=True) if not _json_line_names(line, subjects)]
    kind = "csv" if ".csv" in lowered else "json"
    return work.without_their_text_records(path, text, kept, kind, lowered.endswith(".gz"))


def _json_line_names(line: str, subjects: Subjects) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return subjects.mentioned_in_record(line)
    if not isinstance(record, dict):
        return _holds_an_id(leaf_values(record), subjects)
    return _holds_an_id(id_field_values(record), subjects)


def _csv_line_names(record: str, header: list[str], subjects: Subjects) -> bool:
    parsed = _csv_record(record, header)
    if isinstance(parsed, str):  # ragged: which field is the id is unknown, any value counts
        return _holds_an_id(record_values(record), subjects)
    return _holds_an_id(id_field_values(parsed), subjects)


def _holds_an_id(values: list[str], subjects: Subjects) -> bool:
    return any(value.strip() in subjects.all_ids for value in values)


def _erase_from_avro(path: Path, work: _Pass) -> int:
    """An Avro file rewritten without their records, with its own schema and codec."""
    import fastavro

    with path.open("rb") as handle:
        reader = fastavro.reader(handle)
        schema, codec = reader.writer_schema, reader.codec
        records = list(reader)
    theirs = [_holds_an_id(id_field_values(record), work.subjects) for record in records]
    kept = [record for record, is_theirs in zip(records, theirs, strict=True) if not is_theirs]
    removed = len(records) - len(kept)
    if removed and work.sweep.found is not None:
        return work.their_records(
            path, [r for r, is_theirs in zip(records, theirs, strict=True) if is_theirs]
        )
    if removed:
        temp = temp_name(path)
        with temp.open("wb") as handle:
            fastavro.writer(handle, fastavro.parse_schema(schema), kept, codec=codec)
        _replace_keeping_times(temp, path)
    return removed
