"""The daily schedule and the landing sensor, evaluated with Dagster's test helpers."""

import datetime as dt
import json
import os

import pytest
from dagster import (
    AssetCheckSeverity,
    DagsterInstance,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
)
from dagster._core.test_utils import instance_for_test

from assets.config import read_settings
from orchestration.dbt_project import project_vars
from orchestration.jobs import build_everything_job
from orchestration.schedules import (
    build_daily_schedule,
    build_landing_sensor,
    daily_run_range,
    late_arrival_days,
)
from tests.helpers import message, write_jsonl

FIRST_DAY = dt.date(2025, 1, 1)
JOB = build_everything_job()
daily_schedule = build_daily_schedule(JOB, FIRST_DAY)


def landing_sensor(context):
    return build_landing_sensor(JOB, read_settings(), FIRST_DAY)(context)


@pytest.mark.quick
def test_late_arrival_days_is_the_dbt_var_the_models_use():
    assert late_arrival_days() == project_vars()["late_arrival_days"] == 3


@pytest.mark.quick
def test_daily_schedule_covers_yesterday_and_the_late_arrival_days():
    with instance_for_test() as instance:  # the schedule's context needs an instance with a ref
        context = build_schedule_context(
            instance=instance, scheduled_execution_time=dt.datetime(2026, 1, 22, 4, tzinfo=dt.UTC)
        )
        request = daily_schedule(context)
    assert request.tags["dagster/asset_partition_range_start"] == "2026-01-18"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-01-21"
    assert request.run_key == "daily-2026-01-21"
    assert daily_run_range(dt.datetime(2025, 1, 2, 4, tzinfo=dt.UTC), dt.date(2025, 1, 1)) == (
        dt.date(2025, 1, 1),
        dt.date(2025, 1, 1),
    )


@pytest.mark.quick
def test_sensor_requests_new_and_redelivered_days_only(workspace):
    write_jsonl(workspace.landing, "messages", "2026-01-05", "a.jsonl", [message("m1")])
    write_jsonl(workspace.landing, "users", "2026-01-06", "u.jsonl", [{"user_id": "u1"}])
    with DagsterInstance.ephemeral() as instance:
        first = landing_sensor(build_sensor_context(instance=instance))
        assert sorted(r.partition_key for r in first) == ["2026-01-05", "2026-01-06"]
        cursor = json.loads(build_cursor(instance, None))
        assert set(cursor) == {"2026-01-05", "2026-01-06"}

        quiet = landing_sensor(build_sensor_context(instance=instance, cursor=json.dumps(cursor)))
        assert isinstance(quiet, SkipReason)

        # the 5th is delivered again with corrected content; a new day 7 lands
        path = write_jsonl(
            workspace.landing, "messages", "2026-01-05", "a.jsonl", [message("m1"), message("m2")]
        )
        os.utime(path, ns=(1, 2))
        write_jsonl(workspace.landing, "app_events", "2026-01-07", "a.jsonl", [{"event_id": "a1"}])
        again = landing_sensor(build_sensor_context(instance=instance, cursor=json.dumps(cursor)))
        assert sorted(r.partition_key for r in again) == ["2026-01-05", "2026-01-07"]
        assert all(r.run_key.startswith("landing-") for r in again)


def build_cursor(instance, cursor):
    context = build_sensor_context(instance=instance, cursor=cursor)
    landing_sensor(context)
    return context.cursor


def test_the_daily_run_writes_the_three_rolling_files(sample_run, monkeypatch):
    """The schedule's request for the last day, executed: re-ingest, rebuild, rolling exports."""
    from orchestration.definitions import build_definitions

    for key, value in sample_run.env().items():
        monkeypatch.setenv(key, value)
    job = build_definitions(read_settings()).resolve_job_def("optout_everything")
    with instance_for_test() as instance:
        request = daily_schedule(
            build_schedule_context(
                instance=instance, scheduled_execution_time=dt.datetime(2026, 1, 22, 4, tzinfo=dt.UTC)
            )
        )
        result = job.execute_in_process(instance=instance, tags=request.tags)
    assert result.success
    folder = sample_run.exports / "opted_out_users"
    for start in ("2026-01-15", "2025-12-23", "2025-01-22"):
        assert (folder / f"{start}_2026-01-21.csv").exists(), start
        manifest = json.loads((folder / f"{start}_2026-01-21.manifest.json").read_text())
        assert manifest["end"] == "2026-01-21"
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert {e.event_specific_data.check_name for e in checks} >= {"ge_lake_suite", "ge_marts_suite"}
    failed = [e.event_specific_data for e in checks if not e.event_specific_data.passed]
    # only warn-level checks may fail (the sample names a few unknown users and campaigns)
    assert all(check.severity == AssetCheckSeverity.WARN for check in failed), failed
    assert {check.check_name.split("_stg_lake__")[0] for check in failed} <= {"relationships"}
