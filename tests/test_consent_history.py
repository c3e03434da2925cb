"""The consent ledger (marts.mart_consent_history) of a four-user story, worked out by hand.

Every kind of period is in it: closed, still open, one whose opt-out is the user's first
event (no opt-in side), one whose opt-in arrived days late; with redundant repeats that
are on no row, an event delivered twice (the first delivery is the provenance), a lagged
opt-out revealed by a send. The story runs on DuckDB (the quick tier); on Spark the mart
equals DuckDB's (tests/test_spark.py compares every mart between the engines).
"""

import datetime as dt
import os
import shutil
import subprocess

import duckdb
import polars as pl
import pytest

from orchestration.dbt_project import DBT_PROJECT_DIR, dbt_executable
from tests.helpers import write_jsonl
from tests.reference.compare import differences, warehouse_rows
from tests.reference.metrics import all_marts

DAYS = ("2026-02-01", "2026-02-02", "2026-02-03", "2026-02-04")


def t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def sub(event_id, user, kind, at, source="user_settings", via="client", campaign=None) -> dict:
    return {
        "event_id": event_id,
        "user_id": user,
        "event_type": kind,
        "occurred_at": at,
        "source": source,
        "detected_via": via,
        "campaign_id": campaign,
    }


def user(user_id, **fields) -> dict:
    at = "2026-02-01T00:00:00Z"
    return {"user_id": user_id, "created_at": at, "updated_at": at, **fields}


def write_story(landing) -> None:
    write_jsonl(
        landing,
        "users",
        "2026-02-01",
        "users.jsonl",
        [
            user("u1", platform="ios", external_id="cust-1"),
            user("u2", platform="web", external_id="cust-2", browser="chrome"),
            user("u3", platform="android"),
            # u4 has no users record: platform unknown, no external id
        ],
    )
    # two files on the first day: a.jsonl before b.jsonl
    write_jsonl(
        landing,
        "subscriptions",
        "2026-02-01",
        "a.jsonl",
        [
            sub("s1", "u1", "opt_in", "2026-02-01T08:00:00Z"),
            sub("s2", "u2", "opt_in", "2026-02-01T09:00:00Z"),
        ],
    )
    write_jsonl(
        landing,
        "subscriptions",
        "2026-02-01",
        "b.jsonl",
        [sub("s3", "u4", "opt_out", "2026-02-01T10:00:00Z", "api", "api")],  # u4's first event
    )
    write_jsonl(
        landing,
        "subscriptions",
        "2026-02-02",
        "s.jsonl",
        [
            sub("s4", "u1", "opt_out", "2026-02-02T12:00:00Z"),
            sub("s5", "u1", "opt_out", "2026-02-02T13:00:00Z"),  # redundant
            sub("s6", "u3", "opt_in", "2026-02-02T00:00:00Z"),
            sub("s7", "u3", "opt_in", "2026-02-02T05:00:00Z"),  # redundant
        ],
    )
    write_jsonl(
        landing,
        "subscriptions",
        "2026-02-03",
        "s.jsonl",
        [
            sub("s8", "u2", "opt_out", "2026-02-03T00:00:00Z", "token_invalid", "send_feedback", "c9"),
            sub("s9", "u1", "opt_in", "2026-02-03T06:00:00Z"),
            sub("s4", "u1", "opt_out", "2026-02-02T12:00:00Z"),  # delivered again: day 2's copy is kept
        ],
    )
    write_jsonl(
        landing,
        "subscriptions",
        "2026-02-04",
        "late.jsonl",
        [
            sub("s10", "u4", "opt_in", "2026-02-02T08:00:00Z"),  # two days late
            sub("s11", "u4", "opt_out", "2026-02-04T09:00:00Z", "token_invalid", "revisit"),
        ],
    )
    # u2's last delivery before the send that revealed the opt-out opens its window
    for day, records in {
        "2026-02-01": [
            {
                "event_id": "m1",
                "user_id": "u2",
                "campaign_id": "c1",
                "event_type": "delivered",
                "occurred_at": "2026-02-01T12:00:00Z",
            }
        ],
        "2026-02-03": [
            {
                "event_id": "m2",
                "user_id": "u2",
                "campaign_id": "c9",
                "event_type": "failed",
                "occurred_at": "2026-02-03T00:00:00Z",
                "error_code": "unregistered",
            }
        ],
    }.items():
        write_jsonl(landing, "messages", day, "m.jsonl", records)


