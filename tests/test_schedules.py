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
    job,
    op,
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
    next_schedule_tick,
)
from tests.helpers import message, write_jsonl

FIRST_DAY = dt.date(2025, 1, 1)
JOB = build_everything_job()


def daily_schedule(context):
    # closed here: a schedule's context opens its own instance from the ref, which, closed
    # later by the garbage collector, would leave Dagster's current defs-state storage
    # pointing at a disposed instance (the next Definitions built in this process fail)
    with context:
        return build_daily_schedule(JOB, read_settings(), FIRST_DAY)(context)


def landing_sensor(context):
    return build_landing_sensor(JOB, read_settings(), FIRST_DAY)(context)


@pytest.mark.quick
def test_late_arrival_days_is_the_dbt_var_the_models_use():
    assert late_arrival_days() == project_vars()["late_arrival_days"] == 3


@pytest.mark.quick
def test_daily_schedule_covers_yesterday_and_the_late_arrival_days(workspace):
    write_jsonl(workspace.landing, "users", "2026-01-21", "u.jsonl", [{"user_id": "u1"}])
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


@pytest.mark.quick
def test_daily_schedule_waits_for_the_delivery_and_requests_the_day_once(workspace):
    at = dt.datetime(2026, 1, 22, 4, tzinfo=dt.UTC)
    with instance_for_test() as instance:
        waiting = daily_schedule(build_schedule_context(instance=instance, scheduled_execution_time=at))
        assert isinstance(waiting, SkipReason)
        assert "export day 2026-01-21 has not landed" in waiting.skip_message
        # it lands at 06:30: the 07:00 tick requests the run
        write_jsonl(workspace.landing, "messages", "2026-01-21", "a.jsonl", [message("m1")])
        later = at + dt.timedelta(hours=3)
        request = daily_schedule(build_schedule_context(instance=instance, scheduled_execution_time=later))
        assert request.run_key == "daily-2026-01-21"
        instance.create_run_for_job(_a_job, tags={"dagster/run_key": request.run_key})
        again = daily_schedule(
            build_schedule_context(instance=instance, scheduled_execution_time=later + dt.timedelta(hours=1))
        )
        assert isinstance(again, SkipReason)
        assert "requested earlier today" in again.skip_message


@op
def _nothing():
    pass


@job
def _a_job():
    """A run with the schedule's run key stands for the run it requested."""
    _nothing()


@pytest.mark.quick
def test_next_schedule_tick_is_the_next_hour_from_four_to_twenty_three():
    assert next_schedule_tick(dt.datetime(2026, 1, 22, 2, 30, tzinfo=dt.UTC)) == dt.datetime(
        2026, 1, 22, 4, tzinfo=dt.UTC
    )
    assert next_schedule_tick(dt.datetime(2026, 1, 22, 4, 0, tzinfo=dt.UTC)) == dt.datetime(
        2026, 1, 22, 5, tzinfo=dt.UTC
    )
    assert next_schedule_tick(dt.datetime(2026, 1, 22, 23, 10, tzinfo=dt.UTC)) == dt.datetime(
        2026, 1, 23, 4, tzinfo=dt.UTC
    )


@pytest.mark.quick
def test_sensor_turned_on_after_a_backfill_runs_only_days_newer_than_the_lake(workspace):
    """Days the lake holds, ingested after their files changed, are not run again."""
    from assets.ingest.day import ingest_table_day

    old = write_jsonl(workspace.landing, "messages", "2026-01-05", "a.jsonl", [message("m1")])
    os.utime(old, (1_700_000_000, 1_700_000_000))
    ingest_table_day(workspace.landing, workspace.lake, "messages", dt.date(2026, 1, 5))  # the backfill
    write_jsonl(workspace.landing, "messages", "2026-01-06", "a.jsonl", [message("m2")])  # new since
    with DagsterInstance.ephemeral() as instance:
        first = landing_sensor(build_sensor_context(instance=instance))
        assert [r.partition_key for r in first] == ["2026-01-06"]
        cursor = build_cursor(instance, None)
        again = landing_sensor(build_sensor_context(instance=instance, cursor=cursor))
        assert isinstance(again, SkipReason)  # unchanged fingerprints: nothing to do
        # the backfilled day is delivered again, corrected: run it
        write_jsonl(workspace.landing, "messages", "2026-01-05", "a.jsonl", [message("m1"), message("m3")])
        redelivered = landing_sensor(build_sensor_context(instance=instance, cursor=cursor))
        assert [r.partition_key for r in redelivered] == ["2026-01-05"]


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


@pytest.mark.quick
def test_a_days_fingerprint_is_the_one_earlier_releases_wrote(workspace):
    """The sensor's cursor holds these: an upgrade must not make every landed day look new."""
    import hashlib

    from orchestration.schedules import day_fingerprints

    write_jsonl(workspace.landing, "messages", "2026-01-05", "a.jsonl", [message("m1")])
    folder = workspace.landing / "messages" / "dt=2026-01-05"
    (folder / "_SUCCESS").write_bytes(b"")
    lines = sorted(
        f"messages/{path.name}:{path.stat().st_size}:{path.stat().st_mtime_ns}" for path in folder.iterdir()
    )
    expected = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
    assert day_fingerprints(workspace.landing) == {"2026-01-05": expected}
