"""Jobs: everything for a range of export days (the UI's backfills, `optout run`, schedules)."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job, in_process_executor

from orchestration.export_assets import BETWEEN_KEY
from orchestration.freshness import FRESHNESS_CHECK_KEY

EVERYTHING_JOB = "optout_everything"


def build_everything_job():
    """The job of every run (its partitions are its assets')."""
    return define_asset_job(
        EVERYTHING_JOB,
        # the "dates between" export is asked for explicitly, never by the daily runs; the
        # freshness check reads the serving copy, which a run publishes only at its end: a
        # sensor evaluates it, never a run
        selection=AssetSelection.all()
        - AssetSelection.assets(BETWEEN_KEY)
        - AssetSelection.checks(FRESHNESS_CHECK_KEY),
        # every step in the run's own process, as `optout run` executes it without a daemon:
        # the steps write one warehouse in turn anyway, a process per step would pay the
        # imports (dbt, Great Expectations) again each time, and pyspark (extra `spark`),
        # imported by Great Expectations, exits a step process whose __main__ has no file
        executor_def=in_process_executor,
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
