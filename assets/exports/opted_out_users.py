"""Write the opted-out user file of a date range, with its manifest, atomically."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from assets.atomic_files import make_folder, remove_debris, replace_all, write_temp_beside
from assets.exports.ranges import ExportRange, ExportRangeError, check_covered
from assets.marts_builds import checked_export_days
from assets.warehouse_holder import busy_reason

COLUMNS = ["external_id", "user_id", "platform", "last_opted_out_at", "opt_outs_in_range"]
SUBFOLDER = "opted_out_users"


@dataclass(frozen=True)
class ExportResult:
    csv_path: Path
    manifest_path: Path
    row_count: int
    sha256: str


def opted_out_users(facts: pl.DataFrame, export_range: ExportRange) -> pl.DataFrame:
    """One row per user with an opt-out in the range (docs/metrics.md), sorted by user_id."""
    return (
        facts.filter(pl.col("opt_out_date").is_between(export_range.start, export_range.end))
        .group_by("user_id")
        .agg(
            pl.col("external_id").first(),
            pl.col("platform").first(),
            pl.col("opted_out_at").max().alias("last_opted_out_at"),
            pl.len().cast(pl.Int64).alias("opt_outs_in_range"),
        )
        .sort("user_id")
        .select(COLUMNS)
    )


def _csv_bytes(rows: pl.DataFrame) -> bytes:
    text = rows.with_columns(pl.col("last_opted_out_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")).write_csv(
        line_terminator="\r\n", quote_style="necessary"
    )
    return text.encode("utf-8")


def write_pair(csv_path: Path, data: bytes, manifest_path: Path, manifest: bytes) -> None:
    """Both files are written aside first; then the CSV, then its manifest, are renamed in.

    A full disk, or a kill while writing, leaves the previous pair as it was. Only a kill
    between the two renames (microseconds) leaves the new CSV beside the previous manifest;
    the manifest's sha256 then shows the mismatch, and the next write mends the pair.
    """
    remove_debris(csv_path.parent)
    csv_temp = write_temp_beside(csv_path, data)
    try:
        manifest_temp = write_temp_beside(manifest_path, manifest)
    except BaseException:
        csv_temp.unlink(missing_ok=True)
        raise
    try:
        replace_all([(csv_temp, csv_path), (manifest_temp, manifest_path)])
    finally:
        csv_temp.unlink(missing_ok=True)
        manifest_temp.unlink(missing_ok=True)


def export_paths(export_dir: Path, export_range: ExportRange) -> tuple[Path, Path]:
    folder = (export_dir / SUBFOLDER).resolve()
    csv_path = (folder / f"{export_range.file_stem}.csv").resolve()
    manifest_path = (folder / f"{export_range.file_stem}.manifest.json").resolve()
    for path in (csv_path, manifest_path):
        if path.parent != folder:  # dates make the names; this guards any future change
            raise ExportRangeError(f"{path} would escape the export folder {folder}")
    return csv_path, manifest_path


def write_export(warehouse: Path, export_dir: Path, export_range: ExportRange) -> ExportResult:
    if not warehouse.exists():
        raise ExportRangeError(f"no warehouse at {warehouse}: run `optout run` first")
    try:
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            # only days the marts were built for by a run whose checks passed (marts_builds.py)
            first_day, last_day, built_by = checked_export_days(connection)
            check_covered(export_range, first_day, last_day)
            facts = (
                connection.table("marts.fct_opt_outs")
                .select("user_id", "external_id", "platform", "opted_out_at", "opt_out_date")
                .pl()
            )
    except duckdb.Error as exc:
        reason = busy_reason(exc, warehouse)
        if reason is None:
            raise
        raise ExportRangeError(reason) from None
    rows = opted_out_users(facts, export_range)
    data = _csv_bytes(rows)
    digest = hashlib.sha256(data).hexdigest()
    csv_path, manifest_path = export_paths(export_dir, export_range)
    make_folder(csv_path.parent)
    covered_start = max(export_range.start, first_day)
    manifest = {
        "start": export_range.start.isoformat(),
        "end": export_range.end.isoformat(),
        "preset": export_range.preset,
        "file": csv_path.name,
        "columns": COLUMNS,
        "row_count": rows.height,
        "sha256": digest,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "export_days_covered": {"first": covered_start.isoformat(), "last": export_range.end.isoformat()},
        "export_days_ingested": {"first": first_day.isoformat(), "last": last_day.isoformat()},
        "marts_built_by_run": built_by,
    }
    write_pair(csv_path, data, manifest_path, (json.dumps(manifest, indent=2) + "\n").encode())
    return ExportResult(csv_path, manifest_path, rows.height, digest)
