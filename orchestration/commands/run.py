"""`optout run`: one Dagster run over a range of export days, then a summary."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
import time
import uuid
from pathlib import Path

import duckdb
import polars as pl

from assets.alerts.deliver import alerts_file
from assets.alerts.read import Alerts, read_alerts
from assets.config import Settings
from assets.contract import TABLE_NAMES
from assets.ingest import lake
from assets.ingest.delivered import day_spans, delivered_days
from assets.ingest.retention import SETTING as RETENTION_SETTING
from assets.ingest.retention import first_kept_day, today_utc
from assets.report import numbers
from assets.report.build import SUBFOLDER, report_range
from assets.serving.layout import DATABASE_FILE, current_snapshot
from assets.shown_text import escape_controls
from assets.warehouse_holder import WarehouseBusyError, check_warehouse_writable
from orchestration.alerts_asset import CAMPAIGN_ALERTS, RATE_ALERTS
from orchestration.commands.common import CliError, check_first_day, progress, settings
from orchestration.console import RunConsole
from orchestration.dbt_assets import DBT_ASSETS_NAME
from orchestration.ingest_assets import WRITABLE_PROBE_SECONDS, undelivered_tags
from orchestration.instance import get_instance, logs_folder
from orchestration.jobs import EVERYTHING_JOB, partition_range_tags
from orchestration.retention_asset import retention_summary
from orchestration.run_health import reap_dead_runs, this_process_tags
from orchestration.run_outcome import CheckVerdict, run_outcome
from orchestration.run_queue import (
    SETTINGS_TAG,
    QueueSubmitError,
    QueueTimeoutError,
    daemon_serves,
    follow_run,
    submit_to_queue,
    wait_for_turn,
)

TOP_CAMPAIGNS = 3  # shown in the summary
SUMMARY_ALERTS = 4  # alert lines shown in the summary; the run's alerts file holds them all
# the marts whose warn-level checks are the early warnings, summarised on their own
ALERT_MARTS = {key.to_user_string() for key in (RATE_ALERTS, CAMPAIGN_ALERTS)}
WARNED_SHOWN = 2  # checks that warned named on the summary's one line about them


def landed_days(settings: Settings) -> list[dt.date]:
    return delivered_days(settings.landing_dir)


def resolve_range(
    settings: Settings, start: dt.date | None, end: dt.date | None, undelivered_as_zero: bool = False
) -> tuple[dt.date, dt.date] | None:
    """The export days of the run; None when none of the requested days was delivered (nothing to run)."""
    if start is None or end is None:
        days = landed_days(settings)
        if not days:
            raise CliError(
                f"no export days in {settings.landing_dir}; run `optout generate` or pass --start/--end"
            )
        start = start or days[0]
        end = end or days[-1]
    if start > end:
        raise CliError(f"--start {start} is after --end {end}")
    start = retained_start(settings, start, end)
    check_first_day(start, settings, "--start is", partitions=True)
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    if end > yesterday:
        raise CliError(f"{end} is not a complete export day yet (the latest is {yesterday})")
    return (start, end) if undelivered_as_zero else delivered_range(settings, start, end)


AS_ZERO_HINT = "pass --undelivered-as-zero to record them as days with zero records"


def delivered_range(settings: Settings, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date] | None:
    """[start, end] trimmed to its first and last delivered day, saying which days are left out.

    A day no table delivered is not a day of zero records: recorded as one, it would move
    the last ingested day (the presets, the rolling exports, the report's period before).
    The ingest steps leave out the undelivered days between the two as well.
    """
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    delivered = set(landed_days(settings))
    missing = [day for day in days if day not in delivered]
    if len(missing) == len(days):
        progress(
            f"no export day of {start} .. {end} was delivered (no table has their folder): nothing to run, "
            f"nothing changed; {AS_ZERO_HINT}"
        )
        return None
    if missing:
        progress(
            f"export {'day' if len(missing) == 1 else 'days'} {day_spans(missing)} not delivered "
            f"(no table has their folder): left out; {AS_ZERO_HINT}"
        )
    ran = [day for day in days if day in delivered]
    return ran[0], ran[-1]


def retained_start(settings: Settings, start: dt.date, end: dt.date) -> dt.date:
    """The range's start moved past the days the retention removes, saying so; a range of
    which the retention keeps no day is refused (docs/privacy.md#retention)."""
    if settings.retention_days is None:
        return start
    first_kept = first_kept_day(settings.retention_days, today_utc())
    if start >= first_kept:
        return start
    setting = f"{RETENTION_SETTING}={settings.retention_days} keeps export days from {first_kept} on"
    if end < first_kept:
        raise CliError(
            f"{_days_text(start, end)} older than the retention period ({setting}): nothing to run"
        )
    progress(
        f"{_days_text(start, first_kept - dt.timedelta(days=1))} older than the retention period "
        f"({setting}): left out; the run removes what landing and lake still hold of them"
    )
    return first_kept


def _days_text(first: dt.date, last: dt.date) -> str:
    return f"export day {first} is" if first == last else f"export days {first} .. {last} are"


def new_log_path() -> Path:
    """A fresh file for the full log of one run: $DAGSTER_HOME/optout-logs/optout-run-<UTC time>.log."""
    folder = logs_folder()
    return folder / f"optout-run-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}.log"


def run_config(log_path: Path, full_refresh: bool) -> dict:
    config: dict = {"loggers": {"optout_progress": {"config": {"log_file": str(log_path)}}}}
    if full_refresh:
        config["ops"] = {DBT_ASSETS_NAME: {"config": {"full_refresh": True}}}
    return config


def run_in_process(
    config: Settings, instance, run_id: str, tags: dict[str, str], log_path: Path, full_refresh: bool
) -> None:
    """Execute the everything job as one run in this process (its days: the partition range `tags`).

    The terminal shows each step once (orchestration/console.py); everything else the run
    says - Dagster's events, dbt's output, warnings - goes to `log_path`.
    """
    from orchestration.definitions import build_definitions

    job = build_definitions(config).resolve_job_def(EVERYTHING_JOB)
    terminal = sys.stderr
    with (
        log_path.open("a", encoding="utf-8", buffering=1) as log,
        RunConsole(terminal, live=terminal.isatty()),
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        job.execute_in_process(
            run_config=run_config(log_path, full_refresh),
            instance=instance,
            run_id=run_id,
            # the pid tag lets a later run see that this one was killed (run_health.py)
            tags={**tags, **this_process_tags()},
            raise_on_error=False,
        )


def run_command(args: argparse.Namespace) -> None:
    config = settings()
    requested = resolve_range(config, args.start, args.end, args.undelivered_as_zero)
    if requested is None:
        return
    start, end = requested
    days = (end - start).days + 1
    tags = {
        **partition_range_tags(start.isoformat(), end.isoformat()),
        **undelivered_tags(args.undelivered_as_zero),
        **getattr(args, "tags", {}),  # a caller's own (an erasure's rebuild)
    }
    started = time.monotonic()
    deadline = None if args.wait is None else started + args.wait
    instance = get_instance()
    for reaped in reap_dead_runs(instance):
        progress(f"run {reaped[:8]} was left unfinished by a process that is gone: marked failed")
    log_path = new_log_path()
    run_id = str(uuid.uuid4())
    try:
        if daemon_serves(instance):
            progress(
                f"submitting {days} export days {start} .. {end} to the Dagster run queue "
                f"(run {run_id[:8]}, full log: {log_path})"
            )
            submit_to_queue(
                run_id,
                {**tags, SETTINGS_TAG: config.fingerprint()},
                run_config(log_path, args.full_refresh),
            )
            terminal = sys.stderr
            with RunConsole(terminal, live=terminal.isatty()) as console:
                follow_run(instance, run_id, console, deadline)
        else:
            # find out before changing anything (the lake included) whether this run may write
            wait_for_turn(instance, deadline, progress)
            # unlimited: the few seconds a run just starting holds the file for its own probe
            remaining = WRITABLE_PROBE_SECONDS if deadline is None else max(0.0, deadline - time.monotonic())
            check_warehouse_writable(config.warehouse, remaining)
            progress(
                f"materializing {days} export days {start} .. {end} through Dagster (full log: {log_path})"
            )
            run_in_process(config, instance, run_id, tags, log_path, args.full_refresh)
    except (WarehouseBusyError, QueueTimeoutError, QueueSubmitError) as exc:
        raise CliError(str(exc)) from None
    outcome = run_outcome(instance, run_id)
    if not outcome.success:
        with log_path.open("a", encoding="utf-8") as log:
            log.write(outcome.log_text())
        sys.stderr.write(f"  full log:  {log_path}\n")  # before the reasons: they end the output
        raise CliError("\n".join(outcome.failure_reasons()))
    progress(f"run finished in {time.monotonic() - started:.1f}s")
    print_summary(config, start, end, outcome.warnings(), retention_summary(instance, run_id))
    print(f"  full log:  {log_path}")


def summary_report_range(config: Settings, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The range of the run's report (the run's days, at least the last 30 ingested)."""
    first_ingested = min(
        (d for t in TABLE_NAMES for d in lake.ingested_days(config.lake_dir, t)), default=start
    )
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    return report_range(days, first_ingested)


def report_path(config: Settings, start: dt.date, end: dt.date):
    """The report of [start, end] if the run's report asset wrote it."""
    path = config.export_dir / SUBFOLDER / f"opt_out_report_{start}_{end}.html"
    return path if path.exists() else None


def _first_line(text: str | None, width: int = 40) -> str:
    return (text or "").split("\n", 1)[0][:width]


def print_summary(
    config: Settings,
    start: dt.date,
    end: dt.date,
    warned: list[CheckVerdict] | None = None,
    retention: str | None = None,
) -> None:
    """What the run did and what the marts now say, all read from the reporting views."""
    report_start, report_end = summary_report_range(config, start, end)
    print(f"\nSummary for export days {start} .. {end}")
    if config.warehouse.exists():
        with duckdb.connect(str(config.warehouse), read_only=True) as connection:
            totals = numbers.read_ingestion(connection, start, end)
            numbers.set_range(connection, report_start, report_end)
            headline = numbers.read_headlines(connection)
            top = numbers.read_top_campaigns(connection, TOP_CAMPAIGNS)
            alerts = read_alerts(connection, start, end)
        print_ingestion(totals)
        print_headlines(headline, top)
        print_alerts(alerts, config.export_dir)
    if retention:  # what lake/retention removed (docs/privacy.md#retention)
        print(f"  {retention}")
    print_warned_checks(warned or [])
    print(f"  lake:      {config.lake_dir}")
    print(f"  marts:     schema `marts` in {config.warehouse}")
    if config.dbt_target == "spark":
        print(f"             built on Spark: Parquet tables in {config.spark_warehouse}/marts.db")
    print(f"  exports:   {config.export_dir}")
    report = report_path(config, report_start, report_end)
    if report is not None:
        print(f"  report:    {report}")
    snapshot = current_snapshot(config.serving_dir)
    if snapshot is not None:
        print(f"  BI copy:   {config.serving_dir} ({DATABASE_FILE} + Parquet, snapshot {snapshot.name})")


def print_warned_checks(warned: list[CheckVerdict]) -> None:
    """Warn-level checks that did not pass (dbt tests of severity warn), on one line; the
    early warnings have their own lines above, the run's page in the UI has every detail."""
    shown = [check for check in warned if check.name.split(":")[0] not in ALERT_MARTS]
    if shown:
        names = "; ".join(check.in_words(60) for check in shown[:WARNED_SHOWN])
        more = f" (+{len(shown) - WARNED_SHOWN} more)" if len(shown) > WARNED_SHOWN else ""
        print(f"  {_count(len(shown), 'check')} warned (the run's page in the UI has them): {names}{more}")


def print_alerts(alerts: Alerts, export_dir: Path) -> None:
    """The early warnings of the run's days (alert marts): one line when there is none, the
    first few when there are many (campaigns by p-value, then days; the run's alerts file has all)."""
    if not alerts:
        print(f"  early warnings {alerts.start} .. {alerts.end}: none")
        return
    lines = alerts.lines()
    print(f"  EARLY WARNINGS {alerts.start} .. {alerts.end} ({len(lines)}):")
    for line in lines[:SUMMARY_ALERTS]:
        print(f"    ! {line}")
    if len(lines) > SUMMARY_ALERTS:
        print(f"    ... and {len(lines) - SUMMARY_ALERTS} more in {alerts_file(export_dir, alerts)}")


def print_ingestion(totals: pl.DataFrame) -> None:
    """One line for what the run read: the table per raw table is audit.ingestion_log (the log has it too)."""
    if totals.is_empty():
        return
    read, loaded, quarantined, duplicate = (
        int(totals[column].sum())
        for column in ("records_read", "records_loaded", "records_quarantined", "records_duplicate")
    )
    print(
        f"  ingested {_count(totals['days'].max(), 'day')} of {_count(totals.height, 'table')}: {read:,} records read, "
        f"{loaded:,} loaded, {quarantined:,} quarantined (audit.quarantine), {duplicate:,} duplicate "
        "(per table: audit.ingestion_log)"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _share(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}%}"


def print_headlines(headline: dict, top: pl.DataFrame) -> None:
    """The report's headlines (the same range, the same views): opt-outs, rate, top campaigns."""
    change = headline["rate_change"]
    print(
        f"  {headline['range_start']} .. {headline['range_end']} (the report's range): "
        f"{headline['opt_outs']} opt-outs ({_share(headline['lagged_share'])} detected late, "
        f"through a send or a revisit), opt-out rate {_share(headline['opt_out_rate'], 3)} per day"
        + (f" ({change:+.0%} on the period before)" if change is not None else "")
    )
    for row in top.filter(pl.col("attributed_opt_outs_in_range") > 0).iter_rows(named=True):
        print(
            f"  top campaign #{row['campaign_rank']}: {escape_controls(row['campaign_id'])} "
            f"({_first_line(row['campaign_name'])!r}) "
            f"{row['attributed_opt_outs_in_range']} attributed opt-outs in the range; "
            f"{row['recipients']} recipients, {_share(row['attributed_opt_out_rate'], 2)} all time"
        )
