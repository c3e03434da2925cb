"""What every `optout` command shares: its error type, progress lines, settings."""

from __future__ import annotations

import datetime as dt
import time

from assets.config import FALLBACK_FIRST_DAY, Settings, load_settings


class CliError(Exception):
    """A failure worth one line on stderr, not a stack trace."""


def progress(message: str) -> None:
    # UTC, like every day and time the project shows, whatever the machine's time zone
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {message}", flush=True)


def settings() -> Settings:
    return load_settings()


def check_first_day(
    day: dt.date, config: Settings, what: str = "the range starts", partitions: bool = False
) -> None:
    """A command asking for a day before OPTOUT_FIRST_DAY fails, naming the variable (docs/reference.md).

    For a run (`partitions`), the first day is the first daily partition: OPTOUT_FIRST_DAY,
    or else the first landed day. Exports and reports read the marts only, so unset, their
    bound stays the fixed fallback: a preset may reach back before the first landed day.
    """
    first_day = config.partitions_start if partitions else (config.first_day or FALLBACK_FIRST_DAY)
    if day < first_day:
        origin = ", the first landed day" if partitions and config.first_day is None else ""
        raise CliError(
            f"{what} {day}, before the first export day {first_day}{origin} (set OPTOUT_FIRST_DAY to cover it)"
        )
