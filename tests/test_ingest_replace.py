"""Re-delivered days replace what they delivered before; late records; missing days."""

import pytest

from assets.ingest.lake import ingested_days
from tests.helpers import ingest, loaded, message, quarantined, write_jsonl

pytestmark = pytest.mark.quick


def test_reingesting_a_day_replaces_it(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    day = "2026-01-05"
    write_jsonl(
        landing, "messages", day, "a.jsonl", [message("m1"), message("m2"), message("bad", event_type="?")]
    )
    first = ingest(landing, lake, "messages", day)
    again = ingest(landing, lake, "messages", day)
    assert (first.records_loaded, again.records_loaded) == (2, 2)
    assert loaded(lake, "messages", day).height == 2
    assert quarantined(lake, "messages", day).height == 1

    # corrected content under another file name: only the new delivery counts
    (landing / "messages" / f"dt={day}" / "a.jsonl").unlink()
    write_jsonl(landing, "messages", day, "corrected.jsonl", [message("m1", event_type="opened")])
    corrected = ingest(landing, lake, "messages", day)
    assert (corrected.records_read, corrected.records_loaded, corrected.records_quarantined) == (1, 1, 0)
    assert loaded(lake, "messages", day)["event_type"].to_list() == ["opened"]
    assert quarantined(lake, "messages", day).height == 0


def test_late_records_load_in_the_day_that_delivered_them(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_jsonl(
        landing, "messages", "2026-01-08", "a.jsonl", [message("late", occurred_at="2026-01-05T23:00:00Z")]
    )
    result = ingest(landing, lake, "messages", "2026-01-08")
    assert result.records_loaded == 1
    assert str(loaded(lake, "messages", "2026-01-08")["export_date"][0]) == "2026-01-08"


def test_a_missing_day_folder_is_an_empty_day(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    result = ingest(landing, lake, "users", "2026-01-05")
    assert (result.files_read, result.records_read) == (0, 0)
    assert [str(d) for d in ingested_days(lake, "users")] == ["2026-01-05"]
    assert loaded(lake, "users", "2026-01-05").height == 0
