"""Export days nothing was delivered for: no table of the landing area has their folder.

Such a day is not a day of zero records: the delivery is missing (late, lost, or a range
asked for past the last delivery). Recorded as an empty lake day, it would become a day of
zero opt-outs in the marts and move everything counted from the last ingested day (the
presets, the rolling exports, the report's period before). So a run leaves it out unless
told to record it as a day of zero records (`optout run --undelivered-as-zero`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from assets.sources.layouts import layout_for


def delivered_days(landing_dir: Path) -> list[dt.date]:
    """Export days at least one table (or vendor file kind) has a folder for, oldest first."""
    return sorted({folder.day for folder in layout_for().landed(landing_dir)})


def undelivered_days(landing_dir: Path, days: Iterable[dt.date]) -> list[dt.date]:
    """The days of `days` no table delivered, in the order given."""
    delivered = set(delivered_days(landing_dir))
    return [day for day in days if day not in delivered]


def day_spans(days: list[dt.date]) -> str:
    """Days in a few words: `2026-03-01 .. 2026-05-31, 2026-06-04` (consecutive days as one span)."""
    spans: list[list[dt.date]] = []
    for day in sorted(set(days)):
        if spans and day - spans[-1][-1] == dt.timedelta(days=1):
            spans[-1][-1] = day
        else:
            spans.append([day, day])
    return ", ".join(str(first) if first == last else f"{first} .. {last}" for first, last in spans)
