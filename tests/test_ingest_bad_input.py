"""Every row of the "Bad input" table of docs/raw-exports.md, with its exact outcome."""

import gzip

import pytest

from assets.ingest.readers import UnreadableFileError
from tests.helpers import ingest, loaded, message, quarantined, write_csv, write_jsonl

pytestmark = pytest.mark.quick

DAY = "2026-01-05"
HEADER = "event_id,user_id,campaign_id,event_type,occurred_at,error_code\n"


def reconcile(result):
    assert (
        result.records_read == result.records_loaded + result.records_quarantined + result.records_duplicate
    )


def test_malformed_csv_rows_are_quarantined_with_their_text(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    text = HEADER + (
        "m1,u1,c1,delivered,2026-01-05T10:00:00Z,\n"
        "m2,u1,c1,delivered\n"  # too few fields
        "m3,u1,c1,delivered,2026-01-05T10:00:00Z,,extra\n"  # too many
        'm4,"u,1",c1,opened,2026-01-05T10:00:00Z,\n'  # a quoted comma is fine
    )
    write_csv(landing, "messages", DAY, "a.csv", text)
    result = ingest(landing, lake, "messages", DAY)
    reconcile(result)
    assert (result.records_read, result.records_loaded, result.records_quarantined) == (4, 2, 2)
    bad = quarantined(lake, "messages", DAY).sort("record_number")
    assert bad["reason"].to_list() == ["malformed_record", "malformed_record"]
    assert bad["record_number"].to_list() == [2, 3]
    assert bad["raw_record"].to_list() == [
        "m2,u1,c1,delivered",
        "m3,u1,c1,delivered,2026-01-05T10:00:00Z,,extra",
    ]
    assert loaded(lake, "messages", DAY)["user_id"].to_list() == ["u1", "u,1"]


def test_broken_json_and_bad_utf8_are_malformed(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    path = write_jsonl(landing, "messages", DAY, "a.jsonl", [message("m1"), '{"event_id": "m2", ', "[1, 2]"])
    path.write_bytes(path.read_bytes() + b'{"event_id": "m\xff3"}\n')
    result = ingest(landing, lake, "messages", DAY)
    reconcile(result)
    bad = quarantined(lake, "messages", DAY)
    assert bad["reason"].to_list() == ["malformed_record"] * 3
    assert bad["record_number"].to_list() == [2, 3, 4]
    assert result.records_loaded == 1


def test_bad_utf8_in_csv_is_malformed_and_the_rest_loads(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    path = write_csv(landing, "messages", DAY, "a.csv", HEADER + "m1,u1,c1,delivered,2026-01-05T10:00:00Z,\n")
    path.write_bytes(path.read_bytes() + b"m2,u\xfe1,c1,delivered,2026-01-05T10:00:00Z,\n")
    result = ingest(landing, lake, "messages", DAY)
    assert (result.records_loaded, result.records_quarantined) == (1, 1)
    assert quarantined(lake, "messages", DAY)["reason"].item() == "malformed_record"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"event_id": None}, "missing_required:event_id"),
        ({"user_id": ""}, "missing_required:user_id"),
        ({"campaign_id": None, "event_type": "bogus"}, "missing_required:campaign_id"),
        ({"event_type": "bogus"}, "invalid_value:event_type"),
        ({"event_type": "failed"}, "invalid_value:error_code"),
        ({"event_type": "delivered", "error_code": "timeout"}, "invalid_value:error_code"),
        ({"event_type": "failed", "error_code": "kaput"}, "invalid_value:error_code"),
        ({"occurred_at": "yesterday"}, "invalid_timestamp:occurred_at"),
        ({"occurred_at": "1999-12-31T23:59:59Z"}, "invalid_timestamp:occurred_at"),
        ({"occurred_at": "2026-01-06T01:00:00.000001Z"}, "future_timestamp:occurred_at"),
        ({"event_type": "bogus", "occurred_at": "yesterday"}, "invalid_value:event_type"),
    ],
)
def test_invalid_records_get_the_first_reason(tmp_path, overrides, reason):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_jsonl(landing, "messages", DAY, "a.jsonl", [message("ok"), {**message("bad"), **overrides}])
    result = ingest(landing, lake, "messages", DAY)
    reconcile(result)
    assert quarantined(lake, "messages", DAY)["reason"].to_list() == [reason]
    assert loaded(lake, "messages", DAY)["event_id"].to_list() == ["ok"]


