"""One writer of the warehouse: Dagster's run queue, for every way a run starts.

The instance allows `max_concurrent_runs` runs at a time (1: orchestration/instance.py).
Where a daemon serves the instance, it applies that limit to the runs the UI, the schedule
and the sensor submit, and `optout run` submits to the same queue. Without a daemon,
`optout run` executes in its own process under the same limit: it waits until the runs in
progress leave room (`wait_for_turn`), and every run, once started, waits for the runs
created before it (`wait_for_earlier_runs`, called by the ingest assets before they touch
the lake and by the dbt asset before it builds), so two processes that looked at the queue
at the same moment still go one after the other, in the order their runs were created.
`dagster asset materialize` and a notebook's `materialize()` bypass the queue, as in any
Dagster project; their runs still wait at those steps.

A run whose process was killed never reports its end: run_health.py marks it failed first,
so it never holds the queue.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

from assets.config import REPO_ROOT
from assets.processes import venv_program
from orchestration.console import RunConsole
from orchestration.jobs import EVERYTHING_JOB
from orchestration.run_health import IN_PROGRESS, PID_TAG, UNFINISHED, reap_dead_runs

# the daemon beats every 30 s or so; a minute and a half without one: no daemon
DAEMON_HEARTBEAT_SECONDS = 90.0
QUEUE_DAEMON = "QUEUED_RUN_COORDINATOR"
# the fingerprint of the settings `optout run` submitted a run with (Settings.fingerprint)
SETTINGS_TAG = "optout/settings"
POLL_SECONDS = 1.0


class QueueTimeoutError(Exception):
    """The run could not start within the time it was given; the message names the blocker."""


def daemon_beating(instance: DagsterInstance, daemon: str) -> bool:
    """Whether this part of a dagster-daemon (QUEUED_RUN_COORDINATOR, SCHEDULER, ...) beat lately."""
    heartbeat = instance.get_daemon_heartbeats().get(daemon)
    return heartbeat is not None and time.time() - heartbeat.timestamp < DAEMON_HEARTBEAT_SECONDS


def daemon_serves(instance: DagsterInstance) -> bool:
    """Whether a live dagster-daemon dequeues this instance's runs."""
    return daemon_beating(instance, QUEUE_DAEMON)


def max_concurrent_runs(instance: DagsterInstance) -> int:
    """The instance's limit (1 as optout sets it up; the in-run wait below assumes 1)."""
    queue = instance.get_concurrency_config().run_queue_config  # None: an instance without a queue
    limit = queue.max_concurrent_runs if queue is not None else None
    return max(1, limit) if limit is not None and limit >= 0 else 1


def runs_in_progress(instance: DagsterInstance) -> list[DagsterRun]:
    """Runs started and not finished, oldest first (the dead ones are marked failed first)."""
    reap_dead_runs(instance)
    records = instance.get_run_records(filters=RunsFilter(statuses=IN_PROGRESS))
    return [record.dagster_run for record in sorted(records, key=lambda r: r.create_timestamp)]


def describe_run(run: DagsterRun) -> str:
    return f"Dagster run {run.run_id[:8]} ({run.job_name}, {run.status.value.lower()})"


def wait_for_turn(
    instance: DagsterInstance, deadline: float | None, on_wait: Callable[[str], None] | None = None
) -> None:
    """Return once the runs in progress leave room for one more; QueueTimeoutError after `deadline`."""
    _wait(
        instance, lambda: runs_in_progress(instance)[max_concurrent_runs(instance) - 1 :], deadline, on_wait
    )


def wait_for_earlier_runs(
    instance: DagsterInstance, run_id: str, on_wait: Callable[[str], None] | None = None
) -> None:
    """Inside a run: return once no run created before it is still unfinished.

    Runs are ordered by creation (and run id, on a tie); a run another `optout run` process
    created counts from then on, even before its executor has started it.
    """
    record = instance.get_run_record_by_id(run_id)
    if record is None:
        return
    mine = (record.create_timestamp, run_id)

    def counts(other) -> bool:
        run = other.dagster_run
        if run.run_id == run_id or (other.create_timestamp, run.run_id) >= mine:
            return False
        return run.status in IN_PROGRESS or PID_TAG in run.tags  # NOT_STARTED: only a live process's

    def earlier() -> list[DagsterRun]:
        if not any(counts(r) for r in instance.get_run_records(filters=RunsFilter(statuses=UNFINISHED))):
            return []
        reap_dead_runs(instance)  # a killed process's run must not hold this one for ever
        return [
            r.dagster_run
            for r in instance.get_run_records(filters=RunsFilter(statuses=UNFINISHED))
            if counts(r)
        ]

    _wait(instance, earlier, None, on_wait)


