"""The Dagster UI: the webserver loads every asset, check, schedule and sensor; the graph renders."""

import shutil

import pytest

from assets.config import REPO_ROOT
from orchestration.instance import instance_yaml
from tests.dagster_ui import dagster_webserver, graphql
from tests.helpers import chromium

pytestmark = pytest.mark.ui

ARTIFACTS = REPO_ROOT / "test-artifacts"
QUERY = """
{
  workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError {
    __typename ... on PythonError { message } } } } }
  repositoriesOrError { ... on RepositoryConnection { nodes { name
    schedules { name } sensors { name } } } }
  assetNodes { assetKey { path } groupName description
    assetChecksOrError { __typename ... on AssetChecks { checks { name } } } }
}
"""


@pytest.fixture(scope="module")
def webserver(tmp_path_factory, dbt_manifest):
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text(instance_yaml(home))
    with dagster_webserver(home) as port:
        yield port


def test_every_definition_loads_without_errors(webserver):
    data = graphql(webserver, QUERY)
    location = data["workspaceOrError"]["locationEntries"][0]["locationOrLoadError"]
    assert location["__typename"] == "RepositoryLocation", location
    repository = data["repositoriesOrError"]["nodes"][0]
    assert [s["name"] for s in repository["schedules"]] == ["daily_schedule"]
    assert sorted(s["name"] for s in repository["sensors"]) == [
        "dead_run_sensor",
        "landing_sensor",
        "marts_freshness_sensor",
        "run_canceled_alert_sensor",
        "run_failure_alert_sensor",
    ]
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    for key in (
        "lake/messages",
        "marts/fct_opt_outs",
        "marts/mart_opt_out_daily",
        "exports/opted_out_users_between",
    ):
        assert key in nodes, key
        assert nodes[key]["description"], key
    groups = {n["groupName"] for n in data["assetNodes"]}
    assert {"ingest", "dbt_staging", "dbt_intermediate", "marts", "audit", "exports"} <= groups
    checks = {c["name"] for n in nodes.values() for c in n["assetChecksOrError"].get("checks", [])}
    assert {
        "ge_lake_suite",
        "ge_marts_suite",
        "unique_fct_opt_outs_opt_out_id",
        "no_opt_out_rate_alerts",
        "no_campaign_alerts",
        "newest_export_day_fresh",
    } <= checks
    assert nodes["alerts/early_warnings"]["groupName"] == "alerts"


def test_asset_graph_renders_in_headless_chromium(webserver, tmp_path):
    assert shutil.which("chromium"), "Debian's chromium is missing: tests/run.sh installs it"
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "asset_graph.png"
    screenshot.unlink(missing_ok=True)
    url = f"http://127.0.0.1:{webserver}/asset-groups"
    dom = chromium(tmp_path / "profile", url, "--dump-dom", budget_ms=20000).stdout
    for group in ("ingest", "dbt_staging", "marts", "exports"):
        assert group in dom, group
    chromium(tmp_path / "profile", url, f"--screenshot={screenshot}", budget_ms=20000)
    assert screenshot.exists() and screenshot.stat().st_size > 20_000
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
