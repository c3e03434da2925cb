"""The opt-out report: its numbers are the marts', it renders in Chromium, empty ranges read well,
a platform of a handful of users stays out of the rate chart, opt-outs are counted on their send
day, and the report and the Superset dashboards share colours, titles and date labels."""

import dataclasses
import datetime as dt
import re
import shutil
import struct

import duckdb
import polars as pl
import pytest

from assets import marts_builds
from assets.bi import dashboards
from assets.config import REPO_ROOT
from assets.exports.opted_out_users import write_export
from assets.exports.ranges import between_range
from assets.report import build, charts, look, numbers
from assets.report.build import make_report
from assets.serving.copy import reporting_periods
from tests.helpers import app_event, chromium, write_jsonl
from tests.report_parser import parse

ARTIFACTS = REPO_ROOT / "test-artifacts"
CHARTS = ["trend", "pressure", "campaigns", "send_days", "retain_churn", "last_events"]
START, END = dt.date(2026, 1, 8), dt.date(2026, 1, 21)


@pytest.fixture(scope="module")
def report(sample_run):
    start, end = dt.date(2026, 1, 8), dt.date(2026, 1, 21)
    write_export(sample_run.warehouse, sample_run.exports, between_range(start, end))  # the page links it
    return make_report(sample_run.warehouse, sample_run.exports, start, end)


def _marts(warehouse, table):
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.table(f"marts.{table}").pl()


def test_numbers_in_the_page_equal_the_marts(sample_run, report):
    page = parse(report.html_path)
    facts = _marts(sample_run.warehouse, "fct_opt_outs").filter(
        pl.col("opt_out_date").is_between(dt.date(2026, 1, 8), dt.date(2026, 1, 21))
    )
    daily = _marts(sample_run.warehouse, "mart_opt_out_daily")
    in_range = daily.filter(pl.col("date").is_between(dt.date(2026, 1, 8), dt.date(2026, 1, 21)))
    before = daily.filter(pl.col("date").is_between(dt.date(2025, 12, 25), dt.date(2026, 1, 7)))
    assert int(page.metrics["opt_outs"]) == facts.height > 0
    assert float(page.metrics["opt_out_rate"]) == pytest.approx(
        in_range["opt_outs_detected"].sum() / in_range["opted_in_base"].sum()
    )
    assert float(page.metrics["previous_opt_out_rate"]) == pytest.approx(
        before["opt_outs_detected"].sum() / before["opted_in_base"].sum()
    )
    assert float(page.metrics["lagged_share"]) == pytest.approx(facts["is_lagged"].mean())
    top = (
        facts.group_by("last_received_campaign_id")
        .len()
        .drop_nulls()
        .sort(["len", "last_received_campaign_id"], descending=[True, False])
    )
    assert page.metrics["top_campaign"] == top["last_received_campaign_id"][0]

    trend = {row["date"]: row for row in page.data["trend"]}
    for day, group in in_range.group_by("date"):
        row = trend[str(day[0])]
        assert row["opt_outs_detected"] == group["opt_outs_detected"].sum()
        assert row["opt_outs_estimated"] == pytest.approx(group["opt_outs_estimated"].sum())
    pressure = {row["bucket"]: row["opt_outs"] for row in page.data["pressure"]}
    marts_pressure = _marts(sample_run.warehouse, "mart_pre_opt_out_pressure").filter(
        pl.col("opt_out_date").is_between(dt.date(2026, 1, 8), dt.date(2026, 1, 21))
    )
    assert sum(pressure.values()) == marts_pressure["opt_outs"].sum() == facts.height
    statuses = {(r["lookback_days"], r["status"]): r["opt_outs"] for r in page.data["retain_churn"]}
    assert sum(v for (days, _), v in statuses.items() if days == 7) == facts.height
    assert dict(facts["activity_status"].value_counts().iter_rows()) == {
        s: v for (d, s), v in statuses.items() if d == 7
    }


def test_pngs_are_real_images_and_the_export_is_linked(report):
    for name in CHARTS:
        data = report.images[name].read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        width, height = struct.unpack(">II", data[16:24])
        assert width >= 300 and height >= 150, (name, width, height)
    page = parse(report.html_path)
    assert page.links == ["../opted_out_users/2026-01-08_2026-01-21.csv"]
    assert (report.html_path.parent / page.links[0]).resolve().exists()


