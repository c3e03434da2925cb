"""JSON Lines parsed once by polars' reader, with Python's `json` only for the lines it refuses.

Blank lines are not records. A line that cannot hold an object (it does not start with `{`
and end with `}`, or it holds invalid UTF-8) is malformed without being parsed. The other
lines go to polars in one call; when polars refuses the batch (one broken line is enough),
the batch is halved until each refused line stands alone, and Python's `json` has the last
word on it. So one bad line costs a few extra parses of its neighbours, not a line-by-line read.
"""

from __future__ import annotations

import io
import json
import re

import polars as pl

from assets.ingest.csv_reader import RAW, RECORD_NUMBER, malformed_frame, visible

_INVALID_UTF8 = re.compile("[\udc80-\udcff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def read_jsonl(text: str, clean_utf8: bool, columns: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    split = text.split("\n")
    if clean_utf8:
        whole = _whole_file(text, split, columns)
        if whole is not None:
            return whole, malformed_frame([], [])
    if clean_utf8:
        bad_bytes = pl.repeat(False, len(split), dtype=pl.Boolean, eager=True)
        raws = pl.Series(split, dtype=pl.String)
    else:
        # lines holding invalid UTF-8 (kept as surrogates) are malformed records
        flags = [bool(_INVALID_UTF8.search(line)) for line in split]
        bad_bytes = pl.Series(flags, dtype=pl.Boolean)
        raws = pl.Series([visible(line) if bad else line for line, bad in zip(split, flags, strict=True)])
    lines = pl.DataFrame({RAW: raws, "_bad_bytes": bad_bytes}).with_row_index(RECORD_NUMBER, offset=1)
    lines = lines.with_columns(pl.col(RECORD_NUMBER).cast(pl.Int64), pl.col(RAW).str.strip_suffix("\r"))
    stripped = pl.col(RAW).str.strip_chars()
    lines = lines.filter(stripped != "")
    could_be_object = stripped.str.starts_with("{") & stripped.str.ends_with("}") & ~pl.col("_bad_bytes")
    lines = lines.with_columns(could_be_object.alias("_ok")).drop("_bad_bytes")
    candidates = lines.filter(pl.col("_ok")).select(RECORD_NUMBER, RAW)
    malformed = lines.filter(~pl.col("_ok")).select(RECORD_NUMBER, RAW)
    parsed, refused = _parse(candidates, columns)
    malformed = pl.concat([malformed, refused]).sort(RECORD_NUMBER)
    return parsed, malformed


def _whole_file(text: str, split: list[str], columns: list[str]) -> pl.DataFrame | None:
    """The records of a file whose every non-blank line is a JSON object, in one parse; else None.

    polars skips blank lines itself; when it gives one row per line the strip calls
    non-blank, rows and lines match one to one.
    """
    try:
        parsed = pl.read_ndjson(io.BytesIO(text.encode()), schema={name: pl.String for name in columns})
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException):
        return None
    lines = (
        pl.DataFrame({RAW: split})
        .lazy()
        .with_row_index(RECORD_NUMBER, offset=1)
        .select(pl.col(RECORD_NUMBER).cast(pl.Int64), pl.col(RAW).str.strip_suffix("\r"))
        .filter(pl.col(RAW).str.strip_chars() != "")
        .collect()
    )
    return _with_lineage(parsed, lines) if parsed.height == lines.height else None


def _parse(lines: pl.DataFrame, columns: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(fields of the lines that parse, with their number and raw text; the refused lines)."""
    schema = {name: pl.String for name in columns}
    if not lines.height:
        return _with_lineage(pl.DataFrame(schema=schema), lines), malformed_frame([], [])
    parsed = _polars_parse(lines, schema)
    if parsed is not None:
        return _with_lineage(parsed, lines), malformed_frame([], [])
    if lines.height == 1:
        return _python_parse(lines, columns)
    half = lines.height // 2
    first_parsed, first_refused = _parse(lines.slice(0, half), columns)
    rest_parsed, rest_refused = _parse(lines.slice(half), columns)
    return pl.concat([first_parsed, rest_parsed]), pl.concat([first_refused, rest_refused])


def _polars_parse(lines: pl.DataFrame, schema: dict) -> pl.DataFrame | None:
    """polars' fields of every line, or None when it refuses them (or does not give one row per line)."""
    data = lines[RAW].str.join("\n").item().encode()
    try:
        parsed = pl.read_ndjson(io.BytesIO(data), schema=schema)
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException):
        return None
    return parsed if parsed.height == lines.height else None


def _with_lineage(parsed: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    return parsed.with_columns(lines[RECORD_NUMBER], lines[RAW])


def _python_parse(line: pl.DataFrame, columns: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One line polars refused: Python's `json` decides (it takes NaN and huge exponents, for one)."""
    number, raw = line.row(0)
    fields = object_fields(raw, columns)
    if fields is None:
        return _with_lineage(pl.DataFrame(schema={c: pl.String for c in columns}), line.clear()), line
    parsed = pl.DataFrame([fields], schema={c: pl.String for c in columns})
    return _with_lineage(parsed, line), malformed_frame([], [])


def object_fields(raw: str, columns: list[str]) -> dict[str, str | None] | None:
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
