"""Jobs: everything for a range of export days (the UI's backfills, `optout run`, schedules)."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from orchestration.export_assets import BETWEEN_KEY
from orchestration.partitions import export_days

EVERYTHING_JOB = "optout_everything"
# every run touching the warehouse carries this tag; the instance allows one at a time
WAREHOUSE_TAG = {"optout/warehouse": "duckdb"}

everything_job = define_asset_job(
    EVERYTHING_JOB,
    # the "dates between" export is asked for explicitly, never by the daily runs
    selection=AssetSelection.all() - AssetSelection.assets(BETWEEN_KEY),
    partitions_def=export_days,
    tags=WAREHOUSE_TAG,
    description=(
        "Ingest the export days, rebuild the marts they affect (dbt build, tests as checks), "
        "write the rolling opted-out user files and the report, publish the serving copy for BI tools."
    ),
)


def partition_range_tags(start: str, end: str) -> dict[str, str]:
    """Run tags that make one run cover the export days [start, end] (single-run backfill)."""
    return {
        "dagster/asset_partition_range_start": start,
        "dagster/asset_partition_range_end": end,
    }
