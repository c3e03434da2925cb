"""How old the data people see is: the newest export day of the published serving copy.

Read from the current serving snapshot (layout.py), never from the warehouse: the snapshot
is what BI tools and reports show, and it can always be opened read-only, even while a run
writes the warehouse. An export day's data is complete when the day ends, so its age is
counted from the end of the day (the next 00:00 UTC).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb

from assets.serving.layout import DATABASE_FILE, current_snapshot

NEWEST_DAY_SQL = "select max(date) from marts.mart_opt_out_daily"


@dataclass(frozen=True)
class Freshness:
    newest_day: dt.date | None  # None: no serving snapshot yet, or it holds no day
    age_hours: float | None  # since the end of newest_day
    max_hours: float
    snapshot: Path | None

    @property
    def stale(self) -> bool:
        """Not fresh: too old, or nothing was ever published (no marts reach anyone)."""
        return self.age_hours is None or self.age_hours > self.max_hours

    def in_words(self) -> str:
        if self.snapshot is None:
            return "no serving snapshot yet: the marts have never been built"
        if self.newest_day is None:
            return "the serving snapshot holds no export day (marts.mart_opt_out_daily is empty)"
        verdict = "older than" if self.stale else "within"
        return (
            f"newest export day {self.newest_day} ended {self.age_hours:.1f} hours ago, "
            f"{verdict} the limit of {self.max_hours:g} hours (OPTOUT_MAX_STALENESS_HOURS)"
        )


def day_age_hours(day: dt.date, now: dt.datetime) -> float:
    """Hours since `day` ended (00:00 UTC of the next day); 0 while it has not."""
    ended = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
    return max(0.0, (now - ended).total_seconds() / 3600)


def newest_export_day(database: Path) -> dt.date | None:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(NEWEST_DAY_SQL).fetchone()[0]


def serving_freshness(serving_dir: Path, max_hours: float, now: dt.datetime) -> Freshness:
    snapshot = current_snapshot(serving_dir)
    if snapshot is None:
        return Freshness(None, None, max_hours, None)
    day = newest_export_day(snapshot / DATABASE_FILE)
    age = day_age_hours(day, now) if day is not None else None
    return Freshness(day, age, max_hours, snapshot)