def test_report_renders_in_headless_chromium(report, tmp_path):
    assert shutil.which("chromium"), "Debian's chromium is missing: tests/run.sh installs it"
    ARTIFACTS.mkdir(exist_ok=True)
    url = report.html_path.as_uri()
    profile = tmp_path / "profile"
    shown = chromium(
        profile, url, "--enable-logging=stderr", "--v=0", "--dump-dom", window="1200,3000", budget_ms=5000
    )
    assert "Uncaught" not in shown.stderr and "CONSOLE" not in shown.stderr
    for name in CHARTS:
        figure = re.search(rf'<figure data-chart="{name}">(.*?)</figure>', shown.stdout, re.S)
        assert figure and "<svg" in figure.group(1) and figure.group(1).count("<path") > 3, name
    screenshot = ARTIFACTS / "opt_out_report.png"
    chromium(profile, url, f"--screenshot={screenshot}", window="1200,3000", budget_ms=5000)
    assert screenshot.stat().st_size > 50_000


def test_a_report_of_the_same_numbers_is_kept_and_one_of_other_numbers_drawn(sample_run, tmp_path):
    exports = tmp_path / "exports"
    first = make_report(sample_run.warehouse, exports, START, END)
    assert first.written
    folder = first.html_path.parent
    stamps = {path.name: path.stat().st_mtime_ns for path in folder.iterdir()}
    assert len(stamps) == 1 + len(CHARTS) + 1  # the page, its charts, what they were drawn from

    again = make_report(sample_run.warehouse, exports, START, END)
    assert not again.written
    assert again.html_path == first.html_path and again.images == first.images
    assert again.headlines == first.headlines and again.trend_png == first.trend_png
    assert {path.name: path.stat().st_mtime_ns for path in folder.iterdir()} == stamps

    # a file gone: drawn again, whole
    first.images["pressure"].unlink()
    assert make_report(sample_run.warehouse, exports, START, END).written
    assert first.images["pressure"].is_file()

    # other numbers (one day's opt-outs, here by hand): another fingerprint
    checked = marts_builds.read_checked_export_days(sample_run.warehouse)
    shown = numbers.read_checked_range(sample_run.warehouse, START, END, checked[2])
    changed = shown.trend.with_columns(pl.col(shown.trend.columns[1]).shift(1))
    assert build.report_fingerprint(shown, None) == build.report_fingerprint(shown, None)
    assert build.report_fingerprint(shown, None) != build.report_fingerprint(
        dataclasses.replace(shown, trend=changed), None
    )
    assert build.report_fingerprint(shown, None) != build.report_fingerprint(shown, "../x.csv")


def test_every_chart_has_marks(report):
    page = parse(report.html_path)
    assert set(page.svg_marks) == set(CHARTS)
    assert all(count > 10 for count in page.svg_marks.values()), page.svg_marks


def test_an_empty_range_reads_well(workspace, dbt_manifest):
    users = [
        {
            "user_id": f"u{i}",
            "platform": "ios",
            "created_at": "2026-01-01T01:00:00Z",
            "updated_at": "2026-01-01T01:00:00Z",
        }
        for i in range(3)
    ]
    write_jsonl(workspace.landing, "users", "2026-01-01", "u.jsonl", users)
    opt_ins = [
        {
            "event_id": f"s{i}",
            "user_id": f"u{i}",
            "event_type": "opt_in",
            "occurred_at": "2026-01-01T02:00:00Z",
            "source": "user_settings",
            "detected_via": "client",
        }
        for i in range(3)
    ]
    write_jsonl(workspace.landing, "subscriptions", "2026-01-01", "s.jsonl", opt_ins)
    write_jsonl(
        workspace.landing,
        "app_events",
        "2026-01-02",
        "a.jsonl",
        [app_event("a1", "u1", "2026-01-02T02:00:00Z")],
    )
    run = workspace.optout("run", "--start", "2026-01-01", "--end", "2026-01-02")
    assert "report:" in run.stdout
    result = workspace.optout("report", "--start", "2026-01-01", "--end", "2026-01-02")
    path = workspace.exports / "reports" / "opt_out_report_2026-01-01_2026-01-02.html"
    assert str(path) in result.stdout
    text = path.read_text()
    assert 'data-empty="true"' in text and "No opt-outs between 2026-01-01 and 2026-01-02" in text
    assert parse(path).metrics["opt_outs"] == "0"


def _figure(report, name: str) -> str:
    text = report.html_path.read_text(encoding="utf-8")
    return re.search(rf'<figure data-chart="{name}">(.*?)</figure>', text, re.S).group(1)


