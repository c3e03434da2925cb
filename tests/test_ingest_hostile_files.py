"""Hostile landing files: each fails at most its own table-day, naming the file, or is reported.

Bad bytes and odd Parquet types go through the contract's rules record by record; files too
large to read fail their day; symlinks out of the landing area, FIFOs and folders that are
not export days are reported, never read.
"""

import datetime as dt
import gzip
import json
import logging
import os
import tracemalloc
from decimal import Decimal

import polars as pl
import pytest
from dagster import DagsterInstance, materialize

from assets.config import SettingError, load_settings, read_settings
from assets.ingest import day as day_module
from assets.ingest.day import LOG_SCHEMA
from assets.ingest.lake import LOG_FILE, day_dir
from assets.ingest.landing_area import landing_files, unrecognised_day_folders
from assets.ingest.readers import DEFAULT_MAX_FILE_BYTES, UnreadableFileError, max_file_bytes
from orchestration.ingest_assets import build_ingest_assets, ignored_folders_warning, lake_asset_key
from orchestration.jobs import partition_range_tags
from orchestration.partitions import export_days
from orchestration.resources import OptoutPaths
from tests.helpers import day_folder, ingest, loaded, message, quarantined, write_csv, write_jsonl

DAY = "2026-01-05"
MESSAGE_COLUMNS = ["event_id", "user_id", "campaign_id", "event_type", "occurred_at", "error_code"]


def reconcile(result):
    assert (
        result.records_read == result.records_loaded + result.records_quarantined + result.records_duplicate
    )


def messages_frame(**columns) -> pl.DataFrame:
    """Two message rows of valid strings, with the given columns replaced or added."""
    frame = {
        "event_id": ["m1", "m2"],
        "user_id": ["u1", "u2"],
        "campaign_id": ["c1", "c1"],
        "event_type": ["sent", "sent"],
        "occurred_at": ["2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z"],
    }
    return pl.DataFrame({**frame, **columns})


def reasons(lake, table="messages", day=DAY) -> list[tuple[int, str]]:
    return quarantined(lake, table, day).sort("record_number").select("record_number", "reason").rows()


# --- 1. bad bytes and types a file may hold ---------------------------------------------


