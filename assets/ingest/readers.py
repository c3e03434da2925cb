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
import math
import os
import re
import stat
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
_SURROGATE = re.compile("[\ud800-\udfff]")

MAX_FILE_BYTES_VARIABLE = "OPTOUT_MAX_FILE_BYTES"
DEFAULT_MAX_FILE_BYTES = 2 * 1024**3
_CHUNK_BYTES = 1024 * 1024


class UnreadableFileError(Exception):
    """A whole file cannot be read (corrupt compression or Parquet, too large, unexpected content)."""


def max_file_bytes() -> int:
    """The most bytes one landing file may hold, decompressed (OPTOUT_MAX_FILE_BYTES, default 2 GiB)."""
    text = os.environ.get(MAX_FILE_BYTES_VARIABLE, "").strip()
    if not text:
        return DEFAULT_MAX_FILE_BYTES
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if limit <= 0:
        raise ValueError(f"{MAX_FILE_BYTES_VARIABLE}={text!r} is not a positive whole number of bytes")
    return limit


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


def _load_bytes(path: Path, max_bytes: int) -> bytes:
    try:
        with _open_regular_file(path) as raw:
            if not path.name.lower().endswith(".gz"):
                # a plain file is refused by its size before a byte of it is read
                if os.fstat(raw.fileno()).st_size > max_bytes:
                    raise _too_large(path, max_bytes)
                return _read_at_most(raw, max_bytes, path)
            # decompressed as a stream: a gzip bomb stops at the limit, never expands in memory
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                return _read_at_most(stream, max_bytes, path)
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableFileError(f"cannot read {path}: {exc}") from exc


def _open_regular_file(path: Path) -> io.BufferedReader:
    """Open without blocking and refuse anything but a regular file.

    The landing listing already skips FIFOs and devices; this covers one swapped in after
    the listing, which a plain open would wait on forever.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise UnreadableFileError(f"cannot read {path}: not a regular file")
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _read_at_most(stream: io.BufferedIOBase, max_bytes: int, path: Path) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while chunk := stream.read(_CHUNK_BYTES):
        total += len(chunk)
        if total > max_bytes:
            raise _too_large(path, max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(path: Path, max_bytes: int) -> UnreadableFileError:
    decompressed = " once decompressed" if path.name.lower().endswith(".gz") else ""
    return UnreadableFileError(
        f"cannot read {path}: it exceeds {MAX_FILE_BYTES_VARIABLE} ({max_bytes} bytes){decompressed}"
    )


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
    # the header is not a record: invalid UTF-8 in it is only shown as U+FFFD, and a column
    # name it garbles is then simply missing (or an extra)
    header = _unique_names([_visible(name).strip().lower() for name in rows[0]])
    body = rows[1:]
    lengths = pl.Series(list(map(len, body)), dtype=pl.Int64)
    numbers = pl.int_range(1, len(body) + 1, eager=True)
    # Blank lines are not records (not even under a blank header line); a wrong field count
    # is a malformed record.
    well_formed = (lengths == len(header)) & (lengths > 0)
    if not clean_utf8:
        has_bad_bytes = pl.Series(
            [bool(_INVALID_UTF8.search("\x1f".join(r))) for r in body], dtype=pl.Boolean
        )
        well_formed = well_formed & ~has_bad_bytes
    broken = (~well_formed) & (lengths > 0)

    good_rows = list(itertools.compress(body, well_formed.to_list()))
    columns = list(zip(*good_rows, strict=False)) if good_rows else [()] * len(header)
    records = pl.DataFrame(
        {name: pl.Series(name, values, dtype=pl.String) for name, values in zip(header, columns, strict=True)}
    ).with_columns(numbers.filter(well_formed).alias(RECORD_NUMBER))
    bad_numbers = numbers.filter(broken).to_list()
    bad_rows = list(itertools.compress(body, broken.to_list()))
    malformed = _malformed_frame(bad_numbers, [_visible(_csv_line(r)) for r in bad_rows])
    # Empty field = null.
    records = records.with_columns(
        pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in records.columns if c != RECORD_NUMBER
    )
    return records, malformed


def _unique_names(names: list[str]) -> list[str]:
    """A column named twice: the first occurrence counts, later ones become extras (`name__<index>`)."""
    out: list[str] = []
    taken: set[str] = set()  # a set: a garbage header line may name a million columns
    for index, name in enumerate(names):
        key = name if name not in taken else f"{name}__{index}"
        while key in taken:  # `name__<index>` may itself be taken by a column of the file
            key += "_"
        out.append(key)
        taken.add(key)
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
    parsed = _parse_lines_at_once(good, columns)
    if parsed is None:
        parsed, rejected = _parse_lines_one_by_one(good, columns)
        malformed = pl.concat([malformed, rejected]).sort(RECORD_NUMBER)
        good = good.filter(~pl.col(RECORD_NUMBER).is_in(rejected[RECORD_NUMBER].implode()))
    return parsed.with_columns(good[RECORD_NUMBER], good[RAW]), malformed


def _parse_lines_at_once(lines: pl.DataFrame, columns: list[str]) -> pl.DataFrame | None:
    """The vectorized reader's fields of every line, or None when it refuses the file."""
    schema = {name: pl.String for name in columns}
    if not lines.height:
        return pl.DataFrame(schema=schema)
    try:
        parsed = pl.read_ndjson(io.BytesIO("\n".join(lines[RAW].to_list()).encode()), schema=schema)
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException):
        return None
    # one row per line, or the rows cannot be matched to their line numbers
    return parsed if parsed.height == lines.height else None