def test_a_platform_with_a_tiny_base_is_left_out_of_the_rate_chart_and_named_under_it(sample_run, report):
    """`unknown` has 0..2 opted-in users a day: its rate (0% or 50%) would dwarf the real platforms'."""
    page = parse(report.html_path)
    daily = _marts(sample_run.warehouse, "mart_opt_out_daily").filter(
        pl.col("date").is_between(START, END) & (pl.col("opted_in_base") > 0)
    )
    small = daily.filter(pl.col("opted_in_base") < 50)  # the view's minimum base, 50 users
    # in this sample only `unknown` is that small, and it is on every day it has a base
    assert small["platform"].unique().to_list() == ["unknown"]
    assert small["opted_in_base"].max() == 2 and small.height == 10
    charted = page.data["rate_by_platform"]
    assert {row["platform"] for row in charted} == {"ios", "android", "web"}
    assert len(charted) == 3 * 14 == daily.height - small.height  # every day of the real platforms
    for row in charted:
        assert row["opted_in_base"] >= row["min_opted_in_base"] == 50
    assert page.data["rate_left_out"] == [
        {
            "platform": "unknown",
            "days_left_out": 10,
            "opt_outs_detected": small["opt_outs_detected"].sum(),
            "opted_in_user_days": small["opted_in_base"].sum(),
            "largest_opted_in_base": 2,
            "min_opted_in_base": 50,
        }
    ]
    assert small["opted_in_base"].sum() == 19
    # the drawn chart: a legend of the three real platforms, and the note under it names unknown
    svg = _figure(report, "trend")
    legend = set(re.findall(r"<text[^>]*>(ios|android|web|unknown)</text>", svg))
    assert legend == {"ios", "android", "web"}
    note = re.search(r'<p class="note" data-note="trend">(.*?)</p>', report.html_path.read_text()).group(1)
    assert "fewer than 50 opted-in users" in note and "unknown on 10 days" in note
    assert "19 opted-in user-days, at most 2 users a day" in note


def test_report_and_dashboards_share_colours_titles_and_date_labels(report):
    """One look (assets/report/look.py): the report's Vega-Lite specs and Superset's chart
    definitions carry the same titles, axis titles, date format, series names and colours."""
    page = parse(report.html_path)
    trend = charts.trend_chart(
        pl.DataFrame(page.data["trend"]).with_columns(pl.col("date").str.to_date()),
        pl.DataFrame(page.data["rate_by_platform"]).with_columns(pl.col("date").str.to_date()),
    )
    counts, rate = trend.to_dict()["vconcat"]
    layer = counts["layer"][0]["encoding"]
    assert counts["title"] == dashboards.TREND.title == look.TREND.title
    assert layer["x"]["title"] == dashboards.TREND.params["x_axis_title"] == "day (UTC)"
    assert layer["y"]["title"] == dashboards.TREND.params["y_axis_title"] == "opt-outs per day"
    assert layer["x"]["axis"]["format"] == dashboards.TREND.params["x_axis_time_format"] == "%Y-%m-%d"
    series = layer["color"]["scale"]
    assert series == {
        "domain": ["detected", "re-spread over the detection window"],
        "range": ["#4c78a8", "#e45756"],
    }
    assert [m["label"] for m in dashboards.TREND.params["metrics"]] == series["domain"]
    scale = rate["encoding"]["color"]["scale"]
    assert scale == {"domain": ["ios", "android", "web"], "range": ["#4c78a8", "#54a24b", "#f58518"]}
    assert rate["title"] == dashboards.RATE.title
    assert rate["encoding"]["y"]["axis"]["format"] == dashboards.RATE.params["y_axis_format"] == ".2%"
    # the dashboards colour every series and platform by label, with the same colours
    colours = dashboards._metadata(dashboards.DASHBOARDS[0], [1], {"rpt_headlines": 1})["label_colors"]
    assert {label: colours[label] for label in scale["domain"] + series["domain"]} == dict(
        zip(scale["domain"] + series["domain"], scale["range"] + series["range"], strict=True)
    )
    assert colours["unknown"] == "#9d9d9d" and colours["attributed (last delivery before)"] == "#e45756"
    send_days = charts.send_days_chart(pl.DataFrame(page.data["send_days"])).to_dict()
    assert send_days["title"] == dashboards.SEND_DAYS.title == "Attributed vs revealed opt-outs by send day"
    assert send_days["encoding"]["x"]["title"] == dashboards.SEND_DAYS.params["x_axis_title"]
    assert [m["label"] for m in dashboards.SEND_DAYS.params["metrics"]] == send_days["encoding"]["color"][
        "scale"
    ]["domain"]
    # and the page itself shows those axis titles and date labels
    svg = _figure(report, "trend")
    assert ">day (UTC)</text>" in svg and ">opt-outs per day</text>" in svg and ">2026-01-10</text>" in svg


