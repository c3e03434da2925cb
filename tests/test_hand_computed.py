"""A three-user story through the whole pipeline, checked against numbers worked out by hand.

The story sits on the exact edges (midnight instants, a window that opens on a delivery, a
repeated opt-out, a day delivered twice), so it runs on both dbt targets: Spark's time
arithmetic and null handling must give the same hand-computed numbers as DuckDB's.
"""

import datetime as dt

import pytest

from tests.helpers import app_event, write_jsonl
from tests.reference.compare import warehouse_rows


def t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.fixture(scope="module", params=["duckdb", "spark"])
def story(request, tmp_path_factory, dbt_manifest):
    from tests.conftest import make_workspace

    ws = make_workspace(tmp_path_factory.mktemp(f"story-{request.param}"), dbt_target=request.param)
    write_jsonl(
        ws.landing,
        "users",
        "2026-01-01",
        "users.jsonl",
        [
            {
                "user_id": "u1",
                "external_id": "cust-1",
                "platform": "ios",
                "created_at": "2026-01-01T07:00:00Z",
                "updated_at": "2026-01-01T07:00:00Z",
            },
            {
                "user_id": "u2",
                "external_id": "cust-2",
                "platform": "web",
                "browser": "chrome",
                "created_at": "2026-01-01T00:00:00Z",
                "updated_at": "2026-01-01T00:00:00Z",
            },
        ],
    )

    def sub(event_id, user, kind, at, source="user_settings", via="client", campaign=None):
        return {
            "event_id": event_id,
            "user_id": user,
            "event_type": kind,
            "occurred_at": at,
            "source": source,
            "detected_via": via,
            "campaign_id": campaign,
        }

    write_jsonl(
        ws.landing,
        "subscriptions",
        "2026-01-01",
        "s.jsonl",
        [
            sub("s1", "u1", "opt_in", "2026-01-01T08:00:00Z"),
            sub("s3", "u2", "opt_in", "2026-01-01T00:00:00Z"),
        ],
    )
    write_jsonl(
        ws.landing,
        "subscriptions",
        "2026-01-02",
        "s.jsonl",
        [
            sub("s2", "u1", "opt_out", "2026-01-02T12:00:00Z"),
            sub("s5", "u3", "opt_out", "2026-01-02T06:00:00Z", "api", "api"),
            sub("s6", "u3", "opt_out", "2026-01-02T07:00:00Z", "api", "api"),
        ],
    )
    write_jsonl(
        ws.landing,
        "subscriptions",
        "2026-01-03",
        "s.jsonl",
        [sub("s4", "u2", "opt_out", "2026-01-03T00:00:00Z", "token_invalid", "send_feedback", "c2")],
    )

    def msg(event_id, user, campaign, kind, at, error=None):
        return {
            "event_id": event_id,
            "user_id": user,
            "campaign_id": campaign,
            "event_type": kind,
            "occurred_at": at,
            "error_code": error,
        }

    write_jsonl(
        ws.landing,
        "messages",
        "2026-01-01",
        "m.jsonl",
        [msg("m1", "u2", "c1", "delivered", "2026-01-01T12:00:00Z")],
    )
    write_jsonl(
        ws.landing,
        "messages",
        "2026-01-02",
        "m.jsonl",
        [
            msg("m3", "u1", "c1", "delivered", "2026-01-02T11:00:00Z"),
            msg("m4", "u1", "c1", "opened", "2026-01-02T11:30:00Z"),
            # m1 again, as the previous day delivered it: a duplicate, counted in the audit
            msg("m1", "u2", "c1", "delivered", "2026-01-01T12:00:00Z"),
        ],
    )
    write_jsonl(
        ws.landing,
        "messages",
        "2026-01-03",
        "m.jsonl",
        [msg("m2", "u2", "c2", "failed", "2026-01-03T00:00:00Z", "unregistered")],
    )
    write_jsonl(
        ws.landing,
        "app_events",
        "2026-01-02",
        "a.jsonl",
        [app_event("a1", "u1", "2026-01-02T13:00:00Z")],
    )
    write_jsonl(
        ws.landing,
        "app_events",
        "2026-01-01",
        "a.jsonl",
        [
            {
                "event_id": "a0",
                "user_id": "u1",
                "event_name": "purchase",
                "occurred_at": "2026-01-01T09:00:00Z",
            }
        ],
    )
    ws.optout("run", "--start", "2026-01-01", "--end", "2026-01-03")
    return ws