# On DuckDB: the mart on Spark equals DuckDB's on the same lake (tests/test_spark.py compares
# every mart between the engines), so a second hand-computed story on Spark tells nothing new.
@pytest.fixture(scope="module", params=[pytest.param("duckdb", marks=pytest.mark.quick)])
def story(request, tmp_path_factory, dbt_manifest):
    from tests.conftest import make_workspace

    ws = make_workspace(tmp_path_factory.mktemp(f"consent-{request.param}"), dbt_target=request.param)
    write_story(ws.landing)
    ws.optout("run", "--start", DAYS[0], "--end", DAYS[-1])  # dbt's data tests pass, the new one too
    return ws


def ingested_at(ws) -> dict[dt.date, dt.datetime]:
    """When each export day of subscriptions was ingested, from the lake's own log."""
    log = pl.read_parquet(str(ws.lake / "subscriptions" / "dt=*" / "ingestion_log.parquet"))
    naive = log.with_columns(pl.col("ingested_at").dt.replace_time_zone(None))
    return dict(zip(naive["export_date"], naive["ingested_at"], strict=True))


# (user_id, external_id, platform,
#  opt_in_id, opted_in_at, opt_in_source_file, opt_in_export_date, opt_in_record_number,
#  opt_out_id, opted_out_at, source, detected_via, window_start, revealing_campaign_id,
#  opt_out_source_file, opt_out_export_date, opt_out_record_number)
EXPECTED = [
    # u1: a closed period (the opt-out's second delivery on 02-03 is not its provenance), and a new open one
    ("u1", "cust-1", "ios",
     "s1", t("2026-02-01T08:00"), "a.jsonl", d("2026-02-01"), 1,
     "s4", t("2026-02-02T12:00"), "user_settings", "client", t("2026-02-02T12:00"), None,
     "s.jsonl", d("2026-02-02"), 1),
    ("u1", "cust-1", "ios",
     "s9", t("2026-02-03T06:00"), "s.jsonl", d("2026-02-03"), 2,
     None, None, None, None, None, None, None, None, None),
    # u2: lagged, revealed by c9's send; its window opens at the last delivery (m1)
    ("u2", "cust-2", "web",
     "s2", t("2026-02-01T09:00"), "a.jsonl", d("2026-02-01"), 2,
     "s8", t("2026-02-03T00:00"), "token_invalid", "send_feedback", t("2026-02-01T12:00"), "c9",
     "s.jsonl", d("2026-02-03"), 1),
    # u3: still opted in (s7 repeats the opt-in: on no row)
    ("u3", None, "android",
     "s6", t("2026-02-02T00:00"), "s.jsonl", d("2026-02-02"), 3,
     None, None, None, None, None, None, None, None, None),
    # u4: the first event is an opt-out: a period with no opt-in side
    ("u4", None, "unknown",
     None, None, None, None, None,
     "s3", t("2026-02-01T10:00"), "api", "api", t("2026-02-01T10:00"), None,
     "b.jsonl", d("2026-02-01"), 1),
    # u4: an opt-in delivered two days late, ended by a revisit; the window opens at the opt-in
    ("u4", None, "unknown",
     "s10", t("2026-02-02T08:00"), "late.jsonl", d("2026-02-04"), 1,
     "s11", t("2026-02-04T09:00"), "token_invalid", "revisit", t("2026-02-02T08:00"), None,
     "late.jsonl", d("2026-02-04"), 2),
]  # fmt: skip
COLUMNS = (
    "user_id", "external_id", "platform",
    "opt_in_id", "opted_in_at", "opt_in_source_file", "opt_in_export_date", "opt_in_record_number",
    "opt_out_id", "opted_out_at", "source", "detected_via", "window_start", "revealing_campaign_id",
    "opt_out_source_file", "opt_out_export_date", "opt_out_record_number",
)  # fmt: skip


