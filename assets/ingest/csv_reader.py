"""CSV at the speed of polars' reader, with Python's `csv` module only for the lines it must judge.

The contract's CSV is RFC 4180, and `read_csv_exact` (Python's `csv` reader over the whole
text) defines what a file holds: its records, their numbers and the malformed ones. This
module gives the same answer faster. A physical line that is a complete record in canonical
form (every field unquoted without quotes, CR or NUL, or fully quoted with doubled quotes
inside) and holds exactly the header's number of fields parses the same in every RFC 4180
reader: those lines, nearly all of a real file, go to polars in one call. Every other line
(a quoted field spanning lines, a stray quote, a wrong field count, invalid UTF-8, a bare
CR) is read by Python's `csv` reader, started at that line (a record boundary, since the
lines before it were complete records) and stopped at the first record that ends where a
canonical or blank line follows. So a file with one bad line costs about what a clean one does.
"""

from __future__ import annotations

import bisect
import csv
import io
import itertools
import re
import sys
from collections.abc import Iterator

import polars as pl

RECORD_NUMBER = "_record_number"
RAW = "_raw"

# a field may be as long as the file (the file-size limit applies before)
csv.field_size_limit(sys.maxsize)

_INVALID_UTF8 = re.compile("[\udc80-\udcff]")
# a field as every RFC 4180 reader parses it alike; no CR (Python's reader ends lines there)
_FIELD = r'(?:[^",\r\x00]*|"(?:[^"\r\x00]|"")*")'
_CANONICAL_LINE = re.compile(rf"{_FIELD}(?:,{_FIELD})*\r?")
# beyond this many columns the pattern would be huge: such a file takes the exact path whole
_MAX_FAST_COLUMNS = 256


def visible(text: str) -> str:
    """Raw text safe to store: invalid UTF-8 bytes (kept as surrogates) shown as U+FFFD."""
    return _INVALID_UTF8.sub("\ufffd", text)


