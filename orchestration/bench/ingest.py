"""Ingest every landed table and day, timed, in its own process (so its peak memory is its own).

    python -m orchestration.bench.ingest LANDING LAKE [--baseline] [--result FILE]

Ingestion alone, as the ingest assets run it (`ingest_days`, each table over all its
days), without Dagster or dbt. Prints one progress line per table, then the figures as
JSON on the last line (and into FILE with --result): records, seconds, records_per_second,
peak_mib. A day that cannot be read fails the benchmark: its figures would not be
comparable.

--baseline only reads the files with polars' own readers (no validation, no lake writes):
what parsing alone costs on the same files, to compare ingestion against.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import io
import json
import time
from pathlib import Path

import polars as pl

from assets.contract import TABLE_NAMES
from assets.ingest.day import ingest_days


def _days(landing: Path, table: str) -> list[dt.date]:
    return sorted(dt.date.fromisoformat(p.name[3:]) for p in (landing / table).glob("dt=*") if p.is_dir())


def _baseline_read(path: Path) -> int:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    if ".parquet" in path.name:
        return pl.read_parquet(io.BytesIO(data)).height
    if ".csv" in path.name:
        return pl.read_csv(
            io.BytesIO(data), infer_schema=False, truncate_ragged_lines=True, encoding="utf8-lossy"
        ).height
    lines = [
        line for line in data.split(b"\n") if line.strip().startswith(b"{") and line.strip().endswith(b"}")
    ]
    return pl.read_ndjson(io.BytesIO(b"\n".join(lines)), ignore_errors=True).height if lines else 0


def _baseline_table(landing: Path, table: str, days: list[dt.date]) -> int:
    records = 0
    for day in days:
        for path in sorted((landing / table / f"dt={day}").glob("*")):
            if path.suffix in (".csv", ".gz", ".jsonl", ".parquet"):
                try:
                    records += _baseline_read(path)
                except pl.exceptions.PolarsError:
                    continue
    return records


def _ingest_table(landing: Path, lake: Path, table: str, days: list[dt.date]) -> int:
    records = 0
    for day, outcome in ingest_days(landing, lake, table, days):
        if isinstance(outcome, Exception):
            raise SystemExit(f"{table}: export day {day} could not be ingested: {outcome}")
        records += outcome.records_read
    return records


def peak_resident_mib() -> float:
    """This process's own peak RSS (VmHWM). ru_maxrss would also count the parent's memory
    from before exec, so a benchmark started by a large process would inherit its peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("landing", type=Path)
    parser.add_argument("lake", type=Path)
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--result", type=Path, help="also write the JSON figures to this file")
    args = parser.parse_args()
    started = time.perf_counter()
    records = 0
    for table in TABLE_NAMES:
        days = _days(args.landing, table)
        if args.baseline:
            records += _baseline_table(args.landing, table, days)
        else:
            records += _ingest_table(args.landing, args.lake, table, days)
        print(f"{table}: {len(days)} days done", flush=True)
    seconds = time.perf_counter() - started
    figures = {
        "records": records,
        "seconds": seconds,
        "records_per_second": records / seconds,
        "peak_mib": peak_resident_mib(),
    }
    if args.result:
        args.result.write_text(json.dumps(figures) + "\n")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
