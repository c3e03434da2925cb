"""The report's numbers: headlines and the tables behind each chart (plain data, no drawing)."""

from __future__ import annotations

import polars as pl

from assets.report.data import ReportData


def period_rate(daily: pl.DataFrame) -> float | None:
    """Detected opt-outs per opted-in user-day over a period (the daily risk, averaged)."""
    base = daily["opted_in_base"].sum() if daily.height else 0
    return daily["opt_outs_detected"].sum() / base if base else None


def headlines(data: ReportData) -> dict:
    opt_outs = data.facts.height
    rate = period_rate(data.daily)
    previous_rate = period_rate(data.previous_daily) if data.previous_daily.height else None
    change = (rate - previous_rate) / previous_rate if rate is not None and previous_rate else None
    top = top_campaigns(data, limit=1)
    return {
        "opt_outs": opt_outs,
        "opt_out_rate": rate,
        "previous_opt_out_rate": previous_rate,
        "rate_change": change,
        "lagged_share": float(data.facts["is_lagged"].mean()) if opt_outs else None,
        "top_campaign_id": top["campaign_id"][0] if top.height else None,
        "top_campaign_opt_outs": int(top["attributed_opt_outs_in_range"][0]) if top.height else 0,
    }


def trend(data: ReportData) -> pl.DataFrame:
    """Per day (all platforms): detected and estimated opt-outs, opted-in base, rate."""
    return (
        data.daily.group_by("date")
        .agg(
            pl.col("opt_outs_detected").sum(),
            pl.col("opt_outs_estimated").sum(),
            pl.col("opted_in_base").sum(),
        )
        .with_columns(
            pl.when(pl.col("opted_in_base") > 0)
            .then(pl.col("opt_outs_detected") / pl.col("opted_in_base"))
            .alias("opt_out_rate")
        )
        .sort("date")
    )


def rate_by_platform(data: ReportData) -> pl.DataFrame:
    return data.daily.select("date", "platform", "opt_out_rate").filter(pl.col("opt_out_rate").is_not_null())


def pressure(data: ReportData) -> pl.DataFrame:
    """Opt-outs and stayers per bucket, each as a share of its group, and the daily risk."""
    joined = data.baseline.join(
        data.pressure, on=["bucket", "bucket_order"], how="full", coalesce=True
    ).fill_null(0)
    total_out, total_in = joined["opt_outs"].sum(), joined["opted_in_users"].sum()
    return joined.with_columns(
        (pl.col("opt_outs") / max(total_out, 1)).alias("opt_out_share"),
        (pl.col("opted_in_users") / max(total_in, 1)).alias("stayer_share"),
        pl.when(pl.col("opted_in_users") > 0)
        .then(pl.col("opt_outs") / pl.col("opted_in_users"))
        .alias("daily_risk"),
    ).sort("bucket_order")


def top_campaigns(data: ReportData, limit: int = 10) -> pl.DataFrame:
    """Campaigns by opt-outs attributed to them in the range; reach and all-time rate beside."""
    in_range = (
        data.facts.filter(pl.col("last_received_campaign_id").is_not_null())
        .group_by("last_received_campaign_id")
        .agg(pl.len().alias("attributed_opt_outs_in_range"))
        .rename({"last_received_campaign_id": "campaign_id"})
    )
    revealed = (
        data.facts.filter(pl.col("revealing_campaign_id").is_not_null())
        .group_by("revealing_campaign_id")
        .agg(pl.len().alias("revealed_opt_outs_in_range"))
        .rename({"revealing_campaign_id": "campaign_id"})
    )
    return (
        in_range.join(revealed, on="campaign_id", how="full", coalesce=True)
        .fill_null(0)
        .join(
            data.campaigns.select(
                "campaign_id", "campaign_name", "channel", "recipients", "attributed_opt_out_rate"
            ),
            on="campaign_id",
            how="left",
        )
        .sort(["attributed_opt_outs_in_range", "campaign_id"], descending=[True, False])
        .head(limit)
    )


def retain_churn(data: ReportData) -> pl.DataFrame:
    return data.retain_churn


def last_events(data: ReportData, limit_per_lookback: int = 8) -> pl.DataFrame:
    return data.last_events.group_by("lookback_days", maintain_order=True).head(limit_per_lookback)
