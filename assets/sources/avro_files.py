"""Avro files (Braze Currents) read record by record into a frame, with the writer's own schema."""

from __future__ import annotations

import json
from pathlib import Path

import fastavro
import polars as pl

from assets.ingest.readers import MAX_FILE_BYTES_VARIABLE, UnreadableFileError

_SCALARS = {
    "string": pl.String,
    "int": pl.Int64,
    "long": pl.Int64,
    "boolean": pl.Boolean,
    "float": pl.Float64,
    "double": pl.Float64,
    "bytes": pl.Binary,
}


def read_avro(path: Path, max_bytes: int) -> pl.DataFrame:
    """Every record of an Avro file, one column per field of its schema.

    Refused past OPTOUT_MAX_FILE_BYTES like any landing file. polars' reader (native code)
    reads it; a file it does not take is read again with fastavro, block by block, which
    takes any schema (a union of several types becomes JSON text) and tells what is wrong
    with a file that does not decode whole (a truncated upload, a bad block): that error
    names the file, so its day fails as a corrupt gzip's does.
    """
    if path.stat().st_size > max_bytes:
        raise UnreadableFileError(
            f"cannot read {path}: it exceeds {MAX_FILE_BYTES_VARIABLE} ({max_bytes} bytes)"
        )
    try:
        frame = pl.read_avro(path)
    except (Exception, pl.exceptions.PanicException):
        return _read_with_fastavro(path)
    # Avro's int and float as the wider types, as the record-by-record path reads them:
    # seconds times 1000 must not overflow
    return frame.with_columns(pl.col(pl.Int32).cast(pl.Int64), pl.col(pl.Float32).cast(pl.Float64))


def _read_with_fastavro(path: Path) -> pl.DataFrame:
    try:
        with path.open("rb") as handle:
            reader = fastavro.reader(handle)
            fields = reader.writer_schema.get("fields", [])
            names = [f["name"] for f in fields]
            values: dict[str, list] = {name: [] for name in names}
            for record in reader:
                for name in names:
                    values[name].append(record.get(name))
    except (UnreadableFileError, MemoryError):
        raise
    except Exception as exc:  # fastavro raises ValueError, EOFError, its own errors...
        raise UnreadableFileError(
            f"cannot read {path}: not a whole Avro file ({type(exc).__name__}: {exc})"
        ) from exc
    return pl.DataFrame(
        [_series(name, _field_type(f["type"]), values[name]) for name, f in zip(names, fields, strict=True)]
    )


def _field_type(avro_type) -> pl.DataType | None:
    """The polars type of a field (a nullable union: its other branch); None for nested types."""
    if isinstance(avro_type, list):
        branches = [t for t in avro_type if t != "null"]
        return _field_type(branches[0]) if len(branches) == 1 else None
    if isinstance(avro_type, dict):
        return _field_type(avro_type.get("type")) if avro_type.get("type") in _SCALARS else None
    return _SCALARS.get(avro_type)


def _series(name: str, dtype: pl.DataType | None, values: list) -> pl.Series:
    if dtype is None:  # records, maps, arrays, mixed unions: kept as JSON text
        values = [None if v is None else json.dumps(v, default=str, ensure_ascii=False) for v in values]
        dtype = pl.String
    return pl.Series(name, values, dtype=dtype, strict=False)
