"""A real BI tool on the serving copy: `optout bi setup` installs Apache Superset from the package
registry, and its dashboards, opened in headless Chromium, show the marts' numbers."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time

import duckdb
import pytest

from assets.bi.dashboards import DASHBOARDS, RANGE_FILTER_ID, TITLE_PREFIX
from assets.bi.setup import database_id
from assets.bi.superset_api import SupersetClient
from assets.bi.superset_env import ADMIN, SupersetHome, running_server
from assets.config import REPO_ROOT
from assets.exports.opted_out_users import opted_out_users
from assets.exports.ranges import between_range
from assets.report import numbers

pytestmark = pytest.mark.ui

ARTIFACTS = REPO_ROOT / "test-artifacts"
START, END = dt.date(2026, 1, 5), dt.date(2026, 1, 14)
# Superset's ranges end before their end day: the day after END
SUPERSET_RANGE = f"{START} : {END + dt.timedelta(days=1)}"


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
def superset(sample_run, tmp_path_factory):
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


def test_setup_creates_the_dashboards_once_on_the_read_only_serving_copy(superset, sample_run):
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


def expected_numbers(warehouse) -> dict:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        total = connection.execute(
            "select sum(opt_outs_detected) from marts.mart_opt_out_daily where date between ? and ?",
            [START, END],
        ).fetchall()[0][0]
        numbers.set_range(connection, START, END)
        top = numbers.read_top_campaigns(connection, 10)
        facts = connection.sql("select * from marts.fct_opt_outs").pl()
    users = opted_out_users(facts, between_range(START, END))
    return {
        "opt_outs": int(total),
        "top_campaigns": [
            (r["campaign_id"], r["attributed_opt_outs_in_range"]) for r in top.iter_rows(named=True)
        ],
        "users": users,
    }


def open_dashboards(url: str, home: SupersetHome, client: SupersetClient):
    """Each dashboard at the test's range in Chromium: (slug, page, script errors so far) once every chart is drawn."""
    from playwright.sync_api import sync_playwright

    ids = {d["slug"]: d["id"] for d in client.get("/api/v1/dashboard/", {"page_size": 100})["result"]}
    mask = {
        RANGE_FILTER_ID: {
            "id": RANGE_FILTER_ID,
            "extraFormData": {"time_range": SUPERSET_RANGE},
            "filterState": {"value": SUPERSET_RANGE},
            "ownState": {},
        }
    }
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
        page = browser.new_page(viewport={"width": 1600, "height": 1300})
        script_errors: list[str] = []
        page.on("pageerror", lambda error: script_errors.append(str(error)))
        page.goto(f"{url}/login/")
        page.fill("#username", ADMIN)
        page.fill("#password", home.password())
        page.keyboard.press("Enter")
        page.wait_for_url(lambda address: "/login" not in address)
        for dashboard in DASHBOARDS:
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
            time.sleep(1)  # animations settle before the screenshot
            assert charts.count() == expected_charts, dashboard.slug
            yield dashboard.slug, page, script_errors
        browser.close()


def chart(page, title: str):
    return page.locator(".dashboard-component-chart-holder").filter(has_text=f"{TITLE_PREFIX} · {title}")


def table_rows(page, title: str) -> list[list[str]]:
    return [row.locator("td").all_inner_texts() for row in chart(page, title).locator("tbody tr").all()]


def test_dashboards_render_and_show_the_marts_numbers_for_a_range(superset, sample_run):
    url, home, _ = superset
    client = SupersetClient(url, ADMIN, home.password())
    expected = expected_numbers(sample_run.warehouse)
    assert expected["opt_outs"] > 0 and expected["top_campaigns"] and expected["users"].height > 0
    ARTIFACTS.mkdir(exist_ok=True)
    seen = set()
    for slug, page, script_errors in open_dashboards(url, home, client):
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
        assert script_errors == [], script_errors

        if slug == "optout-overview":
            total = chart(page, "Opt-outs in the range").locator(".header-line").inner_text()
            assert int(total.replace(",", "")) == expected["opt_outs"]
            shown = [(cells[0], int(cells[-1])) for cells in table_rows(page, "Top campaigns of the range")]
            assert shown == expected["top_campaigns"]  # ties in the report's order: the smaller id first
        if slug == "optout-opted-out-users":
            users = expected["users"]
            count = chart(page, "Opted-out users in the range").locator(".header-line").inner_text()
            assert int(count.replace(",", "")) == users.height
            shown = table_rows(page, "Opted-out users of the range")
            assert [cells[0] for cells in shown] == users["user_id"].to_list()[: len(shown)]
            assert [int(cells[-1]) for cells in shown] == users["opt_outs_in_range"].to_list()[: len(shown)]
            assert len(shown) == min(50, users.height)  # the first page of the export's rows
    assert seen == {d.slug for d in DASHBOARDS}
