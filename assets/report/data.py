"""Everything the report shows, read from the marts for one date range (and the one before)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from assets.marts_builds import MartsNotReadyError, checked_export_days


@dataclass
class ReportData:
    start: dt.date
    end: dt.date
    daily: pl.DataFrame  # mart_opt_out_daily rows of the range
    facts: pl.DataFrame  # fct_opt_outs rows of the range
    pressure: pl.DataFrame  # opt-outs per bucket in the range
    baseline: pl.DataFrame  # summed opted-in users per bucket in the range
    campaigns: pl.DataFrame  # mart_campaign_opt_outs (whole history: reach and rate)
    retain_churn: pl.DataFrame
    last_events: pl.DataFrame
    previous_daily: pl.DataFrame  # mart_opt_out_daily of the previous period of the same length

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _in_range(frame: pl.DataFrame, column: str, start: dt.date, end: dt.date) -> pl.DataFrame:
    return frame.filter(pl.col(column).is_between(start, end))


def read_report_data(warehouse: Path, start: dt.date, end: dt.date, built_by: str) -> ReportData:
    """The report's data, all read in one connection from the build `built_by` of the marts."""
    length = (end - start).days + 1
    previous_start, previous_end = start - dt.timedelta(days=length), start - dt.timedelta(days=1)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        # no writer can change the marts while this connection is open: check them once, here
        if checked_export_days(connection)[2] != built_by:
            raise MartsNotReadyError("the marts were rebuilt while the report was being made: try again")

        def table(name: str) -> pl.DataFrame:
            return connection.table(f"marts.{name}").pl()

        daily_all = table("mart_opt_out_daily")
        facts = _in_range(table("fct_opt_outs"), "opt_out_date", start, end)
        pressure = _in_range(table("mart_pre_opt_out_pressure"), "opt_out_date", start, end)
        baseline = _in_range(table("mart_pressure_baseline"), "date", start, end)
        campaigns = table("mart_campaign_opt_outs")
        retain_churn = _in_range(table("mart_retain_churn"), "opt_out_date", start, end)
        # the detail, so users are counted once over the whole range
        last_events = _in_range(table("fct_opt_out_last_events"), "opt_out_date", start, end)
    return ReportData(
        start=start,
        end=end,
        daily=_in_range(daily_all, "date", start, end).sort("date", "platform"),
        facts=facts,
        pressure=pressure.group_by("bucket", "bucket_order")
        .agg(pl.col("opt_outs").sum())
        .sort("bucket_order"),
        baseline=baseline.group_by("bucket", "bucket_order")
        .agg(pl.col("opted_in_users").sum())
        .sort("bucket_order"),
        campaigns=campaigns,
        retain_churn=retain_churn.group_by("lookback_days", "status")
        .agg(pl.col("opt_outs").sum())
        .sort("lookback_days", "status"),
        last_events=last_events.group_by("lookback_days", "event_name")
        .agg(
            pl.col("event_count").sum().alias("total_events"),
            pl.col("user_id").n_unique().alias("unique_users"),
        )
        .sort("lookback_days", "total_events", descending=[False, True]),
        previous_daily=_in_range(daily_all, "date", previous_start, previous_end),
    )