def ledger(ws) -> list[dict]:
    rows = warehouse_rows(ws.warehouse, "mart_consent_history")
    return sorted(rows, key=lambda r: (r["user_id"], r["opted_in_at"] or dt.datetime.min))


def test_one_row_per_period_with_hand_computed_values(story):
    rows = ledger(story)
    assert [tuple(r[c] for c in COLUMNS) for r in rows] == EXPECTED
    # the redundant repeats are on no row
    sides = {r["opt_in_id"] for r in rows} | {r["opt_out_id"] for r in rows}
    assert not {"s5", "s7"} & sides
    # and the independent reference agrees, every column
    assert differences("mart_consent_history", rows, all_marts(story.lake)["mart_consent_history"]) == []


def test_window_end_is_the_opt_out_and_open_periods_are_null(story):
    for row in ledger(story):
        assert row["window_end"] == row["opted_out_at"]
        if row["opt_out_id"] is None:
            opt_out_side = [c for c in row if c.startswith("opt_out_") or c.startswith("window_")]
            opt_out_side += ["opted_out_at", "source", "detected_via", "revealing_campaign_id"]
            assert {c: row[c] for c in opt_out_side} == dict.fromkeys(opt_out_side)
        if row["opt_in_id"] is None:
            opt_in_side = [c for c in row if c.startswith("opt_in_")] + ["opted_in_at"]
            assert {c: row[c] for c in opt_in_side} == dict.fromkeys(opt_in_side)


def test_each_side_carries_the_ingestion_time_of_its_export_day(story):
    times = ingested_at(story)
    assert len(times) == 4 and len(set(times.values())) == 4  # four days, ingested one after another
    for row in ledger(story):
        for side in ("opt_in", "opt_out"):
            day = row[f"{side}_export_date"]
            assert row[f"{side}_ingested_at"] == (times[day] if day else None), (row, side)


SINGULAR_TEST = "assert_consent_history_equals_the_subscriptions"
DAMAGES = {
    "delete from marts.mart_consent_history where opt_in_id = 's9'": {
        ("period missing from the ledger", "s9"),
        ("event on no row", "s9"),
        ("counts differ", "opt_in"),
    },
    "insert into marts.mart_consent_history select * from marts.mart_consent_history where opt_out_id = 's3'": {
        ("period on more than one row", "s3"),
        ("event on more than one side", "s3"),
        ("counts differ", "opt_out"),
    },
    "update marts.mart_consent_history set opt_out_record_number = 2 where opt_out_id = 's8'": {
        ("side differs from its event", "s8"),
    },
    "update marts.mart_consent_history set opt_out_id = 's5' where opt_out_id = 's4'": {
        ("period paired otherwise", "s1"),
        ("event on no row", "s4"),
        ("event on a row that is no opt-in or opt-out", "s5"),
    },
}


def test_the_singular_test_finds_a_lost_repeated_or_altered_period(story, tmp_path):
    result = subprocess.run(
        [dbt_executable(), "compile", "--select", SINGULAR_TEST, "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(tmp_path / "target")],
        env={**os.environ, **story.env()}, capture_output=True, text=True, cwd=DBT_PROJECT_DIR, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:]
    (compiled,) = (tmp_path / "target" / "compiled").rglob(f"{SINGULAR_TEST}.sql")
    faults_sql = compiled.read_text()
    with duckdb.connect(str(story.warehouse), read_only=True) as connection:
        assert connection.execute(faults_sql).fetchall() == []
    for number, (damage, expected) in enumerate(DAMAGES.items()):
        warehouse = tmp_path / str(number) / story.warehouse.name  # the catalog keeps its name
        warehouse.parent.mkdir()
        shutil.copy(story.warehouse, warehouse)
        with duckdb.connect(str(warehouse)) as connection:
            connection.execute(damage)
            assert set(connection.execute(faults_sql).fetchall()) == expected, damage
