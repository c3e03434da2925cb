"""Write one table's export day as real platforms do: several files, mixed formats and forms.

Two steps, so that days can be written in parallel and still come out the same for a seed:
`plan_day` makes every random choice of a day folder (in the caller's thread, in a fixed
order); `write_planned_day` turns the plan and the records into files and draws nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from assets.contract import TABLES

FORMATS = ["csv", "csv.gz", "jsonl", "jsonl.gz", "parquet"]
MALFORMED_FILE_SHARE = 0.15  # files that end with a line that does not parse
DRIFT_COLUMN = "sdk_version"  # an extra column some exporters add (schema drift)

# Timestamp forms, by code: Z, three offsets, no offset (ISO text, which ends in the
# form's suffix), epoch milliseconds.
OFFSET_HOURS = {"+03:00": 3, "-05:00": -5, "+05:30": 5.5}
SUFFIXES = ["Z", *OFFSET_HOURS, ""]
EPOCH_FORM = len(SUFFIXES)
SHIFT_MS = np.array([0, *(int(hours * 3_600_000) for hours in OFFSET_HOURS.values()), 0, 0])  # UTC to local
# Z, an offset, no offset and epoch milliseconds are equally likely (each offset a third of
# its quarter): a form is drawn as one of twelve equally likely codes.
FORMS_BY_TWELFTH = np.array([0, 0, 0, 1, 2, 3, 4, 4, 4, EPOCH_FORM, EPOCH_FORM, EPOCH_FORM])
MS_PER_DAY = 86_400_000

# Enum spellings: as is (85%), upper case, padded with spaces, title case (5% each).
SPELLINGS = (str, str.upper, lambda value: f"  {value} ", str.title)
SPELLINGS_BY_TWENTIETH = np.array([0] * 17 + [1, 2, 3])

COLUMN_KINDS = {column.name: column.kind for table in TABLES.values() for column in table.columns}


@dataclass(frozen=True)
class TextForms:
    """How each row of a table's clean records is spelled in the files (drawn per row)."""

    timestamp_forms: dict[str, np.ndarray]
    enum_spellings: dict[str, np.ndarray]


@dataclass(frozen=True)
class FilePlan:
    name: str
    fmt: str
    rows: int
    columns: list[str]  # in file order; may hold the drift column
    malformed: list[bytes]  # lines that do not parse, at the end of the file
    drop_null_keys: bool = False  # JSONL: a missing key is null too
    blank_line: bool = False  # JSONL: blank lines are ignored

    @property
    def records(self) -> int:
        return self.rows + len(self.malformed)


@dataclass(frozen=True)
class DayPlan:
    table: str
    folder: Path
    forms: TextForms
    row_order: np.ndarray  # rows of (clean parts, then bad records) in file order
    files: list[FilePlan]
    extras: dict[str, bytes]  # files that hold no records (markers, empty files, notes)

    @property
    def records(self) -> int:
        return sum(plan.records for plan in self.files)


# -- planning: every random choice --------------------------------------------------------
def plan_day(
    rng: np.random.Generator, out: Path, table: str, day: dt.date, part_sizes: list[int], bad_rows: int
) -> DayPlan:
    """`part_sizes`: the clean records come in parts (e.g. on time, late), each in random order."""
    folder = out / table / f"dt={day.isoformat()}"
    columns = TABLES[table].column_names
    forms = draw_text_forms(rng, table, sum(part_sizes))
    row_order = _interleaving(rng, [*part_sizes, bad_rows])
    file_count = int(rng.integers(1, 4)) if row_order.size > 20 else 1
    sizes = rng.multinomial(row_order.size, [1 / file_count] * file_count)
    files = [_plan_file(rng, index, int(size), columns) for index, size in enumerate(sizes)]
    return DayPlan(table, folder, forms, row_order, files, _plan_extras(rng, columns))


def _interleaving(rng: np.random.Generator, sizes: list[int]) -> np.ndarray:
    """A random order of the rows of several sources that keeps each source's own order.

    The sources are already shuffled, so this is a uniform shuffle of all rows; yet each
    source is read front to back, which keeps the gather that applies it cache-friendly.
    """
    source = rng.permutation(np.repeat(np.arange(len(sizes), dtype=np.int16), sizes))  # int16: radix sort
    order = np.empty(source.size, np.int64)
    order[np.argsort(source, kind="stable")] = np.arange(source.size)
    return order


def draw_text_forms(rng: np.random.Generator, table: str, height: int) -> TextForms:
    timestamps, enums = {}, {}
    for column in TABLES[table].columns:
        if column.kind == "timestamp":
            timestamps[column.name] = _draw(rng, FORMS_BY_TWELFTH, height)
        elif column.kind == "enum":
            enums[column.name] = _draw(rng, SPELLINGS_BY_TWENTIETH, height)
    return TextForms(timestamps, enums)