@pytest.mark.quick
def test_dashboards_read_the_views_columns_and_re_derive_nothing():
    """The period dashboards read reporting columns as they are: no counting, summing or ranking trick."""
    period_charts = [c for d in dashboards.DASHBOARDS if d.by_period for row in d.rows for c in row]
    assert len(period_charts) == 10
    for chart in period_charts:
        assert (
            dashboards.DATASETS[[d.name for d in dashboards.DATASETS].index(chart.dataset)].schema
            == "reporting"
        )
        params = dashboards.chart_params(chart, 1)
        sqls = [m["sqlExpression"] for m in params.get("metrics", []) + [params.get("metric")] if m]
        assert all(re.fullmatch(r"MAX\(\w+\)", sql) for sql in sqls), (chart.title, sqls)
        text = str(params).upper()
        for trick in (
            "COUNT(",
            "SUM(",
            "RANK(",
            "ROW_NUMBER",
            "MIN(",
            "1000000000",
            "TIMESERIES_LIMIT_METRIC",
        ):
            assert trick not in text, (chart.title, trick)
    top = dashboards.TOP_CAMPAIGNS_TABLE
    params = dashboards.chart_params(top, 1)
    assert {"expressionType": "SQL", "sqlExpression": "campaign_rank <= 10", "clause": "WHERE"} in params[
        "adhoc_filters"
    ]
    assert params["order_by_cols"] == ['["campaign_rank", true]']
    # Superset warns "row limit reached" once a query returns row_limit rows: the SQL keeps 10
    assert params["row_limit"] > numbers.TOP_CAMPAIGNS == 10
    assert dashboards.chart_params(dashboards.RATE, 1)["adhoc_filters"] == [
        {"expressionType": "SQL", "sqlExpression": "is_charted", "clause": "WHERE"}
    ]
    assert not any(d.sql for d in dashboards.DATASETS)  # no virtual dataset re-implements a view


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


def delivered(event_id, user, campaign, at, kind="delivered", error=None) -> dict:
    return {
        "event_id": event_id,
        "user_id": user,
        "campaign_id": campaign,
        "event_type": kind,
        "occurred_at": at,
        "error_code": error,
    }


def campaign(campaign_id, channel, kind, sent_at) -> dict:
    return {
        "campaign_id": campaign_id,
        "name": campaign_id,
        "channel": channel,
        "campaign_type": kind,
        "sent_at": sent_at,
        "updated_at": "2026-01-01T00:00:00Z",
    }


