"""Runs whose process is gone: find them and mark them failed, so the queue moves on.

A run killed with `kill -9` never reports its end; Dagster keeps it `STARTED`, and with one
run at a time nothing else would ever start. This is what Dagster does not do for us: its
run monitoring asks the run launcher, and the default launcher has no health check, while
`optout run` without a daemon executes in its own process, outside any launcher. So every
run says which process carries it (the `optout/pid` tag for `optout run`, Dagster's
"Started process for run (pid: N)" event for runs the daemon launches), and a run whose
process is no longer alive, or whose pid now belongs to a process started after the run,
is marked failed; so is a run `optout run` created but whose process died before starting it.
"""

from __future__ import annotations

import os
import socket

from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from assets.processes import process_alive

PID_TAG = "optout/pid"
HOST_TAG = "optout/host"
IN_PROGRESS = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
# a run `optout run` created in its process is NOT_STARTED until its executor is up
UNFINISHED = [DagsterRunStatus.NOT_STARTED, *IN_PROGRESS]


def this_process_tags() -> dict[str, str]:
    """Tags that tie a run executed in this process to it."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def run_process(instance: DagsterInstance, record) -> tuple[int, float] | None:
    """(pid, a moment by which that process had started) of a run, or None if not known.

    `optout run` tags its runs: the process existed before it created the run. A run the
    daemon launched has Dagster's "Started process for run (pid: N)" event, written by that
    process once it runs (the run itself may still be STARTING, long after it was queued).
    """
    run = record.dagster_run
    if PID_TAG in run.tags:
        if run.tags.get(HOST_TAG, socket.gethostname()) != socket.gethostname():
            return None  # another machine's process: not ours to judge
        return int(run.tags[PID_TAG]), record.create_timestamp.timestamp()
    events = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.ENGINE_EVENT, limit=50).records
    for event_record in events:
        event = event_record.event_log_entry.dagster_event
        data = event.event_specific_data if event else None
        pid = (data.metadata or {}).get("pid") if data is not None else None
        if pid is not None and "Started process for run" in (event.message or ""):
            return int(pid.value), event_record.timestamp
    return None


def reap_dead_runs(instance: DagsterInstance) -> list[str]:
    """Mark every unfinished run whose process is gone as failed; returns their run ids."""
    reaped = []
    for record in instance.get_run_records(filters=RunsFilter(statuses=UNFINISHED)):
        process = run_process(instance, record)
        if process is None:
            continue  # launched but its process not yet started, or on another host
        pid, started_by = process
        if process_alive(pid, started_by=started_by):
            continue
        instance.report_run_failed(
            record.dagster_run,
            message=(
                f"The process that ran this run (pid {pid}) is gone (killed or crashed); "
                "marked failed so the next run can go ahead."
            ),
        )
        reaped.append(record.dagster_run.run_id)
    return reaped
