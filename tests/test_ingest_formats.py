"""Each file format (and native Parquet types) gives the same typed records."""

import datetime as dt
import gzip
import json

import polars as pl
import pytest

from tests.helpers import day_folder, ingest, loaded

pytestmark = pytest.mark.quick

DAY = "2026-01-05"
RECORDS = [
    {
        "event_id": "a1",
        "user_id": "u1",
        "event_name": " purchase ",
        "occurred_at": "2026-01-05T13:00:00+03:00",
        "properties": '{"value": 12.5}',
    },
    {
        "event_id": "a2",
        "user_id": "u,2",
        "event_name": "screen_view",
        "occurred_at": "1767607200000",
        "properties": None,
    },
    {
        "event_id": "a3",
        "user_id": 'u"3',
        "event_name": "line\nbreak",
        "occurred_at": "2026-01-05T10:00:00.250",
        "properties": None,
    },
]
EXPECTED = [
    ("a1", "u1", "purchase", dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)),
    ("a2", "u,2", "screen_view", dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)),
    ("a3", 'u"3', "line\nbreak", dt.datetime(2026, 1, 5, 10, 0, 0, 250000, tzinfo=dt.UTC)),
]


def _write(folder, name, frame: pl.DataFrame):
    path = folder / name
    if name.startswith("csv"):
        data = frame.write_csv().encode()
    elif name.startswith("jsonl"):
        data = "\n".join(json.dumps(r) for r in frame.to_dicts()).encode()
    else:
        frame.write_parquet(path)
        return
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)


@pytest.mark.parametrize(
    "name", ["csv.csv", "csv.csv.gz", "jsonl.jsonl", "jsonl.jsonl.gz", "parquet.parquet"]
)
def test_every_format_loads_the_same_records(tmp_path, name):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    _write(day_folder(landing, "app_events", DAY), name, pl.DataFrame(RECORDS))
    result = ingest(landing, lake, "app_events", DAY)
    assert result.records_quarantined == 0
    rows = loaded(lake, "app_events", DAY).select("event_id", "user_id", "event_name", "occurred_at").rows()
    assert rows == EXPECTED


def test_native_parquet_types_and_extra_columns(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    frame = pl.DataFrame(
        {
            "event_id": ["a1", "a2"],
            "user_id": ["u1", "u2"],
            "event_name": ["session_start", "purchase"],
            "occurred_at": [dt.datetime(2026, 1, 5, 13), dt.datetime(2026, 1, 5, 10)],
            "properties": [{"value": 1.5}, {"value": 2.0}],
            "sdk_version": ["1", "2"],
        }
    ).with_columns(pl.col("occurred_at").dt.replace_time_zone("Europe/Moscow"))
    frame.write_parquet(day_folder(landing, "app_events", DAY) / "native.parquet")
    ingest(landing, lake, "app_events", DAY)
    rows = loaded(lake, "app_events", DAY)
    assert rows["occurred_at"].to_list() == [
        dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC),
        dt.datetime(2026, 1, 5, 7, tzinfo=dt.UTC),
    ]
    assert json.loads(rows["properties"][0]) == {"value": 1.5}
    assert "sdk_version" not in rows.columns


def test_jsonl_numbers_objects_and_missing_keys(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    lines = [
        '{"event_id": "a1", "user_id": "u1", "event_name": "purchase", "occurred_at": 1767607200000, "properties": {"value": 3, "tags": ["x"]}}',
        "",
        '{"event_id": "a2", "user_id": "u1", "event_name": "purchase", "occurred_at": "2026-01-05T10:00:00Z", "extra": true}',
    ]
    (day_folder(landing, "app_events", DAY) / "a.jsonl").write_text("\n".join(lines) + "\n")
    result = ingest(landing, lake, "app_events", DAY)
    assert (result.records_read, result.records_loaded) == (2, 2)
    rows = loaded(lake, "app_events", DAY)
    assert rows["record_number"].to_list() == [1, 3]
    assert json.loads(rows["properties"][0]) == {"value": 3, "tags": ["x"]}
    assert rows["properties"][1] is None


def test_empty_files_have_no_records(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    folder = day_folder(landing, "app_events", DAY)
    (folder / "empty.jsonl").write_bytes(b"")
    (folder / "empty.csv").write_text("event_id,user_id,event_name,occurred_at\n")
    (folder / "nothing.csv").write_bytes(b"")
    result = ingest(landing, lake, "app_events", DAY)
    assert (result.files_read, result.records_read) == (3, 0)


def test_parquet_epoch_milliseconds_as_integers_or_whole_doubles(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    frame = pl.DataFrame(
        {
            "event_id": ["a1", "a2"],
            "user_id": ["u1", "u2"],
            "event_name": ["x", "y"],
            "occurred_at": [1767607200000.0, 1767607200500.0],
        }
    )
    frame.write_parquet(day_folder(landing, "app_events", DAY) / "doubles.parquet")
    frame.with_columns(
        pl.col("occurred_at").cast(pl.Int64), pl.Series("event_id", ["a3", "a4"])
    ).write_parquet(day_folder(landing, "app_events", DAY) / "integers.parquet")
    ingest(landing, lake, "app_events", DAY)
    times = loaded(lake, "app_events", DAY)["occurred_at"].to_list()
    instant = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)
    assert times == [instant, instant + dt.timedelta(milliseconds=500)] * 2
