"""Exports, the report and the serving copy cover only days the marts were built for by a run whose checks passed."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import duckdb
import pytest

from assets import marts_builds
from assets.generator.run import generate
from assets.marts_builds import MartsNotReadyError, checked_export_days
from assets.serving.layout import current_snapshot
from tests.conftest import SAMPLE_START, make_workspace
from tests.faults import mart_tables, serving_tables
from tests.helpers import write_jsonl


def _checked(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return checked_export_days(connection)


def test_only_a_build_that_passed_its_checks_may_be_exported(tmp_path):
    warehouse = tmp_path / "optout.duckdb"
    first, last = dt.date(2026, 1, 1), dt.date(2026, 1, 9)
    with pytest.raises(MartsNotReadyError, match="no warehouse at .*: run `optout run` first"):
        marts_builds.read_checked_export_days(warehouse)
    duckdb.connect(str(warehouse)).close()  # a warehouse from before builds were recorded
    with pytest.raises(MartsNotReadyError, match="not been built by a checked run"):
        marts_builds.read_checked_export_days(warehouse)

    marts_builds.start_build(warehouse, "run-a")
    with pytest.raises(
        MartsNotReadyError, match="run run-a, which has not passed its checks .status building"
    ):
        _checked(warehouse)
    marts_builds.finish_build(warehouse, "run-a", first, last)
    with pytest.raises(MartsNotReadyError, match="status built"):
        _checked(warehouse)
    assert marts_builds.mark_passed(warehouse, "run-other") is False  # only the run that built them
    assert marts_builds.mark_passed(warehouse, "run-a") is True
    assert _checked(warehouse) == (first, last, "run-a")

    # a later run rewriting the marts takes them back until its own checks pass
    marts_builds.start_build(warehouse, "run-b")
    with pytest.raises(MartsNotReadyError, match="run run-b"):
        _checked(warehouse)
    marts_builds.mark_failed(warehouse, "run-b", "dbt build failed: a test failed")
    with pytest.raises(MartsNotReadyError, match="failed: dbt build failed: a test failed"):
        _checked(warehouse)
    assert marts_builds.mark_passed(warehouse, "run-b") is False  # a failed build stays failed


def test_a_run_that_ingested_but_failed_its_checks_changes_no_export(
    workspace, dbt_manifest, monkeypatch, tmp_path
):
    generate(workspace.landing, SAMPLE_START, 7, 300, seed=6)
    workspace.optout("run", "--end", "2026-01-05")
    before = workspace.optout("export", "--preset", "last_week")
    csv = workspace.exports / "opted_out_users" / "2025-12-30_2026-01-05.csv"
    exported = csv.read_bytes()
    served = (current_snapshot(workspace.serving), serving_tables(workspace))

    # day 6 is ingested, then a blocking lake check fails: the marts stay as they were
    write_jsonl(workspace.landing, "messages", "2026-01-06", "zz-broken.jsonl", ["{not json"])
    monkeypatch.setenv("OPTOUT_MAX_QUARANTINE_SHARE", "0")
    failed = workspace.optout("run", "--start", "2026-01-06", "--end", "2026-01-06", check=False)
    assert failed.returncode == 1
    assert (
        "optout run: lake/messages: " in failed.stderr
        and "of this run's records were quarantined" in failed.stderr
    )
    assert (workspace.lake / "messages" / "dt=2026-01-06").is_dir()
    # BI tools keep the last good snapshot
    assert (current_snapshot(workspace.serving), serving_tables(workspace)) == served

    # the preset's default date is still the last day of the checked marts, not of the lake
    again = workspace.optout("export", "--preset", "last_week")
    assert "2025-12-30 .. 2026-01-05" in again.stdout and "2025-12-30 .. 2026-01-05" in before.stdout
    assert csv.read_bytes() == exported
    manifest = json.loads(csv.with_name("2025-12-30_2026-01-05.manifest.json").read_text())
    assert manifest["export_days_ingested"] == {"first": "2026-01-01", "last": "2026-01-05"}
    # the lake's new day is refused, by the export and by the report alike
    for command in ("export", "report"):
        refused = workspace.optout(command, "--start", "2026-01-01", "--end", "2026-01-06", check=False)
        assert refused.returncode == 1
        assert "after the last export day of the checked marts 2026-01-05" in refused.stderr
    assert not (workspace.exports / "opted_out_users" / "2026-01-01_2026-01-06.csv").exists()

    # the next daily run (day 7 only) also builds day 6, which the failed run ingested
    monkeypatch.delenv("OPTOUT_MAX_QUARANTINE_SHARE")
    workspace.optout("run", "--start", "2026-01-07", "--end", "2026-01-07")
    whole = make_workspace(tmp_path / "whole")
    shutil.copytree(workspace.landing, whole.landing)
    whole.optout("run")
    assert mart_tables(workspace.warehouse) == mart_tables(whole.warehouse)
    assert _checked(workspace.warehouse)[:2] == (dt.date(2026, 1, 1), dt.date(2026, 1, 7))


def test_days_before_the_first_export_day_are_refused_by_every_command(sample_run):
    for command in ("export", "report"):
        result = sample_run.optout(command, "--start", "0001-01-01", "--end", "2026-01-05", check=False)
        assert result.returncode == 1, command
        assert result.stderr.strip() == (
            f"optout {command}: the range starts 0001-01-01, before the first export day 2025-01-01 "
            "(set OPTOUT_FIRST_DAY to cover it)"
        )
    assert not (sample_run.exports / "opted_out_users" / "0001-01-01_2026-01-05.csv").exists()
