"""Fuzzed landing corpus: whatever lands, a file never takes down more than its own table-day.

Every hostile file (with a valid file beside it on most days) either ingests, and then each of
its records is loaded, quarantined with a reason of the contract or counted as a duplicate,
or it fails its day with an UnreadableFileError naming it, leaving that day's lake folder as
it was. No other exception may escape. The corpus comes from a seeded random.Random and the
mutations of the second test from hypothesis (derandomized), so every run fuzzes the same files.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets.contract import ERROR_CODES, MALFORMED, TABLE_NAMES, TABLES, Table
from assets.ingest.day import ingest_table_day
from assets.ingest.lake import DATA_FILE, LOG_FILE, QUARANTINE_FILE, day_dir
from assets.ingest.readers import UnreadableFileError

SEED = 20261123
FILES_PER_TABLE_AND_FORMAT = 13
MAX_FILE_BYTES = 5 * 1024 * 1024
FIRST_DAY = dt.date(2026, 1, 1)
FORMATS = (".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".parquet")
# what polars' strip_chars() takes for whitespace (Unicode White_Space): Python's str.strip()
# also strips \x1c-\x1f, which would count a line of those as blank
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)

HOSTILE_VALUES = [
    None,
    "",
    "   ",
    "BOGUS",
    " Opt_In ",
    "yesterday",
    "1999-12-31T23:59:59Z",
    "2099-01-01T00:00:00Z",
    "2026-02-30T10:00:00Z",
    "2026-01-05T10:00:00+25:00",
    "-1",
    "99999999999999999999",
    "1767607200000.5",
    "\x00",
    "é",
    "🎉",
    '"quoted", with comma',
    "line\nbreak",
    "\r",
    "\ufeff",
    "\u2028",
    "x" * 5000,
    "{",
    "[]",
    "null",
    "true",
    "NaN",
]


# --- records -------------------------------------------------------------------------------


def valid_record(rng: random.Random, table: Table, day: dt.date) -> dict[str, str | None]:
    record = {column.name: _valid_value(rng, column, day) for column in table.columns}
    if table.name == "messages":
        record["error_code"] = rng.choice(ERROR_CODES) if record["event_type"] == "failed" else None
    if table.name == "users" and record["platform"] != "web":
        record["browser"] = None
    return record


def _valid_value(rng: random.Random, column, day: dt.date) -> str | None:
    if column.name == "event_id":
        return f"e{rng.randrange(400)}"  # a small pool: duplicates within and across files and days
    if column.kind == "enum":
        return rng.choice(column.values) if column.required or rng.random() < 0.5 else None
    if column.kind == "timestamp":
        instant = dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(seconds=rng.randrange(86400))
        forms = [
            instant.strftime("%Y-%m-%dT%H:%M:%SZ"),
            str(int(instant.timestamp() * 1000)),
            instant.astimezone(dt.timezone(dt.timedelta(hours=3))).isoformat(),
        ]
        return rng.choice(forms)
    if column.kind == "json":
        return rng.choice([None, '{"value": 1}', '{"tags": ["x"], "n": null}'])
    return f"{column.name[0]}{rng.randrange(1000)}"


def noisy_record(rng: random.Random, table: Table, day: dt.date) -> dict[str, str | None]:
    record = valid_record(rng, table, day)
    for name in list(record):
        roll = rng.random()
        if roll < 0.3:
            record[name] = rng.choice(HOSTILE_VALUES)
        elif roll < 0.35:
            del record[name]
    if rng.random() < 0.2:
        record["extra_column"] = rng.choice(HOSTILE_VALUES)
    return record


def records(
    rng: random.Random, table: Table, day: dt.date, noisy: bool = False, count: int = 0
) -> list[dict]:
    make = noisy_record if noisy else valid_record
    return [make(rng, table, day) for _ in range(count or rng.randint(1, 25))]


# --- writers -------------------------------------------------------------------------------


def csv_text(rows: list[dict], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
    return out.getvalue()


def jsonl_text(rows: list[dict], rng: random.Random) -> str:
    return "".join(json.dumps(row, ensure_ascii=rng.random() < 0.5) + "\n" for row in rows)


def parquet_bytes(frame: pl.DataFrame | pa.Table) -> bytes:
    out = io.BytesIO()
    if isinstance(frame, pa.Table):
        pq.write_table(frame, out)
    else:
        frame.write_parquet(out)
    return out.getvalue()


def string_frame(rows: list[dict], columns: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {c: [row.get(c) for row in rows] for c in columns}, schema=dict.fromkeys(columns, pl.String)
    )


def text_content(rng: random.Random, table: Table, day: dt.date, fmt: str, rows: list[dict]) -> str:
    return csv_text(rows, table.column_names) if fmt.startswith(".csv") else jsonl_text(rows, rng)


def valid_file(rng: random.Random, table: Table, day: dt.date, fmt: str) -> bytes:
    rows = records(rng, table, day)
    if fmt == ".parquet":
        return parquet_bytes(string_frame(rows, table.column_names))
    return compressed(fmt, text_content(rng, table, day, fmt, rows).encode())


def compressed(fmt: str, data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1, mtime=0) if fmt.endswith(".gz") else data


def gzip_bomb(expanded_mb: int) -> bytes:
    """Small on disk, `expanded_mb` MB expanded: one compressed MB of zeros, repeated as members."""
    return gzip.compress(b"\0" * 1024 * 1024, compresslevel=9, mtime=0) * expanded_mb


# --- hostile files ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    name: str
    formats: tuple[str, ...]
    # may the file fail its day? (a corrupt container, a file over the limit); any other kind must ingest
    may_fail: tuple[str, ...] = ()


TEXT = (".csv", ".csv.gz", ".jsonl", ".jsonl.gz")
GZ = (".csv.gz", ".jsonl.gz")
ALL = (*TEXT, ".parquet")
CONTAINERS = (*GZ, ".parquet")

KINDS = [
    Kind("random_bytes", ALL, may_fail=CONTAINERS),
    Kind("truncated", ALL, may_fail=CONTAINERS),
    Kind("bit_flips", ALL, may_fail=CONTAINERS),
    Kind("empty", ALL, may_fail=CONTAINERS),
    Kind("noisy_values", ALL),
    Kind("duplicates", ALL),
    Kind("huge_value", ALL),
    Kind("oversized", ALL, may_fail=ALL),
    Kind("random_text", TEXT),
    Kind("truncated_content", TEXT),
    Kind("nul_bytes", TEXT),
    Kind("latin1", TEXT),
    Kind("utf16_bom", TEXT),
    Kind("utf16_no_bom", TEXT),
    Kind("utf8_bom", TEXT),
    Kind("deep_nesting", TEXT),
    Kind("junk_lines", TEXT),
    Kind("odd_header", TEXT),
    Kind("gzip_trailing_garbage", GZ, may_fail=GZ),
    Kind("not_gzip", GZ, may_fail=GZ),
    Kind("multi_member", GZ),
    Kind("not_parquet", (".parquet",), may_fail=(".parquet",)),
    Kind("wrong_types", (".parquet",)),
    Kind("binary_invalid_utf8", (".parquet",)),
    Kind("nested_types", (".parquet",)),
    Kind("renamed_columns", (".parquet",)),
    Kind("zero_rows", (".parquet",)),
    Kind("arrow_types", (".parquet",)),
    Kind("deep_json_text", (".parquet",)),
]


def kinds_for(fmt: str) -> list[Kind]:
    return [kind for kind in KINDS if fmt in kind.formats]


def hostile_file(rng: random.Random, kind: str, table: Table, day: dt.date, fmt: str) -> bytes:
    """The bytes of one hostile file of `kind` (compressed already where the format says so)."""
    if fmt in GZ and kind in GZIP_LEVEL:
        return GZIP_LEVEL[kind](rng, table, day, fmt)
    if kind in BYTE_LEVEL:
        return BYTE_LEVEL[kind](rng, valid_file(rng, table, day, fmt))
    if fmt == ".parquet":
        return PARQUET[kind](rng, table, day)
    return compressed(fmt, TEXT_LEVEL[kind](rng, table, day, fmt))


def _truncated(rng, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))] if data else data


def _bit_flips(rng, data: bytes) -> bytes:
    mutable = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if mutable:
            mutable[rng.randrange(len(mutable))] = rng.randrange(256)
    return bytes(mutable)


BYTE_LEVEL = {
    "random_bytes": lambda rng, _: rng.randbytes(rng.randint(1, 4096)),
    "truncated": _truncated,
    "bit_flips": _bit_flips,
    "empty": lambda rng, _: b"",
    "oversized": lambda rng, _: rng.randbytes(1024) * (MAX_FILE_BYTES // 1024 + 1),
}


def _content(rng, table, day, fmt, rows=None) -> str:
    return text_content(
        rng, table, day, fmt, rows if rows is not None else records(rng, table, day, noisy=True)
    )


def _deep_nesting(rng, table, day, fmt) -> str:
    depth = 100_000
    if fmt.startswith(".csv"):
        return ",".join(table.column_names) + "\n" + ",".join(["[" * depth] * len(table.columns)) + "\n"
    deep = ["[" * depth, "{" * depth, '{"a":' * depth, "[" * depth + "]" * depth]
    wrapped = (
        json.dumps(valid_record(rng, table, day))[:-1] + ', "properties": ' + "[" * 2000 + "]" * 2000 + "}"
    )
    return "\n".join([*deep, wrapped, json.dumps(valid_record(rng, table, day))]) + "\n"


def _junk_lines(rng, table, day, fmt) -> str:
    if fmt.startswith(".csv"):
        junk = ['a,"unterminated', '"', ",,,,,,,,,,,,", "\r", 'x""y,"a""b"', "only one field", '"a"b"c"']
        body = _content(rng, table, day, fmt).splitlines(keepends=True)
        return "".join(body + [rng.choice(junk) + "\n" for _ in range(10)])
    junk = [
        '{"a":1}{"b":2}',
        '{"event_id":1e999}',
        '{"event_id": "x"} trailing',
        '{"event_id": "\\ud800"}',
        '{"event_id": "x", "event_id": "y"}',
        "{}",
        "[1, 2]",
        '"just a string"',
        "null",
        "{'single': 'quotes'}",
        '{"event_id": NaN}',
        '{"event_id": "x",}',
        "   ",
        "\x1c",
    ]
    lines = [json.dumps(r) for r in records(rng, table, day)] + [rng.choice(junk) for _ in range(12)]
    rng.shuffle(lines)
    return "\n".join(lines) + "\n"


def _odd_header(rng, table, day, fmt) -> str:
    rows = records(rng, table, day)
    if fmt.startswith(".csv"):
        columns = list(table.column_names)
        rng.shuffle(columns)
        header = [
            rng.choice([c, c.upper(), f" {c} ", "", columns[0], "extra", "_raw", "_record_number"])
            for c in columns
        ]
        body = csv_text(rows, columns).split("\n", 1)[1]
        return ",".join(header) + "\n" + body
    renamed = [{rng.choice([k, k.upper(), f" {k}"]): v for k, v in row.items()} for row in rows]
    return jsonl_text(renamed, rng)


def _encoded(encoding: str):
    def build(rng, table, day, fmt) -> bytes:
        rows = records(rng, table, day)
        for row in rows:
            row[rng.choice(list(row))] = "café ñandú"
        return _content(rng, table, day, fmt, rows).encode(encoding, "replace")

    return build


def _with_nul_bytes(rng, table, day, fmt) -> bytes:
    text = bytearray(_content(rng, table, day, fmt).encode())
    for _ in range(rng.randint(1, 10)):
        text.insert(rng.randrange(len(text) + 1), 0)
    return bytes(text)


def _huge_value(rng, table, day, fmt) -> str:
    rows = records(rng, table, day)
    rows[0][rng.choice(table.column_names)] = "h" * rng.randint(1, 3) * 1024 * 1024
    return _content(rng, table, day, fmt, rows)


def _duplicates(rng, table, day, fmt) -> list[dict]:
    rows = records(rng, table, day, count=10)
    return rows + [dict(rng.choice(rows)) for _ in range(10)]


TEXT_LEVEL = {
    "noisy_values": lambda rng, t, d, f: _content(rng, t, d, f).encode(),
    "duplicates": lambda rng, t, d, f: _content(rng, t, d, f, _duplicates(rng, t, d, f)).encode(),
    "huge_value": lambda rng, t, d, f: _huge_value(rng, t, d, f).encode(),
    "random_text": lambda rng, t, d, f: rng.randbytes(rng.randint(1, 4096)),
    "truncated_content": lambda rng, t, d, f: _truncated(rng, _content(rng, t, d, f).encode()),
    "nul_bytes": _with_nul_bytes,
    "latin1": _encoded("latin-1"),
    "utf16_bom": _encoded("utf-16"),
    "utf16_no_bom": _encoded("utf-16-le"),
    "utf8_bom": lambda rng, t, d, f: b"\xef\xbb\xbf" + _content(rng, t, d, f).encode(),
    "deep_nesting": lambda rng, t, d, f: _deep_nesting(rng, t, d, f).encode(),
    "junk_lines": lambda rng, t, d, f: _junk_lines(rng, t, d, f).encode(),
    "odd_header": lambda rng, t, d, f: _odd_header(rng, t, d, f).encode(),
}

GZIP_LEVEL = {
    "oversized": lambda rng, t, d, f: gzip_bomb(1024),  # 1 MB on disk, 1 GiB expanded
    "gzip_trailing_garbage": lambda rng, t, d, f: (
        valid_file(rng, t, d, f) + rng.randbytes(rng.randint(1, 64))
    ),
    "not_gzip": lambda rng, t, d, f: _content(rng, t, d, f).encode(),
    "multi_member": lambda rng, t, d, f: b"".join(
        compressed(f, part.encode()) for part in _split(rng, _content(rng, t, d, f))
    ),
}


def _split(rng, text: str) -> list[str]:
    cut = rng.randrange(len(text) + 1)
    return [text[:cut], text[cut:]]


# --- Parquet ------------------------------------------------------------------------------------


def _typed_column(rng: random.Random, name: str, n: int) -> pl.Series:
    """A column of `n` values in a type a landing Parquet should not carry (or an awkward one)."""
    epoch = 1767607200000
    makers = [
        lambda: pl.Series(name, [dt.timedelta(seconds=rng.randrange(10**6)) for _ in range(n)]),
        lambda: pl.Series(name, [dt.time(rng.randrange(24), rng.randrange(60)) for _ in range(n)]),
        lambda: pl.Series(name, [Decimal(rng.randrange(10**13)) / 100 for _ in range(n)]),
        lambda: pl.Series(
            name, [rng.choice([b"ok", b"\xff\xfe", b"u\xc3", None]) for _ in range(n)], pl.Binary
        ),
        lambda: pl.Series(name, [[rng.randrange(9)] for _ in range(n)]),
        lambda: pl.Series(name, [{"at": epoch, "tag": "x"} for _ in range(n)]),
        lambda: pl.Series(name, [None] * n, dtype=pl.Null),
        lambda: pl.Series(name, [rng.random() < 0.5 for _ in range(n)]),
        lambda: pl.Series(name, [rng.randrange(-128, 128) for _ in range(n)], dtype=pl.Int8),
        lambda: pl.Series(
            name, [rng.choice([epoch + 0.5, float(epoch), 1e300, float("nan")]) for _ in range(n)]
        ),
        lambda: pl.Series(name, [epoch + rng.randrange(86400000) for _ in range(n)], dtype=pl.Int64),
        lambda: pl.Series(name, [2**64 - 1] * n, dtype=pl.UInt64),
        lambda: pl.Series(name, [dt.datetime(2026, 1, 1) + dt.timedelta(hours=rng.randrange(24 * 70))] * n),
        lambda: pl.Series(name, [dt.datetime(1, 1, 1)] * n).dt.replace_time_zone("Asia/Tokyo"),
        lambda: pl.Series(name, [dt.date(2026, 1, rng.randint(1, 28)) for _ in range(n)]),
        lambda: pl.Series(name, [rng.choice(["web", "x"]) for _ in range(n)], dtype=pl.Categorical),
    ]
    return rng.choice(makers)()


def _wrong_types(rng, table, day) -> bytes:
    rows = records(rng, table, day)
    frame = string_frame(rows, table.column_names)
    columns = [
        _typed_column(rng, c, frame.height) if rng.random() < 0.6 else frame[c] for c in table.column_names
    ]
    return parquet_bytes(pl.DataFrame(columns))


def _binary_invalid_utf8(rng, table, day) -> bytes:
    rows = records(rng, table, day)
    encoded = {
        c: pl.Series(
            c,
            [
                None
                if r.get(c) is None
                else (r[c].encode() if rng.random() < 0.7 else b"\xff" + r[c].encode())
                for r in rows
            ],
            dtype=pl.Binary,
        )
        for c in table.column_names
    }
    return parquet_bytes(pl.DataFrame(list(encoded.values())))


def _nested_types(rng, table, day) -> bytes:
    rows = records(rng, table, day)
    frame = string_frame(rows, table.column_names)
    nested = {
        c: rng.choice(
            [
                pl.Series(c, [[v] for v in frame[c]]),
                pl.Series(c, [{"value": v, "blob": rng.choice([b"ok", b"\xff"])} for v in frame[c]]),
                frame[c],
            ]
        )
        for c in table.column_names
    }
    return parquet_bytes(pl.DataFrame(list(nested.values())))


def _renamed_columns(rng, table, day) -> bytes:
    frame = string_frame(records(rng, table, day), table.column_names)
    renamed = frame.rename({c: rng.choice([c.upper(), f" {c} ", c]) for c in frame.columns})
    extra = renamed.with_columns(pl.lit("shadow").alias(table.column_names[0].upper() + " "))
    return parquet_bytes(extra if rng.random() < 0.5 else renamed)


def _arrow_types(rng, table, day) -> bytes:
    rows = records(rng, table, day)
    n = len(rows)
    values = {c: [r.get(c) for r in rows] for c in table.column_names}
    awkward = [
        lambda v: pa.array(v, pa.string()).dictionary_encode(),
        lambda v: pa.array(v, type=pa.large_string()),
        lambda v: pa.array(
            [None if x is None else x.encode()[:1].ljust(1, b"\xff") for x in v], type=pa.binary(1)
        ),
        lambda v: pa.array([rng.randrange(86400) for _ in v], type=pa.time32("s")),
        lambda v: pa.array([dt.datetime(2026, 1, 5)] * n, type=pa.date64()),
        lambda v: pa.array([rng.randrange(10**6) for _ in v], type=pa.duration("s")),
        lambda v: pa.array([Decimal("1.5")] * n, type=pa.decimal128(10, 2)),
        lambda v: pa.array([[("k", x)] for x in v], type=pa.map_(pa.string(), pa.string())),
        lambda v: pa.array([[x] for x in v], type=pa.large_list(pa.string())),
    ]
    arrays = {
        c: (rng.choice(awkward)(v) if rng.random() < 0.6 else pa.array(v, pa.string()))
        for c, v in values.items()
    }
    return parquet_bytes(pa.table(arrays))


def _huge_parquet_value(rng, table, day) -> bytes:
    rows = records(rng, table, day)
    rows[0][rng.choice(table.column_names)] = "h" * rng.randint(1, 3) * 1024 * 1024
    return parquet_bytes(string_frame(rows, table.column_names))


def _deep_json_text(rng, table, day) -> bytes:
    rows = records(rng, table, day)
    for row in rows:
        row[rng.choice(table.column_names)] = "[" * 100_000
    return parquet_bytes(string_frame(rows, table.column_names))


def _parquet_rows(rng, table, day, rows) -> bytes:
    return parquet_bytes(string_frame(rows, table.column_names))


PARQUET = {
    "noisy_values": lambda rng, t, d: _parquet_rows(rng, t, d, records(rng, t, d, noisy=True)),
    "duplicates": lambda rng, t, d: _parquet_rows(rng, t, d, _duplicates(rng, t, d, ".parquet")),
    "huge_value": _huge_parquet_value,
    "not_parquet": lambda rng, t, d: csv_text(records(rng, t, d), t.column_names).encode(),
    "wrong_types": _wrong_types,
    "binary_invalid_utf8": _binary_invalid_utf8,
    "nested_types": _nested_types,
    "renamed_columns": _renamed_columns,
    "zero_rows": lambda rng, t, d: _parquet_rows(rng, t, d, []),
    "arrow_types": _arrow_types,
    "deep_json_text": _deep_json_text,
}


# --- checking one ingested day ---------------------------------------------------------------


def allowed_reasons(table: Table) -> set[str]:
    reasons = {MALFORMED}
    for column in table.columns:
        if column.required:
            reasons.add(f"missing_required:{column.name}")
        if column.kind == "enum":
            reasons.add(f"invalid_value:{column.name}")
        if column.kind == "timestamp":
            reasons.add(f"invalid_timestamp:{column.name}")
        if column.own_time:
            reasons.add(f"future_timestamp:{column.name}")
    return reasons


def records_in_file(path: Path) -> int:
    """How many records the file holds, counted independently of the ingestion."""
    data = path.read_bytes()
    if path.name.endswith(".parquet"):
        try:
            return pq.read_metadata(io.BytesIO(data)).num_rows
        except Exception:  # pyarrow refuses a file polars read: count what polars saw
            return pl.read_parquet(io.BytesIO(data)).height
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    text = data.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    if ".csv" in path.name:
        rows = list(csv.reader(io.StringIO(text, newline="")))
        return sum(1 for row in rows[1:] if row)
    return sum(1 for line in text.split("\n") if line.removesuffix("\r").strip(WHITESPACE))


def lake_snapshot(lake: Path, table: str, day: dt.date) -> dict[str, str]:
    folder = day_dir(lake, table, day)
    if not folder.is_dir():
        return {}
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@dataclass
class Outcome:
    status: str  # "loaded" | "quarantined-only" | "failed-day"
    records: int = 0
    lost: int = 0


def ingest_and_check(
    landing: Path, lake: Path, table: Table, day: dt.date, hostile: Path, may_fail: bool
) -> Outcome:
    """Ingest one table-day holding `hostile` and check every outcome the contract allows."""
    before = lake_snapshot(lake, table.name, day)
    try:
        result = ingest_table_day(landing, lake, table.name, day)
    except UnreadableFileError as exc:
        assert may_fail, f"{hostile.name} must ingest, but failed its day: {exc}"
        assert hostile.name in str(exc), f"the error does not name {hostile.name}: {exc}"
        assert lake_snapshot(lake, table.name, day) == before, f"{day} of {table.name} was half-written"
        assert not list((lake / table.name).glob(".*")), "a staging folder was left behind"
        return Outcome("failed-day")
    folder = day_dir(lake, table.name, day)
    data, quarantine = pl.read_parquet(folder / DATA_FILE), pl.read_parquet(folder / QUARANTINE_FILE)
    log = pl.read_parquet(folder / LOG_FILE).row(0, named=True)
    assert (
        log["records_read"],
        log["records_loaded"],
        log["records_quarantined"],
        log["records_duplicate"],
    ) == (
        result.records_read,
        data.height,
        quarantine.height,
        result.records_duplicate,
    )
    assert (
        log["records_read"] == log["records_loaded"] + log["records_quarantined"] + log["records_duplicate"]
    )
    assert set(quarantine["reason"]) <= allowed_reasons(table), set(quarantine["reason"]) - allowed_reasons(
        table
    )
    assert set(quarantine["table_name"]) <= {table.name} and set(quarantine["export_date"]) <= {day}

    expected_total = unaccounted_total = 0
    hostile_outcome = Outcome("quarantined-only")
    for path in (landing / table.name / f"dt={day}").iterdir():
        expected = records_in_file(path)
        loaded_numbers = data.filter(pl.col("source_file") == path.name)["record_number"].to_list()
        quarantined_numbers = quarantine.filter(pl.col("file_name") == path.name)["record_number"].to_list()
        numbers = loaded_numbers + quarantined_numbers
        assert len(numbers) == len(set(numbers)), f"a record of {path.name} landed twice"
        unaccounted = expected - len(numbers)
        assert unaccounted >= 0, f"{path.name}: {len(numbers)} records in the lake, the file holds {expected}"
        if not table.event_id:
            assert unaccounted == 0, f"{path.name}: {unaccounted} records neither loaded nor quarantined"
        expected_total += expected
        unaccounted_total += unaccounted
        if path == hostile:
            hostile_outcome = Outcome("loaded" if loaded_numbers else "quarantined-only", records=expected)
    assert expected_total == log["records_read"], (
        f"read {log['records_read']}, the files hold {expected_total}"
    )
    # what is neither loaded nor quarantined is exactly the duplicates: no record is lost
    hostile_outcome.lost = unaccounted_total - log["records_duplicate"]
    assert hostile_outcome.lost == 0
    return hostile_outcome


# --- the corpus ------------------------------------------------------------------------------


def test_fuzzed_landing_corpus_never_escapes_a_table_day(tmp_path, monkeypatch):
    monkeypatch.setenv("OPTOUT_MAX_FILE_BYTES", str(MAX_FILE_BYTES))
    rng = random.Random(SEED)
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    started = time.perf_counter()
    outcomes: Counter[str] = Counter()
    kinds_seen: Counter[tuple[str, str]] = Counter()
    failed_kinds: Counter[str] = Counter()
    files_written = records_checked = records_lost = 0
    for table_index, table_name in enumerate(TABLE_NAMES):
        table = TABLES[table_name]
        for index in range(FILES_PER_TABLE_AND_FORMAT * len(FORMATS)):
            day = FIRST_DAY + dt.timedelta(days=index)
            fmt = FORMATS[index % len(FORMATS)]
            kinds = kinds_for(fmt)
            kind = kinds[(index // len(FORMATS) + table_index * FILES_PER_TABLE_AND_FORMAT) % len(kinds)]
            folder = landing / table_name / f"dt={day}"
            folder.mkdir(parents=True)
            if rng.random() < 0.6:  # a valid file beside it, read first or after it
                companion_fmt = rng.choice(FORMATS)
                (folder / f"{rng.choice('az')}-valid{companion_fmt}").write_bytes(
                    valid_file(rng, table, day, companion_fmt)
                )
                files_written += 1
            # the day as it was before the hostile file arrived: a failure must leave it so
            ingest_table_day(landing, lake, table_name, day)
            hostile = folder / f"m-{kind.name}{fmt}"
            hostile.write_bytes(hostile_file(rng, kind.name, table, day, fmt))
            files_written += 1
            kinds_seen[(fmt, kind.name)] += 1
            outcome = ingest_and_check(landing, lake, table, day, hostile, may_fail=fmt in kind.may_fail)
            outcomes[outcome.status] += 1
            if outcome.status == "failed-day":
                failed_kinds[f"{kind.name}{fmt}"] += 1
            records_checked += outcome.records
            records_lost += outcome.lost
        if table.event_id:
            # once per export day; a repeat of an earlier day's event is told apart in SQL
            loaded = pl.read_parquet(str(lake / table_name / "dt=*" / DATA_FILE))
            unique = loaded.select(pl.struct("export_date", "event_id").is_unique().all()).item()
            assert unique, f"{table_name}: an event id was loaded twice in one day"
    elapsed = time.perf_counter() - started

    hostile_files = sum(outcomes.values())
    print(
        f"\nfuzzed {hostile_files} hostile files ({files_written} files in all, with valid ones beside them) "
        f"in {elapsed:.1f} s: {outcomes['loaded']} loaded, {outcomes['quarantined-only']} quarantined only, "
        f"{outcomes['failed-day']} failed their day; {records_checked} records of ingested hostile files "
        f"checked, {records_lost} lost\nfailed days by kind: {dict(sorted(failed_kinds.items()))}"
    )
    assert hostile_files >= 300 and records_lost == 0
    assert {(f, k.name) for f in FORMATS for k in kinds_for(f)} == set(kinds_seen), "a kind was never fuzzed"
    assert outcomes["loaded"] and outcomes["quarantined-only"] and outcomes["failed-day"]


# --- hypothesis: byte-level mutations of valid files -------------------------------------------


def test_mutated_valid_files_ingest_or_fail_their_day_naming_the_file(monkeypatch):
    monkeypatch.setenv("OPTOUT_MAX_FILE_BYTES", str(MAX_FILE_BYTES))
    outcomes: Counter[str] = Counter()

    @settings(
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=80,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        table_name=st.sampled_from(TABLE_NAMES),
        fmt=st.sampled_from(FORMATS),
        seed=st.integers(0, 2**16),
        inside_compression=st.booleans(),
        cut=st.one_of(st.none(), st.floats(0, 1)),
        inserts=st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=12)), max_size=6),
    )
    def mutated_file_ingests_or_fails_its_day(table_name, fmt, seed, inside_compression, cut, inserts):
        table, day, rng = TABLES[table_name], dt.date(2026, 1, 5), random.Random(seed)
        with tempfile.TemporaryDirectory() as root:
            landing, lake = Path(root) / "landing", Path(root) / "lake"
            folder = landing / table_name / f"dt={day}"
            folder.mkdir(parents=True)
            if fmt.endswith(".gz") and inside_compression:
                # the bytes inside the compression change: the container is sound and must ingest
                content = text_content(rng, table, day, fmt, records(rng, table, day, noisy=True)).encode()
                data, may_fail = compressed(fmt, _mutated(content, cut, inserts)), False
            else:
                data, may_fail = _mutated(valid_file(rng, table, day, fmt), cut, inserts), fmt in CONTAINERS
            (folder / f"mutated{fmt}").write_bytes(data)
            (folder / "valid.jsonl").write_text(jsonl_text(records(rng, table, day), rng))
            outcome = ingest_and_check(landing, lake, table, day, folder / f"mutated{fmt}", may_fail)
            outcomes[outcome.status] += 1

    started = time.perf_counter()
    mutated_file_ingests_or_fails_its_day()
    print(
        f"\nhypothesis: {sum(outcomes.values())} mutated files in {time.perf_counter() - started:.1f} s: {dict(outcomes)}"
    )
    assert outcomes["loaded"] and outcomes["failed-day"]


def _mutated(data: bytes, cut: float | None, inserts: list[tuple[float, bytes]]) -> bytes:
    out = bytearray(data if cut is None else data[: int(len(data) * cut)])
    for where, chunk in inserts:
        out[int(len(out) * where) : int(len(out) * where)] = chunk
    return bytes(out)
