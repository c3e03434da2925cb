"""The daily schedule and the landing sensor."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    schedule,
    sensor,
)

from assets.config import Settings
from assets.contract import TABLE_NAMES
from assets.ingest.day import landed_day_folders
from orchestration.dbt_project import project_vars
from orchestration.jobs import partition_range_tags
from orchestration.run_health import reap_dead_runs


def late_arrival_days() -> int:
    """How many export days after its own an event may still arrive: the dbt var the models
    use (dbt_project.yml `late_arrival_days`), so the schedule re-ingests exactly those days."""
    return int(project_vars()["late_arrival_days"])


def daily_run_range(execution_time: dt.datetime, first_day: dt.date) -> tuple[dt.date, dt.date]:
    """The export days a daily run covers: yesterday, and the days late records still change."""
    logical_date = execution_time.astimezone(dt.UTC).date() - dt.timedelta(days=1)
    start = max(first_day, logical_date - dt.timedelta(days=late_arrival_days()))
    return start, logical_date


def build_daily_schedule(job, first_day: dt.date) -> ScheduleDefinition:
    @schedule(
        job=job,
        cron_schedule="0 4 * * *",
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.STOPPED,
        description=(
            f"Every day at 04:00 UTC: ingest yesterday's export day, re-ingest the {late_arrival_days()} "
            "days before it (late records), rebuild the marts they affect and write the rolling "
            "exports - one run."
        ),
    )
    def daily_schedule(context: ScheduleEvaluationContext):
        reap_dead_runs(context.instance)  # a killed run must not hold the queue
        start, end = daily_run_range(context.scheduled_execution_time, first_day)
        return RunRequest(
            run_key=f"daily-{end.isoformat()}", tags=partition_range_tags(start.isoformat(), end.isoformat())
        )

    return daily_schedule


def day_fingerprints(landing_dir: Path) -> dict[str, str]:
    """A fingerprint of every landed export day: the names, sizes and times of its files."""
    entries: dict[str, list[str]] = {}
    # folders that are no export day are not fingerprinted: the ingest asset reports them
    for table, day, day_folder in landed_day_folders(landing_dir, TABLE_NAMES):
        for path in sorted(day_folder.iterdir()):
            if path.is_file():
                stat = path.stat()
                entries.setdefault(day.isoformat(), []).append(
                    f"{table}/{path.name}:{stat.st_size}:{stat.st_mtime_ns}"
                )
    return {
        day: hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()[:16]
        for day, lines in entries.items()
    }


def build_landing_sensor(job, settings: Settings, first_day: dt.date) -> SensorDefinition:
    @sensor(
        job=job,
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.STOPPED,
        description="Notices a new or re-delivered export day folder in the landing area and runs just that day.",
    )
    def landing_sensor(context: SensorEvaluationContext):
        reap_dead_runs(context.instance)  # a killed run must not hold the queue
        seen = json.loads(context.cursor) if context.cursor else {}
        yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
        # a day is complete (a partition) once it is over; today's folder waits for tomorrow
        current = {
            day: fingerprint
            for day, fingerprint in day_fingerprints(settings.landing_dir).items()
            if first_day <= dt.date.fromisoformat(day) <= yesterday
        }
        changed = sorted(day for day, fingerprint in current.items() if seen.get(day) != fingerprint)
        context.update_cursor(json.dumps({**seen, **current}, sort_keys=True))
        if not changed:
            return SkipReason("no new or re-delivered export day")
        return [RunRequest(run_key=f"landing-{day}-{current[day]}", partition_key=day) for day in changed]

    return landing_sensor


@sensor(
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Every minute: marks runs whose process is gone (killed, crashed) as failed, so the "
        "one-run-at-a-time queue does not wait for them for ever. Launches nothing."
    ),
)
def dead_run_sensor(context: SensorEvaluationContext):
    reaped = reap_dead_runs(context.instance)
    if reaped:
        return SkipReason(f"marked {len(reaped)} run(s) whose process is gone as failed: {', '.join(reaped)}")
    return SkipReason("every unfinished run still has its process")
