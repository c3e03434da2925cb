"""OneSignal's message events and subscriptions export, mapped and ingested (docs/sources/onesignal.md)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import shutil

import polars as pl
import pytest

from assets.contract import TABLE_NAMES
from assets.generator.run import generate
from assets.ingest.day import ingest_days
from assets.ingest.readers import UnreadableFileError
from assets.sources.layouts import layout_for
from assets.sources.onesignal import map_message_events
from assets.sources.vendor import DayContext, numbered

pytestmark = pytest.mark.quick

DAY = dt.date(2026, 1, 5)
EVENTS_FOLDER = f"message_events/date={DAY}"
EVENTS_JSONL = f"{EVENTS_FOLDER}/hour=10/events.jsonl"
EVENTS_CSV = f"{EVENTS_FOLDER}/more/events.csv.gz"
SUBSCRIPTIONS_CSV = f"subscriptions/date={DAY}/subscriptions.csv"


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def _event(event_id, kind, when, user="u1", message="m1", **fields) -> dict:
    record = {
        "event_id": event_id,
        "event_kind": kind,
        "event_timestamp": when,
        "message_id": message,
        "message_name": "Winter sale",
        "message_type": "broadcast",
        "onesignal_id": user,
        "external_id": f"ext-{user}",
        "subscription_id": f"sub-{user}",
        "subscription_device_type": "iOS",
        "failure_reason": None,
    }
    return record | fields


# one record per line of events.jsonl; the comment is the record's fate
JSONL_EVENTS = [
    _event("e1", "message.push.sent", "2026-01-05T10:00:00.000Z"),  # 1 loaded: sent
    _event("e2", "message.push.received", "2026-01-05T10:00:05.123Z"),  # 2 loaded: delivered
    _event("e3", "message.push.clicked", "2026-01-05T10:03:00.000Z"),  # 3 loaded: opened
    _event(  # 4 loaded: failed (unregistered) and the opt-out it revealed
        "e4",
        "message.push.failed",
        "2026-01-05T10:00:01.500Z",
        user="u2",
        subscription_device_type="ChromePush",
        failure_reason="unregistered",
    ),
    _event(  # 5 loaded: failed (rate_limited), no opt-out
        "e5",
        "message.push.failed",
        "2026-01-05T11:00:00.000Z",
        user="u3",
        message="m2",
        message_name="Welcome",
        message_type="journey",
        subscription_device_type="Android",
        failure_reason="Rate limited",
    ),
    _event("e6", "message.push.unsubscribed", "2026-01-05T10:00:02.000Z", user="u4"),  # 6 ignored (opt-out)
    _event("e7", "message.email.sent", "2026-01-05T10:00:00.000Z", subscription_device_type="Email"),  # 7
    _event("e8", "message.iam.displayed", "2026-01-05T12:00:00.000Z"),  # 8 ignored
    _event("e1", "message.push.sent", "2026-01-05T10:00:00.000Z"),  # 9 duplicate of 1
    _event("e9", "message.push.sent", "2026-01-07T10:00:00.000Z"),  # 10 quarantined: future
    _event("e10", "message.push.sent", "2026-01-05T10:00:00.000Z", onesignal_id=None),  # 11 quarantined
]
MALFORMED_LINE = '{"event_id": "e11", "event_kind": "message.push.sent"'  # 12 quarantined: malformed

CSV_EVENTS = [
    _event(  # 1 loaded: failed, unknown reason -> other
        "e12",
        "message.push.failed",
        "2026-01-05T13:00:00.000Z",
        user="u5",
        message="m3",
        message_name=None,
        message_type="api",
        subscription_device_type="ChromePush",
        failure_reason="Something odd",
    ),
    _event(  # 2 loaded: sent, the time as epoch seconds (OneSignal's event.timestamp)
        "e13",
        "message.push.sent",
        str(int(_utc("2026-01-05T12:59:00Z").timestamp())),
        user="u5",
        message="m3",
        message_name=None,
        message_type="api",
        subscription_device_type="ChromePush",
    ),
]

SUBSCRIPTION_COLUMNS = [
    "subscription_id",
    "onesignal_id",
    "external_id",
    "type",
    "enabled",
    "notification_types",
    "created_at",
    "last_active",
    "unsubscribed_at",
]
SUBSCRIPTION_ROWS = [
    # 1 subscribed: a user version and an opt-in at created_at
    ["s1", "u1", "ext1", "iOSPush", "true", "1", "2025-12-01T08:00:00Z", "2026-01-05T09:00:00Z", ""],
    # 2 unsubscribed in the app
    [
        "s2",
        "u2",
        "",
        "ChromePush",
        "false",
        "-2",
        "2025-11-01T08:00:00Z",
        "2026-01-04T09:00:00Z",
        "2026-01-04T10:00:00Z",
    ],
    # 3 disabled through the API
    [
        "s3",
        "u3",
        "ext3",
        "AndroidPush",
        "false",
        "-31",
        "2025-11-02T08:00:00Z",
        "2026-01-05T07:00:00Z",
        "2026-01-05T11:00:00.250Z",
    ],
    # 4 browser permission revoked
    [
        "s4",
        "u4",
        "",
        "FirefoxPush",
        "false",
        "-19",
        "2025-11-03T08:00:00Z",
        "",
        "2026-01-03T08:00:00Z",
    ],
    ["s5", "u5", "", "Email", "true", "1", "2025-11-01T08:00:00Z", "", ""],  # 5 ignored
    ["s6", "u6", "", "SMS", "true", "1", "2025-11-01T08:00:00Z", "", ""],  # 6 ignored
    # 7 no onesignal_id: the user version is quarantined (and so is its opt-in)
    ["s7", "", "", "iOSPush", "true", "1", "2025-11-01T08:00:00Z", "", ""],
    # 8 permission never granted, no unsubscribed_at: a user version, no consent event
    ["s8", "u8", "", "SafariPush", "false", "0", "2025-11-04T08:00:00Z", "2025-11-04T08:00:00Z", ""],
    # 9 a state the mapping does not date (-10): a user version only
    ["s9", "u9", "", "EdgePush", "false", "-10", "2025-11-05T08:00:00Z", "2025-12-05T08:00:00Z", ""],
]


def _csv_text(columns: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(["" if value is None else value for value in row] for row in rows)
    return out.getvalue()


def _write(landing, relative: str, data: bytes) -> None:
    path = landing / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if relative.endswith(".gz") else data)


@pytest.fixture
def landing(tmp_path):
    landing = tmp_path / "landing"
    lines = [json.dumps(record) for record in JSONL_EVENTS] + [MALFORMED_LINE]
    _write(landing, EVENTS_JSONL, ("\n".join(lines) + "\n").encode())
    columns = list(CSV_EVENTS[0])
    _write(landing, EVENTS_CSV, _csv_text(columns, [[r[c] for c in columns] for r in CSV_EVENTS]).encode())
    _write(landing, SUBSCRIPTIONS_CSV, _csv_text(SUBSCRIPTION_COLUMNS, SUBSCRIPTION_ROWS).encode())
    return landing


def _ingest(landing, lake, table: str, day: dt.date = DAY):
    ((_, outcome),) = ingest_days(landing, lake, table, [day], layout=layout_for("onesignal"))
    return outcome


def _lake(lake, table: str, name: str, day: dt.date = DAY) -> pl.DataFrame:
    return pl.read_parquet(lake / table / f"dt={day}" / name)


def _rows(frame: pl.DataFrame, columns: list[str], key: list[str]) -> list[tuple]:
    return frame.sort(key).select(columns).rows()


def _file_counts(lake, table: str) -> dict[str, tuple]:
    counts = _lake(lake, table, "source_files.parquet")
    return {
        row["path"]: (
            row["event_type"],
            row["table_name"],
            row["records"],
            row["ignored"],
            row["mapped_elsewhere"],
            row["quarantined"],
            row["duplicate_in_day"],
            row["loaded"],
        )
        for row in counts.to_dicts()
    }


def test_layout_finds_the_two_kinds_of_folder(landing):
    (landing / "message_events" / "date=2026-13-01").mkdir()  # no date: not an export day
    (landing / "message_events" / ".date=2026-01-06").mkdir()  # hidden
    folders = layout_for("onesignal").landed(landing)
    assert [(f.label, f.day, f.folder.relative_to(landing).as_posix()) for f in folders] == [
        ("message_events", DAY, EVENTS_FOLDER),
        ("subscriptions", DAY, f"subscriptions/date={DAY}"),
    ]
    assert sorted(p.relative_to(landing).as_posix() for p in folders[0].files()) == sorted(
        [EVENTS_JSONL, EVENTS_CSV]
    )


def test_messages(landing, tmp_path):
    lake = tmp_path / "lake"
    result = _ingest(landing, lake, "messages")
    assert not isinstance(result, UnreadableFileError), result
    rows = _rows(
        _lake(lake, "messages", "data.parquet"),
        ["event_id", "user_id", "campaign_id", "event_type", "occurred_at", "error_code", "source_file"],
        ["event_id"],
    )
    assert rows == [
        ("e1", "u1", "m1", "sent", _utc("2026-01-05T10:00:00Z"), None, EVENTS_JSONL),
        ("e12", "u5", "m3", "failed", _utc("2026-01-05T13:00:00Z"), "other", EVENTS_CSV),
        ("e13", "u5", "m3", "sent", _utc("2026-01-05T12:59:00Z"), None, EVENTS_CSV),
        ("e2", "u1", "m1", "delivered", _utc("2026-01-05T10:00:05.123Z"), None, EVENTS_JSONL),
        ("e3", "u1", "m1", "opened", _utc("2026-01-05T10:03:00Z"), None, EVENTS_JSONL),
        ("e4", "u2", "m1", "failed", _utc("2026-01-05T10:00:01.500Z"), "unregistered", EVENTS_JSONL),
        ("e5", "u3", "m2", "failed", _utc("2026-01-05T11:00:00Z"), "rate_limited", EVENTS_JSONL),
    ]
    # the bounced send is no delivery: only the confirmed receipt is
    delivered = _lake(lake, "messages", "data.parquet").filter(pl.col("event_type") == "delivered")
    assert delivered["event_id"].to_list() == ["e2"]

    quarantine = _lake(lake, "messages", "quarantine.parquet")
    assert _rows(quarantine, ["file_name", "record_number", "reason"], ["file_name", "record_number"]) == [
        (EVENTS_JSONL, 10, "future_timestamp:occurred_at"),
        (EVENTS_JSONL, 11, "missing_required:user_id"),
        (EVENTS_JSONL, 12, "missing_required:event_id"),
    ]
    raws = quarantine.sort("record_number")["raw_record"].to_list()
    assert json.loads(raws[0])["event_id"] == "e9"
    assert json.loads(raws[2])["malformed_line"] == MALFORMED_LINE  # the line as delivered

    assert (result.records_read, result.records_loaded) == (11, 7)
    assert (result.records_quarantined, result.records_duplicate) == (3, 1)
    assert sorted(result.files) == sorted([EVENTS_JSONL, EVENTS_CSV])
    # each file: records = ignored + mapped_elsewhere + quarantined + duplicate_in_day + loaded
    # (the `unsubscribed` event maps to a subscriptions row only: mapped elsewhere)
    counts = _file_counts(lake, "messages")
    assert counts == {
        EVENTS_JSONL: ("message_events", "messages", 12, 2, 1, 3, 1, 5),
        EVENTS_CSV: ("message_events", "messages", 2, 0, 0, 0, 0, 2),
    }
    for _, _, records, *outcomes in counts.values():
        assert records == sum(outcomes)


def test_subscriptions(landing, tmp_path):
    lake = tmp_path / "lake"
    result = _ingest(landing, lake, "subscriptions")
    assert not isinstance(result, UnreadableFileError), result
    rows = _rows(
        _lake(lake, "subscriptions", "data.parquet"),
        ["event_id", "user_id", "event_type", "occurred_at", "source", "detected_via", "campaign_id"],
        ["event_id"],
    )
    assert rows == [
        # found when a send bounced, revealed by that send's message
        ("e4/opt_out", "u2", "opt_out", _utc("2026-01-05T10:00:01.500Z"), "token_invalid", "send_feedback", "m1"),
        # OneSignal's `unsubscribed`: found at send time, the same way
        ("e6", "u4", "opt_out", _utc("2026-01-05T10:00:02Z"), "token_invalid", "send_feedback", "m1"),
        ("s1/opt_in/2025-12-01T08:00:00Z", "u1", "opt_in", _utc("2025-12-01T08:00:00Z"), "user_settings", "client", None),
        ("s2/-2/2026-01-04T10:00:00Z", "u2", "opt_out", _utc("2026-01-04T10:00:00Z"), "user_settings", "client", None),
        # unsubscribed since: subscribed from created_at (perhaps between two exports)
        ("s2/opt_in/2025-11-01T08:00:00Z", "u2", "opt_in", _utc("2025-11-01T08:00:00Z"), "user_settings", "client", None),
        ("s3/-31/2026-01-05T11:00:00.250Z", "u3", "opt_out", _utc("2026-01-05T11:00:00.250Z"), "api", "api", None),
        ("s3/opt_in/2025-11-02T08:00:00Z", "u3", "opt_in", _utc("2025-11-02T08:00:00Z"), "user_settings", "client", None),
        ("s4/-19/2026-01-03T08:00:00Z", "u4", "opt_out", _utc("2026-01-03T08:00:00Z"), "os_permission", "client", None),
        ("s4/opt_in/2025-11-03T08:00:00Z", "u4", "opt_in", _utc("2025-11-03T08:00:00Z"), "user_settings", "client", None),
    ]  # fmt: skip
    quarantine = _lake(lake, "subscriptions", "quarantine.parquet")
    assert _rows(quarantine, ["file_name", "record_number", "reason"], ["file_name", "record_number"]) == [
        (SUBSCRIPTIONS_CSV, 7, "missing_required:user_id"),
    ]
    # no file is owned by subscriptions: the message events count in messages, the export in users
    assert _lake(lake, "subscriptions", "source_files.parquet").height == 0


def test_the_next_snapshot_repeats_the_same_consent_event_ids(landing, tmp_path):
    """The export shows a state every day: the same ids, so the next day's rows are duplicates."""
    next_day = DAY + dt.timedelta(days=1)
    _write(
        landing,
        f"subscriptions/date={next_day}/export.csv.gz",
        _csv_text(SUBSCRIPTION_COLUMNS, SUBSCRIPTION_ROWS).encode(),
    )
    lake = tmp_path / "lake"
    ids = []
    for day in (DAY, next_day):
        assert not isinstance(_ingest(landing, lake, "subscriptions", day), UnreadableFileError)
        data = _lake(lake, "subscriptions", "data.parquet", day)
        ids.append(set(data.filter(pl.col("event_id").str.starts_with("s"))["event_id"]))
    assert ids[0] == ids[1] and len(ids[0]) == 7


