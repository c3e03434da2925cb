"""How optout's charts look, defined once: the report (charts.py) and the Superset dashboards
(assets/bi/dashboards.py) take every colour, series name, date format and title from here,
so a platform or a series has one colour, and a chart one title and one pair of axis
titles, wherever it is shown. Plain values only (no charting library).
"""

from __future__ import annotations

from dataclasses import dataclass

from assets.platforms import REPORTED_PLATFORMS

# days on every time axis and in tooltips: d3-time-format, which Vega-Lite and Superset share
DATE_FORMAT = "%Y-%m-%d"
DAY_AXIS = "day (UTC)"
SEND_DAY_AXIS = "send day (UTC)"
PRESSURE_AXIS = "pushes received in the 7 days before (10: 10 or more)"
# d3-format strings (both tools)
RATE_FORMAT = ".2%"
SHARE_FORMAT = ".0%"
COUNT_FORMAT = ",d"

_PLATFORM_PALETTE = ["#4c78a8", "#54a24b", "#f58518", "#9d9d9d", "#b279a2", "#ff9da6", "#9c755f", "#eeca3b"]
# one colour per platform, in the order of the platform list (the last: unknown)
PLATFORM_COLORS: dict[str, str] = dict(zip(REPORTED_PLATFORMS, _PLATFORM_PALETTE, strict=False))


@dataclass(frozen=True)
class Series:
    """A named series: the label shown in legends (the report's and Superset's) and its colour."""

    label: str
    color: str


DETECTED = Series("detected", "#4c78a8")
ESTIMATED = Series("re-spread over the detection window", "#e45756")
ATTRIBUTED = Series("attributed (last delivery before)", "#e45756")
REVEALED = Series("revealed (found by its send)", "#bab0ac")
OPTED_OUT = Series("opted out", "#e45756")
STAYED = Series("stayed opted in", "#72b7b2")
DAILY_RISK = Series("daily opt-out risk", "#e45756")
RETAIN = Series("retain", "#54a24b")
PENDING = Series("pending", "#bab0ac")
CHURN = Series("churn", "#e45756")
TOTAL_EVENTS = Series("every event", "#4c78a8")
UNIQUE_USERS = Series("distinct users", "#f58518")
STATUSES = (RETAIN, PENDING, CHURN)
SERIES = (
    DETECTED,
    ESTIMATED,
    ATTRIBUTED,
    REVEALED,
    OPTED_OUT,
    STAYED,
    DAILY_RISK,
    *STATUSES,
    TOTAL_EVENTS,
    UNIQUE_USERS,
)


def label_colors() -> dict[str, str]:
    """Every series label and platform with its colour (Superset: a dashboard's label_colors)."""
    return {**{series.label: series.color for series in SERIES}, **PLATFORM_COLORS}


@dataclass(frozen=True)
class ChartText:
    """A chart's title and axis titles (None: the axis has no title)."""

    title: str
    x: str | None = None
    y: str | None = None


OPT_OUTS_TOTAL = ChartText("Opt-outs in the range")
TREND = ChartText(
    "Opt-outs per day: detected vs re-spread over their detection windows", DAY_AXIS, "opt-outs per day"
)
RATE = ChartText("Opt-out rate on the opted-in base, by platform", DAY_AXIS, "opt-out rate")
RATE_LEFT_OUT = ChartText("Left out of the rate chart: days with too small an opted-in base")
PRESSURE = ChartText(
    "Push pressure: users who opted out vs users who stayed", PRESSURE_AXIS, "share of the group"
)
RISK = ChartText("Opt-outs per opted-in user-day, by push pressure", PRESSURE_AXIS, "daily opt-out risk")
TOP_CAMPAIGNS = ChartText(
    "Top campaigns of the range (attributed opt-outs: last delivery before the opt-out)"
)
CAMPAIGNS = ChartText("Last campaigns before opt-out: attributed vs revealed", "opt-outs in the range")
SEND_DAYS = ChartText("Attributed vs revealed opt-outs by send day", SEND_DAY_AXIS, "opt-outs")
RETAIN_CHURN = ChartText("Retain vs churn after opting out", "days after the opt-out window", "opt-outs")
LAST_EVENTS = ChartText(
    "App events in the last x days before opt-out", "events in the last x days before opt-out"
)


def rate_left_out_note(rows: list[dict]) -> str | None:
    """The sentence under a rate chart naming the platforms it leaves out (rpt_rate_left_out rows)."""
    if not rows:
        return None
    minimum = rows[0]["min_opted_in_base"]
    parts = [
        f"{row['platform']} on {row['days_left_out']} day{'s' if row['days_left_out'] != 1 else ''} "
        f"({row['opt_outs_detected']} opt-out{'s' if row['opt_outs_detected'] != 1 else ''} "
        f"on {row['opted_in_user_days']} opted-in user-days, at most {row['largest_opted_in_base']} users a day)"
        for row in rows
    ]
    return (
        f"Not drawn: a day's rate on fewer than {minimum} opted-in users, too few for a rate to mean "
        f"anything: {'; '.join(parts)}."
    )
