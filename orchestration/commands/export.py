"""`optout export`: the opted-out user file of a preset or a range, from the shell."""

from __future__ import annotations

import argparse

import duckdb

from assets.exports.opted_out_users import covered_export_days, write_export
from assets.exports.ranges import ExportRangeError, between_range, preset_range
from orchestration.commands.common import CliError, progress, settings


def export_command(args: argparse.Namespace) -> None:
    config = settings()
    try:
        if args.preset:
            logical_date = args.date or _latest_ingested_day(config.warehouse)
            export_range = preset_range(args.preset, logical_date)
        else:
            export_range = between_range(args.start, args.end)
        result = write_export(config.warehouse, config.export_dir, export_range)
    except (ExportRangeError, duckdb.Error) as exc:
        raise CliError(str(exc).splitlines()[0]) from exc
    progress(
        f"{result.row_count} opted-out users for {export_range.start} .. {export_range.end} "
        f"-> {result.csv_path} (manifest {result.manifest_path.name}, sha256 {result.sha256[:12]}…)"
    )


def _latest_ingested_day(warehouse):
    if not warehouse.exists():
        raise CliError(f"no warehouse at {warehouse}: run the pipeline first")
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        _, last_day = covered_export_days(connection)
    if last_day is None:
        raise CliError("no export day has been ingested yet: run the pipeline first")
    return last_day
