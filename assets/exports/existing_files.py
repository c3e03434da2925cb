"""Export files already written: read their exact rows, and rewrite them without some people."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl

from assets.exports import opted_out_users
from assets.exports.opted_out_users import COLUMNS, SUBFOLDER, write_export_files
from assets.privacy.matching import Subjects


def read_export_rows(manifest_path: Path) -> pl.DataFrame:
    """The rows of the export a manifest describes, with their exact values: its Parquet file
    (the CSV's formula cells are escaped); the CSV of an export written before there was one."""
    manifest = json.loads(manifest_path.read_text())
    if "parquet" in manifest:
        return opted_out_users.read_export_rows(manifest_path)
    csv_path = manifest_path.with_name(manifest["file"])
    rows = pl.read_csv(csv_path, infer_schema=False)
    return rows.with_columns(
        pl.col("last_opted_out_at").str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_zone="UTC"),
        pl.col("opt_outs_in_range").cast(pl.Int64),
    ).select(COLUMNS)


def erase_from_export_files(export_dir: Path, subjects: Subjects) -> int:
    """Rows removed from every opted-out user file; each touched file and its manifest rewritten."""
    from assets.privacy.stores import frame_mask

    removed = 0
    for manifest_path in sorted((export_dir / SUBFOLDER).glob("*.manifest.json")):
        rows = read_export_rows(manifest_path)
        mask = frame_mask(rows, subjects)
        if not mask.any():
            continue
        removed += int(mask.sum())
        kept = rows.filter(~mask)
        manifest = json.loads(manifest_path.read_text())
        # the CSV, its Parquet file and the manifest (row count, digests) rewritten together
        write_export_files(
            manifest_path.with_name(manifest["file"]),
            kept,
            manifest | {"rows_erased_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")},
        )
    return removed
