"""The alerts of a range of export days, read from the alert marts (every number is computed in dbt).

A day alert belongs to a range when its day does; a campaign alert when an opt-out inside
the range can be attributed to the campaign: delivered before the range ends, and
attributable (`attributable_until`, its last delivery + attribution_window_days) after it starts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from assets.shown_text import escape_controls

_RATE = """
select date, platform, opt_outs_estimated, opt_outs_detected, expected_opt_outs, ratio, p_value
from marts.mart_opt_out_rate_alerts
where is_alert and date between ? and ?
order by date, platform
"""
_CAMPAIGNS = """
select campaign_id, campaign_name, channel, sent_at, recipients, attributed_opt_outs,
       revealed_opt_outs, expected_opt_outs, ratio, p_value
from marts.mart_campaign_alerts
where is_alert and attributable_until > ? and first_delivered_at < ?
order by p_value, campaign_id
"""


@dataclass(frozen=True)
class Alerts:
    start: dt.date
    end: dt.date
    days: list[dict]  # date, platform, observed vs expected, ...
    campaigns: list[dict]

    def __bool__(self) -> bool:
        return bool(self.days or self.campaigns)

    def lines(self) -> list[str]:
        """One line per alert, in words (logs): campaigns first, they say what to review."""
        return self.campaign_lines() + self.day_lines()

    def day_lines(self) -> list[str]:
        return [
            f"{row['date']} {escape_controls(row['platform'])}: {row['opt_outs_estimated']:.1f} opt-outs "
            f"(re-spread) vs {row['expected_opt_outs']:.1f} expected, {row['p_shown']}"
            for row in self.days
        ]

    def campaign_lines(self) -> list[str]:
        """Text from the data with its control characters escaped (a terminal shows these lines)."""
        return [
            f"campaign {escape_controls(row['campaign_id'])} ({escape_controls(row['channel'])}, "
            f"{escape_controls(row['name_shown'])}): "
            f"{row['attributed_opt_outs']} attributed opt-outs vs {row['expected_opt_outs']:.1f} expected "
            f"among {row['recipients']} recipients, {row['p_shown']}"
            for row in self.campaigns
        ]


def read_alerts(connection: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> Alerts:
    # the marts' timestamps are UTC without a zone: so are these bounds (a bound with a zone
    # would compare in the session's time zone, the machine's, and move with it)
    range_start = dt.datetime.combine(start, dt.time())
    range_end = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    return Alerts(
        start,
        end,
        _rows(connection, _RATE, [start, end]),
        _rows(connection, _CAMPAIGNS, [range_start, range_end]),
    )


def shown_p(p_value: float) -> str:
    """A p-value for people: below what double precision resolves, say so rather than 0."""
    return "p < 1e-15" if p_value < 1e-15 else f"p = {p_value:.1e}"


def _rows(connection: duckdb.DuckDBPyConnection, sql: str, parameters: list) -> list[dict]:
    relation = connection.execute(sql, parameters)
    names = [column[0] for column in relation.description]
    rows = [dict(zip(names, row, strict=True)) for row in relation.fetchall()]
    return [{**row, **_shown(row)} for row in rows]


def _shown(row: dict) -> dict:
    """Display forms (keys ending in `_shown`) for the lines, messages and pages: the p-value in
    words, the campaign name on one line (names may hold newlines and runs of spaces)."""
    shown = {"p_shown": shown_p(row["p_value"])}
    if "campaign_name" in row:
        shown["name_shown"] = " ".join((row["campaign_name"] or "no name").split())
    return shown


def without_display_forms(row: dict) -> dict:
    """The row as the mart holds it (for files)."""
    return {key: value for key, value in row.items() if not key.endswith("_shown")}
