"""Write the opted-out user file of a date range, with its manifest, atomically.

Each export is three files: the CSV people open in a spreadsheet, a Parquet file with the
same rows and their exact values (typed columns), and the manifest naming both, written
last. In the CSV a cell that a spreadsheet would run as a formula (it begins with `=`, `+`,
`-`, `@`, a tab or a carriage return) is prefixed with a single quote and quoted (OWASP's
rule against CSV injection); programs read the Parquet file, or remove that quote.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from assets.atomic_files import make_folder, remove_debris, replace_all, write_temp_beside
from assets.exports.ranges import ExportRange, ExportRangeError, check_covered
from assets.marts_builds import checked_export_days
from assets.warehouse_holder import busy_reason

COLUMNS = ["external_id", "user_id", "platform", "last_opted_out_at", "opt_outs_in_range"]
TEXT_COLUMNS = ["external_id", "user_id", "platform"]
SCHEMA = {
    "external_id": pl.String,
    "user_id": pl.String,
    "platform": pl.String,
    "last_opted_out_at": pl.Datetime("us", "UTC"),
    "opt_outs_in_range": pl.Int64,
}
SUBFOLDER = "opted_out_users"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%.6fZ"
# a cell a spreadsheet may run as a formula (OWASP, CSV injection): it begins with =, +, -,
# @, a tab or a carriage return; after any single quotes, so that removing the one quote
# put before it gives the value back exactly, whatever it was
FORMULA_START = r"^'*[=+\-@\t\r]"
FORMULA_PREFIX = "'"


@dataclass(frozen=True)
class ExportResult:
    csv_path: Path
    manifest_path: Path
    row_count: int
    sha256: str  # of the CSV
    parquet_path: Path | None = None


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


def typed_rows(rows: pl.DataFrame) -> pl.DataFrame:
    """The rows in the export's columns and types; a naive `last_opted_out_at` is UTC."""
    instant = pl.col("last_opted_out_at")
    if rows.schema["last_opted_out_at"].time_zone is None:
        instant = instant.dt.replace_time_zone("UTC")
    else:
        instant = instant.dt.convert_time_zone("UTC")
    return rows.with_columns(instant.dt.cast_time_unit("us")).select(COLUMNS).cast(SCHEMA)


def _csv_field(column: str) -> pl.Expr:
    """A text column as RFC 4180 fields (quoted only when needed), formula cells escaped.

    Null is an empty field and the empty string `""`, as polars writes them.
    """
    value = pl.col(column)
    formula = value.str.contains(FORMULA_START)
    text = pl.when(formula).then(pl.lit(FORMULA_PREFIX) + value).otherwise(value)
    quoted = pl.lit('"') + text.str.replace_all('"', '""', literal=True) + pl.lit('"')
    # `;` and tab too: a spreadsheet set to split on them would otherwise start a new cell,
    # and a formula, inside the field (OWASP: quote every field that may be split)
    needs_quotes = formula | (value == pl.lit("")) | value.str.contains(r'[,;"\t\r\n]')
    return pl.when(value.is_null()).then(pl.lit("")).when(needs_quotes).then(quoted).otherwise(text)


def csv_bytes(rows: pl.DataFrame) -> bytes:
    """The CSV of the rows: UTF-8, a header, CRLF, formula cells escaped (docs/exports.md)."""
    rows = typed_rows(rows)
    fields = [
        _csv_field(column) if column in TEXT_COLUMNS else pl.col(column).cast(pl.String) for column in COLUMNS
    ]
    lines = rows.with_columns(pl.col("last_opted_out_at").dt.strftime(TIMESTAMP_FORMAT)).select(
        pl.concat_str(fields, separator=",").alias("line")
    )
    body = "".join(line + "\r\n" for line in lines["line"])
    return (",".join(COLUMNS) + "\r\n" + body).encode("utf-8")


def parquet_bytes(rows: pl.DataFrame) -> bytes:
    """The rows with their exact values and types (`last_opted_out_at` a UTC timestamp)."""
    buffer = io.BytesIO()
    typed_rows(rows).write_parquet(buffer, compression="zstd", statistics=True)
    return buffer.getvalue()


