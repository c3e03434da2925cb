"""Search every file under some folders for ids, reading inside what a byte search cannot:
gzip members, Parquet columns, DuckDB and SQLite tables. Used to prove an erasure complete."""

from __future__ import annotations

import contextlib
import gzip
import re
import sqlite3
from pathlib import Path

import duckdb
import polars as pl


def _token(value: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(value)}(?![\w-])")


def _text_hits(text: str, patterns: dict[str, re.Pattern[str]]) -> set[str]:
    return {value for value, pattern in patterns.items() if pattern.search(text)}


def _frame_text(frame: pl.DataFrame) -> str:
    return "\n".join(str(value) for column in frame.columns for value in frame[column].to_list())


def find_ids(roots: list[Path], ids: list[str]) -> dict[str, set[str]]:
    """{file: ids found in it} for every file under `roots` that holds one of `ids`."""
    patterns = {value: _token(value) for value in ids}
    found: dict[str, set[str]] = {}
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            hits = _hits_in(path, patterns)
            if hits:
                found[str(path)] = hits
    return found


def _hits_in(path: Path, patterns: dict[str, re.Pattern[str]]) -> set[str]:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        with contextlib.suppress(OSError, EOFError):
            data = gzip.decompress(data)
    binary = data[:4] == b"PAR1" or data[8:12] == b"DUCK"
    # compressed column data can hold any short byte sequence: in a Parquet or DuckDB file the
    # raw bytes are searched for the longer ids only (left-over blocks), the content for all
    raw_patterns = {v: p for v, p in patterns.items() if not binary or len(v) >= 6}
    hits = _text_hits(data.decode("utf-8", errors="replace"), raw_patterns)
    if data[:4] == b"PAR1":
        hits |= _text_hits(_frame_text(pl.read_parquet(data)), patterns)
    elif data[:16] == b"SQLite format 3\x00":
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = [r[0] for r in connection.execute("select name from sqlite_master where type='table'")]
            for table in tables:
                for row in connection.execute(f'select * from "{table}"'):
                    hits |= _text_hits(
                        " ".join(
                            v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row
                        ),
                        patterns,
                    )
        finally:
            connection.close()
    elif data[8:12] == b"DUCK":
        connection = duckdb.connect(str(path), read_only=True)
        try:
            tables = connection.execute(
                "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
            ).fetchall()
            for schema, table in tables:
                hits |= _text_hits(
                    _frame_text(connection.sql(f'select * from "{schema}"."{table}"').pl()), patterns
                )
        finally:
            connection.close()
    return hits
