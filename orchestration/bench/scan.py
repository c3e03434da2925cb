"""The baseline: DuckDB's own scan of the landing files, counting every record.

What a tuned native engine needs to read the same bytes on this machine, at the thread
count a run gets here (2). Files are read in a few large scans, not one query per file,
so DuckDB's per-file overhead does not dominate: CSV files grouped by header line (one
scan needs one column layout), JSONL and Parquet by table.

A record is counted as ingestion counts it (`records_read`), so the scan's count must
equal the generator's:
- CSV: every data line, malformed ones included. `strict_mode=false` takes lines with too
  many fields; lines DuckDB cannot take (invalid UTF-8, too few fields) are skipped with
  `ignore_errors` and counted from its rejects table (`store_rejects`). `null_padding`
  would keep short lines, but DuckDB's parallel reader refuses it with quoted newlines,
  which campaign names have.
- JSONL: `read_ndjson_objects` with `ignore_errors` yields one row per non-blank line (a
  broken line or one with invalid UTF-8 as NULL) and skips blank lines, as ingestion does.
- Parquet: one record per row; DuckDB counts them from the footers.
DuckDB opens `.gz` files itself. Counting only, so DuckDB reads no more than it must.
"""

from __future__ import annotations

import gzip
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from assets.contract import TABLE_NAMES
from assets.ingest import readers
from assets.ingest.readers import is_ignored
from assets.throughput import Throughput
from orchestration.commands.common import CliError

THREADS = 2
FORMATS = ("csv", "jsonl", "parquet")

_CSV = (
    "select count(*) from read_csv(?, header = true, all_varchar = true, delim = ',', quote = '\"', "
    "escape = '\"', strict_mode = false, ignore_errors = true, store_rejects = true, "
    "hive_partitioning = false)"
)
_JSONL = "select count(*) from read_ndjson_objects(?, ignore_errors = true, hive_partitioning = false)"
_PARQUET = "select count(*) from read_parquet(?, union_by_name = true, hive_partitioning = false)"
# one row per rejected line and column: count the lines
_REJECTED_LINES = "select count(*) from (select distinct scan_id, file_id, line from reject_errors)"


@dataclass
class ScanResult(Throughput):
    records: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FORMATS, 0))
    files: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FORMATS, 0))
    seconds_by_format: dict[str, float] = field(default_factory=lambda: dict.fromkeys(FORMATS, 0.0))
    csv_rejected_lines: int = 0
    seconds: float = 0.0
    threads: int = THREADS


def file_format(name: str) -> str | None:
    """The format of a file ingestion reads, or None (hidden files and markers are not read)."""
    return None if is_ignored(name) else readers.file_format(name)


def _csv_header(path: Path) -> bytes:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as stream:
        return stream.readline().rstrip(b"\r\n")


def scan_groups(landing: Path) -> dict[tuple[str, str | bytes], list[Path]]:
    """(format, table or CSV header) -> files, for every file ingestion would read."""
    groups: dict[tuple[str, str | bytes], list[Path]] = defaultdict(list)
    for table in TABLE_NAMES:
        for path in sorted((landing / table).glob("dt=*/*")):
            fmt = file_format(path.name)
            if fmt is None or not path.is_file():
                continue
            if fmt == "csv":
                header = _csv_header(path)
                if header:  # an empty file holds no records (and no layout to read them by)
                    groups[(fmt, header)].append(path)
            else:
                groups[(fmt, table)].append(path)
    return groups


def scan_landing(landing: Path, threads: int = THREADS) -> ScanResult:
    """Count every record of the landing files with DuckDB; wall time includes listing the files."""
    result = ScanResult(threads=threads)
    started = time.perf_counter()
    with duckdb.connect() as connection:
        connection.execute(f"set threads = {int(threads)}")
        groups = scan_groups(landing)
        for (fmt, _), paths in groups.items():
            query = {"csv": _CSV, "jsonl": _JSONL, "parquet": _PARQUET}[fmt]
            group_started = time.perf_counter()
            try:
                # fetchall, not fetchone: DuckDB stores the rejects when the scan has finished
                ((count,),) = connection.execute(query, [[str(p) for p in paths]]).fetchall()
            except duckdb.Error as exc:
                raise CliError(
                    f"DuckDB scan: could not read {len(paths)} {fmt} files ({paths[0]}, ...): {exc}"
                ) from exc
            result.records[fmt] += count
            result.files[fmt] += len(paths)
            result.seconds_by_format[fmt] += time.perf_counter() - group_started
        try:
            ((rejected,),) = connection.execute(_REJECTED_LINES).fetchall()
        except duckdb.CatalogException:  # the rejects table exists once a line was rejected
            rejected = 0
    result.csv_rejected_lines = rejected
    result.records["csv"] += rejected
    result.seconds = time.perf_counter() - started
    return result