def export_paths(export_dir: Path, export_range: ExportRange) -> tuple[Path, Path]:
    folder = (export_dir / SUBFOLDER).resolve()
    csv_path = (folder / f"{export_range.file_stem}.csv").resolve()
    manifest_path = (folder / f"{export_range.file_stem}.manifest.json").resolve()
    for path in (csv_path, manifest_path):
        if path.parent != folder:  # dates make the names; this guards any future change
            raise ExportRangeError(f"{path} would escape the export folder {folder}")
    return csv_path, manifest_path


def parquet_path_of(csv_path: Path) -> Path:
    return csv_path.with_suffix(".parquet")


def manifest_path_of(csv_path: Path) -> Path:
    return csv_path.with_name(csv_path.name.removesuffix(".csv") + ".manifest.json")


def write_export_files(csv_path: Path, rows: pl.DataFrame, manifest: dict) -> ExportResult:
    """Write, or rewrite, the export at `csv_path` from its rows: the CSV, the Parquet file
    beside it, then the manifest, each whole or not at all.

    `manifest` holds the range's keys (start, end, preset, generated_at, export days, run);
    the files' keys (file, parquet, columns, row_count, sha256, formula_cells_escaped) are
    set here from what is written. All three are written aside first (a full disk fails
    there, naming the file, and leaves the previous files whole), then renamed in: the
    CSV, the Parquet, the manifest last. Only a kill between the renames (microseconds)
    leaves a new file beside the previous manifest; the manifest's digests show the
    mismatch, and the next write mends it.
    """
    rows = typed_rows(rows)
    csv_data, parquet_data = csv_bytes(rows), parquet_bytes(rows)
    parquet_path, manifest_path = parquet_path_of(csv_path), manifest_path_of(csv_path)
    digest = hashlib.sha256(csv_data).hexdigest()
    files = {
        "file": csv_path.name,
        "parquet": {"file": parquet_path.name, "sha256": hashlib.sha256(parquet_data).hexdigest()},
        "columns": COLUMNS,
        "row_count": rows.height,
        "sha256": digest,
        "formula_cells_escaped": True,
    }
    # the range first, then the files, then the rest (when, from which days and run)
    first = {key: manifest[key] for key in ("start", "end", "preset") if key in manifest}
    manifest = first | files | {key: value for key, value in manifest.items() if key not in files}
    manifest_data = (json.dumps(manifest, indent=2) + "\n").encode()
    make_folder(csv_path.parent)
    remove_debris(csv_path.parent)
    written: list[tuple[Path, Path]] = []
    try:
        for target, data in (
            (csv_path, csv_data),
            (parquet_path, parquet_data),
            (manifest_path, manifest_data),
        ):
            written.append((write_temp_beside(target, data), target))
        replace_all(written)
    finally:
        for temp, _ in written:
            temp.unlink(missing_ok=True)
    return ExportResult(csv_path, manifest_path, rows.height, digest, parquet_path)


def read_export_rows(manifest_path: Path) -> pl.DataFrame:
    """The exact rows of the export a manifest names (its Parquet file), typed as written."""
    manifest = json.loads(manifest_path.read_text())
    return pl.read_parquet(manifest_path.with_name(manifest["parquet"]["file"])).select(COLUMNS)


def unescaped_csv_cell(text: str) -> str:
    """A CSV cell's value as it was before the formula escaping (for readers of the CSV)."""
    if text.startswith(FORMULA_PREFIX) and re.match(FORMULA_START, text[1:]):
        return text[1:]
    return text


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
    csv_path, _ = export_paths(export_dir, export_range)
    covered_start = max(export_range.start, first_day)
    manifest = {
        "start": export_range.start.isoformat(),
        "end": export_range.end.isoformat(),
        "preset": export_range.preset,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "export_days_covered": {"first": covered_start.isoformat(), "last": export_range.end.isoformat()},
        "export_days_ingested": {"first": first_day.isoformat(), "last": last_day.isoformat()},
        "marts_built_by_run": built_by,
    }
    return write_export_files(csv_path, rows, manifest)
