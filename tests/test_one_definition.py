"""Every number the report, the run summary and the UI show is defined once, in SQL.

Change the definition of the opt-out rate in the dbt project (a copy of it), rebuild the
reporting views, and the run summary, the report page and the report asset's metadata in
the Dagster UI all show the new number: none of them computes it on its own.
"""

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
from dagster import DagsterInstance, materialize

from assets.config import REPO_ROOT, read_settings
from assets.report.build import make_report
from tests.report_parser import parse

START, END = dt.date(2026, 1, 1), dt.date(2026, 1, 21)
# the opt-out rate's definition (macros/metrics.sql), and a changed one: half of it
RATE = "{{ share_of(opt_outs, opted_in_base) }}"
HALF_RATE = "{{ share_of(opt_outs, '(2 * ' ~ opted_in_base ~ ')') }}"


@pytest.fixture(scope="module")
def redefined(sample_run, tmp_path_factory):
    """A copy of the sample warehouse whose reporting views halve the opt-out rate."""
    root = tmp_path_factory.mktemp("redefined")
    warehouse = root / "optout.duckdb"
    shutil.copy(sample_run.warehouse, warehouse)
    project = root / "dbt_project"
    shutil.copytree(REPO_ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    macros = project / "macros" / "metrics.sql"
    assert RATE in macros.read_text()
    macros.write_text(macros.read_text().replace(RATE, HALF_RATE))
    dbt = str(Path(sys.executable).with_name("dbt"))
    result = subprocess.run(
        [dbt, "run", "--select", "reporting", "--project-dir", str(project), "--profiles-dir", str(project)],
        env={**os.environ, **sample_run.env(), "OPTOUT_WAREHOUSE": str(warehouse)},
        capture_output=True,
        text=True,
        cwd=project,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    return warehouse


def marts_rate(warehouse: Path) -> float:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        daily = connection.table("marts.mart_opt_out_daily").pl()
    in_range = daily.filter(pl.col("date").is_between(START, END))
    return in_range["opt_outs_detected"].sum() / in_range["opted_in_base"].sum()


def test_summary_report_and_ui_follow_the_sql_definition(sample_run, redefined, tmp_path, capsys):
    rate = marts_rate(sample_run.warehouse)
    assert rate > 0
    config = read_settings().model_copy(
        update={
            "landing_dir": sample_run.landing,
            "lake_dir": sample_run.lake,
            "warehouse": redefined,
            "export_dir": tmp_path / "exports",
        }
    )

    # the run summary
    from orchestration.commands.run import print_summary

    print_summary(config, START, END)
    summary = capsys.readouterr().out
    assert f"opt-out rate {rate / 2:.3%} per day" in summary, summary

    # the report page
    report = make_report(redefined, config.export_dir, START, END)
    assert float(parse(report.html_path).metrics["opt_out_rate"]) == pytest.approx(rate / 2)

    # the report asset's metadata in the Dagster UI
    from orchestration.partitions import export_days
    from orchestration.report_asset import build_report_asset
    from orchestration.resources import OptoutPaths

    paths = OptoutPaths(
        landing_dir=str(sample_run.landing),
        lake_dir=str(sample_run.lake),
        warehouse=str(redefined),
        export_dir=str(tmp_path / "ui_exports"),
    )
    report_asset = build_report_asset(export_days(START))
    result = materialize(
        [report_asset],
        partition_key=END.isoformat(),
        resources={"paths": paths},
        instance=DagsterInstance.ephemeral(),
    )
    materialization = result.asset_materializations_for_node(report_asset.op.name)[0]
    assert materialization.metadata["opt_out_rate"].value == pytest.approx(rate / 2)

    # the definition as shipped gives the marts' own rate
    print_summary(config.model_copy(update={"warehouse": sample_run.warehouse}), START, END)
    assert f"opt-out rate {rate:.3%} per day" in capsys.readouterr().out
