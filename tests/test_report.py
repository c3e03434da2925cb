"""The opt-out report: its numbers are the marts', it renders in Chromium, empty ranges read well."""

import datetime as dt
import re
import shutil
import struct

import duckdb
import polars as pl
import pytest

from assets.config import REPO_ROOT
from assets.exports.opted_out_users import write_export
from assets.exports.ranges import between_range
from assets.report.build import make_report
from tests.helpers import app_event, chromium, write_jsonl
from tests.report_parser import parse

ARTIFACTS = REPO_ROOT / "test-artifacts"
CHARTS = ["trend", "pressure", "campaigns", "retain_churn", "last_events"]


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
