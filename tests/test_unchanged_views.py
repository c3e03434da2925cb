"""DuckDB views are created again only when their definition changed (macros/unchanged_views.sql).

Whether the marts stay right with views left in place is test_incremental's (day by day =
full refresh); here: which views a build creates, and that each way a definition can go
stale (a view dropped by hand, another fingerprint, --full-refresh) creates it again.
"""

import datetime as dt
import json
from pathlib import Path

import duckdb

from assets.contract import TABLE_NAMES
from assets.generator.run import generate
from assets.ingest.day import ingest_table_day
from tests.dbt_runner import dbt

START = dt.date(2026, 1, 1)
UNCHANGED = "view unchanged"


def _build(target: Path, *args: str) -> dict[str, str]:
    """dbt build into `target`; the message of each view model it ran, by model name."""
    dbt("build", "--exclude", "resource_type:unit_test", "--target-path", str(target), *args)
    manifest = json.loads((target / "manifest.json").read_text())
    views = {
        uid
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["config"]["materialized"] == "view"
    }
    results = json.loads((target / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1]: r["message"] for r in results if r["unique_id"] in views}


def test_a_view_is_created_again_only_when_its_definition_changed(workspace, dbt_manifest, tmp_path):
    generate(workspace.landing, START, 2, 60, seed=5)
    for day in (START, START + dt.timedelta(days=1)):
        for table in TABLE_NAMES:
            ingest_table_day(workspace.landing, workspace.lake, table, day)
    target = tmp_path / "target"

    first = _build(target)
    assert len(first) >= 20  # staging, intermediate, audit and reporting
    assert UNCHANGED not in first.values()
    with duckdb.connect(str(workspace.warehouse), read_only=True) as connection:
        recorded = dict(
            connection.execute("select view_name, fingerprint from main.optout_view_definitions").fetchall()
        )
    assert len(recorded) == len(first)
    assert all(len(fingerprint) == 32 for fingerprint in recorded.values())

    second = _build(target)
    assert set(second.values()) == {UNCHANGED}

    with duckdb.connect(str(workspace.warehouse)) as connection:
        connection.execute("drop view reporting.rpt_trend")
        connection.execute(
            "update main.optout_view_definitions set fingerprint = 'an older definition' "
            "where view_name = 'staging.stg_lake__users'"
        )
    third = _build(target)
    assert third["rpt_trend"] != UNCHANGED and third["stg_lake__users"] != UNCHANGED
    assert {name for name, message in third.items() if message != UNCHANGED} == {
        "rpt_trend",
        "stg_lake__users",
    }
    with duckdb.connect(str(workspace.warehouse), read_only=True) as connection:
        assert connection.execute("select count(*) from reporting.rpt_trend").fetchone()[0] >= 0
        assert (
            dict(
                connection.execute(
                    "select view_name, fingerprint from main.optout_view_definitions"
                ).fetchall()
            )
            == recorded
        )

    refreshed = _build(target, "--full-refresh")
    assert UNCHANGED not in refreshed.values()
