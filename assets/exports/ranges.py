"""Date ranges of the opted-out user export: presets relative to a logical date, validation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

PRESET_DAYS = {"last_week": 7, "last_month": 30, "last_year": 365}


class ExportRangeError(ValueError):
    """A range that is malformed, reversed or outside the ingested export days."""


@dataclass(frozen=True)
class ExportRange:
    start: dt.date
    end: dt.date
    preset: str | None = None

    @property
    def file_stem(self) -> str:
        return f"{self.start.isoformat()}_{self.end.isoformat()}"


def preset_range(preset: str, logical_date: dt.date) -> ExportRange:
    """`last_week` = [D-6, D], `last_month` = [D-29, D], `last_year` = [D-364, D]."""
    if preset not in PRESET_DAYS:
        raise ExportRangeError(f"unknown preset {preset!r} (choose from {', '.join(PRESET_DAYS)})")
    days = PRESET_DAYS[preset]
    return ExportRange(logical_date - dt.timedelta(days=days - 1), logical_date, preset)


def between_range(start: dt.date, end: dt.date) -> ExportRange:
    if start > end:
        raise ExportRangeError(f"the range is reversed: start {start} is after end {end}")
    return ExportRange(start, end)


def check_covered(export_range: ExportRange, first_day: dt.date | None, last_day: dt.date | None) -> None:
    """The range must end on a day the checked marts hold, and overlap their days."""
    if first_day is None or last_day is None:
        raise ExportRangeError("no export day has been ingested yet: run `optout run` first")
    if export_range.end > last_day:
        raise ExportRangeError(
            f"the range ends {export_range.end}, after the last export day of the checked marts "
            f"{last_day} (a run over the later days builds them)"
        )
    if export_range.end < first_day:
        raise ExportRangeError(
            f"the range ends {export_range.end}, before the first export day of the checked marts {first_day}"
        )
