"""What every `optout` command shares: its error type, progress lines, settings."""

from __future__ import annotations

import time

from assets.config import Settings


class CliError(Exception):
    """A failure worth one line on stderr, not a stack trace."""


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def settings() -> Settings:
    return Settings.from_env()
