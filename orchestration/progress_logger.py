"""A Dagster logger for the shell: one short line per message, no debug events, no tracebacks.

`optout run` uses it so a long run shows its progress (days done per table, dbt nodes) and
a failure ends in one readable reason; the full logs stay in the Dagster UI.
"""

import logging
import sys
import time

from dagster import Field, logger


class _ShortLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        message = str(meta.get("orig_message") or record.getMessage()).strip().splitlines()
        step = meta.get("step_key") or ""
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        return f"[{stamp}] {step + ': ' if step else ''}{message[0] if message else ''}"


@logger(
    config_schema={"log_level": Field(str, is_required=False, default_value="INFO")},
    description="One short line per message on stderr, without stack traces.",
)
def progress_logger(init_context):
    progress = logging.getLogger("optout.progress")
    progress.setLevel(init_context.logger_config["log_level"])
    progress.propagate = False
    if not progress.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_ShortLines())
        progress.addHandler(handler)
    return progress
