"""The marts' quality checks in one place each: dbt tests every mart's rows, the Great
Expectations suite only the totals across marts that dbt does not, summed in DuckDB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from assets.config import REPO_ROOT
from assets.quality import marts_suite
from assets.quality.explain import explain

DBT_PROJECT = REPO_ROOT / "dbt_project"
OPT_OUTS = 3000


def _marts(warehouse: Path, extra_attributed: int = 0) -> None:
    """Hand-made marts: OPT_OUTS facts, a third attributed and a fifth revealed, and the
    campaign mart that counts them (plus `extra_attributed` it should not have)."""
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema if not exists marts")
        connection.execute(
            f"""
            create or replace table marts.fct_opt_outs as
            select
                'o' || i as opt_out_id,
                case when i % 3 = 0 then 'c' || (i % 7) end as last_received_campaign_id,
                case when i % 5 = 0 then 'c' || (i % 11) end as revealing_campaign_id
            from range({OPT_OUTS}) as numbers(i)
            """
        )
        connection.execute(
            f"""
            create or replace table marts.mart_campaign_opt_outs as
            with campaigns as (
                select 'c' || i as campaign_id from range(20) as numbers(i)
            )
            select
                campaigns.campaign_id,
                (select count(*) from marts.fct_opt_outs as f where f.last_received_campaign_id = campaigns.campaign_id)
                    + case when campaigns.campaign_id = 'c1' then {extra_attributed} else 0 end as attributed_opt_outs,
                (select count(*) from marts.fct_opt_outs as f where f.revealing_campaign_id = campaigns.campaign_id)
                    as revealed_opt_outs
            from campaigns
            """
        )


def test_the_suite_validates_one_row_of_sums_never_a_mart(tmp_path, monkeypatch):
    warehouse = tmp_path / "optout.duckdb"
    _marts(warehouse)
    validated = []
    run_suite = marts_suite.run_suite
    monkeypatch.setattr(
        marts_suite, "run_suite", lambda name, frame, e: validated.append(frame) or run_suite(name, frame, e)
    )
    outcomes = marts_suite.validate_marts(warehouse)
    assert [(o.suite, o.success, o.evaluated) for o in outcomes] == [("marts_reconciliations", True, 2)]
    assert [frame.shape for frame in validated] == [(1, 2)]
    assert validated[0].row(0) == (0, 0)


def test_a_total_that_does_not_add_up_fails_in_words(tmp_path):
    warehouse = tmp_path / "optout.duckdb"
    _marts(warehouse, extra_attributed=2)
    [outcome] = marts_suite.validate_marts(warehouse)
    assert not outcome.success
    assert [explain("marts", failure) for failure in outcome.failures] == [
        "marts: campaign attributions vs facts differ by 2; rebuild with `optout run --full-refresh`"
    ]


def test_the_checks_moved_to_dbt_fail_in_dbt(tmp_path):
    """The row checks the suite no longer makes are dbt tests: a window starting after its
    opt-out, a negative opt-in count or base, a fact on a covered day the daily mart lacks."""
    warehouse = tmp_path / "optout.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create schema marts")
        connection.execute(
            """
            create table marts.fct_opt_outs as
            select * from (values
                ('o1', date '2026-01-01', 'ios', timestamp '2026-01-01 10:00', timestamp '2026-01-01 09:00'),
                ('o2', date '2026-01-02', 'ios', timestamp '2026-01-02 10:00', timestamp '2026-01-02 11:00'),
                ('o3', date '2026-01-09', 'ios', timestamp '2026-01-09 10:00', timestamp '2026-01-09 10:00')
            ) as facts(opt_out_id, opt_out_date, platform, opted_out_at, window_start)
            """
        )
        # 2026-01-02 is covered (between the mart's first and last day) but has no ios row
        connection.execute(
            """
            create table marts.mart_opt_out_daily as
            select * from (values
                (date '2026-01-01', 'ios', 1, 4, 10),
                (date '2026-01-03', 'ios', 0, -1, -2)
            ) as daily(date, platform, opt_outs_detected, opt_ins, opted_in_base)
            """
        )
    tests = {
        "not_after_fct_opt_outs_window_start__opted_out_at": 1,  # o2
        "between_mart_opt_out_daily_opt_ins__0": 1,
        "between_mart_opt_out_daily_opted_in_base__0": 1,
        "assert_daily_detected_opt_outs_match_the_facts": 1,  # o2's day; o3's is not covered
    }
    target = tmp_path / "target"
    dbt = str(Path(sys.executable).with_name("dbt"))
    subprocess.run(
        [dbt, "test", "--select", *tests, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT),
         "--target-path", str(target)],
        env={**os.environ, "OPTOUT_DBT_TARGET": "duckdb", "OPTOUT_WAREHOUSE": str(warehouse)},
        capture_output=True,
        text=True,
        cwd=DBT_PROJECT,
        timeout=600,
    )  # fmt: skip
    results = json.loads((target / "run_results.json").read_text())["results"]
    failures = {
        r["unique_id"].split(".")[2]: r["failures"] for r in results if r["unique_id"].startswith("test.")
    }
    assert failures == tests


# each check the suite made on a mart's rows before, and the dbt test of that mart that makes it
DBT_TESTS = {
    ("fct_opt_outs", "opt_out_id"): {"unique", "not_null"},
    ("fct_opt_outs", "platform"): {"listed_in"},
    ("fct_opt_outs", "activity_status"): {"accepted_values"},
    ("fct_opt_outs", "pushes_received"): {"between"},
    ("fct_opt_outs", "window_start"): {"not_after"},
    ("mart_opt_out_daily", "platform"): {"listed_in"},
    ("mart_opt_out_daily", "opt_outs_estimated"): {"between"},
    ("mart_opt_out_daily", "opt_ins"): {"between"},
    ("mart_opt_out_daily", "opted_in_base"): {"between"},
}
SINGULAR_TESTS = {
    "assert_daily_detected_opt_outs_match_the_facts",
    "assert_every_opt_out_in_exactly_one_pressure_bucket",
}


def test_every_row_check_of_the_marts_is_a_dbt_test(dbt_manifest):
    manifest = json.loads(Path(dbt_manifest).read_text())
    tests = [node for node in manifest["nodes"].values() if node["resource_type"] == "test"]
    generic: dict[tuple[str, str], set[str]] = {}
    for node in tests:
        if node.get("test_metadata") and node.get("column_name"):
            model = node["attached_node"].split(".")[-1]
            generic.setdefault((model, node["column_name"]), set()).add(node["test_metadata"]["name"])
    for (model, column), names in DBT_TESTS.items():
        assert names <= generic.get((model, column), set()), (model, column)
    assert {node["name"] for node in tests} >= SINGULAR_TESTS
    # and the suite checks none of those columns again
    assert not any(column in marts_suite.reconciliation_sql() for _, column in DBT_TESTS)