def test_opt_outs_of_automated_campaigns_count_on_their_send_days(workspace, dbt_manifest):
    """Two automated campaigns start on Jan 1 and send on Jan 2-4; by hand, per send day:

    u1 (auto-digest delivered Jan 2 10:00, opts out Jan 2 12:00)   -> attributed Jan 2
    u4 (web: auto-web delivered Jan 2 10:00; its Jan 4 send fails
        and reveals the opt-out; the window opens at the Jan 2
        delivery, which gets the credit)                           -> attributed Jan 2, revealed Jan 4
    u2 (auto-digest delivered Jan 3, opts out Jan 4 09:00)         -> attributed Jan 3
    u5 (broadcast bc-1 delivered Jan 3 15:00, opts out Jan 5)      -> attributed Jan 3
    u3 (auto-digest delivered Jan 3 and Jan 4 10:00, out Jan 4 11:00) -> attributed Jan 4
    Attributed 0, 2, 2, 1, 0 and revealed 0, 0, 0, 1, 0 on Jan 1..5; by the campaigns' sent_at,
    all 4 automated opt-outs and the revealed one would pile up on Jan 1.
    """
    users = [("u1", "ios"), ("u2", "ios"), ("u3", "android"), ("u4", "web"), ("u5", "android")]
    write_jsonl(
        workspace.landing,
        "users",
        "2026-01-01",
        "u.jsonl",
        [
            {"user_id": user, "platform": platform, "created_at": "2026-01-01T00:30:00Z",
             "updated_at": "2026-01-01T00:30:00Z"} | ({"browser": "chrome"} if platform == "web" else {})
            for user, platform in users
        ],
    )  # fmt: skip
    write_jsonl(
        workspace.landing,
        "campaigns",
        "2026-01-01",
        "c.jsonl",
        [
            campaign("auto-digest", "push", "automated", "2026-01-01T00:00:00Z"),
            campaign("auto-web", "web_push", "automated", "2026-01-01T00:00:00Z"),
            campaign("bc-1", "push", "broadcast", "2026-01-03T15:00:00Z"),
        ],
    )
    write_jsonl(
        workspace.landing,
        "subscriptions",
        "2026-01-01",
        "s.jsonl",
        [sub(f"in-{user}", user, "opt_in", "2026-01-01T01:00:00Z") for user, _ in users],
    )
    days = {
        "2026-01-02": (
            [sub("out-u1", "u1", "opt_out", "2026-01-02T12:00:00Z")],
            [
                delivered("m1", "u1", "auto-digest", "2026-01-02T10:00:00Z"),
                delivered("m2", "u4", "auto-web", "2026-01-02T10:00:00Z"),
            ],
        ),
        "2026-01-03": (
            [],
            [
                delivered("m3", "u2", "auto-digest", "2026-01-03T10:00:00Z"),
                delivered("m4", "u3", "auto-digest", "2026-01-03T10:00:00Z"),
                delivered("m5", "u5", "bc-1", "2026-01-03T15:00:00Z"),
            ],
        ),
        "2026-01-04": (
            [
                sub("out-u2", "u2", "opt_out", "2026-01-04T09:00:00Z"),
                sub("out-u3", "u3", "opt_out", "2026-01-04T11:00:00Z"),
                sub("out-u4", "u4", "opt_out", "2026-01-04T10:00:01Z", "token_invalid", "send_feedback", "auto-web"),
            ],
            [
                delivered("m6", "u3", "auto-digest", "2026-01-04T10:00:00Z"),
                delivered("m7", "u4", "auto-web", "2026-01-04T10:00:00Z", "failed", "unregistered"),
            ],
        ),
        "2026-01-05": ([sub("out-u5", "u5", "opt_out", "2026-01-05T08:00:00Z")], []),
    }  # fmt: skip
    for day, (subscriptions, messages) in days.items():
        if subscriptions:
            write_jsonl(workspace.landing, "subscriptions", day, "s.jsonl", subscriptions)
        if messages:
            write_jsonl(workspace.landing, "messages", day, "m.jsonl", messages)
    workspace.optout("run", "--start", "2026-01-01", "--end", "2026-01-05")

    expected = [
        (dt.date(2026, 1, 1), 0, 0),
        (dt.date(2026, 1, 2), 2, 0),
        (dt.date(2026, 1, 3), 2, 0),
        (dt.date(2026, 1, 4), 1, 1),
        (dt.date(2026, 1, 5), 0, 0),
    ]
    columns = ["send_date", "attributed_opt_outs", "revealed_opt_outs"]
    with duckdb.connect(str(workspace.warehouse), read_only=True) as connection:
        numbers.set_range(connection, dt.date(2026, 1, 1), dt.date(2026, 1, 5))
        assert numbers.view(connection, "rpt_send_days").sort("send_date").rows() == expected
        # what the old chart plotted: every automated opt-out on the campaigns' start, Jan 1
        by_start = connection.sql(
            "select cast(sent_at as date), sum(attributed_opt_outs), sum(revealed_opt_outs) "
            "from marts.mart_campaign_opt_outs where campaign_type = 'automated' group by 1"
        ).fetchall()
        assert by_start == [(dt.date(2026, 1, 1), 4, 1)]
    # the report of the run (its days, Jan 1..5) shows the same numbers
    page = parse(workspace.exports / "reports" / "opt_out_report_2026-01-01_2026-01-05.html")
    assert [tuple(row[c] for c in columns) for row in page.data["send_days"]] == [
        (day.isoformat(), attributed, revealed) for day, attributed, revealed in expected
    ]
    # so does the serving copy the dashboards read, for the period ending on the last day
    last_day = marts_builds.read_checked_export_days(workspace.warehouse)[1]
    week = reporting_periods(last_day)[0]
    assert (week.name, week.start, week.end) == ("last_week", dt.date(2025, 12, 30), dt.date(2026, 1, 5))
    with duckdb.connect(str(workspace.serving / "optout.duckdb"), read_only=True) as connection:
        served = connection.execute(
            "select send_date, attributed_opt_outs, revealed_opt_outs from reporting.rpt_send_days "
            "where period = 'last_week' order by send_date"
        ).fetchall()
    assert served == expected
    # five users on three platforms: no base reaches 50 users, so the rate chart draws nothing
    # and says why, platform by platform
    assert page.data["rate_by_platform"] == []
    assert [row["platform"] for row in page.data["rate_left_out"]] == ["android", "ios", "web"]
