"""Jobs: everything for a range of export days (the UI's backfills, `optout run`, schedules)."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from orchestration.partitions import export_days

EVERYTHING_JOB = "optout_everything"

everything_job = define_asset_job(
    EVERYTHING_JOB,
    selection=AssetSelection.all(),
    partitions_def=export_days,
    description="Ingest the export days, rebuild the marts they affect, write the exports.",
)


def partition_range_tags(start: str, end: str) -> dict[str, str]:
    """Run tags that make one run cover the export days [start, end] (single-run backfill)."""
    return {
        "dagster/asset_partition_range_start": start,
        "dagster/asset_partition_range_end": end,
    }
