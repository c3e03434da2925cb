"""The Dagster logger of `optout run`: everything to the run's log file, the steps to the terminal.

Every message at DEBUG and above (Dagster's events included) is written to `log_file` in
full; the console (orchestration/console.py) gets the same records and shows each step
once, so a long run stays readable and nothing is lost.
"""

import logging
import time

from dagster import Field, logger

from orchestration import console


class _FullLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        message = str(meta.get("orig_message") or record.getMessage()).rstrip()
        step = meta.get("step_key") or ""
        stamp = time.strftime("%H:%M:%S", time.gmtime(record.created))  # UTC, as every day shown
        return f"[{stamp}] {record.levelname:<7} {step + ': ' if step else ''}{message}"


class _ToConsole(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        watching = console.current()
        if watching is not None:
            watching.handle(record)


@logger(
    config_schema={"log_file": Field(str, description="the file every message of the run goes to")},
    description="Every message to the run's log file; each step once to the terminal (optout run).",
)
def progress_logger(init_context):
    run_log = logging.getLogger(f"optout.run.{init_context.run_id}")
    run_log.setLevel(logging.DEBUG)
    run_log.propagate = False
    if not run_log.handlers:
        to_file = logging.FileHandler(init_context.logger_config["log_file"], encoding="utf-8")
        to_file.setFormatter(_FullLines())
        run_log.addHandler(to_file)
        run_log.addHandler(_ToConsole())
    return run_log
