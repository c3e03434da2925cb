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
    RunsFilter,
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
from assets.ingest import lake
from assets.ingest.delivered import delivered_days
from assets.ingest.retention import first_kept_day, today_utc
from assets.sources.layouts import LandedFolder, layout_for
from orchestration.dbt_project import project_vars
from orchestration.jobs import partition_range_tags
from orchestration.run_health import reap_dead_runs

DAILY_SCHEDULE = "daily_schedule"
LANDING_SENSOR = "landing_sensor"
LANDING_SENSOR_SECONDS = 60
DEAD_RUN_SENSOR = "dead_run_sensor"
DEAD_RUN_SENSOR_SECONDS = 60
# the daily run starts at 04:00 UTC once yesterday's export has landed: the schedule looks
# every hour from then until the end of the day, and requests the day's run once
FIRST_HOUR, LAST_HOUR = 4, 23
DAILY_CRON = f"0 {FIRST_HOUR}-{LAST_HOUR} * * *"


def next_schedule_tick(now: dt.datetime) -> dt.datetime:
    """The first tick of DAILY_CRON after `now` (UTC)."""
    now = now.astimezone(dt.UTC)
    top_of_hour = now.replace(minute=0, second=0, microsecond=0)
    for hours in range(1, 26):
        tick = top_of_hour + dt.timedelta(hours=hours)
        if FIRST_HOUR <= tick.hour <= LAST_HOUR:
            return tick
    raise AssertionError("DAILY_CRON ticks every day")


def late_arrival_days() -> int:
    """How many export days after its own an event may still arrive: the dbt var the models
    use (dbt_project.yml `late_arrival_days`), so the schedule re-ingests exactly those days."""
    return int(project_vars()["late_arrival_days"])


def daily_run_range(
    execution_time: dt.datetime, first_day: dt.date, retention_days: int | None = None
) -> tuple[dt.date, dt.date]:
    """The export days a daily run covers: yesterday, and the days late records still change
    that the retention keeps (never a day it removes: docs/privacy.md#retention)."""
    today = today_utc(execution_time)
    logical_date = today - dt.timedelta(days=1)
    start = max(first_day, logical_date - dt.timedelta(days=late_arrival_days()))
    if retention_days is not None:
        start = max(start, first_kept_day(retention_days, today))
    return start, logical_date


def build_daily_schedule(job, settings: Settings, first_day: dt.date) -> ScheduleDefinition:
    @schedule(
        name=DAILY_SCHEDULE,
        job=job,
        cron_schedule=DAILY_CRON,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.STOPPED,
        description=(
            f"Every day from 04:00 UTC, once yesterday's export day has landed (it looks every hour "
            f"until it has): ingest it, re-ingest the {late_arrival_days()} days before it (late "
            "records), rebuild the marts they affect and write the rolling exports - one run."
        ),
    )
    def daily_schedule(context: ScheduleEvaluationContext):
        reap_dead_runs(context.instance)  # a killed run must not hold the queue
        start, end = daily_run_range(context.scheduled_execution_time, first_day, settings.retention_days)
        run_key = f"daily-{end.isoformat()}"
        if context.instance.get_run_records(filters=RunsFilter(tags={"dagster/run_key": run_key}), limit=1):
            return SkipReason(f"the daily run of export day {end} was requested earlier today")
        if end not in delivered_days(settings.landing_dir):
            # a day nobody delivered is no day of zero opt-outs: wait for it (the freshness
            # check warns when it is late)
            return SkipReason(
                f"export day {end} has not landed in {settings.landing_dir} (no table has its folder): "
                "waiting for it; the next tick looks again"
            )
        return RunRequest(run_key=run_key, tags=partition_range_tags(start.isoformat(), end.isoformat()))

    return daily_schedule


def day_fingerprints(landing_dir: Path) -> dict[str, str]:
    """A fingerprint of every landed export day: the names, sizes and times of its files."""
    entries: dict[str, list[str]] = {}
    # folders that are no export day are not fingerprinted: the ingest asset reports them
    for landed in layout_for().landed(landing_dir):
        for path, name in _fingerprinted_files(landed, landing_dir):
            stat = path.stat()
            entries.setdefault(landed.day.isoformat(), []).append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return {
        day: hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()[:16]
        for day, lines in entries.items()
    }


