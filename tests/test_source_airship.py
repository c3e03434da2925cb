"""Airship Real-Time Data Streaming events, mapped and ingested (docs/sources/airship.md)."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import polars as pl
import pytest

from assets.generator.run import generate
from assets.ingest.day import ingest_days
from assets.ingest.readers import UnreadableFileError
from assets.sources.airship import LINE, LINE_NUMBER, MALFORMED, read_rtds
from assets.sources.layouts import layout_for

pytestmark = pytest.mark.quick

DAY = dt.date(2026, 1, 5)
DAY_FOLDER = f"stream/app-key/date={DAY}"
FILE_A = f"{DAY_FOLDER}/hour=10/events.jsonl"
FILE_B = f"{DAY_FOLDER}/hour=11/part-0.jsonl.gz"
TABLES = ("messages", "subscriptions", "app_events", "users", "campaigns")


def _event(event_id, kind, when, channel="c1", device_type="IOS", body=None, **device) -> dict:
    record = {
        "id": event_id,
        "type": kind,
        "offset": "1000059326194",
        "occurred": when,
        "processed": when,
        "device": {"channel": channel, "device_type": device_type, **device},
    }
    if body is not None:
        record["body"] = body
    return record


def _at(hour: int, minute: int = 0, second: int = 0) -> str:
    return f"{DAY}T{hour:02d}:{minute:02d}:{second:02d}.250Z"


# one line of events.jsonl each, numbered as in the file; the comment is the record's fate
# in the file's count (owned by messages)
LINES_A = [
    # 1 loaded: sent, and delivered (nothing rejected it)
    _event("s1", "SEND", _at(10), body={"push_id": "p1"}, named_user_id="n1"),
    # 2 loaded: sent, not delivered (line 3 rejected it); its campaign is the group
    _event(
        "s2",
        "SEND",
        _at(10),
        channel="c2",
        device_type="WEB",
        body={"push_id": "p2", "group_id": "g2", "variant_id": 1},
        attributes={"web_browser_name": "Chrome", "push_opt_in": "true"},
    ),
    # 3 loaded: failed (rate_limited)
    _event(
        "r2",
        "SEND_REJECTED",
        _at(10, 0, 1),
        channel="c2",
        device_type="WEB",
        body={"push_id": "p2", "group_id": "g2", "reason": "Rate limited"},
    ),
    # 4 loaded: sent, not delivered (the uninstall of part-0.jsonl.gz names its push)
    _event("s3", "SEND", _at(10), channel="c3", device_type="ANDROID", body={"push_id": "p3"}),
    # 5 loaded: opened (and a session in app_events)
    _event(
        "o1",
        "OPEN",
        _at(10, 5),
        body={"triggering_push": {"push_id": "p1"}, "last_delivered": {"push_id": "p1"}, "session_id": "x"},
    ),
    None,  # 6 a blank line: no record
    "not json at all",  # 7 quarantined: malformed_record
    _event("s1", "SEND", _at(10), body={"push_id": "p1"}, named_user_id="n1"),  # 8 duplicate of line 1
    _event("s9", "SEND", "2026-01-07T10:00:00.000Z", body={"push_id": "p9"}),  # 9 quarantined: future
    _event("s10", "SEND", _at(10), channel=None, body={"push_id": "p1"}),  # 10 quarantined: no channel
    _event("t1", "TAG_CHANGE", _at(12), body={"add": {"device": ["vip"]}}),  # 11 ignored: unused type
    _event("e1", "SEND", _at(12), channel="m1", device_type="EMAIL", body={"push_id": "p1"}),  # 12 ignored
    # 13 ignored here, an opt-out in subscriptions
    _event(
        "cu",
        "CUSTOM",
        _at(13),
        body={"name": "push_opt_out", "properties": {"source": "user_settings"}, "session_id": "x"},
    ),
    # 14 ignored here, an app event
    _event("cv", "CUSTOM", _at(13, 30), body={"name": "purchase", "value": 12.5, "properties": {"sku": "a"}}),
    # 15 ignored here, an app event
    _event("sv", "SCREEN_VIEWED", _at(14), body={"viewed_screen": "home", "duration": 1500}),
    # 16 ignored here, the creation of user c4 (its OPEN is the session)
    _event("fo", "FIRST_OPEN", _at(9), channel="c4", device_type="AMAZON", named_user_id="n4"),
    # 17 ignored everywhere: a channel Airship retired for inactivity
    _event("ud", "UNINSTALL", _at(15), channel="c5", device_type="ANDROID", body={"decay": True}),
]
LINES_B = [
    # 1 an opt-out found by the send of line 4 above, which is then not delivered
    _event(
        "u3",
        "UNINSTALL",
        _at(11),
        channel="c3",
        device_type="ANDROID",
        body={"decay": False, "triggering_push": {"push_id": "p3"}},
    ),
    # 2 an opt-in streamed by the backend
    _event(
        "ci",
        "CUSTOM",
        _at(11, 30),
        channel="c2",
        device_type="WEB",
        body={"name": "push_opt_in", "properties": {"source": "api"}},
    ),
    # 3 a consent event without its source: quarantined in subscriptions
    _event("cx", "CUSTOM", _at(11, 45), body={"name": "push_opt_out", "properties": {}}),
    _event("w1", "WEB_SESSION", _at(12), channel="c2", device_type="WEB", body={"session_id": "s"}),  # 4
    # 5 a click on a web notification: opened (no session of its own: the site's comes apart)
    _event(
        "wc",
        "WEB_CLICK",
        _at(12, 30),
        channel="c2",
        device_type="WEB",
        body={"push_id": "p2", "group_id": "g2"},
    ),
    # 6 the site found its push subscription gone on this visit
    _event(
        "cr",
        "CUSTOM",
        _at(12, 45),
        channel="c2",
        device_type="WEB",
        body={"name": "push_opt_out", "properties": {"source": "token_invalid"}},
    ),
]


def _line(record) -> str:
    if record is None:
        return ""
    return record if isinstance(record, str) else json.dumps(record)


def _write(landing, relative: str, lines: list) -> None:
    path = landing / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(_line(record) for record in lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if relative.endswith(".gz") else data)


@pytest.fixture
def landing(tmp_path):
    landing = tmp_path / "landing"
    _write(landing, FILE_A, LINES_A)
    _write(landing, FILE_B, LINES_B)
    return landing


def _ingest(landing, lake, table: str, day: dt.date = DAY):
    ((_, outcome),) = ingest_days(landing, lake, table, [day], layout=layout_for("airship"))
    return outcome


def _lake(lake, table: str, name: str) -> pl.DataFrame:
    return pl.read_parquet(lake / table / f"dt={DAY}" / name)


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def _quarantine(lake, table: str) -> list[tuple]:
    quarantine = _lake(lake, table, "quarantine.parquet").sort("file_name", "record_number", "reason")
    return quarantine.select("file_name", "record_number", "reason").rows()


@pytest.fixture
def lake(landing, tmp_path):
    lake = tmp_path / "lake"
    for table in TABLES:
        result = _ingest(landing, lake, table)
        assert not isinstance(result, UnreadableFileError), result
    return lake


def test_layout_finds_day_folders_at_any_depth(landing):
    (landing / "other" / f"date={DAY}").mkdir(parents=True)  # a second stream, same day
    (landing / "stream" / "date=2026-02-30").mkdir()  # no date: not an export day
    (landing / "stream" / ".hidden" / "date=2026-01-06").mkdir(parents=True)
    folders = layout_for("airship").landed(landing)
    assert [(f.label, f.day, f.folder.relative_to(landing).as_posix()) for f in folders] == [
        ("events", DAY, f"other/date={DAY}"),
        ("events", DAY, DAY_FOLDER),
    ]
    assert [p.relative_to(landing).as_posix() for p in folders[1].files()] == [FILE_A, FILE_B]


def test_a_send_is_sent_and_delivered_unless_rejected(lake):
    rows = _lake(lake, "messages", "data.parquet").sort("event_id")
    assert rows.select(
        "event_id",
        "user_id",
        "campaign_id",
        "event_type",
        "occurred_at",
        "error_code",
        "source_file",
        "record_number",
    ).rows() == [
        ("o1", "c1", "p1", "opened", _utc(_at(10, 5)), None, FILE_A, 5),
        ("r2", "c2", "g2", "failed", _utc(_at(10, 0, 1)), "rate_limited", FILE_A, 3),
        ("s1", "c1", "p1", "sent", _utc(_at(10)), None, FILE_A, 1),
        ("s1/delivered", "c1", "p1", "delivered", _utc(_at(10)), None, FILE_A, 1),
        ("s2", "c2", "g2", "sent", _utc(_at(10)), None, FILE_A, 2),
        ("s3", "c3", "p3", "sent", _utc(_at(10)), None, FILE_A, 4),
        ("wc", "c2", "g2", "opened", _utc(_at(12, 30)), None, FILE_B, 5),
    ]
    # the rejected send (s2) and the one whose push found an uninstall (s3) are not delivered
    delivered = rows.filter(pl.col("event_type") == "delivered")["event_id"].to_list()
    assert delivered == ["s1/delivered"]


def test_bad_records_are_quarantined_and_repeats_are_duplicates(lake):
    assert _quarantine(lake, "messages") == [
        (FILE_A, 7, "malformed_record"),
        (FILE_A, 9, "future_timestamp:occurred_at"),  # its sent row
        (FILE_A, 9, "future_timestamp:occurred_at"),  # and its delivered row
        (FILE_A, 10, "missing_required:user_id"),
        (FILE_A, 10, "missing_required:user_id"),
    ]
    quarantine = _lake(lake, "messages", "quarantine.parquet")
    assert quarantine.filter(pl.col("record_number") == 7)["raw_record"].to_list() == ["not json at all"]
    # the raw record of a quarantined event is its line as written
    future = quarantine.filter(pl.col("record_number") == 9)["raw_record"].unique().to_list()
    assert future == [json.dumps(LINES_A[8])]
    log = _lake(lake, "messages", "ingestion_log.parquet").row(0, named=True)
    assert log["records_duplicate"] == 2  # line 8: its sent and delivered rows


def test_per_file_counts_add_up(lake):
    counts = _lake(lake, "messages", "source_files.parquet").sort("path")
    assert counts.select(
        "path", "event_type", "table_name", "records", "ignored", "mapped_elsewhere", "quarantined",
        "duplicate_in_day", "loaded",
    ).rows() == [
        # 16 lines that are not blank: 5 loaded, 3 quarantined (7, 9, 10), 1 duplicate (8), 5
        # mapped to the tables that load them (consent and activity events) and 2 ignored
        # (unused types and channels)
        (FILE_A, "events", "messages", 16, 2, 5, 3, 1, 5),
        (FILE_B, "events", "messages", 6, 0, 5, 0, 0, 1),
    ]  # fmt: skip
    for row in counts.to_dicts():
        outcomes = ("ignored", "mapped_elsewhere", "quarantined", "duplicate_in_day", "loaded")
        assert row["records"] == sum(row[outcome] for outcome in outcomes)
    # a file is counted by one table only
    for table in ("subscriptions", "app_events", "users", "campaigns"):
        assert _lake(lake, table, "source_files.parquet").height == 0


def test_uninstalls_and_consent_events_are_subscriptions(lake):
    rows = _lake(lake, "subscriptions", "data.parquet").sort("event_id")
    assert rows.select(
        "event_id",
        "user_id",
        "event_type",
        "occurred_at",
        "source",
        "detected_via",
        "campaign_id",
        "source_file",
    ).rows() == [
        ("ci", "c2", "opt_in", _utc(_at(11, 30)), "api", "api", None, FILE_B),
        ("cr", "c2", "opt_out", _utc(_at(12, 45)), "token_invalid", "revisit", None, FILE_B),
        ("cu", "c1", "opt_out", _utc(_at(13)), "user_settings", "client", None, FILE_A),
        # found by the send of push p3: the campaign that revealed it
        ("u3", "c3", "opt_out", _utc(_at(11)), "token_invalid", "send_feedback", "p3", FILE_B),
    ]
    # a decayed channel (line 17) is no opt-out; a consent event needs its source
    assert _quarantine(lake, "subscriptions") == [(FILE_B, 3, "missing_required:source")]


def test_sessions_custom_events_and_screens_are_app_events(lake):
    rows = _lake(lake, "app_events", "data.parquet").sort("event_id")
    assert rows.select(
        "event_id", "user_id", "event_name", "occurred_at", "properties", "record_number"
    ).rows() == [
        ("cv", "c1", "purchase", _utc(_at(13, 30)), '{"sku": "a"}', 14),
        ("o1", "c1", "session_start", _utc(_at(10, 5)), None, 5),
        (
            "sv",
            "c1",
            "screen_view",
            _utc(_at(14)),
            '{"viewed_screen":"home","previous_screen":null,"duration":"1500"}',
            15,
        ),
        ("w1", "c2", "session_start", _utc(_at(12)), None, 4),
    ]
    assert _quarantine(lake, "app_events") == []


def test_users_are_the_channels_each_file_names(lake):
    rows = _lake(lake, "users", "data.parquet").sort("source_file", "user_id")
    assert rows.select(
        "source_file", "user_id", "external_id", "platform", "browser", "created_at", "updated_at"
    ).rows() == [
        (FILE_A, "c1", "n1", "ios", None, _utc(_at(10)), _utc(_at(14))),
        (FILE_A, "c2", None, "web", "chrome", _utc(_at(10)), _utc(_at(10, 0, 1))),
        (FILE_A, "c3", None, "android", None, _utc(_at(10)), _utc(_at(10))),
        # created at its FIRST_OPEN; Amazon devices are Android
        (FILE_A, "c4", "n4", "android", None, _utc(_at(9)), _utc(_at(9))),
        (FILE_A, "c5", None, "android", None, _utc(_at(15)), _utc(_at(15))),
        (FILE_B, "c1", None, "ios", None, _utc(_at(11, 45)), _utc(_at(11, 45))),
        (FILE_B, "c2", None, "web", None, _utc(_at(11, 30)), _utc(_at(12, 45))),
        (FILE_B, "c3", None, "android", None, _utc(_at(11)), _utc(_at(11))),
    ]
    # the email channel (line 12) is no user; the future send (line 9) dates no version
    assert _quarantine(lake, "users") == []


def test_campaigns_are_the_pushes_and_groups_sent(lake):
    rows = _lake(lake, "campaigns", "data.parquet").sort("campaign_id")
    assert rows.select("campaign_id", "name", "channel", "campaign_type", "sent_at", "updated_at").rows() == [
        ("g2", "g2", "web_push", "automated", _utc(_at(10)), _utc(_at(10))),
        ("p1", "p1", "push", "broadcast", _utc(_at(10)), _utc(_at(10))),
        ("p3", "p3", "push", "broadcast", _utc(_at(10)), _utc(_at(10))),
    ]  # p9 was only sent in the future (quarantined): no version


def test_a_corrupt_gzip_fails_the_day_naming_the_file(landing, tmp_path):
    broken = landing / DAY_FOLDER / "hour=12" / "broken.jsonl.gz"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(gzip.compress(b'{"id": "x"}\n' * 100)[:40])
    for table in TABLES:
        outcome = _ingest(landing, tmp_path / "lake", table)
        assert isinstance(outcome, UnreadableFileError), table
        assert "broken.jsonl.gz" in str(outcome) and str(DAY) in str(outcome)


def test_a_file_over_the_size_limit_fails_the_day(landing, tmp_path, monkeypatch):
    monkeypatch.setenv("OPTOUT_MAX_FILE_BYTES", "1000")
    outcome = _ingest(landing, tmp_path / "lake", "messages")
    assert isinstance(outcome, UnreadableFileError)
    assert "events.jsonl" in str(outcome) and "exceeds OPTOUT_MAX_FILE_BYTES" in str(outcome)


def test_files_of_other_extensions_are_listed_not_read(landing, tmp_path):
    (landing / DAY_FOLDER / "hour=10" / "notes.txt").write_text("not an export")
    outcome = _ingest(landing, tmp_path / "lake", "app_events")
    assert outcome.unknown_files == [f"{DAY_FOLDER}/hour=10/notes.txt"]
    assert outcome.files == [FILE_A, FILE_B]


def test_the_reader_keeps_every_line_that_is_not_blank(tmp_path):
    path = tmp_path / "events.json"
    good = json.dumps(_event("a", "OPEN", _at(10)))
    lines = [
        good.encode(),
        b'{"id": "b", "type": "SEND", "device": "text", "body": {"push_id": 7}}',  # polars refuses the shape
        b"",
        b"[1, 2]",
        '{"id": "caf\u00e9"}'.encode("latin-1"),  # invalid UTF-8
        good.encode() + b"\r",
    ]
    path.write_bytes(b"\n".join(lines))
    frame = read_rtds(path, 10_000)
    assert frame.select(LINE_NUMBER, "id", "type", MALFORMED).rows() == [
        (1, "a", "OPEN", False),
        (2, "b", "SEND", False),
        (4, None, None, True),
        (5, None, None, True),
        (6, "a", "OPEN", False),
    ]
    assert frame["device"][1] is None and frame["body"][1] == {
        **dict.fromkeys(frame["body"].struct.fields),
        "push_id": "7",
    }
    assert frame[LINE].to_list()[4] == good  # the line as written, without its CR
    assert frame[LINE].to_list()[3] == '{"id": "caf\ufffd"}'  # invalid bytes shown, not kept


def _ingested(landing, lake, source: str, days: list[dt.date], table: str) -> pl.DataFrame:
    for _, outcome in ingest_days(landing, lake, table, days, layout=layout_for(source)):
        assert not isinstance(outcome, UnreadableFileError), outcome
    return pl.concat([pl.read_parquet(path) for path in (lake / table).rglob("data.parquet")])


def test_the_generated_world_reads_back_as_the_contract_gives_it(tmp_path):
    """`optout generate --format airship` writes the world the contract's files hold: the
    source reads back every consent event, send, failure and open, every app event, and each
    user's profile; only deliveries (inferred) and the sessions push opens start differ."""
    days = [DAY + dt.timedelta(days=offset) for offset in range(3)]
    events = {}
    for fmt in ("optout", "airship"):
        landing, lake = tmp_path / fmt / "landing", tmp_path / fmt / "lake"
        generate(landing, DAY, len(days), 120, seed=5, fmt=fmt)
        events[fmt] = {
            table: _ingested(landing, lake, fmt, days, table)
            for table in ("subscriptions", "messages", "app_events", "users")
        }
    contract, vendor = events["optout"], events["airship"]

    def same(table: str, frame: pl.DataFrame, other: pl.DataFrame) -> None:
        lineage = ["export_date", "source_file", "record_number"]
        frame, other = frame.drop(lineage, strict=False), other.drop(lineage, strict=False)
        mine, theirs = frame.unique().sort(frame.columns), other.unique().sort(frame.columns)
        assert mine.height > 0 and mine.equals(theirs), table

    same("subscriptions", contract["subscriptions"], vendor["subscriptions"])
    not_delivered = pl.col("event_type") != "delivered"
    same("messages", contract["messages"].filter(not_delivered), vendor["messages"].filter(not_delivered))
    # every send that did not fail is delivered, at its own time (a user gets a campaign at
    # most once a day)
    day = pl.col("occurred_at").dt.date().alias("day")
    sent = contract["messages"].filter(pl.col("event_type") == "sent").with_columns(day)
    failed = (
        contract["messages"].filter(pl.col("event_type") == "failed").select("user_id", "campaign_id", day)
    )
    reached = sent.join(failed, on=["user_id", "campaign_id", "day"], how="anti").select(
        (pl.col("event_id") + "/delivered").alias("event_id"), "user_id", "campaign_id", "occurred_at"
    )
    delivered = vendor["messages"].filter(pl.col("event_type") == "delivered")
    same("delivered", reached, delivered.select(reached.columns))
    # the app events, and a session for each open of a push on a phone
    activity = ["event_id", "user_id", "event_name", "occurred_at"]
    opens = contract["messages"].filter(pl.col("event_type") == "opened")
    sessions = vendor["app_events"].join(opens.select("event_id"), on="event_id", how="semi")
    assert sessions["event_name"].unique().to_list() == ["session_start"]
    rest = vendor["app_events"].join(opens.select("event_id"), on="event_id", how="anti")
    same("app_events", contract["app_events"].select(activity), rest.select(activity))
    # each user's profile as its latest version shows it
    profile = ["user_id", "external_id", "platform", "browser"]
    latest = {
        fmt: frames["users"]
        .sort("updated_at", "export_date", "source_file", "record_number")
        .group_by("user_id")
        .agg(pl.col(profile[1:]).last())
        for fmt, frames in events.items()
    }
    same("users", latest["optout"].select(profile), latest["airship"].select(profile))