def test_opt_out_facts(story):
    facts = {r["opt_out_id"]: r for r in warehouse_rows(story.warehouse, "fct_opt_outs")}
    assert sorted(facts) == ["s2", "s4", "s5"]  # s6 is a redundant opt-out
    u1, u2, u3 = facts["s2"], facts["s4"], facts["s5"]
    assert (u1["platform"], u1["opted_in_at"], u1["window_start"], u1["is_lagged"]) == (
        "ios",
        t("2026-01-01T08:00"),
        t("2026-01-02T12:00"),
        False,
    )
    assert (
        u1["pushes_received"],
        u1["last_received_campaign_id"],
        u1["last_opened_campaign_id"],
        u1["activity_status"],
    ) == (1, "c1", "c1", "retain")
    # lagged: the window opens at the last delivery, the revealing campaign gets no credit
    assert (u2["window_start"], u2["revealing_campaign_id"], u2["last_received_campaign_id"]) == (
        t("2026-01-01T12:00"),
        "c2",
        "c1",
    )
    assert (u2["pushes_received"], u2["activity_status"], u2["external_id"]) == (1, "pending", "cust-2")
    assert (u3["platform"], u3["opted_in_at"], u3["external_id"], u3["activity_status"]) == (
        "unknown",
        None,
        None,
        "pending",
    )


def test_daily_mart(story):
    daily = {
        (str(r["date"]), r["platform"]): r for r in warehouse_rows(story.warehouse, "mart_opt_out_daily")
    }
    assert len(daily) == 12
    expected = {
        ("2026-01-01", "ios"): (1, 0, 0.0, 0, None),
        ("2026-01-01", "web"): (1, 0, 1 / 3, 0, None),
        ("2026-01-02", "ios"): (0, 1, 1.0, 1, 1.0),
        ("2026-01-02", "web"): (0, 0, 2 / 3, 1, 0.0),
        ("2026-01-02", "unknown"): (0, 1, 1.0, 0, None),
        ("2026-01-03", "web"): (0, 1, 0.0, 1, 1.0),
        ("2026-01-03", "ios"): (0, 0, 0.0, 0, None),
    }
    for key, (opt_ins, detected, estimated, base, rate) in expected.items():
        row = daily[key]
        assert (row["opt_ins"], row["opt_outs_detected"], row["opted_in_base"], row["opt_out_rate"]) == (
            opt_ins,
            detected,
            base,
            rate,
        ), key
        assert row["opt_outs_estimated"] == pytest.approx(estimated), key


def test_campaigns_and_baseline(story):
    campaigns = {r["campaign_id"]: r for r in warehouse_rows(story.warehouse, "mart_campaign_opt_outs")}
    assert (
        campaigns["c1"]["recipients"],
        campaigns["c1"]["openers"],
        campaigns["c1"]["attributed_opt_outs"],
    ) == (2, 1, 2)
    assert (campaigns["c1"]["attributed_opt_out_rate"], campaigns["c1"]["opened_then_opted_out"]) == (1.0, 1)
    assert (
        campaigns["c2"]["recipients"],
        campaigns["c2"]["attributed_opt_outs"],
        campaigns["c2"]["revealed_opt_outs"],
    ) == (0, 0, 1)
    assert campaigns["c2"]["attributed_opt_out_rate"] is None
    baseline = {
        (str(r["date"]), r["platform"], r["bucket"]): r["opted_in_users"]
        for r in warehouse_rows(story.warehouse, "mart_pressure_baseline")
    }
    assert baseline == {
        ("2026-01-02", "ios", "0"): 1,
        ("2026-01-02", "web", "1"): 1,
        ("2026-01-03", "web", "1"): 1,
    }


def test_last_events_and_retain_churn(story):
    detail = {
        (r["opt_out_id"], r["lookback_days"], r["event_name"]): r["event_count"]
        for r in warehouse_rows(story.warehouse, "fct_opt_out_last_events")
    }
    # u1's events in (window_start - x, window_start]: the purchase the day before (a1 is after)
    assert detail == {("s2", 7, "purchase"): 1, ("s2", 14, "purchase"): 1, ("s2", 30, "purchase"): 1}
    churn = {
        (str(r["opt_out_date"]), r["platform"], r["lookback_days"], r["status"]): r["opt_outs"]
        for r in warehouse_rows(story.warehouse, "mart_retain_churn")
    }
    assert churn[("2026-01-02", "ios", 7, "retain")] == 1
    assert churn[("2026-01-03", "web", 30, "pending")] == 1


def test_ingestion_log_counts_a_repeat_of_an_earlier_day_as_duplicate(story):
    import duckdb

    with duckdb.connect(str(story.warehouse), read_only=True) as connection:
        rows = connection.execute(
            "select export_date, records_read, records_loaded, records_quarantined, records_duplicate "
            "from audit.ingestion_log where table_name = 'messages' order by export_date"
        ).fetchall()
        kept = connection.execute(
            "select count(*) from staging.stg_lake__messages where event_id = 'm1'"
        ).fetchall()
    assert rows == [
        (dt.date(2026, 1, 1), 1, 1, 0, 0),
        (dt.date(2026, 1, 2), 3, 2, 0, 1),
        (dt.date(2026, 1, 3), 1, 1, 0, 0),
    ]
    assert kept == [(1,)]
