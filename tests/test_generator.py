"""The generator: deterministic for a seed, every detection path and bad-record kind present."""

import datetime as dt
import hashlib

import numpy as np
import polars as pl
import pytest

from assets.contract import TABLE_NAMES
from assets.generator import writers
from assets.generator.run import generate
from assets.ingest.day import ingest_table_day

pytestmark = pytest.mark.quick


def _digest(folder):
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    generate(tmp_path / "a", dt.date(2026, 1, 1), 4, 300, seed=5)
    generate(tmp_path / "b", dt.date(2026, 1, 1), 4, 300, seed=5)
    generate(tmp_path / "c", dt.date(2026, 1, 1), 4, 300, seed=6)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_every_detection_path_format_and_bad_record_kind_is_present(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    start = dt.date(2026, 1, 1)
    summary = generate(landing, start, 20, 1500, seed=1)
    files = [p.name for p in landing.rglob("*") if p.is_file()]
    for extension in (".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".parquet"):
        assert any(name.endswith(extension) for name in files), extension
    read = dict.fromkeys(TABLE_NAMES, 0)
    for offset in range(20):
        for table in TABLE_NAMES:
            result = ingest_table_day(landing, lake, table, start + dt.timedelta(days=offset))
            assert (
                result.records_read
                == result.records_loaded + result.records_quarantined + result.records_duplicate
            )
            read[table] += result.records_read
    # the summary counts what was written, malformed lines included: all of it is read back
    assert read == dict(summary.records)
    assert summary.records_per_second > 0
    subscriptions = pl.read_parquet(str(lake / "subscriptions" / "dt=*" / "data.parquet"))
    paths = set(
        subscriptions.filter(pl.col("event_type") == "opt_out")
        .select("detected_via", "source")
        .unique()
        .rows()
    )
    assert {
        ("client", "user_settings"),
        ("client", "os_permission"),
        ("api", "api"),
        ("send_feedback", "token_invalid"),
        ("revisit", "token_invalid"),
    } <= paths
    reasons = set(pl.read_parquet(str(lake / "*" / "dt=*" / "quarantine.parquet"))["reason"])
    kinds = {reason.split(":")[0] for reason in reasons}
    assert kinds == {
        "malformed_record",
        "missing_required",
        "invalid_value",
        "invalid_timestamp",
        "future_timestamp",
    }
    assert "invalid_value:error_code" in reasons
    logs = pl.read_parquet(str(lake / "*" / "dt=*" / "ingestion_log.parquet"))
    assert logs["records_duplicate"].sum() > 0
    assert any(name == "README.txt" for names in logs["unknown_files"] for name in names)
    messages = pl.read_parquet(str(lake / "messages" / "dt=*" / "data.parquet"))
    late = messages.filter(pl.col("occurred_at").dt.date() < pl.col("export_date"))
    assert late.height > 0
    assert (
        late.select((pl.col("export_date") - pl.col("occurred_at").dt.date()).dt.total_days().max()).item()
        <= 3
    )


def test_every_timestamp_form_names_the_simulated_instant():
    # just before and just after midnight: the offsets move the local time to another day
    instants = [
        dt.datetime(2026, 1, 5, 23, 59, 59, 999000, dt.UTC),
        dt.datetime(2025, 12, 31, 0, 0, 0, 1000, dt.UTC),
    ]
    forms = np.arange(len(writers.SUFFIXES) + 1)  # each ISO suffix, then epoch milliseconds
    times = pl.Series("occurred_at", [t for t in instants for _ in forms], dtype=pl.Datetime("ms", "UTC"))
    spelled = writers.as_text(
        "messages", times.to_frame(), writers.TextForms({"occurred_at": np.tile(forms, len(instants))}, {})
    )
    assert [_parse_timestamp(value) for value in spelled["occurred_at"]] == times.to_list()


def _parse_timestamp(value: str) -> dt.datetime:
    if value.isdigit():
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=int(value))
    parsed = dt.datetime.fromisoformat(value)
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
