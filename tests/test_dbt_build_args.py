"""The dbt asset's arguments: a pure function of the run (full refresh, start date, last day)."""

import datetime as dt

import pytest

from orchestration.dbt_assets import dbt_build_args, lake_vars

pytestmark = pytest.mark.quick

D = dt.date


def test_a_daily_build_passes_its_start_date_as_the_event_time_range():
    assert dbt_build_args(False, D(2026, 1, 5), D(2026, 1, 8)) == [
        "build",
        "--exclude",
        "resource_type:unit_test",
        "--event-time-start",
        "2026-01-05",
        # the range's end is exclusive: the day after the run's last day
        "--event-time-end",
        "2026-01-09",
    ]


def test_a_one_day_build_covers_that_day():
    args = dbt_build_args(False, D(2026, 2, 28), D(2026, 2, 28))
    assert args[-4:] == ["--event-time-start", "2026-02-28", "--event-time-end", "2026-03-01"]


def test_without_a_start_date_everything_is_rebuilt_and_no_range_is_passed():
    assert dbt_build_args(False, None, D(2026, 1, 8)) == ["build", "--exclude", "resource_type:unit_test"]


def test_a_full_refresh_ignores_the_start_date():
    assert dbt_build_args(True, D(2026, 1, 5), D(2026, 1, 8)) == [
        "build",
        "--exclude",
        "resource_type:unit_test",
        "--full-refresh",
    ]


def test_pipeline_builds_leave_unit_tests_out():
    for args in (dbt_build_args(False, None, D(2026, 1, 1)), dbt_build_args(True, None, D(2026, 1, 1))):
        assert args[1:3] == ["--exclude", "resource_type:unit_test"]


def test_a_start_date_after_the_last_day_is_refused():
    with pytest.raises(ValueError, match="after the run's last day"):
        dbt_build_args(False, D(2026, 1, 9), D(2026, 1, 8))


def test_no_model_is_one_dbt_would_filter_by_the_event_time_range(dbt_manifest):
    """The range only carries the start date: dbt itself filters nothing by it while no model
    is a microbatch model or declares an event_time (then this test must change)."""
    import json

    nodes = json.loads(dbt_manifest.read_text())["nodes"].values()
    assert [n["name"] for n in nodes if n["config"].get("incremental_strategy") == "microbatch"] == []
    assert [n["name"] for n in nodes if n["config"].get("event_time")] == []


def test_the_lake_reaches_dbt_as_an_absolute_path(monkeypatch):
    from assets.config import REPO_ROOT, read_settings

    monkeypatch.setenv("OPTOUT_LAKE_DIR", "data/some-lake")
    assert lake_vars(read_settings()) == ["--vars", f'{{"lake_dir": "{REPO_ROOT / "data" / "some-lake"}"}}']


def test_an_incremental_table_of_an_older_release_is_found_by_its_columns(
    dbt_manifest, tmp_path, monkeypatch
):
    """A release that adds a column to an incremental model: the next build rebuilds whole
    instead of failing on the older table (orchestration/dbt_assets.py)."""
    import json

    import duckdb

    from assets.config import load_settings
    from orchestration.dbt_assets import incremental_models_with_other_columns

    monkeypatch.setenv("OPTOUT_WAREHOUSE", str(tmp_path / "optout.duckdb"))
    monkeypatch.setenv("OPTOUT_DBT_TARGET", "duckdb")
    settings = load_settings()
    node = json.loads(dbt_manifest.read_text())["nodes"]["model.optout.int_delivery_exposures"]
    columns = list(node["columns"])
    assert "delivered_date" in columns and node["config"]["materialized"] == "incremental"
    with duckdb.connect(str(settings.warehouse)) as connection:
        connection.execute("create schema intermediate")
        older = ", ".join(f"{name} varchar" for name in columns if name != "delivered_date")
        connection.execute(f"create table intermediate.int_delivery_exposures ({older})")
    assert incremental_models_with_other_columns(settings, dbt_manifest) == [
        "intermediate.int_delivery_exposures"
    ]
    with duckdb.connect(str(settings.warehouse)) as connection:
        connection.execute("alter table intermediate.int_delivery_exposures add column delivered_date date")
    assert incremental_models_with_other_columns(settings, dbt_manifest) == []
