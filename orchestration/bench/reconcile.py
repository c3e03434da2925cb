"""Every count of a benchmark against the generator's: a rate over the wrong records means nothing.

The generator counts each record it writes (malformed lines included); the DuckDB scan,
ingestion alone and the backfill's lake logs (`records_read`) must each find all of them.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from assets.contract import TABLE_NAMES
from assets.ingest import lake


def lake_records_read(lake_dir: Path) -> dict[str, int]:
    """Per table, the records the lake's ingestion logs say were read."""
    records = {}
    for table in TABLE_NAMES:
        logs = [
            lake.day_dir(lake_dir, table, day) / lake.LOG_FILE for day in lake.ingested_days(lake_dir, table)
        ]
        records[table] = int(pl.read_parquet(logs)["records_read"].sum()) if logs else 0
    return records


def reconcile(generated: dict[str, int], scanned: int, ingested: int, lake_records: dict[str, int]) -> dict:
    """The counts side by side, and one line per count that differs from the generator's."""
    total = sum(generated.values())
    problems = []
    if scanned != total:
        problems.append(
            f"records do not reconcile: the DuckDB scan counted {scanned:,} of {total:,} generated"
        )
    if ingested != total:
        problems.append(f"records do not reconcile: ingestion alone read {ingested:,} of {total:,} generated")
    for table in TABLE_NAMES:
        expected, read = generated.get(table, 0), lake_records.get(table, 0)
        if read != expected:
            problems.append(
                f"records do not reconcile: the backfill's lake logs read {read:,} {table} records "
                f"of {expected:,} generated"
            )
    return {
        "generated": generated,
        "duckdb_scan": scanned,
        "ingest": ingested,
        "backfill_lake_records_read": lake_records,
        "matches": not problems,
        "problems": problems,
    }
