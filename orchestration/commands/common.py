"""What every `optout` command shares: its error type, progress lines, settings."""

from __future__ import annotations

import datetime as dt
import time

from assets.config import Settings, load_settings


class CliError(Exception):
    """A failure worth one line on stderr, not a stack trace."""


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def settings() -> Settings:
    return load_settings()


def check_first_day(day: dt.date, config: Settings, what: str = "the range starts") -> None:
    """docs/reference.md: a command asking for a day before OPTOUT_FIRST_DAY fails, naming the variable."""
    first_day = config.partitions_start
    if day < first_day:
        origin = "" if config.first_day else ", the first landed day"
        raise CliError(
            f"{what} {day}, before the first export day {first_day}{origin} (set OPTOUT_FIRST_DAY to cover it)"
        )
