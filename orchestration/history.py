"""Copy a Dagster instance's history into another: a SQLite home into PostgreSQL.

Dagster has no tool to move a history between storages. What it has is enough: every run
is added to the target as it was, and its events are replayed in order through the
target's `handle_new_event`, the path the run's own event log writer takes, so the run's
status and times, the asset materializations and the checks are rebuilt the same way.
Schedules' and sensors' states come along (their ticks do not: they are the daemon's log).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dagster import DagsterInstance

EVENTS_PER_PAGE = 1000


@dataclass
class CopiedHistory:
    runs: int = 0
    events: int = 0
    already_there: int = 0
    unfinished: int = 0  # left out: their process may still be writing them
    instigators: int = 0


def copy_history(
    source: DagsterInstance, target: DagsterInstance, say: Callable[[str], None]
) -> CopiedHistory:
    copied = CopiedHistory()
    records = sorted(source.get_run_records(), key=lambda record: record.create_timestamp)
    for number, record in enumerate(records, start=1):
        run = record.dagster_run
        if target.has_run(run.run_id):
            copied.already_there += 1
            continue
        if not run.is_finished:
            copied.unfinished += 1
            say(f"run {run.run_id[:8]} is {run.status.value.lower()}: left out (copy it once it has ended)")
            continue
        _copy_snapshots(source, target, run)
        target.add_run(run)
        cursor = None
        while True:
            page = source.get_records_for_run(run.run_id, cursor=cursor, limit=EVENTS_PER_PAGE)
            for event in page.records:
                target.handle_new_event(event.event_log_entry)
            copied.events += len(page.records)
            cursor = page.cursor
            if not page.has_more:
                break
        copied.runs += 1
        say(
            f"run {number}/{len(records)}: {run.run_id[:8]} ({run.job_name}, {run.status.value.lower()}) copied"
        )
    for state in source.all_instigator_state():
        if target.get_instigator_state(state.instigator_origin_id, state.selector_id) is None:
            target.add_instigator_state(state)
            copied.instigators += 1
    return copied


def _copy_snapshots(source: DagsterInstance, target: DagsterInstance, run) -> None:
    """The job and execution plan snapshots a run points at (the UI draws the run from them)."""
    if run.job_snapshot_id and not target.has_job_snapshot(run.job_snapshot_id):
        target.add_snapshot(source.get_job_snapshot(run.job_snapshot_id))
    plan = run.execution_plan_snapshot_id
    if plan and not target.has_snapshot(plan):
        target.add_snapshot(source.get_execution_plan_snapshot(plan))
