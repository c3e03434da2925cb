"""`optout`: generate sample exports, run the pipeline through Dagster, write exports."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime as dt
import importlib
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Sequence

from assets.atomic_files import FileWriteError
from assets.config import SettingError, keep_new_files_private
from assets.exports.ranges import ExportRangeError
from assets.generator.simulate import PlantedCampaign
from assets.generator.vendors import FORMATS
from assets.ingest.readers import UnreadableFileError
from assets.shown_text import escape_controls
from assets.warehouse_holder import WarehouseBusyError
from orchestration.commands.common import CliError
from orchestration.instance import InstanceUnreachableError

# the errors the project raises on purpose, each with a message a user acts on
EXPECTED_ERRORS = (
    CliError,
    ExportRangeError,
    FileWriteError,
    InstanceUnreachableError,
    SettingError,
    UnreadableFileError,
    WarehouseBusyError,
)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _number(kind, what: str, minimum, too_small: str):
    """An argparse type: `kind(text)` of at least `minimum`, with a one-line error otherwise."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} {too_small}")
        return value

    return parse


_positive = _number(int, "a whole number", 1, "must be at least 1")


def _planted_campaign(text: str) -> PlantedCampaign:
    parts = text.split(":")
    try:
        if len(parts) not in (2, 3) or parts[0] not in ("push", "web_push"):
            raise ValueError
        factor = float(parts[2]) if len(parts) == 3 else PlantedCampaign("push", 0).risk_factor
        day = int(parts[1])
        if day < 0 or factor <= 0:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not CHANNEL:DAY[:FACTOR] (channel push or web_push, day >= 0, factor > 0)"
        ) from None
    return PlantedCampaign(parts[0], day, factor)


