"""`optout export`: the opted-out user file of a preset or a range, from the shell."""

from __future__ import annotations

import argparse

import duckdb

from assets.exports.opted_out_users import write_export
from assets.exports.ranges import ExportRange, ExportRangeError, between_range, preset_range
from assets.marts_builds import read_checked_export_days
from orchestration.commands.common import CliError, check_first_day, progress, settings


def export_command(args: argparse.Namespace) -> None:
    config = settings()
    try:
        export_range = requested_range(args, config)
        result = write_export(config.warehouse, config.export_dir, export_range)
    except (ExportRangeError, duckdb.Error) as exc:
        raise CliError(str(exc).splitlines()[0]) from exc
    progress(
        f"{result.row_count} opted-out users for {export_range.start} .. {export_range.end} "
        f"-> {result.csv_path} (manifest {result.manifest_path.name}, sha256 {result.sha256[:12]}…)"
    )


def requested_range(args: argparse.Namespace, config) -> ExportRange:
    """The range of `--preset [--date]` (default date: the last day of the checked marts) or `--start/--end`."""
    if args.preset:
        logical_date = args.date or read_checked_export_days(config.warehouse)[1]
        check_first_day(logical_date, config, "--date is")  # before date arithmetic near year 1
        export_range = preset_range(args.preset, logical_date)
    else:
        export_range = between_range(args.start, args.end)
    check_first_day(export_range.start, config, "the range starts")
    return export_range