def _fingerprinted_files(landed: LandedFolder, landing_dir: Path) -> list[tuple[Path, str]]:
    """A day folder's files and the names they are fingerprinted under.

    The contract's `<table>/dt=<day>` folder: every file in it as `<table>/<name>` (markers
    included, as since the first release: an upgrade leaves every fingerprint, so the
    sensor's cursor, as it was). A vendor's folder: its files at any depth, by their path.
    """
    if not landed.nested:
        return [
            (path, f"{landed.label}/{path.name}")
            for path in sorted(landed.folder.iterdir())
            if path.is_file()
        ]
    return [(path, str(path.relative_to(landing_dir))) for path in landed.files()]


def ingested_since_landing(landing_dir: Path, lake_dir: Path) -> set[str]:
    """Export days whose every landed table folder is in the lake, ingested after its files
    last changed: a backfill made them, and a sensor turned on afterwards has nothing to do."""
    newest_file: dict[tuple[str, str], float] = {}
    layout = layout_for()
    for landed in layout.landed(landing_dir):
        times = [path.stat().st_mtime for path, _ in _fingerprinted_files(landed, landing_dir)]
        key = (landed.label, landed.day.isoformat())
        newest_file[key] = max(times + [newest_file.get(key, 0.0)])
    behind: set[str] = set()
    for (label, day), changed in newest_file.items():
        # a vendor's file kind feeds several tables: each of their lake days must be newer
        tables = [label] if layout.name == "optout" else TABLE_NAMES
        for table in tables:
            log = lake.day_dir(lake_dir, table, dt.date.fromisoformat(day)) / lake.LOG_FILE
            if not log.exists() or log.stat().st_mtime < changed:
                behind.add(day)
    return {day for _, day in newest_file} - behind


def build_landing_sensor(job, settings: Settings, first_day: dt.date) -> SensorDefinition:
    @sensor(
        name=LANDING_SENSOR,
        job=job,
        minimum_interval_seconds=LANDING_SENSOR_SECONDS,
        default_status=DefaultSensorStatus.STOPPED,
        description="Notices a new or re-delivered export day folder in the landing area and runs just that day.",
    )
    def landing_sensor(context: SensorEvaluationContext):
        reap_dead_runs(context.instance)  # a killed run must not hold the queue
        seen = json.loads(context.cursor) if context.cursor else {}
        today = today_utc()
        yesterday = today - dt.timedelta(days=1)
        # a day older than the retention (re-delivered, say) is not run: the next run removes it
        kept_from = (
            [] if settings.retention_days is None else [first_kept_day(settings.retention_days, today)]
        )
        oldest = max([first_day, *kept_from])
        # a day is complete (a partition) once it is over; today's folder waits for tomorrow
        current = {
            day: fingerprint
            for day, fingerprint in day_fingerprints(settings.landing_dir).items()
            if oldest <= dt.date.fromisoformat(day) <= yesterday
        }
        changed = [day for day, fingerprint in current.items() if seen.get(day) != fingerprint]
        # a day another run (a backfill, `optout run`) ingested after its files changed is not
        # run again: turning the sensor on after a backfill does not replay the history
        up_to_date = ingested_since_landing(settings.landing_dir, settings.lake_dir) if changed else set()
        changed = sorted(day for day in changed if day not in up_to_date)
        context.update_cursor(json.dumps({**seen, **current}, sort_keys=True))
        if not changed:
            return SkipReason("no new or re-delivered export day (that the lake does not already hold)")
        return [RunRequest(run_key=f"landing-{day}-{current[day]}", partition_key=day) for day in changed]

    return landing_sensor


@sensor(
    name=DEAD_RUN_SENSOR,
    minimum_interval_seconds=DEAD_RUN_SENSOR_SECONDS,
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
