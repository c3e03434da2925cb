"""Read one landing file into string columns, keeping malformed records apart.

Each reader returns every record of the file in one of two frames: `records` (one String
column per field the file names, plus `_record_number`) or `malformed` (`_record_number`,
`_raw`). Typing and validation happen later, the same way for every format.
Record numbers are 1-based: the data record for CSV (header excluded), the physical line
for JSONL, the row for Parquet.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import re
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from assets.contract import ACCEPTED_EXTENSIONS

RECORD_NUMBER = "_record_number"
RAW = "_raw"

csv.field_size_limit(sys.maxsize)

_INVALID_UTF8 = re.compile("[\udc80-\udcff]")


class UnreadableFileError(Exception):
    """A whole file cannot be read (corrupt compression or Parquet)."""


@dataclass
class FileRecords:
    file_name: str
    format: str  # "csv" | "jsonl" | "parquet"
    records: pl.DataFrame
    malformed: pl.DataFrame

    @property
    def records_read(self) -> int:
        return self.records.height + self.malformed.height


def file_format(name: str) -> str | None:
    """The format of an accepted file name, or None for a file that is not read."""
    lowered = name.lower()
    for extension in sorted(ACCEPTED_EXTENSIONS, key=len, reverse=True):
        if lowered.endswith(extension):
            return extension.removesuffix(".gz").lstrip(".")
    return None


def is_ignored(name: str) -> bool:
    return name.startswith(".") or name == "_SUCCESS"


def _malformed_frame(numbers: list[int], raws: list[str]) -> pl.DataFrame:
    return pl.DataFrame({RECORD_NUMBER: numbers, RAW: raws}, schema={RECORD_NUMBER: pl.Int64, RAW: pl.String})


def _load_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableFileError(f"cannot read {path}: {exc}") from exc
    return data


def _decode(data: bytes) -> tuple[str, bool]:
    """Text of the file and whether it held invalid UTF-8 (kept as surrogates to find later)."""
    try:
        text = data.decode("utf-8")
        clean = True
    except UnicodeDecodeError:
        text = data.decode("utf-8", "surrogateescape")
        clean = False
    return text.removeprefix("\ufeff"), clean


def _visible(text: str) -> str:
    """Raw text safe to store: invalid UTF-8 bytes shown as U+FFFD."""
    return _INVALID_UTF8.sub("\ufffd", text)


def _csv_line(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def read_csv(text: str, clean_utf8: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return pl.DataFrame({RECORD_NUMBER: []}, schema={RECORD_NUMBER: pl.Int64}), _malformed_frame([], [])
    header = [name.strip().lower() for name in rows[0]]
    body = rows[1:]
    lengths = pl.Series(list(map(len, body)), dtype=pl.Int64)
    numbers = pl.int_range(1, len(body) + 1, eager=True)
    # Blank lines are not records; a wrong field count is a malformed record.
    well_formed = lengths == len(header)
    if not clean_utf8:
        has_bad_bytes = pl.Series([bool(_INVALID_UTF8.search("\x1f".join(r))) for r in body])
        well_formed = well_formed & ~has_bad_bytes
    broken = (~well_formed) & (lengths > 0)

    good_rows = list(itertools.compress(body, well_formed.to_list()))
    columns = list(zip(*good_rows, strict=False)) if good_rows else [()] * len(header)
    records = pl.DataFrame(
        {name: pl.Series(name, values, dtype=pl.String) for name, values in zip(header, columns, strict=True)}
        if len(set(header)) == len(header)
        else _dedupe_header(header, columns)
    ).with_columns(numbers.filter(well_formed).alias(RECORD_NUMBER))
    bad_numbers = numbers.filter(broken).to_list()
    bad_rows = list(itertools.compress(body, broken.to_list()))
    malformed = _malformed_frame(bad_numbers, [_visible(_csv_line(r)) for r in bad_rows])
    # Empty field = null.
    records = records.with_columns(
        pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in records.columns if c != RECORD_NUMBER
    )
    return records, malformed


def _dedupe_header(header: list[str], columns: list[tuple]) -> dict[str, pl.Series]:
    """A header naming a column twice: the first occurrence counts, later ones are extras."""
    out: dict[str, pl.Series] = {}
    for index, (name, values) in enumerate(zip(header, columns, strict=True)):
        key = name if name not in out else f"{name}__{index}"
        out[key] = pl.Series(key, values, dtype=pl.String)
    return out


def read_jsonl(text: str, clean_utf8: bool, columns: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    split = text.split("\n")
    # lines holding invalid UTF-8 (kept as surrogates by _decode) are malformed records
    bad_bytes = (
        [bool(_INVALID_UTF8.search(line)) for line in split] if not clean_utf8 else [False] * len(split)
    )
    lines = pl.DataFrame(
        {RAW: split if clean_utf8 else [_visible(line) for line in split], "_bad_bytes": bad_bytes}
    )
    lines = lines.with_row_index(RECORD_NUMBER, offset=1).with_columns(
        pl.col(RECORD_NUMBER).cast(pl.Int64), pl.col(RAW).str.strip_suffix("\r")
    )
    stripped = pl.col(RAW).str.strip_chars()
    lines = lines.filter(stripped != "")
    is_object = stripped.str.starts_with("{") & stripped.str.json_path_match("$").is_not_null()
    lines = lines.with_columns((is_object & ~pl.col("_bad_bytes")).alias("_ok")).drop("_bad_bytes")
    good = lines.filter(pl.col("_ok")).drop("_ok")
    malformed = lines.filter(~pl.col("_ok")).select(RECORD_NUMBER, RAW)
    schema = {name: pl.String for name in columns}
    try:
        parsed = (
            pl.read_ndjson(io.BytesIO("\n".join(good[RAW].to_list()).encode()), schema=schema)
            if good.height
            else pl.DataFrame(schema=schema)
        )
    except pl.exceptions.PolarsError:
        parsed, rejected = _parse_lines_one_by_one(good, columns)
        malformed = pl.concat([malformed, rejected]).sort(RECORD_NUMBER)
        good = good.filter(~pl.col(RECORD_NUMBER).is_in(rejected[RECORD_NUMBER].implode()))
    return parsed.with_columns(good[RECORD_NUMBER], good[RAW]), malformed


def _parse_lines_one_by_one(lines: pl.DataFrame, columns: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Slow path for a file the vectorized reader refuses: find the lines that do not parse."""
    parsed_rows: list[dict] = []
    bad_numbers: list[int] = []
    bad_raws: list[str] = []
    for number, raw in lines.select(RECORD_NUMBER, RAW).iter_rows():
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            bad_numbers.append(number)
            bad_raws.append(raw)
            continue
        parsed_rows.append({c: _json_text(value.get(c)) for c in columns})
    schema = {name: pl.String for name in columns}
    return pl.DataFrame(parsed_rows, schema=schema), _malformed_frame(bad_numbers, bad_raws)


