"""The daily export-day partitions every partitioned asset shares."""

from __future__ import annotations

import datetime as dt

from dagster import AssetExecutionContext, DailyPartitionsDefinition


def export_days(first_day: dt.date) -> DailyPartitionsDefinition:
    """One partition per export day from `first_day` (Settings.partitions_start) to yesterday."""
    return DailyPartitionsDefinition(
        start_date=first_day.isoformat(),
        # the export day of today is still being delivered; partitions end with yesterday
        end_offset=0,
        timezone="UTC",
    )


def partition_days(context: AssetExecutionContext) -> list[dt.date]:
    """The export days of this run, oldest first (a single-run backfill may span many)."""
    return [dt.date.fromisoformat(key) for key in sorted(context.partition_keys)]
