"""Braze Currents (OPTOUT_SOURCE=braze_currents): Avro files built from Braze's own schemas,
mapped field by field; bad vendor input; Braze's public sample files accounted for."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import duckdb
import fastavro
import polars as pl
import pytest

from assets.ingest.day import ingest_days
from assets.ingest.readers import UnreadableFileError
from assets.sources import braze
from assets.sources.braze_schemas import FIELDS, schema
from assets.sources.layouts import layout_for

DAY = dt.date(2026, 1, 5)
T = int(dt.datetime(2026, 1, 5, 10, 0, 0, tzinfo=dt.UTC).timestamp())  # 10:00:00 UTC
TABLES = ("users", "subscriptions", "campaigns", "messages", "app_events")
# Braze's public sample files (the repository Appboy/currents-examples, `sample-data/Avro`):
# their licence keeps them out of this repository, so the test reads them where they were fetched
SAMPLES_VARIABLE = "OPTOUT_BRAZE_SAMPLE_DIR"


def write_avro(
    landing: Path,
    event_type: str,
    records: list[dict],
    day: dt.date = DAY,
    hour: int = 10,
    schema_of: str = "",
) -> Path:
    """A Currents file of `event_type`, with Braze's schema of that type (or of `schema_of`);
    every optional field null unless given."""
    folder = (
        landing / "prefix" / f"event_type={event_type}" / f"date={day.isoformat()}-{hour:02d}" / "integration"
    )
    folder.mkdir(parents=True, exist_ok=True)
    names = [field for field, _ in FIELDS[schema_of or event_type]]
    rows = [{field: record.get(field) for field in names} for record in records]
    path = folder / "part-0.avro"
    with path.open("wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(schema(schema_of or event_type)), rows, codec="deflate")
    return path


def ingest(landing: Path, lake: Path, days=(DAY,)) -> dict[str, object]:
    layout = layout_for("braze_currents")
    return {table: dict(ingest_days(landing, lake, table, list(days), layout=layout)) for table in TABLES}


def lake_rows(lake: Path, table: str, name: str = "data.parquet", day: dt.date = DAY) -> list[dict]:
    path = lake / table / f"dt={day.isoformat()}" / name
    return pl.read_parquet(path).to_dicts() if path.exists() else []


def ts(seconds: int, ms: int = 0) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC) + dt.timedelta(milliseconds=ms)


def user(uid="u1", external="cust-1", **more) -> dict:
    return {"user_id": uid, "external_user_id": external, "app_id": "app", "time": T, **more}


@pytest.mark.quick
def test_push_messages_map_field_by_field(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    campaign = {"campaign_id": "c1", "campaign_name": "Flash sale", "dispatch_id": "d1"}
    write_avro(
        landing,
        braze.SEND,
        [
            user(id="s1", platform="android", **campaign),
            user("u2", None, id="s2", platform="web", **campaign),
            user(
                "u3", None, id="s3", platform="ios", canvas_id="cv1", canvas_name="Welcome", dispatch_id="d2"
            ),
        ],
    )
    write_avro(landing, braze.BOUNCE, [user("u2", None, id="b1", platform="web", time=T + 5, **campaign)])
    write_avro(
        landing,
        braze.ABORT,
        [
            user(
                "u3",
                None,
                id="a1",
                platform="ios",
                canvas_id="cv1",
                dispatch_id="d2",
                abort_type="rate_limited",
            )
        ],
    )
    write_avro(landing, braze.OPEN, [user(id="o1", platform="android", time=T + 60, **campaign)])
    ingest(landing, lake)

    messages = {row["event_id"]: row for row in lake_rows(lake, "messages")}
    assert set(messages) == {"s1", "s2", "s3", "s1/delivered", "b1/failed", "a1", "o1"}
    assert {
        k: messages["s1"][k] for k in ("user_id", "campaign_id", "event_type", "occurred_at", "error_code")
    } == {
        "user_id": "u1",
        "campaign_id": "c1",
        "event_type": "sent",
        "occurred_at": ts(T),
        "error_code": None,
    }
    # no delivery receipt in Braze: a send no bounce or abort of the day matches is delivered
    assert messages["s1/delivered"]["event_type"] == "delivered"
    assert messages["s1/delivered"]["occurred_at"] == ts(T)
    # the bounced (u2) and the aborted (u3, a Canvas) sends are not
    assert (messages["b1/failed"]["event_type"], messages["b1/failed"]["error_code"]) == (
        "failed",
        "unregistered",
    )
    assert (messages["a1"]["event_type"], messages["a1"]["error_code"], messages["a1"]["campaign_id"]) == (
        "failed",
        "rate_limited",
        "cv1",
    )
    assert (messages["o1"]["event_type"], messages["o1"]["occurred_at"]) == ("opened", ts(T + 60))
    # the bounce is how the opt-out is found, revealed by the bounced campaign
    (found,) = lake_rows(lake, "subscriptions")
    assert {
        k: found[k] for k in ("event_id", "user_id", "event_type", "source", "detected_via", "campaign_id")
    } == {
        "event_id": "b1",
        "user_id": "u2",
        "event_type": "opt_out",
        "source": "token_invalid",
        "detected_via": "send_feedback",
        "campaign_id": "c1",
    }
    assert found["occurred_at"] == ts(T + 5)
    # campaigns come from the sends: a campaign is a broadcast, a Canvas an automated campaign
    campaigns = {row["campaign_id"]: row for row in lake_rows(lake, "campaigns")}
    assert {k: campaigns["c1"][k] for k in ("name", "channel", "campaign_type", "sent_at")} == {
        "name": "Flash sale",
        "channel": "push",
        "campaign_type": "broadcast",
        "sent_at": ts(T),
    }
    assert (campaigns["cv1"]["name"], campaigns["cv1"]["campaign_type"]) == ("Welcome", "automated")


@pytest.mark.quick
def test_consent_changes_map_to_their_source_and_detection_path(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_avro(
        landing,
        braze.GLOBAL_STATE,
        [
            user(id="g1", channel="push", subscription_status="Opted In", state_change_source="SDK"),
            user(id="g2", channel="push", subscription_status="Unsubscribed", state_change_source="SDK"),
            user(id="g3", channel="push", subscription_status="Unsubscribed", state_change_source="REST API"),
            user(id="g4", channel="email", subscription_status="Unsubscribed", state_change_source="SDK"),
        ],
    )
    write_avro(
        landing,
        braze.TOKEN_STATE,
        [
            user(id="k1", time_ms=T * 1000 + 250, platform="ios", push_token_state_change_type="add"),
            user(
                id="k2",
                time_ms=T * 1000,
                platform="ios",
                push_token_state_change_type="update",
                push_token_foreground_push_disabled=True,
            ),
            user(id="k3", time_ms=T * 1000, platform="web", push_token_state_change_type="remove"),
            user(
                id="k4",
                time_ms=T * 1000,
                platform="android",
                push_token_state_change_type="update",
                push_token_foreground_push_disabled=False,
            ),
        ],
    )
    write_avro(landing, braze.UNINSTALL, [user(id="n1")])
    ingest(landing, lake)
    rows = {
        r["event_id"]: (r["event_type"], r["source"], r["detected_via"], r["campaign_id"])
        for r in lake_rows(lake, "subscriptions")
    }
    assert rows == {
        "g1": ("opt_in", "user_settings", "client", None),
        "g2": ("opt_out", "user_settings", "client", None),
        "g3": ("opt_out", "api", "api", None),
        "k1": ("opt_in", "os_permission", "client", None),
        "k2": ("opt_out", "os_permission", "client", None),  # notifications turned off in the OS
        "k3": ("opt_out", "token_invalid", "revisit", None),  # a web token found gone at the next visit
        "n1": ("opt_out", "token_invalid", "send_feedback", None),  # uninstall tracking: no campaign
    }
    assert {r["event_id"]: r["occurred_at"] for r in lake_rows(lake, "subscriptions")}["k1"] == ts(T, 250)
    # an email subscription and a token refresh are no push consent change: ignored, counted
    files = {r["event_type"]: r for r in lake_rows(lake, "subscriptions", "source_files.parquet")}
    assert (files[braze.GLOBAL_STATE]["records"], files[braze.GLOBAL_STATE]["ignored"]) == (4, 1)
    assert (files[braze.TOKEN_STATE]["records"], files[braze.TOKEN_STATE]["ignored"]) == (4, 1)


@pytest.mark.quick
def test_activity_and_profiles_map_field_by_field(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_avro(
        landing, braze.FIRST_SESSION, [user(id="f1", session_id="x", platform="web", device_model="Firefox")]
    )
    write_avro(
        landing,
        braze.SESSION_START,
        [
            user("u2", "cust-2", id="e1", session_id="y", platform="tvos"),
            user("u2", "cust-2b", id="e2", session_id="z", platform="tvos", time=T + 30),
        ],
    )
    write_avro(
        landing,
        braze.CUSTOM_EVENT,
        [
            user(id="c1", name="add_to_cart", properties='{"sku": "a1"}'),
            user(id="c2", name="screen_view", properties="{}"),
        ],
    )
    write_avro(
        landing,
        braze.PURCHASE,
        [user(id="p1", product_id="order", price=12.5, currency="EUR", properties="{}")],
    )
    ingest(landing, lake)
    events = {
        r["event_id"]: (r["user_id"], r["event_name"], r["occurred_at"], r["properties"])
        for r in lake_rows(lake, "app_events")
    }
    assert events == {
        "e1": ("u2", "session_start", ts(T), None),
        "e2": ("u2", "session_start", ts(T + 30), None),
        "c1": ("u1", "add_to_cart", ts(T), '{"sku": "a1"}'),
        "c2": ("u1", "screen_view", ts(T), None),
        "p1": ("u1", "purchase", ts(T), '{"product_id":"order","price":12.5,"currency":"EUR"}'),
    }
    users = sorted(lake_rows(lake, "users"), key=lambda r: r["user_id"])
    assert [
        (u["user_id"], u["external_id"], u["platform"], u["browser"], u["created_at"], u["updated_at"])
        for u in users
    ] == [
        ("u1", "cust-1", "web", "firefox", ts(T), ts(T)),  # the first session: the profile then
        ("u2", "cust-2b", "ios", None, ts(T), ts(T + 30)),  # the sessions of a file: the latest seen
    ]


@pytest.mark.quick
def test_bad_vendor_input_is_quarantined_counted_or_fails_its_day(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    later = DAY + dt.timedelta(days=1)
    future = int(dt.datetime(2026, 1, 7, tzinfo=dt.UTC).timestamp())
    write_avro(
        landing,
        braze.SESSION_START,
        [
            user(id="e1", session_id="a", platform="ios"),
            user(id="e1", session_id="a", platform="ios"),  # at-least-once: the same event again
            user(id="e2", session_id="b", platform="ios", time=future),  # after the export day (+1 h)
        ],
    )
    # a file whose schema lacks a field the mapping requires (the user id)
    lacking = {
        "type": "record",
        "name": "S",
        "fields": [{"name": "id", "type": "string"}, {"name": "time", "type": "int"}],
    }
    folder = landing / "prefix" / f"event_type={braze.CUSTOM_EVENT}" / f"date={DAY}-11"
    folder.mkdir(parents=True)
    with (folder / "drift.avro").open("wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(lacking), [{"id": "c1", "time": T}])
    unknown = "users.messages.carrierpigeon.Send"  # a type nobody knows
    write_avro(
        landing, unknown, [user(id="x1", platform="ios"), user(id="x2", platform="ios")], schema_of=braze.SEND
    )
    # the next day: the same event id once more, and a truncated upload of another file
    write_avro(landing, braze.SESSION_START, [user(id="e1", session_id="a", platform="ios")], day=later)
    whole = write_avro(landing, braze.OPEN, [user(id=f"o{n}", platform="ios") for n in range(50)], day=later)
    whole.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    results = ingest(landing, lake, days=(DAY, later))

    assert {r["event_id"] for r in lake_rows(lake, "app_events")} == {"e1"}
    reasons = {(r["record_number"], r["reason"]) for r in lake_rows(lake, "app_events", "quarantine.parquet")}
    assert reasons == {(3, "future_timestamp:occurred_at"), (1, "missing_required:user_id")}
    quarantined = lake_rows(lake, "app_events", "quarantine.parquet")
    assert all(json.loads(r["raw_record"])["id"] in ("e2", "c1") for r in quarantined)  # Braze's own record
    files = {r["event_type"]: r for r in lake_rows(lake, "app_events", "source_files.parquet")}
    assert {
        k: files[braze.SESSION_START][k]
        for k in ("records", "loaded", "duplicate_in_day", "quarantined", "ignored")
    } == {"records": 3, "loaded": 1, "duplicate_in_day": 1, "quarantined": 1, "ignored": 0}
    # an unknown event type: read, counted as ignored, never an error
    assert (files[unknown]["records"], files[unknown]["ignored"]) == (2, 2)
    assert results["app_events"][DAY].ignored_by_kind == {unknown: 2}
    # the truncated file fails its own day for the table reading it, naming the file
    failed = results["messages"][later]
    assert isinstance(failed, UnreadableFileError)
    assert "event_type=users.messages.pushnotification.Open" in str(failed) and "part-0.avro" in str(failed)
    assert not isinstance(results["messages"][DAY], UnreadableFileError)
    # the repeat on the next day is loaded there; staging keeps the first delivery (audit.source_files)
    assert [r["event_id"] for r in lake_rows(lake, "app_events", day=later)] == ["e1"]


@pytest.mark.quick
def test_hour_folders_at_any_depth_give_the_export_day(tmp_path):
    landing = tmp_path / "landing"
    write_avro(landing, braze.SESSION_START, [user(id="e1", session_id="a", platform="ios")], hour=23)
    deeper = (
        landing / "bucket" / "currents" / f"event_type={braze.SEND}" / "date=2026-01-06-00" / "a" / "b" / "c"
    )
    deeper.mkdir(parents=True)
    with (deeper / "f.avro").open("wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(schema(braze.SEND)), [])
    (landing / "prefix" / f"event_type={braze.SEND}" / "date=2026-13-01-00").mkdir(parents=True)  # no date
    folders = layout_for("braze_currents").landed(landing)
    assert [(f.label, f.day, len(f.files())) for f in folders] == [
        (braze.SESSION_START, DAY, 1),
        (braze.SEND, dt.date(2026, 1, 6), 1),
    ]


def test_braze_public_sample_files_are_every_record_accounted_for(tmp_path, dbt_manifest):
    samples = os.environ.get(SAMPLES_VARIABLE)
    if not samples:
        pytest.skip(
            f"{SAMPLES_VARIABLE} is not set: fetch Braze's Appboy/currents-examples and point it at its "
            "sample-data/Avro folder (its licence keeps the files out of this repository)"
        )
    from tests.conftest import make_workspace

    ws = make_workspace(tmp_path / "ws", source="braze_currents")
    total = 0
    for path in sorted(Path(samples).glob("*.avro")):
        with path.open("rb") as handle:
            reader = fastavro.reader(handle)
            writer_schema, records = reader.writer_schema, list(reader)
        for record in records:  # their times are placeholders years ahead: made the export day's
            if "time" in record:
                record["time"] = T
            if record.get("time_ms") is not None:
                record["time_ms"] = T * 1000
        folder = ws.landing / f"event_type={path.stem}" / f"date={DAY}-10" / "sample"
        folder.mkdir(parents=True)
        with (folder / path.name).open("wb") as handle:
            fastavro.writer(handle, writer_schema, records)
        total += len(records)
    ws.optout("run")
    with duckdb.connect(str(ws.warehouse), read_only=True) as con:
        rows = con.execute(
            "select count(*), sum(records), sum(mapped + ignored + quarantined + duplicate), sum(mapped) "
            "from audit.source_files"
        ).fetchone()
    files = len(list(Path(samples).glob("*.avro")))
    assert rows[0] == files and rows[1] == total == rows[2], rows
    assert rows[3] > 0
    shutil.rmtree(ws.root, ignore_errors=True)


@pytest.mark.quick
def test_erasure_rewrites_the_avro_files_without_their_records(tmp_path):
    from assets.privacy.landing import erase_from_landing, landing_records_of
    from assets.privacy.matching import Subjects

    landing = tmp_path / "landing"
    path = write_avro(
        landing,
        braze.SEND,
        [
            user("u1", "cust-1", id="s1", platform="ios", campaign_id="c1"),
            user("u2", "cust-2", id="s2", platform="ios", campaign_id="c1"),
            user("u3", "cust-3", id="s3", platform="ios", campaign_id="c1"),
            # another person's send whose campaign id is the same text as an erased external id
            user("u4", "cust-4", id="s4", platform="ios", campaign_id="cust-3"),
        ],
    )
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    # u2 by user id, u3 by the external id Braze carries as `external_user_id`
    people = Subjects(frozenset({"u2"}), frozenset({"cust-3"}))
    # subject access first: their records as delivered, every field (the lake keeps fewer)
    found = landing_records_of(landing, people, "braze_currents").found
    assert [(r["record"]["id"], r["record"]["user_id"]) for r in found] == [("s2", "u2"), ("s3", "u3")]
    assert {r["landing_file"] for r in found} == {str(path.relative_to(landing))}
    sweep = erase_from_landing(landing, people, "braze_currents")
    assert (sweep.records_removed, len(sweep.files_rewritten)) == (2, 1)
    with path.open("rb") as handle:
        reader = fastavro.reader(handle)
        assert reader.codec == "deflate"
        assert [f["name"] for f in reader.writer_schema["fields"]] == [name for name, _ in FIELDS[braze.SEND]]
        assert [record["id"] for record in reader] == ["s1", "s4"]
    assert path.stat().st_mtime_ns == 1_000_000_000_000_000_000  # the landing sensor sees nothing new


@pytest.mark.quick
def test_retention_removes_the_old_hour_folders(tmp_path):
    from assets.contract import TABLE_NAMES
    from assets.ingest.retention import apply_retention

    landing, lake = tmp_path / "landing", tmp_path / "lake"
    for day in (DAY, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)):
        write_avro(
            landing, braze.SESSION_START, [user(id=f"e{day.day}", session_id="a", platform="ios")], day=day
        )
    removal = apply_retention(
        landing, lake, TABLE_NAMES, 1, DAY + dt.timedelta(days=2), layout_for("braze_currents")
    )
    assert [f.day for f in layout_for("braze_currents").landed(landing)] == [
        DAY + dt.timedelta(days=1),
        DAY + dt.timedelta(days=2),
    ]
    assert removal.tables[braze.SESSION_START].landing_days == [DAY]