def _json_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _as_text(series: pl.Series) -> pl.Series:
    """One Parquet column as the text the other formats would carry."""
    dtype = series.dtype
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            return series.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        return series.dt.strftime("%Y-%m-%dT%H:%M:%S%.6f")
    if dtype == pl.Date:
        return series.dt.strftime("%Y-%m-%dT00:00:00")  # a native date: its midnight, UTC
    if isinstance(dtype, (pl.Struct, pl.List, pl.Array)):
        return series.to_frame().select(pl.struct(pl.all()).struct.json_encode()).to_series()
    if dtype == pl.Binary:
        return series.cast(pl.String, strict=False)
    if dtype.is_float() and (series.drop_nulls() % 1 == 0).all():
        # whole-number floats (epoch milliseconds written as doubles) read as integers
        return series.cast(pl.Int64, strict=False).cast(pl.String)
    return series.cast(pl.String)


def read_parquet(data: bytes) -> tuple[pl.DataFrame, pl.DataFrame]:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # polars raises several kinds for a corrupt file
        raise UnparsableParquet(str(exc)) from exc
    frame = frame.rename({c: c.strip().lower() for c in frame.columns})
    text = pl.DataFrame([_as_text(frame[c]).alias(c) for c in frame.columns])
    if isinstance(frame.schema.get("properties"), pl.Struct):
        # a nested object: keep the object itself, not the wrapper made above
        text = text.with_columns(frame["properties"].struct.json_encode().alias("properties"))
    text = text.with_columns(pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(RECORD_NUMBER))
    return text, _malformed_frame([], [])


class UnparsableParquet(Exception):
    pass


def read_file(path: Path, columns: list[str]) -> FileRecords:
    fmt = file_format(path.name)
    if fmt is None:
        raise ValueError(f"{path.name} is not an accepted export file")
    data = _load_bytes(path)
    try:
        if fmt == "parquet":
            records, malformed = read_parquet(data)
        else:
            text, clean = _decode(data)
            if fmt == "csv":
                records, malformed = read_csv(text, clean)
            else:
                records, malformed = read_jsonl(text, clean, columns)
    except (UnparsableParquet, csv.Error) as exc:
        raise UnreadableFileError(f"cannot read {path}: {exc}") from exc
    return FileRecords(path.name, fmt, records, malformed)


def raw_text(records: pl.DataFrame, fmt: str) -> pl.Series:
    """The record as text, for quarantined records: the line for JSONL, else re-serialized."""
    if RAW in records.columns:
        return records[RAW]
    fields = [c for c in records.columns if not c.startswith("_")]
    if fmt == "csv":
        quoted = [
            pl.when(pl.col(c).str.contains(r'[",\r\n]'))
            .then(pl.lit('"') + pl.col(c).str.replace_all('"', '""', literal=True) + pl.lit('"'))
            .otherwise(pl.col(c).fill_null(""))
            for c in fields
        ]
        return records.select(pl.concat_str(quoted, separator=",").alias(RAW)).to_series()
    return records.select(pl.struct(fields).struct.json_encode().alias(RAW)).to_series()