_seconds = _number(float, "a number of seconds", 0.0, "must not be negative")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="optout", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="write realistic raw exports (deterministic for a seed)")
    generate.add_argument("--out", default=None, help="landing folder (default: $OPTOUT_LANDING_DIR)")
    generate.add_argument("--start", type=_date, default=dt.date(2026, 1, 1), help="first export day")
    generate.add_argument("--days", type=_positive, default=60, help="number of export days")
    generate.add_argument("--users", type=_positive, default=5000, help="number of users")
    generate.add_argument("--seed", type=int, default=42, help="random seed")
    generate.add_argument(
        "--format",
        choices=FORMATS,
        default="optout",
        help="the layout and schema to write: optout's contract (default) or a vendor's export, the "
        "same simulated world either way (docs/sources/)",
    )
    generate.add_argument(
        "--plant",
        type=_planted_campaign,
        action="append",
        metavar="CHANNEL:DAY[:FACTOR]",
        help="send a bad campaign (recipients' opt-out risk x FACTOR, default 12) on export day DAY "
        "(0-based) of channel push or web_push, instead of the default one (push, 6 days before the "
        "end, when there are at least 21 days); repeatable",
    )
    generate.add_argument(
        "--no-bad-campaigns",
        action="store_true",
        help="no bad campaigns: neither the default planted one nor the random ones (by default 12%% "
        "of broadcasts multiply their recipients' risk by 6)",
    )

    run = commands.add_parser(
        "run", help="materialize every asset for the export days [start, end] through Dagster"
    )
    run.add_argument("--start", type=_date, help="first export day (default: first landed day)")
    run.add_argument("--end", type=_date, help="last export day (default: last landed day)")
    run.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild every incremental dbt table from the whole lake (after a change of a model's logic)",
    )
    run.add_argument(
        "--undelivered-as-zero",
        action="store_true",
        help="record the export days of the range that no table delivered (no dt=<day> folder) as days "
        "with zero records; by default they are left out",
    )
    run.add_argument(
        "--wait",
        type=_seconds,
        default=None,
        help="seconds to wait for the runs ahead in Dagster's queue (one run at a time) or a program "
        "holding the warehouse; 0 stops at once (default: wait for the runs ahead, however long)",
    )

    export = commands.add_parser(
        "export",
        help="write the opted-out user file of a preset (relative to --date) or of --start/--end",
    )
    _add_range_arguments(export)

    report = commands.add_parser(
        "report", help="write the HTML opt-out report (and PNG charts) of a preset or of --start/--end"
    )
    _add_range_arguments(report)

    commands.add_parser(
        "demo", help="generate sample exports if none have landed, then run everything on them"
    )

    bi = commands.add_parser("bi", help="Apache Superset with optout's dashboards, reading the serving copy")
    bi_commands = bi.add_subparsers(dest="bi_command", required=True)
    bi_commands.add_parser(
        "setup", help="install Superset in its own venv ($OPTOUT_BI_DIR), connect it, create the dashboards"
    )
    serve = bi_commands.add_parser("serve", help="serve Superset's dashboards until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_positive, default=8088, help="port (default 8088)")

    serve = commands.add_parser(
        "serve",
        help="the production processes of one box, supervised: Dagster's code server, webserver and daemon",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address the UI listens on (default 127.0.0.1)")
    serve.add_argument("--port", type=_positive, default=3000, help="port of the UI (default 3000)")
    serve.add_argument(
        "--code-port",
        type=_positive,
        default=4266,
        help="port of the code server, on 127.0.0.1 (default 4266)",
    )
    serve.add_argument(
        "--only",
        choices=["code-server", "webserver", "daemon"],
        help="run just this one in place of this process (one service each: deploy/)",
    )

    automation = commands.add_parser(
        "automation",
        help="the daily schedule and the landing sensor: turn them on or off, or show their ticks",
    )
    automation.add_argument("action", choices=["on", "off", "status"])

    instance = commands.add_parser("instance", help="the Dagster instance: copy a history into it")
    instance_commands = instance.add_subparsers(dest="instance_command", required=True)
    copy = instance_commands.add_parser(
        "copy-history",
        help="copy the runs, events and schedule states of another Dagster home (SQLite) into this instance",
    )
    copy.add_argument("--from", dest="source", required=True, help="the Dagster home to copy from")

    subject = commands.add_parser(
        "subject", help="what the project holds about people (export), or erase them from every copy"
    )
    subject_commands = subject.add_subparsers(dest="subject_command", required=True)
    subject_export = subject_commands.add_parser(
        "export", help="everything held about the people, with provenance, as one JSON document"
    )
    subject_erase = subject_commands.add_parser(
        "erase",
        help="remove the people from every copy (landing to serving, exports, logs) and suppress them "
        "from then on; run it again to finish one cut short",
    )
    for command in (subject_export, subject_erase):
        command.add_argument("--user", action="append", metavar="ID", help="a user id (repeatable)")
        command.add_argument(
            "--external-id", action="append", metavar="ID", help="an external id (repeatable)"
        )
    subject_export.add_argument("--out", required=True, help="the JSON file to write")
    subject_erase.add_argument(
        "--from-file",
        action="append",
        metavar="FILE",
        help="a CSV file whose header names user_id and/or external_id (repeatable)",
    )
    subject_erase.add_argument("--reason", help="why (kept in the request log)")

    bench = commands.add_parser(
        "bench",
        help="measure generator, ingestion, backfill and daily runs at a size, against baselines and targets",
    )
    bench.add_argument("--users", type=_positive, required=True, help="number of users")
    bench.add_argument(
        "--days", type=_positive, required=True, help="number of export days (from 2025-01-01)"
    )
    bench.add_argument("--seed", type=int, default=42, help="random seed of the data set")
    bench.add_argument(
        "--out",
        default=None,
        help="JSON file of the figures; the Markdown table goes beside it as .md "
        "(default: $OPTOUT_BENCH_DIR/bench-<users>u-<days>d.json, OPTOUT_BENCH_DIR default data/bench)",
    )
    bench.add_argument(
        "--daily-after",
        type=_positive,
        default=30,
        help="also time a daily run after this many days of history (default 30, at most days - 1)",
    )
    return parser


def _add_range_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--preset", choices=["last_week", "last_month", "last_year"])
    command.add_argument("--date", type=_date, help="logical date of the preset (default: last ingested day)")
    command.add_argument("--start", type=_date, help="first day of the range (inclusive)")
    command.add_argument("--end", type=_date, help="last day of the range (inclusive)")


def _check_range_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    has_range = args.start is not None or args.end is not None
    if args.preset and has_range:
        parser.error(f"{args.command}: give either --preset or --start/--end, not both")
    if not args.preset and (args.start is None or args.end is None):
        parser.error(f"{args.command}: give --preset, or both --start and --end")
    if args.date and not args.preset:
        parser.error(f"{args.command}: --date goes with --preset")


def main(argv: Sequence[str] | None = None) -> int:
    # Dagster flags beta parameters (single-run backfills) at import; not news to a user
    warnings.filterwarnings("ignore", message=".*is currently in beta.*")
    keep_new_files_private()
    # SIGTERM (a service manager, `kill`) stops a command the way Ctrl-C does: cleanly, in one line
    signal.signal(signal.SIGTERM, _interrupt)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("export", "report"):
        _check_range_arguments(parser, args)
    try:
        # each command's module is imported only when used (Dagster and dbt are slow to load)
        module = importlib.import_module(f"orchestration.commands.{args.command}")
        getattr(module, f"{args.command}_command")(args)
    except EXPECTED_ERRORS as exc:
        # one line per reason (a run can fail on several days), each naming the command;
        # anything else is a bug and keeps its traceback
        for line in str(exc).splitlines() or [type(exc).__name__]:
            # a file or campaign name may hold terminal control sequences: shown, not obeyed
            print(f"optout {args.command}: {escape_controls(line)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"optout {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


THREADS_WAIT_SECONDS = 30


def entry() -> None:
    """The console script: `main`, then an exit without the interpreter's teardown.

    When `main` returns, everything it opened is closed (files, DuckDB connections, the
    Dagster instance). What the interpreter would still do is tear down every object of
    Dagster, dbt and Great Expectations one by one: about 2 s after each command, and after
    a failed run dozens of "nanobind: leaked" lines from DuckDB's bindings for the objects
    its error records keep. So the exit handlers run (logging's flush among them), the
    threads still working are waited for, the standard streams are flushed, and the
    process ends there. The commands end their own threads; a library's idle worker thread
    left behind would wait forever for the shutdown it is not told of, so the wait is
    bounded (THREADS_WAIT_SECONDS in all).
    """
    code = main()
    deadline = time.monotonic() + THREADS_WAIT_SECONDS
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join(max(deadline - time.monotonic(), 0))
    atexit._run_exitfuncs()  # noqa: SLF001 (the handlers `sys.exit` would run; no public twin)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing left to say
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