def test_subject_access_and_erasure_reach_airship_files_by_the_device_fields(landing):
    """Channel c2 (the user id) and named user n4 (the external id of channel c4): their events
    are listed as delivered and erased from both files, nested in `device` as they are; the
    other channels' events stay, and a line of theirs that does not parse stays too."""
    from assets.privacy.landing import erase_from_landing, landing_records_of
    from assets.privacy.matching import Subjects

    people = Subjects(frozenset({"c2"}), frozenset({"n4"}))
    every = [r for r in LINES_A + LINES_B if isinstance(r, dict)]
    theirs = [r for r in every if r["device"]["channel"] == "c2" or r["device"].get("named_user_id") == "n4"]
    found = landing_records_of(landing, people, "airship").found
    assert sorted(r["record"]["id"] for r in found) == sorted(r["id"] for r in theirs)
    assert {r["landing_file"] for r in found} == {FILE_A, FILE_B}

    sweep = erase_from_landing(landing, people, "airship")
    assert sweep.records_removed == len(theirs) and sorted(sweep.files_rewritten) == [FILE_A, FILE_B]
    left = [
        json.loads(line)
        for path in (landing / FILE_A, landing / FILE_B)
        for line in (gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes())
        .decode()
        .splitlines()
        if line.startswith("{") and line.endswith("}")
    ]
    assert sorted(r["id"] for r in left) == sorted(r["id"] for r in every if r not in theirs)
