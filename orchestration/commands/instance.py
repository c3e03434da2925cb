"""`optout instance copy-history --from DIR`: a SQLite Dagster home's history into this instance."""

from __future__ import annotations

import argparse
from pathlib import Path

from dagster import DagsterInstance

from orchestration.commands.common import CliError, progress
from orchestration.history import copy_history
from orchestration.instance import ensure_home, get_instance


def instance_command(args: argparse.Namespace) -> None:
    source_home = Path(args.source).resolve()
    if not (source_home / "dagster.yaml").is_file():
        raise CliError(f"{source_home} is not a Dagster home (no dagster.yaml)")
    if source_home == ensure_home().resolve():
        raise CliError(f"{source_home} is this instance's own home: nothing to copy")
    target = get_instance()
    with DagsterInstance.from_config(str(source_home)) as source:
        progress(f"copying the history of {source_home} into this instance")
        copied = copy_history(source, target, progress)
    progress(
        f"copied {copied.runs} runs ({copied.events} events) and {copied.instigators} schedule/sensor "
        f"states; {copied.already_there} runs were there already, {copied.unfinished} unfinished left out"
    )
