"""Dagster asset: the opt-out report of the run's period, shown in the UI with its headlines."""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from assets.marts_builds import read_checked_export_days
from assets.report.build import make_report, report_range
from orchestration.export_assets import ROLLING_KEY
from orchestration.partitions import partition_days
from orchestration.resources import OptoutPaths

REPORT_KEY = AssetKey(["reports", "opt_out_report"])
REPORTING_VIEWS = [
    "rpt_headlines",
    "rpt_trend",
    "rpt_rate_by_platform",
    "rpt_rate_left_out",
    "rpt_send_days",
    "rpt_pressure",
    "rpt_campaigns",
    "rpt_retain_churn",
    "rpt_last_events",
]


def build_report_asset(partitions: PartitionsDefinition) -> AssetsDefinition:
    @asset(
        key=REPORT_KEY,
        # every number it shows comes from the reporting views; it links the rolling export
        deps=[*(AssetKey(["reporting", view]) for view in REPORTING_VIEWS), ROLLING_KEY],
        partitions_def=partitions,
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
        # only days the marts were built for by a run whose checks passed (marts_builds.py)
        first_day = read_checked_export_days(paths.warehouse_path)[0]
        start, end = report_range(partition_days(context), first_day)
        report = make_report(paths.warehouse_path, paths.exports, start, end)
        headline = report.headlines
        if report.written:
            context.log.info(f"report written to {report.html_path}")
        else:
            context.log.info(
                f"report unchanged: {report.html_path} was drawn from the same numbers, link and code; kept"
            )
        return MaterializeResult(
            metadata={
                "written": report.written,
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

    return opt_out_report
