"""Vega-Lite charts (Altair) of the report, rendered to SVG and PNG by vl-convert (no browser)."""

from __future__ import annotations

import altair as alt
import polars as pl
import vl_convert

from assets.platforms import REPORTED_PLATFORMS

WIDTH = 640
# one colour per platform, in the order of the platform list (the last: unknown)
PLATFORM_COLORS = alt.Scale(
    domain=list(REPORTED_PLATFORMS),
    range=["#4c78a8", "#54a24b", "#f58518", "#9d9d9d"][: len(REPORTED_PLATFORMS)],
)


def _values(frame: pl.DataFrame) -> list[dict]:
    return frame.with_columns(pl.col(pl.Date).cast(pl.String)).to_dicts()


def trend_chart(trend: pl.DataFrame, rates: pl.DataFrame) -> alt.VConcatChart:
    base = alt.Chart(alt.Data(values=_values(trend))).encode(x=alt.X("date:T", title=None))
    detected = base.mark_bar(opacity=0.45, color="#4c78a8").encode(
        y=alt.Y("opt_outs_detected:Q", title="opt-outs per day"),
        tooltip=["date:T", "opt_outs_detected:Q", "opt_outs_estimated:Q"],
    )
    estimated = base.mark_line(color="#e45756", strokeWidth=2.5).encode(y="opt_outs_estimated:Q")
    counts = (detected + estimated).properties(
        width=WIDTH,
        height=220,
        title="Detected opt-outs (bars) and estimated, re-spread over their detection windows (line)",
    )
    rate = (
        alt.Chart(alt.Data(values=_values(rates)))
        .mark_line(point=True)
        .encode(
            x=alt.X("date:T", title=None),
            y=alt.Y("opt_out_rate:Q", title="opt-out rate", axis=alt.Axis(format="%")),
            color=alt.Color("platform:N", scale=PLATFORM_COLORS),
        )
        .properties(width=WIDTH, height=160, title="Opt-out rate on the opted-in base, by platform")
    )
    return alt.vconcat(counts, rate)


def pressure_chart(pressure: pl.DataFrame) -> alt.HConcatChart:
    long = pressure.unpivot(
        index=["bucket", "bucket_order"],
        on=["opt_out_share", "stayer_share"],
        variable_name="group",
        value_name="share",
    ).with_columns(pl.col("group").replace({"opt_out_share": "opted out", "stayer_share": "stayed opted in"}))
    order = pressure.sort("bucket_order")["bucket"].to_list()
    shares = (
        alt.Chart(alt.Data(values=_values(long)))
        .mark_bar()
        .encode(
            x=alt.X("bucket:N", sort=order, title="pushes received in the 7 days before"),
            xOffset="group:N",
            y=alt.Y("share:Q", axis=alt.Axis(format="%"), title="share of the group"),
            color=alt.Color("group:N", scale=alt.Scale(range=["#e45756", "#72b7b2"])),
        )
        .properties(width=380, height=220, title="Push pressure: users who opted out vs users who stayed")
    )
    risk = (
        alt.Chart(alt.Data(values=_values(pressure.filter(pl.col("daily_risk").is_not_null()))))
        .mark_line(point=True, color="#e45756")
        .encode(
            x=alt.X("bucket:N", sort=order, title="pushes received in the 7 days before"),
            y=alt.Y("daily_risk:Q", axis=alt.Axis(format=".2%"), title="daily opt-out risk"),
        )
        .properties(width=220, height=220, title="Opt-outs per opted-in user-day")
    )
    return alt.hconcat(shares, risk)


def campaign_chart(campaigns: pl.DataFrame) -> alt.Chart:
    long = campaigns.unpivot(
        index=["campaign_id"],
        on=["attributed_opt_outs_in_range", "revealed_opt_outs_in_range"],
        variable_name="kind",
        value_name="opt_outs",
    ).with_columns(
        pl.col("kind").replace(
            {
                "attributed_opt_outs_in_range": "attributed (last delivery before)",
                "revealed_opt_outs_in_range": "revealed (found by its send)",
            }
        )
    )
    order = campaigns["campaign_id"].to_list()
    return (
        alt.Chart(alt.Data(values=_values(long)))
        .mark_bar()
        .encode(
            y=alt.Y("campaign_id:N", sort=order, title=None),
            x=alt.X("opt_outs:Q", title="opt-outs in the range"),
            yOffset="kind:N",
            color=alt.Color("kind:N", scale=alt.Scale(range=["#e45756", "#bab0ac"])),
        )
        .properties(
            width=WIDTH - 120, height=max(120, 34 * len(order)), title="Last campaigns before opt-out"
        )
    )


def retain_churn_chart(retain_churn: pl.DataFrame) -> alt.Chart:
    return (
        alt.Chart(alt.Data(values=_values(retain_churn)))
        .mark_bar()
        .encode(
            x=alt.X("lookback_days:O", title="days after the opt-out window"),
            y=alt.Y("opt_outs:Q", title="opt-outs"),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(
                    domain=["retain", "pending", "churn"], range=["#54a24b", "#bab0ac", "#e45756"]
                ),
            ),
        )
        .properties(width=260, height=220, title="Retain vs churn")
    )


def last_events_chart(last_events: pl.DataFrame) -> alt.Chart:
    long = last_events.unpivot(
        index=["lookback_days", "event_name"],
        on=["total_events", "unique_users"],
        variable_name="measure",
        value_name="count",
    )
    return (
        alt.Chart(alt.Data(values=_values(long)))
        .mark_bar()
        .encode(
            y=alt.Y("event_name:N", title=None),
            x=alt.X("count:Q", title=None),
            yOffset="measure:N",
            color=alt.Color("measure:N", scale=alt.Scale(range=["#4c78a8", "#f58518"])),
            column=alt.Column("lookback_days:O", title="events in the last x days before opt-out"),
        )
        .properties(width=170, height=200)
    )


def render(chart: alt.TopLevelMixin) -> tuple[str, bytes]:
    """(SVG text, PNG bytes) of a chart."""
    spec = chart.to_dict()
    return vl_convert.vegalite_to_svg(spec), vl_convert.vegalite_to_png(spec, scale=1.5)