def test_clock_skew_of_one_hour_is_accepted_and_created_at_may_be_future(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_jsonl(landing, "messages", DAY, "a.jsonl", [message("m1", occurred_at="2026-01-06T01:00:00Z")])
    write_jsonl(
        landing,
        "campaigns",
        DAY,
        "c.jsonl",
        [
            {
                "campaign_id": "c1",
                "name": 'Sale, "now" 🎉',
                "channel": " WEB_PUSH ",
                "campaign_type": "Broadcast",
                "sent_at": "2026-02-01T00:00:00Z",
                "updated_at": "2026-01-05T09:00:00Z",
            }
        ],
    )
    assert ingest(landing, lake, "messages", DAY).records_loaded == 1
    assert ingest(landing, lake, "campaigns", DAY).records_loaded == 1
    campaign = loaded(lake, "campaigns", DAY).row(0, named=True)
    assert (campaign["channel"], campaign["campaign_type"], campaign["name"]) == (
        "web_push",
        "broadcast",
        'Sale, "now" 🎉',
    )


def test_missing_required_column_makes_every_row_of_the_file_bad(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_csv(
        landing,
        "messages",
        DAY,
        "a.csv",
        "event_id,user_id,event_type,occurred_at\nm1,u1,sent,2026-01-05T10:00:00Z\n",
    )
    write_jsonl(landing, "messages", DAY, "b.jsonl", [message("m2")])
    result = ingest(landing, lake, "messages", DAY)
    reconcile(result)
    assert quarantined(lake, "messages", DAY)["reason"].to_list() == ["missing_required:campaign_id"]
    assert loaded(lake, "messages", DAY)["event_id"].to_list() == ["m2"]


def test_duplicates_same_day_keep_the_first_file_and_line(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_jsonl(landing, "messages", DAY, "b.jsonl", [message("m1", campaign_id="from-b")])
    write_jsonl(
        landing,
        "messages",
        DAY,
        "a.jsonl",
        [message("m1", campaign_id="from-a"), message("m1", campaign_id="a-line-2")],
    )
    result = ingest(landing, lake, "messages", DAY)
    assert (result.records_read, result.records_loaded, result.records_duplicate) == (3, 1, 2)
    row = loaded(lake, "messages", DAY).row(0, named=True)
    assert (row["campaign_id"], row["source_file"], row["record_number"]) == ("from-a", "a.jsonl", 1)


def test_a_repeat_of_an_earlier_day_stays_in_its_day_for_the_sql_to_count(tmp_path):
    # a day's ingestion never reads earlier days (its cost does not grow with history);
    # audit.ingestion_log counts the repeat as a duplicate (test_hand_computed.py)
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_jsonl(
        landing, "messages", "2026-01-04", "a.jsonl", [message("m1", occurred_at="2026-01-04T10:00:00Z")]
    )
    write_jsonl(
        landing,
        "messages",
        DAY,
        "a.jsonl",
        [message("m1", occurred_at="2026-01-04T10:00:00Z"), message("m2")],
    )
    ingest(landing, lake, "messages", "2026-01-04")
    result = ingest(landing, lake, "messages", DAY)
    assert (result.records_loaded, result.records_duplicate) == (2, 0)
    assert loaded(lake, "messages", DAY)["event_id"].to_list() == ["m1", "m2"]


def test_a_quarantined_record_does_not_hide_a_valid_duplicate(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_jsonl(landing, "messages", DAY, "a.jsonl", [message("m1", event_type="bogus"), message("m1")])
    result = ingest(landing, lake, "messages", DAY)
    assert (result.records_loaded, result.records_quarantined, result.records_duplicate) == (1, 1, 0)


def test_unknown_user_or_campaign_is_loaded(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_jsonl(landing, "messages", DAY, "a.jsonl", [message("m1", user_id="nobody", campaign_id="nowhere")])
    assert ingest(landing, lake, "messages", DAY).records_loaded == 1


def test_unknown_extension_is_reported_and_hidden_files_ignored(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_jsonl(landing, "messages", DAY, "a.jsonl", [message("m1")])
    write_csv(landing, "messages", DAY, "notes.txt", "not data")
    write_csv(landing, "messages", DAY, ".partial.csv", HEADER + "x,y\n")
    write_csv(landing, "messages", DAY, "_SUCCESS", "")
    result = ingest(landing, lake, "messages", DAY)
    assert result.unknown_files == ["notes.txt"]
    assert (result.files_read, result.records_read, result.records_loaded) == (1, 1, 1)


@pytest.mark.parametrize("name", ["broken.csv.gz", "broken.parquet", "broken.jsonl.gz"])
def test_unreadable_file_fails_the_day_naming_it_and_keeps_the_previous_day(tmp_path, name):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_jsonl(landing, "messages", DAY, "a.jsonl", [message("m1")])
    ingest(landing, lake, "messages", DAY)
    write_jsonl(landing, "messages", DAY, "a.jsonl", [message("m2")])
    broken = landing / "messages" / f"dt={DAY}" / name
    broken.write_bytes(gzip.compress(b"x" * 1000)[:12] if name.endswith(".gz") else b"PAR1 not really")
    with pytest.raises(UnreadableFileError, match=name):
        ingest(landing, lake, "messages", DAY)
    assert loaded(lake, "messages", DAY)["event_id"].to_list() == ["m1"]
    assert not [p for p in (lake / "messages").iterdir() if p.name.startswith(".")]
