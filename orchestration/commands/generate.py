"""`optout generate`."""

from __future__ import annotations

import argparse
import datetime as dt

from assets.config import resolve_path
from assets.generator.run import generate
from assets.generator.simulate import RANDOM_BAD_SHARE, default_plants
from orchestration.commands.common import CliError, progress, settings


def generate_command(args: argparse.Namespace) -> None:
    out = resolve_path(args.out) if args.out else settings().landing_dir
    last_day = args.start + dt.timedelta(days=args.days - 1)
    progress(f"generating export days {args.start} .. {last_day} for {args.users} users into {out}")
    try:
        summary = generate(
            out,
            args.start,
            args.days,
            args.users,
            args.seed,
            progress,
            planted=_plants(args),
            random_bad_share=0.0 if args.no_bad_campaigns else RANDOM_BAD_SHARE,
            fmt=getattr(args, "format", "optout"),
        )
    except OSError as exc:  # the folder the user named: not writable, full, a file
        raise CliError(f"cannot write the exports into {out}: {exc.strerror or exc}") from exc
    per_table = ", ".join(f"{kind} {count}" for kind, count in summary.records.items())
    progress(
        f"done in {summary.seconds:.1f}s: {summary.total_records} records ({per_table}) in {out}, "
        f"{summary.records_per_second:,.0f} records/s"
    )


def _plants(args: argparse.Namespace) -> tuple:
    """--plant replaces the default bad campaign; --no-bad-campaigns leaves it out too."""
    if args.plant:
        return tuple(args.plant)
    return () if args.no_bad_campaigns else default_plants(args.days)