def csv_line(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def malformed_frame(numbers: list[int], raws: list[str]) -> pl.DataFrame:
    return pl.DataFrame({RECORD_NUMBER: numbers, RAW: raws}, schema={RECORD_NUMBER: pl.Int64, RAW: pl.String})


def unique_names(names: list[str]) -> list[str]:
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


def read_csv(text: str, clean_utf8: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(records, malformed) of a CSV text; the same frames as `read_csv_exact`, faster."""
    body = text.split("\n")
    ends_with_newline = body[-1] == ""
    if ends_with_newline:
        body.pop()  # the newline that ends the last line does not start another
    header_fields = _single_line_record(body[0]) if body else None
    if header_fields is None or len(header_fields) > _MAX_FAST_COLUMNS:
        return read_csv_exact(text, clean_utf8)
    header = _header(header_fields)
    body = body[1:]
    lines = _polars_lines(body, clean_utf8)
    blank = lines.str.strip_suffix("\r") == ""
    fast = lines.str.contains(_record_pattern(len(header))) & ~blank
    # the lines Python's reader must judge, in runs that each start at a record boundary
    slow = (~fast & ~blank).arg_true().to_list()
    slow_rows, shifts, in_runs = _read_slow_runs(body, slow, fast | blank, ends_with_newline)
    # a canonical-looking line inside a quoted field that a slow line opened belongs to that run
    fast = fast & ~in_runs
    row_of_line = pl.int_range(1, len(body) + 1, eager=True, dtype=pl.Int64) - shifts.cum_sum()
    records = _fast_records(
        lines, fast, row_of_line, header, body_text=text if clean_utf8 and not slow else None
    )
    slow_records, malformed = _judge_rows(slow_rows, header)
    records = pl.concat([records, slow_records]).sort(RECORD_NUMBER)
    return _empty_as_null(records), malformed


def read_csv_exact(text: str, clean_utf8: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The definition: Python's `csv` reader over the whole text (also the path for odd headers)."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return pl.DataFrame({RECORD_NUMBER: []}, schema={RECORD_NUMBER: pl.Int64}), malformed_frame([], [])
    header = _header(rows[0])
    numbered = [(number, row) for number, row in enumerate(rows[1:], start=1)]
    records, malformed = _judge_rows(numbered, header)
    return _empty_as_null(records), malformed


def _header(fields: list[str]) -> list[str]:
    # the header is not a record: invalid UTF-8 in it is only shown as U+FFFD, and a column
    # name it garbles is then simply missing (or an extra)
    return unique_names([visible(name).strip().lower() for name in fields])


def _single_line_record(line: str) -> list[str] | None:
    """The fields of a canonical line (one whole record on its own), or None."""
    if not line or not _CANONICAL_LINE.fullmatch(line):
        return None
    return next(csv.reader([line.removesuffix("\r")]))


def _polars_lines(body: list[str], clean_utf8: bool) -> pl.Series:
    """The lines as a polars column; one holding invalid UTF-8 (kept as surrogates, which
    polars cannot hold) becomes a NUL, which is neither blank nor canonical."""
    if clean_utf8:
        return pl.Series(body, dtype=pl.String)
    return pl.Series(["\x00" if _INVALID_UTF8.search(line) else line for line in body], dtype=pl.String)


def _record_pattern(width: int) -> str:
    """A line that is one canonical record of exactly `width` fields (CRLF allowed)."""
    return rf"^{_FIELD}(?:,{_FIELD}){{{width - 1}}}\r?$"


def _read_slow_runs(
    body: list[str], slow: list[int], boundary_after: pl.Series, ends_with_newline: bool
) -> tuple[list[tuple[int, list[str]]], pl.Series, pl.Series]:
    """Rows of the lines Python's reader must judge, numbered; each line's row shift; the lines read.

    A run starts at a slow line and ends after the first record that ends where a canonical
    or blank line follows. A run of `L` lines that gave `R` rows shifts the row number of
    every later line by `L - R` (a quoted field spanning lines: fewer rows than lines).
    """
    rows: list[tuple[int, list[str]]] = []
    shift = [0] * (len(body) + 1)
    in_runs = [False] * len(body)
    if not slow:
        return rows, pl.Series(shift[:-1], dtype=pl.Int64), pl.Series(in_runs, dtype=pl.Boolean)
    pieces = [line + "\n" for line in body]
    if not ends_with_newline:
        pieces[-1] = body[-1]
    ends = list(itertools.accumulate(map(len, pieces)))  # text offset after each line
    next_row_shift = 0
    index = 0
    while index < len(slow):
        start = slow[index]
        first_row = start + 1 - next_row_shift
        stop, run_rows = _one_run(pieces, start, ends, boundary_after)
        rows += [(first_row + offset, fields) for offset, fields in enumerate(run_rows)]
        shift[stop] += (stop - start) - len(run_rows)
        in_runs[start:stop] = [True] * (stop - start)
        next_row_shift += (stop - start) - len(run_rows)
        index = bisect.bisect_left(slow, stop, lo=index + 1)
    return rows, pl.Series(shift[:-1], dtype=pl.Int64), pl.Series(in_runs, dtype=pl.Boolean)


def _one_run(
    pieces: list[str], start: int, ends: list[int], boundary_after: pl.Series
) -> tuple[int, list[list[str]]]:
    """Read records from line `start` until one ends at a line followed by a canonical or blank line."""
    base = ends[start - 1] if start else 0
    consumed = [base]
    reader = csv.reader(_counting_lines(pieces, start, consumed))
    rows: list[list[str]] = []
    for fields in reader:
        rows.append(fields)
        position = consumed[0]
        line_end = bisect.bisect_left(ends, position)
        if line_end < len(ends) and ends[line_end] == position:  # the record ended at a \n
            following = line_end + 1
            if following >= len(pieces) or boundary_after[following]:
                return following, rows
    return len(pieces), rows


def _counting_lines(lines: list[str], start: int, consumed: list[int]) -> Iterator[str]:
    """The text from line `start` in the pieces Python's reader expects (split at CR, LF, CRLF),
    adding each piece's length to consumed[0] as it is handed over."""
    for line in lines[start:]:
        for piece in io.StringIO(line, newline=""):
            consumed[0] += len(piece)
            yield piece


def _fast_records(
    lines: pl.Series, fast: pl.Series, row_of_line: pl.Series, header: list[str], body_text: str | None
) -> pl.DataFrame:
    """The canonical lines parsed by polars. `body_text` is the whole file when no line is
    slow: with no blank line either, polars reads it as it is (header line skipped)."""
    numbers = row_of_line.filter(fast)
    schema = {name: pl.String for name in header}
    if numbers.is_empty():
        return pl.DataFrame(schema={**schema, RECORD_NUMBER: pl.Int64})
    if body_text is not None and numbers.len() == lines.len():
        data, skip = body_text.encode(), 1
    else:
        data, skip = lines.filter(fast).str.strip_suffix("\r").str.join("\n").item().encode(), 0
    parsed = pl.read_csv(
        io.BytesIO(data),
        has_header=False,
        skip_lines=skip,
        schema=schema,
        quote_char='"',
        raise_if_empty=False,
    )
    if parsed.height != numbers.len():  # canonical lines are one row each: anything else is a bug
        raise ValueError(f"the CSV reader gave {parsed.height} rows for {numbers.len()} canonical lines")
    return parsed.with_columns(numbers.alias(RECORD_NUMBER))


def _judge_rows(
    numbered: list[tuple[int, list[str]]], header: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows from Python's reader: records (the header's field count, valid UTF-8) and malformed ones.

    Blank lines give empty rows: they are not records, not even under a blank header.
    """
    good, bad_numbers, bad_raws = [], [], []
    for number, fields in numbered:
        if not fields:
            continue
        if len(fields) == len(header) and not _INVALID_UTF8.search("\x1f".join(fields)):
            good.append((number, fields))
        else:
            bad_numbers.append(number)
            bad_raws.append(visible(csv_line(fields)))
    columns = list(zip(*(fields for _, fields in good), strict=False)) if good else [()] * len(header)
    records = pl.DataFrame(
        {name: pl.Series(name, values, dtype=pl.String) for name, values in zip(header, columns, strict=True)}
    ).with_columns(pl.Series(RECORD_NUMBER, [number for number, _ in good], dtype=pl.Int64))
    return records, malformed_frame(bad_numbers, bad_raws)


def _empty_as_null(records: pl.DataFrame) -> pl.DataFrame:
    """Empty field = null (quoted or not)."""
    return records.with_columns(
        pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in records.columns if c != RECORD_NUMBER
    )