def _draw(rng: np.random.Generator, outcomes: np.ndarray, count: int) -> np.ndarray:
    """`count` draws of equally likely outcomes (an outcome listed twice is twice as likely)."""
    return outcomes[rng.integers(0, outcomes.size, count)]


def _plan_file(rng: np.random.Generator, index: int, rows: int, columns: list[str]) -> FilePlan:
    fmt = str(rng.choice(FORMATS))
    if rng.random() < 0.4:
        columns = [*columns, DRIFT_COLUMN]
    name = f"export-{index:02d}-{rng.integers(1 << 20):05x}.{fmt}"
    if fmt == "parquet":
        return FilePlan(name, fmt, rows, columns, [])
    if fmt.startswith("csv"):
        if rng.random() < 0.3:  # columns by name, not position
            columns = rng.permutation(columns).tolist()
        return FilePlan(name, fmt, rows, columns, _malformed_csv_lines(rng, len(columns)))
    drop_null_keys, blank_line = bool(rng.random() < 0.5), bool(rng.random() < 0.2)
    return FilePlan(name, fmt, rows, columns, _malformed_json_lines(rng), drop_null_keys, blank_line)


def _plan_extras(rng: np.random.Generator, columns: list[str]) -> dict[str, bytes]:
    extras = {}
    if rng.random() < 0.04:
        extras["empty.jsonl"] = b""
    if rng.random() < 0.03:
        extras["empty-with-header.csv"] = (",".join(columns) + "\n").encode()
    if rng.random() < 0.1:
        extras["README.txt"] = b"export notes: not data\n"
    if rng.random() < 0.5:
        extras["_SUCCESS"] = b""
    return extras


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


# -- writing: no random choices, safe to run in a worker thread ---------------------------
def write_planned_day(plan: DayPlan, clean: pl.DataFrame, bad: pl.DataFrame) -> None:
    """`clean` holds the typed records, `bad` text rows with the table's columns."""
    plan.folder.mkdir(parents=True, exist_ok=True)
    rows = _rows_in_file_order(plan, clean, bad)
    first = 0
    for file in plan.files:
        _write_file(plan.folder / file.name, file, _file_part(rows.slice(first, file.rows), file))
        first += file.rows
    for name, content in plan.extras.items():
        (plan.folder / name).write_bytes(content)


def _rows_in_file_order(plan: DayPlan, clean: pl.DataFrame, bad: pl.DataFrame) -> pl.DataFrame:
    text = as_text(plan.table, clean, plan.forms)
    if bad.height:
        text = pl.concat([text, bad[text.columns]])
    return text.rechunk()[plan.row_order]


def _file_part(rows: pl.DataFrame, file: FilePlan) -> pl.DataFrame:
    """The file's columns in the file's order (plain column picks: cheaper than a query)."""
    if DRIFT_COLUMN in file.columns:
        rows = rows.hstack([pl.Series(DRIFT_COLUMN, ["5.2.1"]).new_from_index(0, rows.height)])
    return rows[file.columns]


def as_text(table: str, frame: pl.DataFrame, forms: TextForms) -> pl.DataFrame:
    exprs = [pl.col(column).cast(pl.String) for column in frame.columns]
    for index, column in enumerate(frame.columns):
        if column in forms.timestamp_forms:
            exprs[index] = _timestamp_text(frame[column], forms.timestamp_forms[column])
        elif column in forms.enum_spellings:
            exprs[index] = _enum_text(column, frame.schema[column], forms.enum_spellings[column])
    return frame.select(exprs)