def _wait(
    instance: DagsterInstance,
    blockers: Callable[[], list[DagsterRun]],
    deadline: float | None,
    on_wait: Callable[[str], None] | None,
) -> None:
    told: set[str] = set()
    while running := blockers():
        run = running[0]
        if deadline is not None and time.monotonic() >= deadline:
            raise QueueTimeoutError(
                f"{describe_run(run)} is writing the warehouse; try again when it has finished"
            )
        if on_wait and run.run_id not in told:
            on_wait(
                f"waiting for {describe_run(run)} to finish (one run at a time; should its process be "
                "gone, terminate it in the UI: Runs, Terminate)"
            )
            told.add(run.run_id)
        time.sleep(POLL_SECONDS)


def submit_to_queue(run_id: str, tags: dict[str, str], run_config: dict) -> None:
    """Submit a run of the everything job to the instance's queue, as the UI does.

    `dagster job launch` loads the code location the way the daemon will, and hands the run
    to the instance's run coordinator (QUEUED); the daemon starts it when its turn comes.
    """
    command = [
        venv_program("dagster"),
        "job",
        "launch",
        "--workspace",
        str(REPO_ROOT / "workspace.yaml"),
        "--job",
        EVERYTHING_JOB,
        "--run-id",
        run_id,
        "--tags",
        json.dumps(tags),
        "--config-json",
        json.dumps(run_config),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, check=False)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise QueueSubmitError(f"could not submit the run to Dagster's queue: {lines[-1]}")


class QueueSubmitError(Exception):
    """`dagster job launch` refused the run; the message is its last line."""


def follow_run(instance: DagsterInstance, run_id: str, console: RunConsole, deadline: float | None) -> None:
    """Show a queued run's steps on the console until it ends.

    Past `deadline` while still queued, the run is canceled (QueueTimeoutError naming the run
    it waited for); so it is when the daemon stops serving the queue, and on Ctrl-C.
    """
    cursor = None
    told: set[str] = set()
    try:
        while True:
            run = instance.get_run_by_id(run_id)
            if run is None:
                raise QueueSubmitError(f"run {run_id[:8]} is not in the instance")
            page = instance.get_records_for_run(run_id, cursor=cursor, limit=500)
            for record in page.records:
                console.handle_entry(record.event_log_entry)
            cursor = page.cursor
            if page.has_more:
                continue
            if run.is_finished:
                return
            if run.status == DagsterRunStatus.QUEUED:
                _still_queued(instance, run_id, console, deadline, told)
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        canceled = instance.run_coordinator.cancel_run(run_id)
        raise QueueSubmitError(
            f"interrupted: run {run_id[:8]} "
            + ("was canceled" if canceled else "goes on in Dagster (terminate it in the UI)")
        ) from None


def _still_queued(
    instance: DagsterInstance, run_id: str, console: RunConsole, deadline: float | None, told: set[str]
) -> None:
    blockers = [r for r in runs_in_progress(instance) if r.run_id != run_id]
    reason = None
    if not daemon_serves(instance):
        reason = "the Dagster daemon stopped serving the queue"
    elif deadline is not None and time.monotonic() >= deadline:
        # a run merely not yet picked up, with nothing ahead of it, is about to start
        reason = f"{describe_run(blockers[0])} is writing the warehouse" if blockers else None
    if reason is not None:
        # the daemon may have dequeued it meanwhile: then it is followed to its end, not stopped
        run = instance.get_run_by_id(run_id)
        if (
            run is not None
            and run.status == DagsterRunStatus.QUEUED
            and instance.run_coordinator.cancel_run(run_id)
        ):
            raise QueueTimeoutError(f"{reason}; the queued run {run_id[:8]} was canceled")
        return
    if blockers and blockers[0].run_id not in told:
        console.note(f"queued behind {describe_run(blockers[0])} (one run at a time)")
        told.add(blockers[0].run_id)