def test_invalid_utf8_in_a_required_csv_column_name_makes_every_row_miss_it(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    path = day_folder(landing, "messages", DAY) / "a.csv"
    path.write_bytes(
        b"event_id,user_\xffid,campaign_id,event_type,occurred_at,error_code\n"
        b"m1,u1,c1,sent,2026-01-05T10:00:00Z,\n"
        b"m2,u2,c1,bogus,2026-01-05T10:00:00Z,\n"  # several faults: the first reason wins
        b"m3,u3,c1,sent\n"  # wrong field count: malformed, as always
    )
    result = ingest(landing, lake, "messages", DAY)
    reconcile(result)
    assert (result.records_read, result.records_loaded, result.records_quarantined) == (3, 0, 3)
    assert reasons(lake) == [
        (1, "missing_required:user_id"),
        (2, "missing_required:user_id"),
        (3, "malformed_record"),
    ]
    # the garbled name is an extra column, shown with U+FFFD in the re-serialized record
    assert quarantined(lake, "messages", DAY).sort("record_number")["raw_record"][0] == (
        "m1,u1,c1,sent,2026-01-05T10:00:00Z,,"
    )


def test_invalid_utf8_in_an_optional_csv_column_name_leaves_it_null(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    path = day_folder(landing, "messages", DAY) / "a.csv"
    path.write_bytes(
        b"event_id,user_id,campaign_id,event_type,occurred_at,error_c\xe9de\n"  # latin-1 'é'
        b"m1,u1,c1,sent,2026-01-05T10:00:00Z,\n"
        b"m2,u1,c1,failed,2026-01-05T10:00:00Z,timeout\n"  # its error_code is lost with the name
        b"m3,u\xff,c1,sent,2026-01-05T10:00:00Z,\n"  # bad bytes in a record: malformed
    )
    result = ingest(landing, lake, "messages", DAY)
    reconcile(result)
    assert loaded(lake, "messages", DAY)["event_id"].to_list() == ["m1"]
    assert reasons(lake) == [(2, "invalid_value:error_code"), (3, "malformed_record")]
    raws = quarantined(lake, "messages", DAY).sort("record_number")["raw_record"].to_list()
    assert raws == [
        "m2,u1,c1,failed,2026-01-05T10:00:00Z,timeout,",
        "m3,u\ufffd,c1,sent,2026-01-05T10:00:00Z,",
    ]


def test_a_csv_starting_with_a_blank_line_has_no_columns_and_its_rows_are_malformed(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_csv(
        landing,
        "messages",
        DAY,
        "a.csv",
        "\n" + ",".join(MESSAGE_COLUMNS) + "\nm1,u1,c1,sent,2026-01-05T10:00:00Z,\n\n",
    )
    result = ingest(landing, lake, "messages", DAY)
    reconcile(result)
    assert (result.records_read, result.records_quarantined) == (2, 2)  # the trailing blank line is no record
    assert reasons(lake) == [(1, "malformed_record"), (2, "malformed_record")]


def test_parquet_duration_is_text_the_rules_judge(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    folder = day_folder(landing, "messages", DAY)
    messages_frame(occurred_at=[dt.timedelta(seconds=5), None]).write_parquet(folder / "a.parquet")
    # a Duration in an extra column does not matter at all
    messages_frame(event_id=["m3", "m4"], latency=[dt.timedelta(milliseconds=250), None]).write_parquet(
        folder / "b.parquet"
    )
    result = ingest(landing, lake, "messages", DAY)
    reconcile(result)
    assert (result.records_read, result.records_loaded, result.records_quarantined) == (4, 2, 2)
    assert reasons(lake) == [(1, "invalid_timestamp:occurred_at"), (2, "missing_required:occurred_at")]
    assert '"occurred_at":"PT5S"' in quarantined(lake, "messages", DAY).sort("record_number")["raw_record"][0]
    assert loaded(lake, "messages", DAY)["event_id"].to_list() == ["m3", "m4"]


@pytest.mark.parametrize(
    ("occurred_at", "reason"),
    [
        (pl.Series([dt.time(10, 0), dt.time(11, 0)]), "invalid_timestamp:occurred_at"),
        (pl.Series([Decimal("1767607200000.50"), Decimal("1.25")]), "invalid_timestamp:occurred_at"),
        (pl.Series(["yesterday", "today"], dtype=pl.Categorical), "invalid_timestamp:occurred_at"),
        (
            pl.Series(["yesterday", "today"], dtype=pl.Enum(["yesterday", "today"])),
            "invalid_timestamp:occurred_at",
        ),
        (pl.Series([None, None], dtype=pl.Null), "missing_required:occurred_at"),
        (pl.Series([[1767607200000], [1]]), "invalid_timestamp:occurred_at"),
        (pl.Series([{"at": 1767607200000}, {"at": 1}]), "invalid_timestamp:occurred_at"),
        (pl.Series([True, False]), "invalid_timestamp:occurred_at"),
        (pl.Series([float("inf"), float("nan")]), "invalid_timestamp:occurred_at"),
    ],
    ids=["time", "decimal", "categorical", "enum", "null", "list", "struct", "boolean", "float"],
)
def test_any_parquet_type_for_a_timestamp_is_judged_never_raises(tmp_path, occurred_at, reason):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    messages_frame(occurred_at=occurred_at).write_parquet(day_folder(landing, "messages", DAY) / "a.parquet")
    result = ingest(landing, lake, "messages", DAY)
    reconcile(result)
    assert reasons(lake) == [(1, reason), (2, reason)]


def test_a_whole_float_too_large_for_an_integer_stays_a_value(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    frame = messages_frame(occurred_at=[1e300, 1767607200000.0])
    frame.write_parquet(day_folder(landing, "messages", DAY) / "a.parquet")
    ingest(landing, lake, "messages", DAY)
    # not null (that would read as a missing value): a timestamp that does not parse
    assert reasons(lake) == [(1, "invalid_timestamp:occurred_at")]
    assert loaded(lake, "messages", DAY)["event_id"].to_list() == ["m2"]


def test_small_integers_for_strings_load_as_their_digits(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    frame = messages_frame(user_id=pl.Series([7, -8], dtype=pl.Int8))
    frame.write_parquet(day_folder(landing, "messages", DAY) / "a.parquet")
    assert ingest(landing, lake, "messages", DAY).records_loaded == 2
    assert loaded(lake, "messages", DAY)["user_id"].to_list() == ["7", "-8"]


def test_parquet_binary_with_invalid_utf8_makes_only_those_rows_malformed(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    frame = messages_frame(
        event_id=["m1", "m2"], user_id=pl.Series([b"u1", b"u\xff2"], dtype=pl.Binary)
    ).vstack(messages_frame(event_id=["m3", "m4"], user_id=pl.Series([b"u3", None], dtype=pl.Binary)))
    frame.write_parquet(day_folder(landing, "messages", DAY) / "a.parquet")
    result = ingest(landing, lake, "messages", DAY)
    reconcile(result)
    assert (result.records_read, result.records_loaded, result.records_quarantined) == (4, 2, 2)
    assert loaded(lake, "messages", DAY)["user_id"].to_list() == ["u1", "u3"]
    assert reasons(lake) == [(2, "malformed_record"), (4, "missing_required:user_id")]
    raw = quarantined(lake, "messages", DAY).sort("record_number")["raw_record"][0]
    assert json.loads(raw)["user_id"] == "u\ufffd2"


def test_parquet_object_with_binary_inside_is_json_and_bad_bytes_are_malformed(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    frame = pl.DataFrame(
        {
            "event_id": ["a1", "a2"],
            "user_id": ["u1", "u1"],
            "event_name": ["purchase", "purchase"],
            "occurred_at": ["2026-01-05T10:00:00Z"] * 2,
            "properties": [{"blob": b"ok", "n": 1}, {"blob": b"\xfe", "n": 2}],
        }
    )
    frame.write_parquet(day_folder(landing, "app_events", DAY) / "a.parquet")
    result = ingest(landing, lake, "app_events", DAY)
    reconcile(result)
    assert json.loads(loaded(lake, "app_events", DAY)["properties"].item()) == {"blob": "ok", "n": 1}
    assert reasons(lake, "app_events") == [(2, "malformed_record")]
    raw = json.loads(quarantined(lake, "app_events", DAY)["raw_record"].item())
    assert json.loads(raw["properties"]) == {"blob": "\ufffd", "n": 2}


def test_parquet_column_names_equal_once_lowered_keep_the_first(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    frame = messages_frame().with_columns(pl.Series("EVENT_ID", ["x1", "x2"]))
    frame.write_parquet(day_folder(landing, "messages", DAY) / "a.parquet")
    ingest(landing, lake, "messages", DAY)
    assert loaded(lake, "messages", DAY)["event_id"].to_list() == ["m1", "m2"]


def test_deeply_nested_json_lines_are_malformed_not_a_crash(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    deep_value = '{"event_id": "m2", "properties": ' + "[" * 100_000 + "]" * 100_000 + "}"
    lines = [message("m1"), "[" * 100_000, "{" * 100_000, deep_value]
    write_jsonl(landing, "messages", DAY, "a.jsonl", lines)
    result = ingest(landing, lake, "messages", DAY)
    reconcile(result)
    assert reasons(lake) == [(2, "malformed_record"), (3, "malformed_record"), (4, "malformed_record")]


def test_pythons_verdict_on_a_refused_line_takes_deep_nesting_as_malformed():
    from assets.ingest.jsonl_reader import object_fields

    lines = ['{"event_id": "m1"}', '{"a": ' * 5000 + "1" + "}" * 5000, '{"event_id": "\\ud800"}']
    assert [object_fields(line, ["event_id"]) for line in lines] == [{"event_id": "m1"}, None, None]


# --- the safety net: one file's unexpected error fails its day, naming file and day -------


def _raise(error: BaseException):
    def validate(*args, **kwargs):
        raise error

    return validate


@pytest.mark.parametrize(
    "error",
    [
        pl.exceptions.ComputeError("while processing 'name'"),
        pl.exceptions.PanicException("polars bug"),
        KeyError("x"),
    ],
    ids=["polars-error", "polars-panic", "python-error"],
)
def test_an_unexpected_error_in_one_file_fails_its_day_naming_file_and_day(tmp_path, monkeypatch, error):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_jsonl(landing, "messages", DAY, "a.jsonl", [message("m1")])
    ingest(landing, lake, "messages", DAY)
    write_jsonl(landing, "messages", DAY, "b.jsonl", [message("m2")])
    # fault injection: stands for whatever a future hostile file may still trip over
    monkeypatch.setattr(day_module, "validate_files", _raise(error))
    with pytest.raises(UnreadableFileError) as caught:
        ingest(landing, lake, "messages", DAY)
    assert "a.jsonl" in str(caught.value) and "export day 2026-01-05" in str(caught.value)
    assert type(error).__name__ in str(caught.value)
    assert loaded(lake, "messages", DAY)["event_id"].to_list() == ["m1"]  # nothing half-loaded
    assert not [p for p in (lake / "messages").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("error", [MemoryError(), KeyboardInterrupt()], ids=["memory", "interrupt"])
def test_running_out_of_memory_or_an_interrupt_is_not_a_bad_file(tmp_path, monkeypatch, error):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_jsonl(landing, "messages", DAY, "a.jsonl", [message("m1")])
    monkeypatch.setattr(day_module, "validate_files", _raise(error))
    with pytest.raises(type(error)):
        ingest(landing, lake, "messages", DAY)


# --- 2. files too large to read -----------------------------------------------------------


def _gzip_bomb(expanded_mb: int) -> bytes:
    """A gzip file of `expanded_mb` MB of zeros, built from one small member repeated."""
    member = gzip.compress(b"\0" * 1024 * 1024, compresslevel=9)
    return member * expanded_mb


def test_max_file_bytes_defaults_to_2_gib_and_refuses_nonsense(monkeypatch):
    monkeypatch.delenv("OPTOUT_MAX_FILE_BYTES", raising=False)
    assert max_file_bytes() == DEFAULT_MAX_FILE_BYTES == 2147483648
    monkeypatch.setenv("OPTOUT_MAX_FILE_BYTES", "5000000")
    assert read_settings().max_file_bytes == 5_000_000
    assert max_file_bytes() == DEFAULT_MAX_FILE_BYTES  # a process reads its settings once
    load_settings.cache_clear()
    assert max_file_bytes() == 5_000_000
    for nonsense in ("lots", "-1", "0"):
        monkeypatch.setenv("OPTOUT_MAX_FILE_BYTES", nonsense)
        with pytest.raises(SettingError, match="OPTOUT_MAX_FILE_BYTES"):
            read_settings()


def test_a_gzip_bomb_fails_its_day_without_expanding_in_memory(tmp_path, monkeypatch):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    monkeypatch.setenv("OPTOUT_MAX_FILE_BYTES", str(5 * 1024 * 1024))
    write_jsonl(landing, "messages", DAY, "a.jsonl", [message("m1")])
    ingest(landing, lake, "messages", DAY)
    (day_folder(landing, "messages", DAY) / "bomb.jsonl.gz").write_bytes(_gzip_bomb(200))
    tracemalloc.start()
    try:
        with pytest.raises(UnreadableFileError, match=r"bomb\.jsonl\.gz.*exceeds OPTOUT_MAX_FILE_BYTES"):
            ingest(landing, lake, "messages", DAY)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 1024 * 1024  # the limit and a chunk, never the 200 MB
    assert loaded(lake, "messages", DAY)["event_id"].to_list() == ["m1"]


def test_a_plain_file_over_the_limit_fails_its_day(tmp_path, monkeypatch):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    monkeypatch.setenv("OPTOUT_MAX_FILE_BYTES", "1000")
    write_csv(landing, "messages", DAY, "big.csv", ",".join(MESSAGE_COLUMNS) + "\n" + "x" * 1001 + "\n")
    with pytest.raises(UnreadableFileError, match=r"big\.csv.*exceeds OPTOUT_MAX_FILE_BYTES \(1000 bytes"):
        ingest(landing, lake, "messages", DAY)


def test_a_file_at_the_limit_is_read(tmp_path, monkeypatch):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    path = write_jsonl(landing, "messages", DAY, "a.jsonl.gz", [message("m1")])
    monkeypatch.setenv("OPTOUT_MAX_FILE_BYTES", str(len(gzip.decompress(path.read_bytes()))))
    assert ingest(landing, lake, "messages", DAY).records_loaded == 1


# --- 3. symlinks and special files ----------------------------------------------------------


def _secret_messages(tmp_path):
    """A messages file outside the landing area: none of its lines may reach the lake."""
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    secret = outside / "secret.jsonl"
    secret.write_text(json.dumps(message("secret")) + "\nroot:x:0:0:root:/root:/bin/bash\n")
    return secret


def _log(lake, table="messages", day=DAY) -> dict:
    return pl.read_parquet(day_dir(lake, table, dt.date.fromisoformat(day)) / LOG_FILE).row(0, named=True)


def test_a_symlink_to_a_file_outside_the_landing_area_is_skipped_and_reported(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_jsonl(landing, "messages", DAY, "a.jsonl", [message("m1")])
    (day_folder(landing, "messages", DAY) / "evil.jsonl").symlink_to(_secret_messages(tmp_path))
    result = ingest(landing, lake, "messages", DAY)
    assert result.skipped_files == ["evil.jsonl: symlink to a file outside the landing area"]
    assert (result.files, result.files_read, result.records_read) == (["a.jsonl"], 1, 1)
    assert quarantined(lake, "messages", DAY).height == 0
    assert loaded(lake, "messages", DAY)["event_id"].to_list() == ["m1"]
    assert _log(lake)["skipped_files"] == ["evil.jsonl: symlink to a file outside the landing area"]


def test_a_symlink_inside_the_landing_area_is_read(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    shared = landing / "shared"
    shared.mkdir(parents=True)
    (shared / "m.jsonl").write_text(json.dumps(message("m1")) + "\n")
    (day_folder(landing, "messages", DAY) / "link.jsonl").symlink_to(shared / "m.jsonl")
    result = ingest(landing, lake, "messages", DAY)
    assert (result.skipped_files, result.records_loaded) == ([], 1)
    assert loaded(lake, "messages", DAY)["source_file"].to_list() == ["link.jsonl"]


def test_a_landing_dir_reached_through_a_symlink_reads_normally(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_jsonl(landing, "messages", DAY, "a.jsonl", [message("m1")])
    (tmp_path / "landing-link").symlink_to(landing)
    result = ingest(tmp_path / "landing-link", lake, "messages", DAY)
    assert (result.skipped_files, result.records_loaded) == ([], 1)


@pytest.mark.parametrize("level", ["day folder", "table folder"])
def test_a_day_or_table_folder_symlinked_outside_is_not_read(tmp_path, level):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    secret = _secret_messages(tmp_path)
    if level == "day folder":
        (landing / "messages").mkdir(parents=True)
        (landing / "messages" / f"dt={DAY}").symlink_to(secret.parent)
    else:
        (secret.parent / f"dt={DAY}").mkdir()
        (secret.parent / f"dt={DAY}" / "a.jsonl").symlink_to(secret)
        landing.mkdir()
        (landing / "messages").symlink_to(secret.parent)
    # an earlier delivery of the day stays: a folder that leads out is not an empty day
    earlier = tmp_path / "earlier"
    write_jsonl(earlier, "messages", DAY, "a.jsonl", [message("m-earlier")])
    ingest(earlier, lake, "messages", DAY)
    with pytest.raises(
        UnreadableFileError, match=f"the {level} is a symlink to a folder outside the landing area"
    ):
        ingest(landing, lake, "messages", DAY)
    assert loaded(lake, "messages", DAY)["event_id"].to_list() == ["m-earlier"]
    assert quarantined(lake, "messages", DAY).height == 0


def test_fifos_folders_and_broken_symlinks_are_skipped_never_opened(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    folder = day_folder(landing, "messages", DAY)
    write_jsonl(landing, "messages", DAY, "a.jsonl", [message("m1")])
    os.mkfifo(folder / "pipe.jsonl")  # opening it would wait for a writer forever
    (folder / "nested.csv").mkdir()
    (folder / "gone.csv").symlink_to(folder / "nowhere.csv")
    (folder / "loop.csv").symlink_to(folder / "loop.csv")
    result = ingest(landing, lake, "messages", DAY)
    assert result.skipped_files == [
        "gone.csv: symlink that leads nowhere (broken or a loop)",
        "loop.csv: symlink that leads nowhere (broken or a loop)",
        "nested.csv: a folder, not a file",
        "pipe.jsonl: not a regular file (FIFO)",
    ]
    assert (result.files, result.records_loaded) == (["a.jsonl"], 1)


def test_the_log_keeps_its_columns_and_adds_skipped_files(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_jsonl(landing, "messages", DAY, "a.jsonl", [message("m1")])
    ingest(landing, lake, "messages", DAY)
    log = pl.read_parquet(day_dir(lake, "messages", dt.date.fromisoformat(DAY)) / LOG_FILE)
    assert list(log.schema) == list(LOG_SCHEMA)
    assert list(LOG_SCHEMA)[:10] == [
        "table_name",
        "export_date",
        "files_read",
        "records_read",
        "records_loaded",
        "records_quarantined",
        "records_duplicate",
        "ingested_at",
        "files",
        "unknown_files",
    ]
    assert log["skipped_files"].to_list() == [[]]


def test_landing_files_lists_readable_unknown_and_skipped(tmp_path):
    landing = tmp_path / "landing"
    write_jsonl(landing, "messages", DAY, "b.jsonl", [message("m1")])
    write_csv(landing, "messages", DAY, "a.csv.gz", "x\n")
    write_csv(landing, "messages", DAY, "notes.txt", "not data")
    os.mkfifo(day_folder(landing, "messages", DAY) / "c.csv")
    readable, unknown, skipped = landing_files(landing, "messages", dt.date.fromisoformat(DAY))
    assert [p.name for p in readable] == ["a.csv.gz", "b.jsonl"]
    assert (unknown, skipped) == (["notes.txt"], ["c.csv: not a regular file (FIFO)"])


# --- 4. folders that are not export days ---------------------------------------------------


def test_folders_that_are_not_export_days_are_listed(tmp_path):
    landing = tmp_path / "landing"
    for name in ["dt=2026-01-05", "dt=2026-13-45", "dt=yesterday", "dt=20260105", "backup", ".staging"]:
        (landing / "messages" / name).mkdir(parents=True)
    (landing / "messages" / "README.txt").write_text("a file, not a folder")
    assert unrecognised_day_folders(landing, "messages") == [
        "backup",
        "dt=2026-13-45",
        "dt=20260105",
        "dt=yesterday",
    ]
    assert unrecognised_day_folders(landing, "users") == []  # no table folder at all
    assert ignored_folders_warning("messages", ["dt=yesterday"]) == (
        "messages: folders ignored (not an export day folder dt=YYYY-MM-DD with a real date), "
        "their files are not read: ['dt=yesterday']"
    )


# --- through Dagster: a bad file fails only its day ---------------------------------------


def _materialize_messages(workspace, start, end):
    instance = DagsterInstance.ephemeral()
    result = materialize(
        [
            asset
            for asset in build_ingest_assets(export_days(dt.date(2025, 1, 1)))
            if asset.key == lake_asset_key("messages")
        ],
        instance=instance,
        resources={"paths": OptoutPaths()},
        tags=partition_range_tags(start, end),
        raise_on_error=False,
    )
    warnings = [
        entry.user_message for entry in instance.all_logs(result.run_id) if entry.level == logging.WARNING
    ]
    return result, warnings


def test_a_bad_file_on_day_2_of_3_fails_only_that_day_in_the_dagster_asset(workspace, monkeypatch):
    landing, lake = workspace.landing, workspace.lake
    monkeypatch.setenv("OPTOUT_MAX_FILE_BYTES", str(5 * 1024 * 1024))
    days = ["2026-01-05", "2026-01-06", "2026-01-07"]
    for index, day in enumerate(days):
        write_jsonl(
            landing, "messages", day, "a.jsonl", [message(f"m{index}", occurred_at=f"{day}T10:00:00Z")]
        )
    bad = day_folder(landing, "messages", days[1]) / "bomb.jsonl.gz"
    bad.write_bytes(_gzip_bomb(50))
    (day_folder(landing, "messages", days[0]) / "evil.jsonl").symlink_to(_secret_messages(workspace.root))
    (landing / "messages" / "dt=yesterday").mkdir()

    result, warnings = _materialize_messages(workspace, days[0], days[-1])

    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "1 of 3 export days could not be read" in failure.message
    assert "dt=2026-01-06/bomb.jsonl.gz" in failure.message and "dt=2026-01-05/" not in failure.message
    assert [str(d) for d in sorted(_lake_days(lake))] == ["2026-01-05", "2026-01-07"]
    assert loaded(lake, "messages", days[2])["event_id"].to_list() == ["m2"]
    assert "messages: 1 file skipped (not read, for safety): " in " ".join(warnings)
    assert ignored_folders_warning("messages", ["dt=yesterday"]) in warnings

    bad.unlink()  # the platform re-delivers day 2: the whole range now materializes
    result, _ = _materialize_messages(workspace, days[0], days[-1])
    assert result.success
    metadata = result.asset_materializations_for_node("lake__messages")[0].metadata
    assert metadata["skipped_files"].value == [
        "dt=2026-01-05/evil.jsonl: symlink to a file outside the landing area"
    ]
    assert metadata["ignored_folders"].value == ["dt=yesterday"]
    assert loaded(lake, "messages", days[1])["event_id"].to_list() == ["m1"]


def _lake_days(lake):
    return [dt.date.fromisoformat(p.name.removeprefix("dt=")) for p in (lake / "messages").glob("dt=*")]
