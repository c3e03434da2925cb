"""Every number the report, the run summary and the UI show, read for one date range.

Each is defined once, in SQL: the dbt views of `reporting` (dbt_project/models/reporting)
compute them over the marts for the range this session sets (the variables
optout_range_start / optout_range_end, macros/metrics.sql). Python only reads them and
keeps the rows it shows (the top ranks); it computes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from assets.alerts.read import Alerts, read_alerts
from assets.marts_builds import MartsNotReadyError, checked_export_days

SCHEMA = "reporting"
# the campaigns a report and a dashboard show: the range's ranks 1 .. TOP_CAMPAIGNS (rpt_campaigns)
TOP_CAMPAIGNS = 10
SET_START = "set variable optout_range_start = cast(? as date)"
SET_END = "set variable optout_range_end = cast(? as date)"


@dataclass(frozen=True)
class RangeNumbers:
    start: dt.date
    end: dt.date
    headlines: dict  # rpt_headlines: opt_outs, opt_out_rate, rate_change, top_campaign_id, ...
    trend: pl.DataFrame  # per day, all platforms
    rate_by_platform: pl.DataFrame  # with is_charted: the rates the rate chart draws
    rate_left_out: pl.DataFrame  # per platform, the days whose rate is not drawn (too small a base)
    send_days: pl.DataFrame  # attributed and revealed opt-outs by the day of the send
    pressure: pl.DataFrame  # per bucket, by bucket_order
    campaigns: pl.DataFrame  # the top campaigns of the range, by rank
    retain_churn: pl.DataFrame
    last_events: pl.DataFrame  # the most frequent events of each lookback
    alerts: Alerts  # the early warnings of the range (alert marts)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def set_range(connection: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> None:
    """From now on this connection's reporting views cover [start, end]."""
    connection.execute(SET_START, [start])
    connection.execute(SET_END, [end])


def view(connection: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame:
    return connection.table(f"{SCHEMA}.{name}").pl()


def read_headlines(connection: duckdb.DuckDBPyConnection) -> dict:
    return view(connection, "rpt_headlines").to_dicts()[0]


def read_range(
    connection: duckdb.DuckDBPyConnection,
    start: dt.date,
    end: dt.date,
    campaigns: int = TOP_CAMPAIGNS,
    events_per_lookback: int = 8,
) -> RangeNumbers:
    set_range(connection, start, end)
    return RangeNumbers(
        start=start,
        end=end,
        headlines=read_headlines(connection),
        trend=view(connection, "rpt_trend").sort("date"),
        rate_by_platform=view(connection, "rpt_rate_by_platform").sort("date", "platform"),
        rate_left_out=view(connection, "rpt_rate_left_out").sort("platform"),
        send_days=view(connection, "rpt_send_days").sort("send_date"),
        pressure=view(connection, "rpt_pressure").sort("bucket_order"),
        campaigns=read_top_campaigns(connection, campaigns),
        retain_churn=view(connection, "rpt_retain_churn").sort("lookback_days", "status"),
        last_events=view(connection, "rpt_last_events")
        .filter(pl.col("event_rank") <= events_per_lookback)
        .sort("lookback_days", "event_rank"),
        alerts=read_alerts(connection, start, end),
    )


def read_top_campaigns(connection: duckdb.DuckDBPyConnection, limit: int) -> pl.DataFrame:
    """The top campaigns of the range set last (set_range), by rank."""
    return view(connection, "rpt_campaigns").filter(pl.col("campaign_rank") <= limit).sort("campaign_rank")


def read_ingestion(connection: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> pl.DataFrame:
    """Per raw table over the export days [start, end]: days and record counts."""
    set_range(connection, start, end)
    return view(connection, "rpt_ingestion").sort("table_name")


def read_checked_range(warehouse: Path, start: dt.date, end: dt.date, built_by: str) -> RangeNumbers:
    """read_range from the marts of the build `built_by`, all in one read-only connection."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        # no writer can change the marts while this connection is open: check them once, here
        if checked_export_days(connection)[2] != built_by:
            raise MartsNotReadyError("the marts were rebuilt while the report was being made: try again")
        return read_range(connection, start, end)
