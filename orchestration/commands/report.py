"""`optout report`: the opt-out report of a preset or a range, from the shell."""

from __future__ import annotations

import argparse

import duckdb

from assets.exports.ranges import ExportRangeError, preset_range
from assets.report.assets import make_report
from orchestration.commands.common import CliError, progress, settings
from orchestration.commands.export import _latest_ingested_day


def report_command(args: argparse.Namespace) -> None:
    config = settings()
    try:
        if args.preset:
            export_range = preset_range(args.preset, args.date or _latest_ingested_day(config.warehouse))
            start, end = export_range.start, export_range.end
        else:
            start, end = args.start, args.end
        report = make_report(config.warehouse, config.export_dir, start, end)
    except (ExportRangeError, duckdb.Error) as exc:
        raise CliError(str(exc).splitlines()[0]) from exc
    headline = report.headlines
    progress(f"{headline['opt_outs']} opt-outs in {start} .. {end}; report: {report.html_path}")