def _timestamp_text(times: pl.Series, form: np.ndarray) -> pl.Expr:
    """Each row in its drawn form.

    The ISO text is put together from lookup tables (dates, clock times, milliseconds with
    the form's suffix) rather than formatted per row: three gathers instead of a strftime.
    """
    epoch_ms = pl.col(times.name).to_physical()
    local_ms = _epoch_ms(times) + SHIFT_MS[form]
    day, ms_of_day = np.divmod(local_ms, MS_PER_DAY)
    first_day = int(day.min()) if day.size else 0
    iso = pl.concat_str(
        _lookup(_dates(first_day, int(day.max()) if day.size else 0), day - first_day),
        _lookup(_clock_times(), ms_of_day // 1000),
        _lookup(_millis_and_suffixes(), ms_of_day % 1000 * len(SUFFIXES) + np.minimum(form, EPOCH_FORM - 1)),
    )
    text = pl.when(pl.lit(pl.Series(form == EPOCH_FORM))).then(epoch_ms.cast(pl.String)).otherwise(iso)
    if times.has_nulls():
        text = pl.when(epoch_ms.is_not_null()).then(text)
    return text.alias(times.name)


def _epoch_ms(times: pl.Series) -> np.ndarray:
    """Epoch milliseconds as numbers (0 for a null time, whose text is dropped anyway)."""
    ms = times.to_numpy().astype("datetime64[ms]", copy=False)
    return np.where(np.isnat(ms), 0, ms.view(np.int64)) if times.has_nulls() else ms.view(np.int64)


def _lookup(table: pl.Series, positions: np.ndarray) -> pl.Expr:
    return pl.lit(table).gather(pl.lit(pl.Series(positions)))


@functools.lru_cache(maxsize=64)  # the days of one export day recur in each table
def _dates(first_day: int, last_day: int) -> pl.Series:
    """'2026-01-05T' for each day number (days since 1970-01-01) in the range."""
    days = np.arange(first_day, last_day + 1).astype("datetime64[D]")
    return pl.Series(np.char.add(days.astype(str), "T"))


@functools.cache
def _clock_times() -> pl.Series:
    """'HH:MM:SS' for each second of a day."""
    seconds = pl.time_range(dt.time(0), dt.time(23, 59, 59), "1s", eager=True)
    return seconds.dt.strftime("%H:%M:%S")


@functools.cache
def _millis_and_suffixes() -> pl.Series:
    """'.mmm' and a suffix: position ms * len(SUFFIXES) + form."""
    return pl.Series([f".{ms:03d}{suffix}" for ms in range(1000) for suffix in SUFFIXES])


def _enum_text(column: str, dtype: pl.Enum, spelling: np.ndarray) -> pl.Expr:
    """Spellings looked up by (value, spelling) in a small table instead of computed per row."""
    lookup = _spelling_table(tuple(dtype.categories))
    position = pl.col(column).to_physical().cast(pl.Int64) * len(SPELLINGS) + pl.lit(pl.Series(spelling))
    return pl.lit(lookup).gather(position).alias(column)


@functools.cache
def _spelling_table(values: tuple[str, ...]) -> pl.Series:
    """Each value in each spelling, value by value: position value * len(SPELLINGS) + spelling."""
    return pl.Series([spell(value) for value in values for spell in SPELLINGS], dtype=pl.String)


def _write_file(path: Path, plan: FilePlan, part: pl.DataFrame) -> None:
    compressed = plan.fmt.endswith(".gz")
    gzip_options = {"compression": "gzip", "compression_level": 1} if compressed else {}
    if plan.fmt == "parquet":
        part.write_parquet(path, compression="snappy")
    elif plan.fmt.startswith("csv"):
        part.write_csv(path, **gzip_options)
    else:  # one JSON object per line, written as a one-column CSV without quoting
        lines = _json_lines(part, plan.drop_null_keys).to_frame()
        lines.write_csv(path, include_header=False, quote_style="never", **gzip_options)
    tail = (b"\n" if plan.blank_line else b"") + b"".join(plan.malformed)
    if tail:
        with path.open("ab") as file:
            # an exporter that appends to a gzip file adds a gzip member (readers join them)
            file.write(gzip.compress(tail, compresslevel=1, mtime=0) if compressed else tail)


def _json_lines(part: pl.DataFrame, drop_null_keys: bool) -> pl.Series:
    """One JSON object per row: epoch milliseconds as numbers, properties as nested objects."""
    nullable = tuple(column for column in part.columns if part[column].has_nulls())
    line = _json_line(tuple(part.columns), nullable if drop_null_keys else ())
    return part.select(line).to_series()


@functools.cache
def _json_line(columns: tuple[str, ...], null_keys_left_out: tuple[str, ...]) -> pl.Expr:
    kinds = {column: COLUMN_KINDS.get(column, "string") for column in columns}
    strings = [column for column, kind in kinds.items() if kind not in ("timestamp", "json")]
    members = [
        _timestamp_member(c) if kind == "timestamp" else _nested_member(c)
        for c, kind in kinds.items()
        if c not in strings
    ]
    # the encoder escapes the free text; the members appended to its object need no escaping
    encoded = pl.struct(strings).struct.json_encode().str.strip_suffix("}")
    line = pl.concat_str(encoded, *members, pl.lit("}"))
    if null_keys_left_out:  # a missing key is null too
        keys = "|".join(re.escape(column) for column in null_keys_left_out)
        line = line.str.replace_all(f',"(?:{keys})":null', "")
    return line.alias("line")


def _timestamp_member(column: str) -> pl.Expr:
    """`,"column":value`; timestamp text is digits, an ISO form or a fixed bad value: no escaping."""
    value = pl.col(column)
    bare = value.str.contains(r"^\d+$").fill_null(True)  # epoch milliseconds are a JSON number
    quote = pl.when(bare).then(pl.lit("")).otherwise(pl.lit('"'))
    return pl.concat_str(pl.lit(f',"{column}":'), quote, value.fill_null("null"), quote)


def _nested_member(column: str) -> pl.Expr:
    """`,"column":{...}`: a JSON column holds JSON text, which goes in as it is."""
    return pl.concat_str(pl.lit(f',"{column}":'), pl.col(column).fill_null("null"))