def test_users(landing, tmp_path):
    lake = tmp_path / "lake"
    result = _ingest(landing, lake, "users")
    assert not isinstance(result, UnreadableFileError), result
    rows = _rows(
        _lake(lake, "users", "data.parquet"),
        ["user_id", "external_id", "platform", "browser", "created_at", "updated_at", "record_number"],
        ["user_id"],
    )
    assert rows == [
        ("u1", "ext1", "ios", None, _utc("2025-12-01T08:00:00Z"), _utc("2026-01-05T09:00:00Z"), 1),
        ("u2", None, "web", "chrome", _utc("2025-11-01T08:00:00Z"), _utc("2026-01-04T09:00:00Z"), 2),
        ("u3", "ext3", "android", None, _utc("2025-11-02T08:00:00Z"), _utc("2026-01-05T07:00:00Z"), 3),
        # never active: updated_at is the subscription's creation
        ("u4", None, "web", "firefox", _utc("2025-11-03T08:00:00Z"), _utc("2025-11-03T08:00:00Z"), 4),
        ("u8", None, "web", "safari", _utc("2025-11-04T08:00:00Z"), _utc("2025-11-04T08:00:00Z"), 8),
        ("u9", None, "web", "edge", _utc("2025-11-05T08:00:00Z"), _utc("2025-12-05T08:00:00Z"), 9),
    ]
    quarantine = _lake(lake, "users", "quarantine.parquet")
    assert _rows(quarantine, ["record_number", "reason"], ["record_number"]) == [
        (7, "missing_required:user_id")
    ]
    counts = _file_counts(lake, "users")
    assert counts == {SUBSCRIPTIONS_CSV: ("subscriptions", "users", 9, 2, 0, 1, 0, 6)}


