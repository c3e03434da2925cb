"""Dagster assets writing the opted-out user files.

- `exports/opted_out_users_rolling`: part of every daily run; writes the `last_week`,
  `last_month` and `last_year` files for the run's logical date (its last export day), and
  the file of the run's report range (the report links it).
- `exports/opted_out_users_between`: "dates between" from the UI: select a range of daily
  partitions and launch one backfill; it runs as a single run and writes one file for the
  whole range.
"""

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

from assets.exports.opted_out_users import ExportResult, write_export
from assets.exports.ranges import PRESET_DAYS, between_range, preset_range
from assets.marts_builds import read_checked_export_days
from assets.report.build import report_range
from orchestration.partitions import partition_days
from orchestration.resources import OptoutPaths

UPSTREAM = [AssetKey(["marts", "fct_opt_outs"]), AssetKey(["audit", "ingestion_log"])]
ROLLING_KEY = AssetKey(["exports", "opted_out_users_rolling"])
BETWEEN_KEY = AssetKey(["exports", "opted_out_users_between"])


def _export_asset(partitions: PartitionsDefinition) -> dict:
    """What both export assets share: upstream, partitions, one run per range, UI facets."""
    return {
        "deps": UPSTREAM,
        "partitions_def": partitions,
        "backfill_policy": BackfillPolicy.single_run(),
        "group_name": "exports",
        "kinds": {"csv"},
        "owners": ["team:crm"],
    }


def export_metadata(result: ExportResult) -> dict:
    return {
        "path": MetadataValue.path(str(result.csv_path)),
        "manifest": MetadataValue.path(str(result.manifest_path)),
        "row_count": result.row_count,
        "sha256": result.sha256,
    }


def build_export_assets(partitions: PartitionsDefinition) -> list[AssetsDefinition]:
    """The rolling files of every daily run, and "dates between" for any range of days."""

    @asset(
        key=ROLLING_KEY,
        **_export_asset(partitions),
        description=(
            "Opted-out users of the last 7, 30 and 365 days up to the run's logical date "
            "(`last_week`, `last_month`, `last_year`), and of the range of the run's report "
            "(its days, at least the last 30), one CSV + manifest each, for follow-up through "
            "other channels."
        ),
    )
    def opted_out_users_rolling(context: AssetExecutionContext, paths: OptoutPaths) -> MaterializeResult:
        days = partition_days(context)
        logical_date = days[-1]
        metadata: dict = {"logical_date": logical_date.isoformat()}
        for preset in PRESET_DAYS:
            result = write_export(paths.warehouse_path, paths.exports, preset_range(preset, logical_date))
            context.log.info(f"{preset}: {result.row_count} users -> {result.csv_path}")
            metadata.update({f"{preset}_{key}": value for key, value in export_metadata(result).items()})
        # the range of the run's report, which links it (often last_month's file again)
        first_day = read_checked_export_days(paths.warehouse_path)[0]
        result = write_export(
            paths.warehouse_path, paths.exports, between_range(*report_range(days, first_day))
        )
        metadata.update({f"report_range_{key}": value for key, value in export_metadata(result).items()})
        return MaterializeResult(metadata=metadata)

    @asset(
        key=BETWEEN_KEY,
        **_export_asset(partitions),
        description=(
            "Opted-out users for any range of export days: select the days in the partition "
            "picker and launch one backfill; one CSV + manifest covers the whole range."
        ),
    )
    def opted_out_users_between(context: AssetExecutionContext, paths: OptoutPaths) -> MaterializeResult:
        days = partition_days(context)
        result = write_export(paths.warehouse_path, paths.exports, between_range(days[0], days[-1]))
        context.log.info(f"{days[0]} .. {days[-1]}: {result.row_count} users -> {result.csv_path}")
        return MaterializeResult(
            metadata={"start": days[0].isoformat(), "end": days[-1].isoformat(), **export_metadata(result)}
        )

    return [opted_out_users_rolling, opted_out_users_between]
