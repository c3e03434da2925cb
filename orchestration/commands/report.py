"""`optout report`: the opt-out report of a preset or a range, from the shell."""

from __future__ import annotations

import argparse

import duckdb

from assets.exports.opted_out_users import write_export
from assets.exports.ranges import ExportRangeError
from assets.report.build import make_report
from orchestration.commands.common import CliError, progress, settings
from orchestration.commands.export import requested_range


def report_command(args: argparse.Namespace) -> None:
    config = settings()
    try:
        export_range = requested_range(args, config)
        # the report links the opted-out users of its range: written first
        write_export(config.warehouse, config.export_dir, export_range)
        report = make_report(config.warehouse, config.export_dir, export_range.start, export_range.end)
    except (ExportRangeError, duckdb.Error) as exc:
        raise CliError(str(exc).splitlines()[0]) from exc
    headline = report.headlines
    progress(
        f"{headline['opt_outs']} opt-outs in {export_range.start} .. {export_range.end}; report: {report.html_path}"
    )