def test_campaigns(landing, tmp_path):
    lake = tmp_path / "lake"
    result = _ingest(landing, lake, "campaigns")
    assert not isinstance(result, UnreadableFileError), result
    rows = _rows(
        _lake(lake, "campaigns", "data.parquet"),
        ["campaign_id", "name", "channel", "campaign_type", "sent_at", "updated_at", "source_file"],
        ["campaign_id"],
    )
    assert rows == [
        # iOS and Chrome sends: push; the event dated after the export day does not date it
        (
            "m1",
            "Winter sale",
            "push",
            "broadcast",
            _utc("2026-01-05T10:00:00Z"),
            _utc("2026-01-05T10:03:00Z"),
            EVENTS_JSONL,
        ),
        (
            "m2",
            "Welcome",
            "push",
            "automated",
            _utc("2026-01-05T11:00:00Z"),
            _utc("2026-01-05T11:00:00Z"),
            EVENTS_JSONL,
        ),
        # an API message without a name: named by its id; browsers only: web_push
        (
            "m3",
            "m3",
            "web_push",
            "transactional",
            _utc("2026-01-05T12:59:00Z"),
            _utc("2026-01-05T13:00:00Z"),
            EVENTS_CSV,
        ),
    ]
    assert _lake(lake, "campaigns", "quarantine.parquet").height == 0


