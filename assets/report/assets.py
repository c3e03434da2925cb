"""Dagster asset: the opt-out report of the run's period, shown in the UI with its headlines."""

import datetime as dt

from dagster import AssetExecutionContext, AssetKey, BackfillPolicy, MaterializeResult, MetadataValue, asset

from assets.exports.assets import ROLLING_KEY
from assets.exports.opted_out_users import write_export
from assets.exports.ranges import between_range
from assets.ingest.assets import partition_days
from assets.marts_builds import read_checked_export_days
from assets.report.build import build_report
from orchestration.partitions import export_days
from orchestration.resources import OptoutPaths

REPORT_KEY = AssetKey(["reports", "opt_out_report"])
MIN_REPORT_DAYS = 30


def report_range(days: list[dt.date], first_ingested: dt.date) -> tuple[dt.date, dt.date]:
    """The run's days, widened to at least the last 30 days, never before the first ingested day."""
    end = days[-1]
    start = min(days[0], end - dt.timedelta(days=MIN_REPORT_DAYS - 1))
    return max(start, first_ingested), end


def make_report(warehouse, export_dir, start: dt.date | None, end: dt.date | None, days=None):
    """Write the range's export (the report links it) and the report; returns the report."""
    # only days the marts were built for by a run whose checks passed (marts_builds.py)
    first_day, last_day, built_by = read_checked_export_days(warehouse)
    if days is not None:
        start, end = report_range(days, first_day)
    write_export(warehouse, export_dir, between_range(start, end))
    return build_report(warehouse, export_dir, start, end, (first_day, last_day, built_by))


@asset(
    key=REPORT_KEY,
    deps=[
        AssetKey(["marts", "mart_opt_out_daily"]),
        AssetKey(["marts", "mart_pre_opt_out_pressure"]),
        AssetKey(["marts", "mart_pressure_baseline"]),
        AssetKey(["marts", "mart_campaign_opt_outs"]),
        AssetKey(["marts", "mart_retain_churn"]),
        AssetKey(["marts", "fct_opt_out_last_events"]),
        ROLLING_KEY,
    ],
    partitions_def=export_days,
    backfill_policy=BackfillPolicy.single_run(),
    group_name="reports",
    kinds={"html", "altair"},
    owners=["team:growth"],
    description=(
        "The opt-out report (self-contained HTML + PNG charts) for the run's days, at least the "
        "last 30: trend (detected vs re-spread), pressure vs users who stayed, last campaigns, "
        "retain vs churn and last events, and a link to the opted-out users of the range."
    ),
)
def opt_out_report(context: AssetExecutionContext, paths: OptoutPaths) -> MaterializeResult:
    report = make_report(paths.warehouse_path, paths.exports, None, None, days=partition_days(context))
    headline = report.headlines
    context.log.info(f"report written to {report.html_path}")
    return MaterializeResult(
        metadata={
            "report": MetadataValue.url(report.html_path.as_uri()),
            "path": MetadataValue.path(str(report.html_path)),
            "opt_outs": headline["opt_outs"],
            "opt_out_rate": headline["opt_out_rate"],
            "rate_change_vs_previous_period": headline["rate_change"],
            "top_campaign": headline["top_campaign_id"] or "none",
            "lagged_share": headline["lagged_share"],
            "trend": MetadataValue.md(report.trend_markdown()),
        }
    )