def _parse_lines_one_by_one(lines: pl.DataFrame, columns: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Slow path for a file the vectorized reader refuses: find the lines that do not parse."""
    parsed_rows: list[dict] = []
    bad_numbers: list[int] = []
    bad_raws: list[str] = []
    for number, raw in lines.select(RECORD_NUMBER, RAW).iter_rows():
        fields = _object_fields(raw, columns)
        if fields is None:
            bad_numbers.append(number)
            bad_raws.append(raw)
            continue
        parsed_rows.append(fields)
    schema = {name: pl.String for name in columns}
    return pl.DataFrame(parsed_rows, schema=schema), _malformed_frame(bad_numbers, bad_raws)


def _object_fields(raw: str, columns: list[str]) -> dict[str, str | None] | None:
    """The fields of a line holding a JSON object as text, or None when the line does not parse."""
    try:
        value = json.loads(raw)
        if not isinstance(value, dict):
            return None
        fields = {c: _json_text(value.get(c)) for c in columns}
    except (ValueError, RecursionError):  # deep nesting raises RecursionError, not ValueError
        return None
    # an escaped lone surrogate (`"\ud800"`) parses, but it is not text a column can hold
    if any(text is not None and _SURROGATE.search(text) for text in fields.values()):
        return None
    return fields


def _json_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _as_text(series: pl.Series) -> tuple[pl.Series, pl.Series]:
    """One Parquet column as the text the other formats would carry, and which values held invalid UTF-8.

    Never raises for a type: whatever polars cannot turn into text directly goes through
    Python, and the validation rules then judge the text like any other.
    """
    dtype = series.dtype
    if dtype == pl.Binary:
        return _binary_text(series)
    if dtype.is_nested():
        return _nested_json(series, wrapped=True)
    return _scalar_text(series), _all_false(len(series))


def _scalar_text(series: pl.Series) -> pl.Series:
    dtype = series.dtype
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            return series.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        return series.dt.strftime("%Y-%m-%dT%H:%M:%S%.6f")
    if dtype == pl.Date:
        return series.dt.strftime("%Y-%m-%dT00:00:00")  # a native date: its midnight, UTC
    if isinstance(dtype, pl.Duration):
        return series.dt.to_string("iso")  # a length of time, e.g. `PT5S`: never a timestamp
    if dtype.is_float() and (series.drop_nulls() % 1 == 0).all():
        # whole-number floats (epoch milliseconds written as doubles) read as integers; one
        # too large for an integer keeps its float text rather than becoming null
        whole = series.cast(pl.Int64, strict=False)
        return whole.cast(pl.String).zip_with(whole.is_not_null(), series.cast(pl.String))
    try:
        return series.cast(pl.String)
    except pl.exceptions.PolarsError:  # a type polars has no text for
        return pl.Series(series.name, [_python_text(v) for v in series.to_list()], dtype=pl.String)


def _python_text(value: object) -> str | None:
    return None if value is None else str(value)


def _all_false(length: int) -> pl.Series:
    return pl.repeat(False, length, dtype=pl.Boolean, eager=True)


def _binary_text(series: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Bytes as UTF-8 text; invalid UTF-8 is shown as U+FFFD and flagged (a malformed record)."""
    try:
        return series.cast(pl.String), _all_false(len(series))
    except pl.exceptions.PolarsError:
        pass
    decoded = [_bytes_text(v) for v in series.to_list()]
    texts = pl.Series(series.name, [text for text, _ in decoded], dtype=pl.String)
    return texts, pl.Series([invalid for _, invalid in decoded], dtype=pl.Boolean)


def _bytes_text(value: bytes | None) -> tuple[str | None, bool]:
    if value is None:
        return None, False
    try:
        return value.decode("utf-8"), False
    except UnicodeDecodeError:
        return _visible(value.decode("utf-8", "surrogateescape")), True


def _nested_json(series: pl.Series, wrapped: bool) -> tuple[pl.Series, pl.Series]:
    """Nested values as JSON text (`{"<column>": value}` when wrapped), and which held invalid UTF-8.

    polars encodes them itself unless a leaf is binary (its JSON writer panics there); those
    go through Python, which shows invalid UTF-8 as U+FFFD and flags it.
    """
    if _polars_can_encode(series.dtype):
        value = pl.struct(pl.all()) if wrapped else pl.col(series.name)
        return series.to_frame().select(value.struct.json_encode()).to_series(), _all_false(len(series))
    texts, invalid = [], []
    for value in series.to_list():
        bad_bytes: list[bool] = []
        plain = _json_ready(value, bad_bytes)
        document = {series.name: plain} if wrapped else plain
        texts.append(
            None if document is None else json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        )
        invalid.append(any(bad_bytes))
    return pl.Series(series.name, texts, dtype=pl.String), pl.Series(invalid, dtype=pl.Boolean)


def _polars_can_encode(dtype: pl.DataType) -> bool:
    if dtype == pl.Binary or dtype.is_object():
        return False
    if isinstance(dtype, pl.Struct):
        return all(_polars_can_encode(field.dtype) for field in dtype.fields)
    # List and Array hold `inner`, Map `key` and `value`
    parts = [getattr(dtype, part, None) for part in ("inner", "key", "value")] if dtype.is_nested() else []
    return all(_polars_can_encode(part) for part in parts if _is_dtype(part))


def _is_dtype(value: object) -> bool:
    return isinstance(value, pl.DataType) or (isinstance(value, type) and issubclass(value, pl.DataType))


def _json_ready(value: object, bad_bytes: list[bool]) -> object:
    """A nested Python value as plain JSON types; bytes become text (bad ones noted in bad_bytes)."""
    if isinstance(value, bytes):
        text, invalid = _bytes_text(value)
        bad_bytes.append(invalid)
        return text
    if isinstance(value, dict):
        return {str(_json_ready(k, bad_bytes)): _json_ready(v, bad_bytes) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v, bad_bytes) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # as polars writes NaN and infinity
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def read_parquet(data: bytes) -> tuple[pl.DataFrame, pl.DataFrame]:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except (Exception, pl.exceptions.PanicException) as exc:  # polars raises (or panics) in many ways
        raise UnparsableParquet(str(exc)) from exc
    frame.columns = _unique_names([c.strip().lower() for c in frame.columns])
    texts, invalid_utf8 = [], _all_false(frame.height)
    for name in frame.columns:
        series = frame[name]
        if name == "properties" and isinstance(series.dtype, pl.Struct):
            # a nested object: keep the object itself, not the `{"properties": ...}` wrapper
            text, invalid = _nested_json(series, wrapped=False)
        else:
            text, invalid = _as_text(series)
        texts.append(text.alias(name))
        invalid_utf8 = invalid_utf8 | invalid
    text = pl.DataFrame(texts).with_columns(
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(RECORD_NUMBER)
    )
    if not invalid_utf8.any():
        return text, _malformed_frame([], [])
    # a row holding invalid UTF-8 is malformed, like such a line of CSV or JSONL
    bad = text.filter(invalid_utf8)
    malformed = pl.DataFrame(
        {RECORD_NUMBER: bad[RECORD_NUMBER], RAW: raw_text(bad, "parquet")},
        schema={RECORD_NUMBER: pl.Int64, RAW: pl.String},
    )
    return text.filter(~invalid_utf8), malformed


class UnparsableParquet(Exception):
    pass


def read_file(path: Path, columns: list[str], max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> FileRecords:
    fmt = file_format(path.name)
    if fmt is None:
        raise ValueError(f"{path.name} is not an accepted export file")
    data = _load_bytes(path, max_bytes)
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
    if fmt == "jsonl":  # not any `_raw` column: a CSV or Parquet file may name one itself
        return records[RAW]
    fields = [c for c in records.columns if not c.startswith("_")]
    if not fields:  # a file naming only `_` columns: nothing to show, but a row all the same
        return pl.repeat("", records.height, dtype=pl.String, eager=True).alias(RAW)
    if fmt == "csv":
        quoted = [
            pl.when(pl.col(c).str.contains(r'[",\r\n]'))
            .then(pl.lit('"') + pl.col(c).str.replace_all('"', '""', literal=True) + pl.lit('"'))
            .otherwise(pl.col(c).fill_null(""))
            for c in fields
        ]
        return records.select(pl.concat_str(quoted, separator=",").alias(RAW)).to_series()
    return records.select(pl.struct(fields).struct.json_encode().alias(RAW)).to_series()