def test_app_events_read_nothing_of_onesignal_and_the_contract_beside_it(landing, tmp_path):
    lake = tmp_path / "lake"
    result = _ingest(landing, lake, "app_events")
    assert (result.files_read, result.records_read) == (0, 0)
    # app activity in optout's contract beside OneSignal's files (OneSignal exports none)
    folder = landing / "app_events" / f"dt={DAY}"
    folder.mkdir(parents=True)
    (folder / "a.jsonl").write_text(
        '{"event_id": "a1", "user_id": "os-1", "event_name": "session_start", "occurred_at": "2026-01-05T10:00:00Z"}\n'
    )
    result = _ingest(landing, lake, "app_events")
    assert (result.files_read, result.records_read, result.records_loaded) == (1, 1, 1)
    assert _lake(lake, "app_events", "data.parquet").select("event_id", "user_id", "source_file").rows() == [
        ("a1", "os-1", "a.jsonl")
    ]


def test_a_corrupt_gzip_fails_the_day_naming_the_file(landing, tmp_path):
    bad = f"message_events/date={DAY}/broken.csv.gz"
    (landing / bad).write_bytes(gzip.compress(b"event_id,event_kind\ne1,message.push.sent\n")[:20])
    lake = tmp_path / "lake"
    for table in ("messages", "subscriptions", "campaigns"):
        outcome = _ingest(landing, lake, table)
        assert isinstance(outcome, UnreadableFileError)
        assert "broken.csv.gz" in str(outcome) and str(DAY) in str(outcome)
        assert not (lake / table / f"dt={DAY}").exists()
    assert not isinstance(_ingest(landing, lake, "users"), UnreadableFileError)  # it reads no events


