"""Partition range -> dbt vars: the one place the incremental horizon gets its input."""

from __future__ import annotations

import datetime as dt


def dbt_vars_for_days(first_day: dt.date, last_day: dt.date) -> dict[str, str]:
    """Vars of a dbt build after the export days [first_day, last_day] were (re)ingested.

    `start_date` is the earliest day whose records changed: the models rebuild what records
    of that day (and later) can affect, and keep everything before.
    """
    if first_day > last_day:
        raise ValueError(f"first day {first_day} is after last day {last_day}")
    return {"start_date": first_day.isoformat()}
