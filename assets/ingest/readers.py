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
import json
import math
import os
import stat
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from assets.config import Settings, load_settings
from assets.contract import ACCEPTED_EXTENSIONS
from assets.ingest.csv_reader import RAW, RECORD_NUMBER, malformed_frame, read_csv, unique_names, visible
from assets.ingest.jsonl_reader import read_jsonl

MAX_FILE_BYTES_VARIABLE = "OPTOUT_MAX_FILE_BYTES"  # named in the error a too-large file gets
DEFAULT_MAX_FILE_BYTES = Settings.model_fields["max_file_bytes"].default
_CHUNK_BYTES = 1024 * 1024


class UnreadableFileError(Exception):
    """A whole file cannot be read (corrupt compression or Parquet, too large, unexpected content)."""


def max_file_bytes() -> int:
    """The most bytes one landing file may hold, decompressed (OPTOUT_MAX_FILE_BYTES, default 2 GiB)."""
    return load_settings().max_file_bytes


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


def load_bytes(path: Path, max_bytes: int) -> bytes:
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


def decode_text(data: bytes) -> tuple[str, bool]:
    """Text of the file and whether it held invalid UTF-8 (kept as surrogates to find later)."""
    try:
        text = data.decode("utf-8")
        clean = True
    except UnicodeDecodeError:
        text = data.decode("utf-8", "surrogateescape")
        clean = False
    return text.removeprefix("\ufeff"), clean


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
    return pl.zeros(length, dtype=pl.Boolean, eager=True)


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
        return visible(value.decode("utf-8", "surrogateescape")), True


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
    frame.columns = unique_names([c.strip().lower() for c in frame.columns])
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
        return text, malformed_frame([], [])
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
    data = load_bytes(path, max_bytes)
    try:
        if fmt == "parquet":
            records, malformed = read_parquet(data)
        else:
            text, clean = decode_text(data)
            if fmt == "csv":
                records, malformed = read_csv(text, clean)
            else:
                records, malformed = read_jsonl(text, clean, columns)
    except (UnparsableParquet, csv.Error) as exc:
        raise UnreadableFileError(f"cannot read {path}: {exc}") from exc
    return FileRecords(path.name, fmt, records, malformed)


def raw_text(records: pl.DataFrame, fmt: str) -> pl.Series:
    """The record as text, for quarantined records: the line for JSONL, else re-serialized."""
    fields = [c for c in records.columns if not c.startswith("_")] or None
    return records.select(raw_text_expr(fields, fmt).alias(RAW)).to_series()


def raw_text_expr(fields: list[str] | None, fmt: str) -> pl.Expr:
    """`raw_text` as an expression over a file's records, given its fields (names not starting with `_`)."""
    if fmt == "jsonl":  # not any `_raw` column: a CSV or Parquet file may name one itself
        return pl.col(RAW)
    if not fields:  # a file naming only `_` columns: nothing to show, but a row all the same
        return pl.lit("", pl.String)
    if fmt == "csv":
        quoted = [
            pl.when(pl.col(c).str.contains(r'[",\r\n]'))
            .then(pl.lit('"') + pl.col(c).str.replace_all('"', '""', literal=True) + pl.lit('"'))
            .otherwise(pl.col(c).fill_null(""))
            for c in fields
        ]
        return pl.concat_str(quoted, separator=",")
    return pl.struct(fields).struct.json_encode()


@contextmanager
def blamed_on(what: str) -> Iterator[None]:
    """Whatever goes wrong inside fails the table-day as unreadable, naming `what`.

    The lake keeps that day's previous version and the other days go on, never an error
    that names neither file nor day. Running out of memory is not the file's fault and
    stays what it is, like an interrupt.
    """
    try:
        yield
    except (UnreadableFileError, MemoryError):
        raise
    # polars reports a bug it hits as a PanicException, a BaseException: one file's bug too
    except (Exception, pl.exceptions.PanicException) as exc:
        raise UnreadableFileError(f"cannot read {what}: unexpected {type(exc).__name__}: {exc}") from exc