def test_a_file_over_the_size_limit_fails_the_day(landing, tmp_path, monkeypatch):
    monkeypatch.setenv("OPTOUT_MAX_FILE_BYTES", "200")
    outcome = _ingest(landing, tmp_path / "lake", "users")
    assert isinstance(outcome, UnreadableFileError)
    assert "subscriptions.csv" in str(outcome) and "OPTOUT_MAX_FILE_BYTES" in str(outcome)


@pytest.mark.parametrize(
    ("reason", "code", "opt_out"),
    [
        ("unregistered", "unregistered", True),
        ("NotRegistered", "unregistered", True),
        ("Subscription unsubscribed", "unregistered", True),
        ("invalid_token", "invalid_token", False),
        ("Invalid registration token", "invalid_token", False),
        ("rate_limited", "rate_limited", False),
        ("Timed out", "timeout", False),
        ("something else", "other", False),
        (None, "other", False),
    ],
)
def test_failure_reasons(reason, code, opt_out):
    frame = numbered(
        pl.DataFrame([_event("f1", "message.push.failed", "2026-01-05T10:00:00Z", failure_reason=reason)])
    )
    mapped = map_message_events(frame, DayContext(DAY, []))
    assert mapped["messages"][0]["error_code"].to_list() == [code]
    assert mapped["subscriptions"][0]["event_id"].to_list() == (["f1/opt_out"] if opt_out else [])


