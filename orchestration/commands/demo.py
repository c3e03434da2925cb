"""`optout demo`: sample exports if none have landed, then everything, then where it all is."""

from __future__ import annotations

import argparse
import datetime as dt

from orchestration.commands.common import progress, settings
from orchestration.commands.generate import generate_command
from orchestration.commands.run import landed_days, run_command

SAMPLE = {"start": dt.date(2026, 1, 1), "days": 60, "users": 5000, "seed": 42}


def demo_command(args: argparse.Namespace) -> None:
    config = settings()
    if not landed_days(config):
        progress(f"{config.landing_dir} is empty: generating the sample exports first")
        # in the landing folder's format (OPTOUT_SOURCE): a vendor's layout, or the contract's
        sample = argparse.Namespace(
            out=None, plant=None, no_bad_campaigns=False, format=config.source, **SAMPLE
        )
        generate_command(sample)
    else:
        progress(f"using the exports already in {config.landing_dir}")
    run_command(
        argparse.Namespace(start=None, end=None, wait=None, full_refresh=False, undelivered_as_zero=False)
    )
