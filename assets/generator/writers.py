"""Write one table's export day as real platforms do: several files, mixed formats and forms."""

from __future__ import annotations

import datetime as dt
import gzip
import io
from pathlib import Path

import numpy as np
import polars as pl

from assets.contract import TABLES

FORMATS = ["csv", "csv.gz", "jsonl", "jsonl.gz", "parquet"]
MALFORMED_FILE_SHARE = 0.15  # files that end with a line that does not parse
OFFSETS = [("+03:00", 3), ("-05:00", -5), ("+05:30", 5.5)]


def _timestamp_forms(rng: np.random.Generator, column: str, height: int) -> pl.Expr:
    """Each row in one of the accepted forms: Z, an offset, no offset, epoch milliseconds."""
    form = pl.Series(rng.integers(0, 4, height))
    offset_index = pl.Series(rng.integers(0, len(OFFSETS), height))
    ts = pl.col(column)
    with_offset = pl.lit(None, pl.String)
    for index, (suffix, hours) in enumerate(OFFSETS):
        shifted = (ts + pl.duration(minutes=int(hours * 60))).dt.strftime("%Y-%m-%dT%H:%M:%S%.3f") + pl.lit(
            suffix
        )
        with_offset = pl.when(offset_index == index).then(shifted).otherwise(with_offset)
    return (
        pl.when(form == 0)
        .then(ts.dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"))
        .when(form == 1)
        .then(with_offset)
        .when(form == 2)
        .then(ts.dt.strftime("%Y-%m-%dT%H:%M:%S%.3f"))
        .otherwise(ts.dt.epoch("ms").cast(pl.String))
        .alias(column)
    )


def _enum_variants(rng: np.random.Generator, column: str, height: int) -> pl.Expr:
    variant = pl.Series(rng.choice(4, height, p=[0.85, 0.05, 0.05, 0.05]))
    value = pl.col(column)
    return (
        pl.when(variant == 1)
        .then(value.str.to_uppercase())
        .when(variant == 2)
        .then(pl.lit("  ") + value + pl.lit(" "))
        .when(variant == 3)
        .then(value.str.to_titlecase())
        .otherwise(value)
        .alias(column)
    )


def as_text(rng: np.random.Generator, table: str, frame: pl.DataFrame) -> pl.DataFrame:
    contract = TABLES[table]
    exprs = []
    for column in contract.columns:
        if column.kind == "timestamp":
            exprs.append(_timestamp_forms(rng, column.name, frame.height))
        elif column.kind == "enum":
            exprs.append(_enum_variants(rng, column.name, frame.height))
    return frame.with_columns(exprs).cast(pl.String)


def write_day(
    rng: np.random.Generator,
    out: Path,
    table: str,
    day: dt.date,
    clean: pl.DataFrame,
    bad: pl.DataFrame,
) -> int:
    """Write the day folder; returns the number of records written (malformed lines included)."""
    folder = out / table / f"dt={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    columns = TABLES[table].column_names
    rows = as_text(rng, table, clean)
    if bad.height:
        rows = pl.concat([rows, bad.select(columns).cast(pl.String)])
    rows = rows.sample(fraction=1.0, shuffle=True, seed=int(rng.integers(1 << 31)))
    file_count = int(rng.integers(1, 4)) if rows.height > 20 else 1
    assignment = pl.Series(rng.integers(0, file_count, rows.height))
    written = 0
    for index in range(file_count):
        part = rows.filter(assignment == index)
        fmt = str(rng.choice(FORMATS))
        if rng.random() < 0.4:
            part = part.with_columns(pl.lit("5.2.1").alias("sdk_version"))  # schema drift
        written += _write_file(
            rng, folder / f"export-{index:02d}-{rng.integers(1 << 20):05x}.{fmt}", fmt, part
        )
    if rng.random() < 0.04:
        (folder / "empty.jsonl").write_bytes(b"")
    if rng.random() < 0.03:
        (folder / "empty-with-header.csv").write_text(",".join(columns) + "\n")
    if rng.random() < 0.1:
        (folder / "README.txt").write_text("export notes: not data\n")
    if rng.random() < 0.5:
        (folder / "_SUCCESS").write_bytes(b"")
    return written


def _write_file(rng: np.random.Generator, path: Path, fmt: str, part: pl.DataFrame) -> int:
    records = part.height
    if fmt == "parquet":
        part.write_parquet(path)
        return records
    if fmt.startswith("csv"):
        if rng.random() < 0.3:  # columns by name, not position
            part = part.select(rng.permutation(part.columns).tolist())
        data = part.write_csv().encode()
        malformed = _malformed_csv_lines(rng, len(part.columns))
    else:
        data = _jsonl(rng, part)
        malformed = _malformed_json_lines(rng)
    data += b"".join(malformed)
    records += len(malformed)
    if fmt.endswith(".gz"):
        data = gzip.compress(data, compresslevel=1, mtime=0)  # same seed, same bytes
    path.write_bytes(data)
    return records


def _jsonl(rng: np.random.Generator, part: pl.DataFrame) -> bytes:
    if part.height == 0:
        return b""
    fields = [c for c in part.columns if c != "properties"]
    line = pl.struct(fields).struct.json_encode()
    if "properties" in part.columns:
        # properties is a nested JSON object, not a string holding JSON
        nested = pl.lit(',"properties":') + pl.col("properties").fill_null("null") + pl.lit("}")
        line = line.str.strip_suffix("}") + nested
    lines = part.select(line.alias("line"))["line"]
    # integer epoch milliseconds are numbers in JSON
    lines = lines.str.replace_all(r'"(occurred_at|created_at|updated_at|sent_at)":"(\d+)"', r'"$1":$2')
    if rng.random() < 0.5:  # a missing key is null too
        lines = lines.str.replace_all(r',"[a-z_]+":null', "")
    buffer = io.StringIO()
    buffer.write("\n".join(lines.to_list()))
    buffer.write("\n")
    if rng.random() < 0.2:
        buffer.write("\n")  # blank lines are ignored
    return buffer.getvalue().encode()


def _malformed_csv_lines(rng: np.random.Generator, width: int) -> list[bytes]:
    if rng.random() > MALFORMED_FILE_SHARE:
        return []
    if rng.random() < 0.5:
        return [(",".join(["oops"] * (width + 2)) + "\n").encode()]
    return [b",".join([b"bad\xff\xfeutf8"] * width) + b"\n"]


def _malformed_json_lines(rng: np.random.Generator) -> list[bytes]:
    if rng.random() > MALFORMED_FILE_SHARE:
        return []
    if rng.random() < 0.5:
        return [b'{"event_id": "truncated", "user_id": \n']
    return [b'{"event_id": "bad\xff\xfe"}\n']