def _lake_table(lake, table: str) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(path) for path in sorted(lake.glob(f"{table}/dt=*/data.parquet"))])


def _consent_changes(lake) -> pl.DataFrame:
    """Each user's opt-ins and opt-outs that change the state (metrics.md), first copies only."""
    events = (
        _lake_table(lake, "subscriptions")
        .sort("export_date")
        .unique("event_id", keep="first")
        .sort("user_id", "occurred_at", "event_id")
    )
    before = pl.col("event_type").shift(1).over("user_id")
    return events.filter(before.is_null() | (before != pl.col("event_type")))


def test_generated_onesignal_files_hold_the_simulated_world(tmp_path):
    """`optout generate --format onesignal` read back: the world the optout format holds,
    but for what docs/sources/onesignal.md says OneSignal cannot carry."""
    start, days = dt.date(2026, 1, 1), 8
    lakes = {}
    for fmt in ("optout", "onesignal"):
        landing, lake = tmp_path / fmt / "landing", tmp_path / fmt / "lake"
        generate(landing, start, days, 400, seed=5, fmt=fmt)
        layout = layout_for(fmt)
        for table in TABLE_NAMES:
            export_days = [start + dt.timedelta(days=offset) for offset in range(days)]
            for day, outcome in ingest_days(landing, lake, table, export_days, layout=layout):
                assert not isinstance(outcome, UnreadableFileError), (table, day, outcome)
        lakes[fmt] = lake
    optout, vendor = lakes["optout"], lakes["onesignal"]

    def messages(lake):
        return set(_lake_table(lake, "messages").select("event_id", "event_type", "error_code").rows())

    assert messages(vendor) == messages(optout)

    # app activity, which OneSignal does not export, comes beside its files in optout's
    # contract: the same events; no bad records written, so nothing quarantined
    def activity(lake):
        return set(
            _lake_table(lake, "app_events").select("event_id", "user_id", "event_name", "occurred_at").rows()
        )

    assert activity(vendor) == activity(optout) != set()
    quarantined = [pl.read_parquet(path).height for path in vendor.glob("*/dt=*/quarantine.parquet")]
    assert quarantined and sum(quarantined) == 0

    def profiles(lake):
        users = _lake_table(lake, "users").sort("updated_at").unique("user_id", keep="last")
        browser = pl.col("browser").replace("other", "chrome")  # OneSignal: Chrome's push service
        return set(users.select("user_id", "platform", browser).rows())

    assert profiles(vendor) == profiles(optout)

    def campaigns(lake):
        return set(
            _lake_table(lake, "campaigns").select("campaign_id", "channel", "campaign_type").unique().rows()
        )

    assert campaigns(vendor) == campaigns(optout)

    # consent: the same changes, but a revealed opt-out is dated at the bounce (1 ms before
    # the simulated one) and a revisit is found by a failed send, if any, instead
    key = ["user_id", "event_type", "source", "detected_via", "occurred_at"]
    expected = _consent_changes(optout).filter(
        ~pl.col("user_id").str.starts_with("ghost-") & (pl.col("detected_via") != "revisit")
    )
    found = _consent_changes(vendor).with_columns(
        pl.when(pl.col("detected_via") == "send_feedback")
        .then(pl.col("occurred_at") + pl.duration(milliseconds=1))
        .otherwise(pl.col("occurred_at"))
    )
    revisited = set(_consent_changes(optout).filter(pl.col("detected_via") == "revisit")["user_id"])
    assert expected.join(found, on=key, how="anti").height == 0
    extra = found.join(expected, on=key, how="anti")
    assert set(extra["user_id"]) <= revisited and set(extra["detected_via"]) <= {"send_feedback"}
    assert expected.height > 100


