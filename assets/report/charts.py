"""Vega-Lite charts (Altair) of the report, rendered to SVG and PNG by vl-convert (no browser).

Colours, series names, date format and titles come from look.py, which the Superset
dashboards read too. Text from the data (campaign ids, event names) is drawn with its
control characters escaped (assets/shown_text.py): vl-convert cannot lay out an SVG text
holding one, and would abort the process. Days are UTC days wherever they are shown (axes
and tooltips), whatever the time zone of the machine that draws them.
"""

from __future__ import annotations

import altair as alt
import polars as pl
import vl_convert

from assets.report import look
from assets.report.look import Series
from assets.shown_text import escape_controls

WIDTH = 640


def _values(frame: pl.DataFrame) -> list[dict]:
    """The rows a chart draws: dates as ISO days, text with its control characters escaped."""
    return frame.with_columns(
        pl.col(pl.Date).cast(pl.String),
        pl.col(pl.String).map_elements(escape_controls, return_dtype=pl.String),
    ).to_dicts()


def _labels(values: list) -> list:
    """A sort order of text values, as _values draws them."""
    return [escape_controls(value) if isinstance(value, str) else value for value in values]


def _series_color(series: list[Series], title: str | None = None) -> alt.Color:
    """A colour encoding of the field `series` whose values are these series' labels."""
    return alt.Color(
        "series:N",
        title=title,
        legend=alt.Legend(labelLimit=320),
        scale=alt.Scale(domain=[s.label for s in series], range=[s.color for s in series]),
        sort=[s.label for s in series],
    )


def _day_axis(field: str, title: str = look.DAY_AXIS) -> alt.X:
    # UTC days, labelled as the dashboards label them
    return alt.X(field, title=title, scale=alt.Scale(type="utc"), axis=alt.Axis(format=look.DATE_FORMAT))


def _day_tooltip(field: str, title: str = look.DAY_AXIS) -> alt.Tooltip:
    # a temporal tooltip formats in local time unless its time unit is a UTC one
    return alt.Tooltip(f"utcyearmonthdate({field}):T", title=title, format=look.DATE_FORMAT)


def _long(frame: pl.DataFrame, index: list[str], columns: dict[str, Series], value: str) -> pl.DataFrame:
    """One row per (index, series): the columns' values under the series' labels."""
    return frame.unpivot(
        index=index, on=list(columns), variable_name="series", value_name=value
    ).with_columns(pl.col("series").replace({column: series.label for column, series in columns.items()}))


def trend_chart(trend: pl.DataFrame, rates: pl.DataFrame) -> alt.VConcatChart:
    """Detected and re-spread opt-outs per day; the rate per platform on the days it is charted."""
    counts_long = _long(
        trend,
        ["date"],
        {"opt_outs_detected": look.DETECTED, "opt_outs_estimated": look.ESTIMATED},
        "opt_outs",
    )
    base = alt.Chart(alt.Data(values=_values(counts_long))).encode(
        x=_day_axis("date:T"),
        color=_series_color([look.DETECTED, look.ESTIMATED]),
        tooltip=[_day_tooltip("date"), "series:N", "opt_outs:Q"],
    )
    y = alt.Y("opt_outs:Q", title=look.TREND.y)
    detected = (
        base.transform_filter(alt.datum.series == look.DETECTED.label).mark_bar(opacity=0.45).encode(y=y)
    )
    estimated = (
        base.transform_filter(alt.datum.series == look.ESTIMATED.label).mark_line(strokeWidth=2.5).encode(y=y)
    )
    counts = (detected + estimated).properties(width=WIDTH, height=220, title=look.TREND.title)
    # only the rates the reporting view charts (a base of at least min_opted_in_base users)
    charted = rates.filter(pl.col("is_charted"))
    platforms = [p for p in look.PLATFORM_COLORS if p in set(charted["platform"].to_list())]
    rate = (
        alt.Chart(alt.Data(values=_values(charted.select("date", "platform", "opt_out_rate"))))
        .mark_line(point=True)
        .encode(
            x=_day_axis("date:T"),
            y=alt.Y("opt_out_rate:Q", title=look.RATE.y, axis=alt.Axis(format=look.RATE_FORMAT)),
            color=alt.Color(
                "platform:N",
                scale=alt.Scale(domain=platforms, range=[look.PLATFORM_COLORS[p] for p in platforms]),
            ),
        )
        .properties(width=WIDTH, height=160, title=look.RATE.title)
    )
    # each part has its own legend: the series above, the platforms below
    return alt.vconcat(counts, rate).resolve_scale(color="independent")


