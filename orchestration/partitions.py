"""The daily export-day partitions every partitioned asset shares."""

from __future__ import annotations

from dagster import DailyPartitionsDefinition

from assets.config import Settings

export_days = DailyPartitionsDefinition(
    start_date=Settings.from_env().first_day.isoformat(),
    # the export day of today is still being delivered; partitions end with yesterday
    end_offset=0,
    timezone="UTC",
)