def test_subject_access_erasure_and_suppression_reach_onesignal_files(landing, tmp_path):
    """u4 by OneSignal's id, u2 by the external id OneSignal carries beside it: their records are
    listed as delivered, then erased from every file (the others kept), and a re-delivered day
    leaves them out of the lake."""
    from assets.privacy.landing import erase_from_landing, landing_records_of
    from assets.privacy.matching import Subjects
    from assets.privacy.suppression import SuppressionList, add_to_list, id_hash, load_salt

    people = Subjects(frozenset({"u4"}), frozenset({"ext-u2"}))
    original = tmp_path / "original"
    shutil.copytree(landing, original)
    found = landing_records_of(landing, people, "onesignal").found
    listed = {
        (r["landing_file"], r["record"].get("event_id") or r["record"].get("subscription_id")) for r in found
    }
    assert (EVENTS_JSONL, "e6") in listed and (SUBSCRIPTIONS_CSV, "s4") in listed
    assert all({"u4", "ext-u2"} & set(map(str, r["record"].values())) for r in found)

    sweep = erase_from_landing(landing, people, "onesignal")
    assert sweep.records_removed == len(found) and not sweep.unreadable
    for path in (landing / EVENTS_JSONL, landing / EVENTS_CSV, landing / SUBSCRIPTIONS_CSV):
        text = gzip.decompress(path.read_bytes()).decode() if path.name.endswith(".gz") else path.read_text()
        assert '"u4"' not in text and ",u4," not in text and "ext-u2" not in text, path.name
    assert '"e1"' in (landing / EVENTS_JSONL).read_text(), "the others' records stay"

    privacy = tmp_path / "privacy"
    salt = load_salt(privacy, create=True)
    add_to_list(privacy, [("user_id", id_hash(salt, "user_id", "u4")), ("user_id", id_hash(salt, "user_id", "u2")),
                          ("external_id", id_hash(salt, "external_id", "ext-u2"))], "r1")  # fmt: skip
    lake = tmp_path / "lake"
    for table in TABLE_NAMES:
        list(
            ingest_days(original, lake, table, [DAY], SuppressionList.load(privacy), layout_for("onesignal"))
        )
    assert set(_lake(lake, "messages", "data.parquet")["user_id"]) == {"u1", "u3", "u5"}
    for table in TABLE_NAMES:
        for name in ("data.parquet", "quarantine.parquet"):
            if (lake / table / f"dt={DAY}" / name).exists():
                text = str(_lake(lake, table, name, DAY).to_dicts())
                assert "'u4'" not in text and "ext-u2" not in text and "'u2'" not in text, (table, name)
