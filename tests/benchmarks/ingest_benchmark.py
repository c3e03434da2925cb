"""Ingest every landed table and day, timed, in its own process (so its peak memory is its own).

    python -m tests.benchmarks.ingest_benchmark LANDING LAKE [--baseline]

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
from assets.ingest.day import ingest_table_day


def _days(landing: Path) -> list[dt.date]:
    return sorted(
        {dt.date.fromisoformat(p.name[3:]) for t in TABLE_NAMES for p in (landing / t).glob("dt=*")}
    )


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
    args = parser.parse_args()
    started = time.perf_counter()
    records = 0
    days = _days(args.landing)
    for index, day in enumerate(days, start=1):
        for table in TABLE_NAMES:
            if args.baseline:
                folder = args.landing / table / f"dt={day}"
                for path in sorted(folder.glob("*")) if folder.is_dir() else []:
                    if path.suffix in (".csv", ".gz", ".jsonl", ".parquet"):
                        try:
                            records += _baseline_read(path)
                        except pl.exceptions.PolarsError:
                            continue
            else:
                records += ingest_table_day(args.landing, args.lake, table, day).records_read
        print(f"day {index}/{len(days)} done", flush=True)
    seconds = time.perf_counter() - started
    peak_mib = peak_resident_mib()
    print(
        json.dumps(
            {
                "records": records,
                "seconds": seconds,
                "records_per_second": records / seconds,
                "peak_mib": peak_mib,
            }
        )
    )


if __name__ == "__main__":
    main()
