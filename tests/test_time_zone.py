"""Outputs do not depend on the machine's time zone or locale: the same landing run in UTC, in
New York (UTC-5) and on Kiritimati (UTC+14) gives the same report, PNGs, export files, alerts
file and summary, and the report's trend chart labels its first day as that day in a browser
whose time zone is New York's."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil

import duckdb
import polars as pl
import pytest

from assets.generator.run import generate
from assets.generator.simulate import PlantedCampaign
from tests.conftest import SAMPLE_START, make_workspace
from tests.helpers import chromium, run_optout

DAYS, USERS, SEED = 28, 1000, 23
PLANT = PlantedCampaign("push", 22, risk_factor=25.0)
LAST_DAY = SAMPLE_START + dt.timedelta(days=DAYS - 1)
STEM = f"{SAMPLE_START}_{LAST_DAY}"
ZONES = {
    "UTC": {"TZ": "UTC", "LC_ALL": "C.UTF-8"},
    # a locale with decimal commas where one is installed; C.UTF-8's rules otherwise
    "New_York": {"TZ": "America/New_York", "LC_ALL": "de_DE.UTF-8", "LANG": "de_DE.UTF-8"},
    "Kiritimati": {"TZ": "Pacific/Kiritimati", "LC_ALL": "C.UTF-8"},
}
# what may differ between two runs of the same data: when, and which run
GENERATED = re.compile(r" · generated \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00</p>")
PER_RUN_KEYS = ("generated_at", "marts_built_by_run")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, dbt_manifest):
    root = tmp_path_factory.mktemp("time_zones")
    landing = root / "landing"
    generate(landing, SAMPLE_START, DAYS, USERS, SEED, planted=(PLANT,))
    done = {}
    for name, env in ZONES.items():
        ws = make_workspace(root / name)
        shutil.copytree(landing, ws.landing)
        done[name] = (ws, run_optout({**ws.env(), **env}, "run").stdout)
    return done


def _report(ws) -> str:
    text = (ws.exports / "reports" / f"opt_out_report_{STEM}.html").read_text(encoding="utf-8")
    normalized, count = GENERATED.subn(" · generated <time></p>", text)
    assert count == 1
    return normalized


def _without(document: dict, keys) -> dict:
    return {key: value for key, value in document.items() if key not in keys}


def _summary(stdout: str) -> list[str]:
    """The summary's lines read from the data (not the paths, the snapshot or the log), but the
    one naming the first two checks that warned: dbt runs its tests on two threads, and which
    two come first is the order they finished in."""
    lines = stdout.split("\nSummary for export days ", 1)[1].splitlines()
    lines = lines[: next(i for i, line in enumerate(lines) if line.startswith("  lake:"))]
    return [line for line in lines if not re.match(r"  \d+ checks? warned ", line)]


def test_every_output_is_the_same_in_every_time_zone(runs):
    (utc, utc_out), *others = runs.values()
    utc_report = _report(utc)
    assert 'id="early_warnings"' in utc_report  # the planted campaign: an alert to compare too
    reports = sorted(p.name for p in (utc.exports / "reports").iterdir())
    exports = sorted(p.name for p in (utc.exports / "opted_out_users").iterdir())
    assert len([name for name in reports if name.endswith(".png")]) == 6
    assert (
        len(exports) == 12
    )  # last_week, last_month, last_year and the report's range: csv, parquet, manifest
    utc_alerts = json.loads((utc.exports / "alerts" / f"{STEM}.json").read_text())
    assert utc_alerts["campaign_alerts"] and utc_alerts["day_alerts"]
    for ws, stdout in others:
        assert _report(ws) == utc_report, ws.root.name
        assert sorted(p.name for p in (ws.exports / "reports").iterdir()) == reports
        for name in reports:
            if name.endswith(".png"):
                assert (ws.exports / "reports" / name).read_bytes() == (
                    utc.exports / "reports" / name
                ).read_bytes()
        assert sorted(p.name for p in (ws.exports / "opted_out_users").iterdir()) == exports
        for name in exports:
            ours, theirs = (w.exports / "opted_out_users" / name for w in (ws, utc))
            if name.endswith(".manifest.json"):
                assert _without(json.loads(ours.read_text()), PER_RUN_KEYS) == _without(
                    json.loads(theirs.read_text()), PER_RUN_KEYS
                ), name
            else:
                assert ours.read_bytes() == theirs.read_bytes(), name
        alerts = json.loads((ws.exports / "alerts" / f"{STEM}.json").read_text())
        assert _without(alerts, PER_RUN_KEYS) == _without(utc_alerts, PER_RUN_KEYS)
        assert _summary(stdout) == _summary(utc_out)


DAY_IN_WORDS = re.compile(r"\d{4}-\d\d-\d\d|[A-Z][a-z]{2} \d\d, \d{4}")


def _trend_days(report_html: str) -> tuple[list[str], list[list[str]]]:
    """The trend chart's x-axis labels, and every day each of its bars is described with (its
    axis's day and its tooltip's: a tooltip in local time named the day before in New York)."""
    figure = re.search(r'<figure data-chart="trend">(.*?)</figure>', report_html, re.S).group(1)
    labels = re.findall(r"<text[^>]*>(\d{4}-\d\d-\d\d)</text>", figure)
    bars = re.findall(r'aria-label="(day \(UTC\): [^"]*; series: detected;[^"]*)"', figure)
    return labels, [DAY_IN_WORDS.findall(bar) for bar in bars]


def test_the_trend_chart_labels_utc_days_in_a_new_york_browser(runs, tmp_path, monkeypatch):
    ws, _ = runs["New_York"]
    path = ws.exports / "reports" / f"opt_out_report_{STEM}.html"
    monkeypatch.setenv("TZ", "America/New_York")  # the browser's time zone: a Vega chart would use it
    shown = chromium(tmp_path / "profile", path.as_uri(), "--dump-dom", window="1200,3000", budget_ms=5000)
    labels, bars = _trend_days(shown.stdout)
    assert labels[0] == str(SAMPLE_START) and labels[-1] <= str(LAST_DAY)
    every_day = [str(SAMPLE_START + dt.timedelta(days=n)) for n in range(DAYS)]
    # one bar per day, described with its own day only
    assert bars == [[day] for day in every_day]


def _lake_ingestion_times(ws) -> dict[tuple[str, str], dt.datetime]:
    log = pl.read_parquet(ws.lake / "*" / "dt=*" / "ingestion_log.parquet")
    return {
        (row["table_name"], str(row["export_date"])): row["ingested_at"].replace(tzinfo=None)
        for row in log.iter_rows(named=True)
    }


def _ingestion_times(database, time_zone: str) -> dict[tuple[str, str], dt.datetime]:
    with duckdb.connect(str(database), read_only=True) as connection:
        connection.execute(f"set TimeZone = '{time_zone}'")
        rows = connection.execute("select table_name, export_date, ingested_at from audit.ingestion_log")
        return {(table, str(day)): at for table, day, at in rows.fetchall()}


def test_ingestion_times_read_as_utc_by_a_reader_in_any_time_zone(runs):
    """audit.ingestion_log is a view over the lake's UTC instants: a BI tool whose session is in
    New York reads the same UTC wall time from the warehouse, and the serving copy (made by a
    run in New York) holds it too."""
    ws, _ = runs["New_York"]
    expected = _lake_ingestion_times(ws)
    assert len(expected) == DAYS * 5
    assert _ingestion_times(ws.warehouse, "America/New_York") == expected
    assert _ingestion_times(ws.serving / "optout.duckdb", "Pacific/Kiritimati") == expected
