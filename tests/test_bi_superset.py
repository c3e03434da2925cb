"""A real BI tool on the serving copy: `optout bi setup` installs Apache Superset from the package
registry, and its dashboards, opened in headless Chromium, show the reporting views' numbers
(ranks, totals, the rate chart's platforms, opt-outs by send day) with the report's colours,
and no chart warns that its row limit was reached. The sample's campaign ids and names and its
opted-out users' ids hold hostile text (tests/hostile.py): the tables show it as text, and no
script runs. The browser's time zone is New York's: the dashboards show UTC days all the same."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse

import duckdb
import polars as pl
import pytest

from assets import marts_builds
from assets.bi.dashboards import DASHBOARDS, DEFAULT_PERIOD, PERIOD_FILTER_ID, RANGE_FILTER_ID, TITLE_PREFIX
from assets.bi.setup import database_id
from assets.bi.superset_api import SupersetClient
from assets.bi.superset_env import ADMIN, SupersetHome, running_server
from assets.config import REPO_ROOT
from assets.exports.opted_out_users import read_export_rows, write_export
from assets.exports.ranges import between_range
from assets.report import look, numbers
from assets.report.numbers import TOP_CAMPAIGNS
from assets.serving.copy import reporting_periods
from tests.conftest import SAMPLE_START, make_workspace
from tests.hostile import USER_IDS, generate_hostile

pytestmark = [pytest.mark.ui, pytest.mark.superset]

ARTIFACTS = REPO_ROOT / "test-artifacts"
START, END = dt.date(2026, 1, 5), dt.date(2026, 1, 14)
# Superset's ranges end before their end day: the day after END
SUPERSET_RANGE = f"{START} : {END + dt.timedelta(days=1)}"
PERIOD = "last_month"  # the overview is opened at it (its default is last_week)
CHART_DATA = "/api/v1/chart/data"


def bi(ws, bi_dir, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "bi", *args],
        env={**os.environ, **ws.env(), "OPTOUT_BI_DIR": str(bi_dir)},
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def hostile_sample(tmp_path_factory, dbt_manifest):
    """The 600 users x 21 days sample with hostile ids and names, through `optout run`."""
    ws = make_workspace(tmp_path_factory.mktemp("hostile_sample"))
    generate_hostile(ws.landing, SAMPLE_START, 21, 600, seed=11)
    ws.optout("run")
    return ws


@pytest.fixture(scope="module")
def superset(hostile_sample, tmp_path_factory):
    sample_run = hostile_sample
    bi_dir = tmp_path_factory.mktemp("bi")
    started = time.monotonic()
    first = bi(sample_run, bi_dir, "setup")
    print(f"optout bi setup on a fresh folder: {time.monotonic() - started:.0f} s")
    again = bi(sample_run, bi_dir, "setup")  # idempotent: replaces what it owns, installs nothing
    home = SupersetHome(bi_dir / "superset")
    with running_server(home) as url:
        yield url, home, first.stdout + again.stdout


def owned(client: SupersetClient, kind: str, title_column: str) -> list[dict]:
    query = {"filters": [{"col": title_column, "opr": "ct", "value": TITLE_PREFIX}], "page_size": 100}
    return client.get(f"/api/v1/{kind}/", query)["result"]


def test_setup_creates_the_dashboards_once_on_the_read_only_serving_copy(superset, hostile_sample):
    sample_run = hostile_sample
    url, home, output = superset
    assert (
        output.count("dashboards: 3 (optout-overview, optout-pressure-campaigns, optout-opted-out-users)")
        == 2
    )
    assert "Superset is installed already" in output  # the second setup reused the venv
    client = SupersetClient(url, ADMIN, home.password())
    assert sorted(d["dashboard_title"] for d in owned(client, "dashboard", "dashboard_title")) == sorted(
        d.title for d in DASHBOARDS
    )
    assert len(owned(client, "chart", "slice_name")) == sum(len(row) for d in DASHBOARDS for row in d.rows)
    database = client.get(f"/api/v1/database/{database_id(client)}/connection")["result"]
    assert (
        database["sqlalchemy_uri"]
        == f"duckdb:///{sample_run.serving / 'optout.duckdb'}?access_mode=read_only"
    )
    # SQL Lab answers from the serving copy
    answer = client.post(
        "/api/v1/sqllab/execute/",
        {
            "database_id": database_id(client),
            "sql": "select count(*) as n from marts.fct_opt_outs",
            "runAsync": False,
        },
    )
    with duckdb.connect(str(sample_run.warehouse), read_only=True) as connection:
        assert (
            answer["data"][0]["n"]
            == connection.sql("select count(*) from marts.fct_opt_outs").fetchall()[0][0]
        )


def expected_numbers(warehouse, export_dir) -> dict:
    """What the dashboards must show: the reporting views' rows for each period, read from the
    warehouse (never the serving copy), and the export's rows for the range of days (its
    exact values: the Parquet file beside the CSV)."""
    last_day = marts_builds.read_checked_export_days(warehouse)[1]
    expected = {}
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        for period in reporting_periods(last_day):
            numbers.set_range(connection, period.start, period.end)
            expected[period.name] = {
                "headlines": numbers.read_headlines(connection),
                "top": [
                    (r["campaign_rank"], r["campaign_id"], r["attributed_opt_outs_in_range"])
                    for r in numbers.read_top_campaigns(connection, TOP_CAMPAIGNS).iter_rows(named=True)
                ],
                "names": numbers.read_top_campaigns(connection, TOP_CAMPAIGNS)["campaign_name"].to_list(),
                "rates": numbers.view(connection, "rpt_rate_by_platform"),
                "left_out": numbers.view(connection, "rpt_rate_left_out").sort("platform").rows(),
                "send_days": numbers.view(connection, "rpt_send_days").sort("send_date").rows(),
            }
    written = write_export(warehouse, export_dir, between_range(START, END))
    expected["users"] = read_export_rows(written.manifest_path)
    return expected


def open_dashboards(url: str, home: SupersetHome, client: SupersetClient, masks: dict[str, dict]):
    """Each dashboard in Chromium with its filter's value from `masks` (slug -> data mask; none:
    the default), once every chart is drawn: (slug, page, script errors so far, the chart data
    Superset answered, by chart title)."""
    from playwright.sync_api import sync_playwright

    ids = {d["slug"]: d["id"] for d in client.get("/api/v1/dashboard/", {"page_size": 100})["result"]}
    titles = {c["id"]: c["slice_name"] for c in owned(client, "chart", "slice_name")}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        # a browser in New York: a chart labelling days in the browser's time zone would shift them
        page = browser.new_page(viewport={"width": 1600, "height": 1300}, timezone_id="America/New_York")
        script_errors: list[str] = []
        page.on("pageerror", lambda error: script_errors.append(str(error)))
        answers: list = []
        page.on("response", lambda response: answers.append(response) if CHART_DATA in response.url else None)
        page.goto(f"{url}/login/")
        page.fill("#username", ADMIN)
        page.fill("#password", home.password())
        page.keyboard.press("Enter")
        page.wait_for_url(lambda address: "/login" not in address)
        for dashboard in DASHBOARDS:
            answers.clear()
            mask = masks.get(dashboard.slug)
            if mask is None:
                page.goto(f"{url}/superset/dashboard/{ids[dashboard.slug]}/")
            else:
                link = client.post(
                    f"/api/v1/dashboard/{ids[dashboard.slug]}/permalink",
                    {"dataMask": mask, "activeTabs": [], "anchor": "", "urlParams": []},
                )["url"]
                page.goto(link)
            page.wait_for_load_state("networkidle")
            charts = page.locator(".dashboard-component-chart-holder")
            expected_charts = sum(len(row) for row in dashboard.rows)
            page.wait_for_function(
                "n => document.querySelectorAll('.dashboard-component-chart-holder').length === n && "
                "!document.querySelector('.dashboard-component-chart-holder .loading')",
                arg=expected_charts,
                timeout=60_000,
            )
            page.wait_for_load_state("networkidle")
            time.sleep(1)  # animations settle before the screenshot
            assert charts.count() == expected_charts, dashboard.slug
            data = {}
            for answer in answers:
                query = urllib.parse.parse_qs(urllib.parse.urlparse(answer.url).query)
                if "form_data" not in query:
                    continue  # the filter's own values, not a chart's
                title = titles[json.loads(query["form_data"][0])["slice_id"]].removeprefix(
                    f"{TITLE_PREFIX} · "
                )
                data[title] = answer.json()["result"][0]
            yield dashboard.slug, page, script_errors, data
        browser.close()


def chart(page, title: str):
    return page.locator(".dashboard-component-chart-holder").filter(has_text=f"{TITLE_PREFIX} · {title}")


def table_rows(page, title: str) -> list[list[str]]:
    return [row.locator("td").all_inner_texts() for row in chart(page, title).locator("tbody tr").all()]


def _words(text: str | None) -> str:
    """Text as a page shows it: runs of white space as one space."""
    return " ".join((text or "").split())


# a value holding an HTML tag Superset knows (`<img ...>`, `<script>`, `<b>`)
HTML_TAG = re.compile(r"</?(img|script|b|i|a|p|div|span)\b[^>]*>", re.IGNORECASE)


def shown_as_text(cell: str, value: str | None) -> bool:
    """A table cell shows its value as text: as it is, a null as N/A; or, a value holding an HTML
    tag Superset takes for HTML, once Superset's own filter (xss, in its table chart's
    formatValue) took the tags' attributes and the tags it does not allow out, as text all the
    same: what follows the last tag is shown, and no handler is left."""
    if value is None:
        return cell in ("", "N/A")
    if _words(cell) == _words(value):
        return True
    if not HTML_TAG.search(value):
        return False
    tail = _words(value.rsplit(">", 1)[-1])
    return tail in _words(cell) and "onerror" not in cell and "<script" not in cell.lower()


def assert_cells(cells: list[str], values: list, what: str) -> None:
    assert len(cells) == len(values), what
    for cell, value in zip(cells, values, strict=True):
        assert shown_as_text(cell, value), (what, cell, value)


def assert_shown_as_text(page, slug: str) -> None:
    """No hostile value became markup: no script changed the title, no image or handler was made."""
    assert "pwned" not in page.title(), slug
    assert page.evaluate("document.title") != "pwned", slug
    made = page.evaluate(
        "() => [...document.querySelectorAll('.dashboard-component-chart-holder *')]"
        ".filter(e => e.tagName === 'IMG' || e.tagName === 'SCRIPT' || e.hasAttribute('onerror')"
        " || e.hasAttribute('onmouseover')).length"
    )
    assert made == 0, slug


def test_dashboards_render_and_show_the_reporting_views_numbers(superset, hostile_sample, tmp_path):
    sample_run = hostile_sample
    url, home, _ = superset
    client = SupersetClient(url, ADMIN, home.password())
    expected = expected_numbers(sample_run.warehouse, tmp_path)
    month, week = expected[PERIOD], expected[DEFAULT_PERIOD]
    assert month["headlines"]["opt_outs"] > week["headlines"]["opt_outs"] > 0
    assert month["top"] != week["top"] and expected["users"].height > 0
    ARTIFACTS.mkdir(exist_ok=True)
    masks = {
        # the overview at another period than its default: the filter picks the rows
        "optout-overview": {
            PERIOD_FILTER_ID: {
                "id": PERIOD_FILTER_ID,
                "extraFormData": {"filters": [{"col": "period", "op": "IN", "val": [PERIOD]}]},
                "filterState": {"value": [PERIOD]},
                "ownState": {},
            }
        },
        "optout-opted-out-users": {
            RANGE_FILTER_ID: {
                "id": RANGE_FILTER_ID,
                "extraFormData": {"time_range": SUPERSET_RANGE},
                "filterState": {"value": SUPERSET_RANGE},
                "ownState": {},
            }
        },
    }
    seen = set()
    for slug, page, script_errors, data in open_dashboards(url, home, client, masks):
        seen.add(slug)
        page.screenshot(path=str(ARTIFACTS / f"superset-{slug}.png"), full_page=True)
        holders = page.locator(".dashboard-component-chart-holder")
        for index in range(holders.count()):
            holder = holders.nth(index)
            title = holder.locator("[data-test=editable-title]").first.inner_text()
            # drawn: an echarts canvas, a big number or a table; and no error box
            drawn = holder.locator("canvas, .header-line, table").count()
            assert drawn > 0, f"{slug}: {title} drew nothing"
            assert holder.locator("[role=alert], .ant-alert-error").count() == 0, (
                f"{slug}: {title} shows an error"
            )
            # no "row limit reached" warning beside any title
            assert holder.locator("[data-test=slice-header] .anticon-warning").count() == 0, (
                f"{slug}: {title} warns that its row limit was reached"
            )
        assert script_errors == [], script_errors
        assert_shown_as_text(page, slug)
        for title, answer in data.items():
            assert answer["rowcount"] < 10000, title

        if slug == "optout-overview":  # at PERIOD, through the filter
            total = chart(page, look.OPT_OUTS_TOTAL.title).locator(".header-line").inner_text()
            assert int(total.replace(",", "")) == month["headlines"]["opt_outs"]
            top = data[look.TOP_CAMPAIGNS.title]
            shown = [
                (r["campaign_rank"], r["campaign_id"], r["attributed_opt_outs_in_range"]) for r in top["data"]
            ]
            assert shown == month["top"] and len(shown) == TOP_CAMPAIGNS  # ranks 1..10, as the report
            cells = table_rows(page, look.TOP_CAMPAIGNS.title)
            assert [(int(c[0]), int(c[-1])) for c in cells] == [(rank, n) for rank, _, n in month["top"]]
            # the hostile names and ids, as text: markup, Slack sequences, formulas, ESC
            assert_cells([c[1] for c in cells], [cid for _, cid, _ in month["top"]], "campaign ids")
            assert_cells([c[2] for c in cells], month["names"], "campaign names")
            assert sum(HTML_TAG.search(cid) is not None for _, cid, _ in month["top"]) >= 1
            assert sum(HTML_TAG.search(name or "") is None for name in month["names"]) >= 3
            # the rate chart's series: the platforms the view charts, never `unknown`
            rates = data[look.RATE.title]
            charted = month["rates"].filter(pl.col("is_charted"))
            assert set(rates["colnames"]) - {"date"} == set(charted["platform"]) == {"ios", "android", "web"}
            assert sum(
                1 for row in rates["data"] for key, v in row.items() if key != "date" and v is not None
            ) == (charted.height)
            left_out = data[look.RATE_LEFT_OUT.title]["data"]
            assert [tuple(row.values()) for row in left_out] == month["left_out"]
            assert [row["platform"] for row in left_out] == ["android", "unknown"]
        if slug == "optout-pressure-campaigns":  # at the default period
            send_days = data[look.SEND_DAYS.title]
            attributed, revealed = look.ATTRIBUTED.label, look.REVEALED.label
            shown = [
                (
                    dt.datetime.fromtimestamp(row["send_date"] / 1000, dt.UTC).date(),
                    row[attributed],
                    row[revealed],
                )
                for row in send_days["data"]
            ]
            assert shown == week["send_days"] and len(shown) == 7
            rows = table_rows(page, look.CAMPAIGNS.title)
            assert [(int(c[0]), int(c[5])) for c in rows] == [(rank, n) for rank, _, n in week["top"]]
            assert_cells([c[1] for c in rows], [cid for _, cid, _ in week["top"]], "campaign ids")
            assert_cells([c[2] for c in rows], week["names"], "campaign names")
        if slug == "optout-opted-out-users":
            users = expected["users"]
            count = chart(page, "Opted-out users in the range").locator(".header-line").inner_text()
            assert int(count.replace(",", "")) == users.height
            shown = table_rows(page, "Opted-out users of the range")
            assert_cells([cells[0] for cells in shown], users["user_id"].to_list()[: len(shown)], "user ids")
            assert_cells(
                [cells[1] for cells in shown], users["external_id"].to_list()[: len(shown)], "external ids"
            )
            assert [int(cells[-1]) for cells in shown] == users["opt_outs_in_range"].to_list()[: len(shown)]
            assert len(shown) == min(50, users.height)  # the first page of the export's rows
            # the hostile users sort first: formulas shown as the export holds them
            formulas = {user for user in USER_IDS if not HTML_TAG.search(user)} & set(users["user_id"])
            assert formulas and {cells[0] for cells in shown} >= formulas
    assert seen == {d.slug for d in DASHBOARDS}


def test_dashboards_carry_the_reports_colours_and_no_ranking_in_superset(superset):
    url, home, _ = superset
    client = SupersetClient(url, ADMIN, home.password())
    ids = {d["slug"]: d["id"] for d in client.get("/api/v1/dashboard/", {"page_size": 100})["result"]}
    for dashboard in DASHBOARDS:
        metadata = json.loads(
            client.get(f"/api/v1/dashboard/{ids[dashboard.slug]}")["result"]["json_metadata"]
        )
        assert metadata["label_colors"] == look.label_colors()
        assert (
            metadata["label_colors"]["ios"] == "#4c78a8" and metadata["label_colors"]["unknown"] == "#9d9d9d"
        )
        (native,) = metadata["native_filter_configuration"]
        assert native["id"] == (PERIOD_FILTER_ID if dashboard.by_period else RANGE_FILTER_ID)
    # every chart Superset holds reads a table as it is, and no dataset re-implements a view
    datasets = client.get("/api/v1/dataset/", {"page_size": 100})["result"]
    assert "attributed_opt_outs" not in {d["table_name"] for d in datasets}
    for item in owned(client, "chart", "slice_name"):
        params = client.get(f"/api/v1/chart/{item['id']}")["result"]["params"]
        assert "1000000000" not in params and "dense_rank" not in params.lower(), item["slice_name"]


@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm"])
def test_bi_serve_stops_cleanly_on_ctrl_c_and_sigterm(superset, hostile_sample, stop):
    from tests.service import assert_all_gone, free_port, stop_in_a_terminal

    sample_run = hostile_sample
    _, home, _ = superset
    env = {**sample_run.env(), "OPTOUT_BI_DIR": str(home.root.parent)}
    port = free_port()
    # gunicorn says it listens before its workers have imported Superset (and polars, DuckDB)
    # stopped once the workers have imported everything: the moment Ctrl-C used to be ignored
    args = ["bi", "serve", "--port", str(port)]
    output, status, tree = stop_in_a_terminal(args, env, "Booting worker", stop, settle=20)
    assert len(tree) >= 2  # optout bi serve and gunicorn (whose workers come and go)
    assert "Traceback" not in output
    assert f"Superset stopped ({'Ctrl-C' if stop == 'ctrl-c' else 'SIGTERM'})" in output
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert_all_gone(tree)