def pressure_chart(pressure: pl.DataFrame) -> alt.HConcatChart:
    long = _long(
        pressure,
        ["bucket", "bucket_order"],
        {"opt_out_share": look.OPTED_OUT, "stayer_share": look.STAYED},
        "share",
    )
    order = _labels(pressure.sort("bucket_order")["bucket"].to_list())
    shares = (
        alt.Chart(alt.Data(values=_values(long)))
        .mark_bar()
        .encode(
            x=alt.X("bucket:N", sort=order, title=look.PRESSURE.x),
            xOffset=alt.XOffset("series:N", sort=[look.OPTED_OUT.label, look.STAYED.label]),
            y=alt.Y("share:Q", axis=alt.Axis(format=look.SHARE_FORMAT), title=look.PRESSURE.y),
            color=_series_color([look.OPTED_OUT, look.STAYED]),
        )
        .properties(width=380, height=220, title=look.PRESSURE.title)
    )
    risk = (
        alt.Chart(alt.Data(values=_values(pressure.filter(pl.col("daily_risk").is_not_null()))))
        .mark_line(point=True, color=look.DAILY_RISK.color)
        .encode(
            x=alt.X("bucket:N", sort=order, title=look.RISK.x),
            y=alt.Y("daily_risk:Q", axis=alt.Axis(format=look.RATE_FORMAT), title=look.RISK.y),
        )
        .properties(width=220, height=220, title=look.RISK.title)
    )
    return alt.hconcat(shares, risk)


def campaign_chart(campaigns: pl.DataFrame) -> alt.Chart:
    long = _long(
        campaigns,
        ["campaign_id"],
        {"attributed_opt_outs_in_range": look.ATTRIBUTED, "revealed_opt_outs_in_range": look.REVEALED},
        "opt_outs",
    )
    order = _labels(campaigns["campaign_id"].to_list())
    return (
        alt.Chart(alt.Data(values=_values(long)))
        .mark_bar()
        .encode(
            y=alt.Y("campaign_id:N", sort=order, title=look.CAMPAIGNS.y),
            x=alt.X("opt_outs:Q", title=look.CAMPAIGNS.x),
            yOffset=alt.YOffset("series:N", sort=[look.ATTRIBUTED.label, look.REVEALED.label]),
            color=_series_color([look.ATTRIBUTED, look.REVEALED]),
        )
        .properties(width=WIDTH - 120, height=max(120, 34 * len(order)), title=look.CAMPAIGNS.title)
    )


def send_days_chart(send_days: pl.DataFrame) -> alt.Chart:
    """Attributed and revealed opt-outs by the day of the send they are attributed to or found by."""
    long = _long(
        send_days,
        ["send_date"],
        {"attributed_opt_outs": look.ATTRIBUTED, "revealed_opt_outs": look.REVEALED},
        "opt_outs",
    )
    return (
        alt.Chart(alt.Data(values=_values(long)))
        .mark_bar()
        .encode(
            # ISO dates as ordinal labels: look.DATE_FORMAT, one band per day
            x=alt.X("send_date:O", title=look.SEND_DAYS.x, axis=alt.Axis(labelAngle=-45)),
            xOffset=alt.XOffset("series:N", sort=[look.ATTRIBUTED.label, look.REVEALED.label]),
            y=alt.Y("opt_outs:Q", title=look.SEND_DAYS.y),
            color=_series_color([look.ATTRIBUTED, look.REVEALED]),
            tooltip=["send_date:O", "series:N", "opt_outs:Q"],
        )
        .properties(width=WIDTH, height=220, title=look.SEND_DAYS.title)
    )


def retain_churn_chart(retain_churn: pl.DataFrame) -> alt.Chart:
    return (
        alt.Chart(alt.Data(values=_values(retain_churn)))
        .mark_bar()
        .encode(
            x=alt.X("lookback_days:O", title=look.RETAIN_CHURN.x),
            y=alt.Y("opt_outs:Q", title=look.RETAIN_CHURN.y),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(
                    domain=[s.label for s in look.STATUSES], range=[s.color for s in look.STATUSES]
                ),
            ),
        )
        .properties(width=260, height=220, title=look.RETAIN_CHURN.title)
    )


def last_events_chart(last_events: pl.DataFrame) -> alt.Chart:
    long = _long(
        last_events,
        ["lookback_days", "event_name"],
        {"total_events": look.TOTAL_EVENTS, "unique_users": look.UNIQUE_USERS},
        "count",
    )
    return (
        alt.Chart(alt.Data(values=_values(long)), title=look.LAST_EVENTS.title)
        .mark_bar()
        .encode(
            y=alt.Y("event_name:N", title=None),
            x=alt.X("count:Q", title=None),
            yOffset="series:N",
            color=_series_color([look.TOTAL_EVENTS, look.UNIQUE_USERS]),
            column=alt.Column("lookback_days:O", title=look.LAST_EVENTS.x),
        )
        .properties(width=170, height=200)
    )


def render(chart: alt.TopLevelMixin) -> tuple[str, bytes]:
    """(SVG text, PNG bytes) of a chart."""
    spec = chart.to_dict()
    return vl_convert.vegalite_to_svg(spec), vl_convert.vegalite_to_png(spec, scale=1.5)
