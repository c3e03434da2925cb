"""The automation of the code location: the daily schedule and the landing sensor, on or off.

Turning them on or off goes through Dagster's own CLI (`dagster schedule start|stop`,
`dagster sensor start|stop`), which loads the code location to find them, exactly as the
UI's toggle does; their state, last tick and next tick are read from the instance.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from dagster import DagsterInstance

from assets.config import REPO_ROOT
from assets.processes import venv_program
from orchestration.freshness import FRESHNESS_SENSOR, FRESHNESS_SENSOR_SECONDS
from orchestration.run_alerts import RUN_CANCELED_SENSOR, RUN_FAILURE_SENSOR, RUN_STATUS_SENSOR_SECONDS
from orchestration.run_queue import daemon_beating
from orchestration.schedules import (
    DAILY_SCHEDULE,
    DEAD_RUN_SENSOR,
    DEAD_RUN_SENSOR_SECONDS,
    LANDING_SENSOR,
    LANDING_SENSOR_SECONDS,
    next_schedule_tick,
)

AUTOMATION = {DAILY_SCHEDULE: "schedule", LANDING_SENSOR: "sensor"}
SCHEDULER_DAEMONS = ("SCHEDULER", "SENSOR")


class AutomationError(Exception):
    """Dagster's CLI refused to turn a schedule or sensor on or off; the message is its last line."""


def switch(on: bool) -> None:
    """Turn the daily schedule and the landing sensor on (or off), both at once."""
    verb = "start" if on else "stop"

    def run(name: str) -> subprocess.CompletedProcess:
        command = [
            venv_program("dagster"),
            AUTOMATION[name],
            verb,
            name,
            "--workspace",
            str(REPO_ROOT / "workspace.yaml"),
        ]
        return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)

    with ThreadPoolExecutor(max_workers=len(AUTOMATION)) as pool:
        results = dict(zip(AUTOMATION, pool.map(run, AUTOMATION), strict=True))
    problems = []
    for name, result in results.items():
        output = (result.stdout + result.stderr).strip()
        # already in the asked state is no failure: the command's goal holds
        if result.returncode != 0 and "already" not in output:
            last = [line for line in output.splitlines() if line.strip()] or ["no output"]
            problems.append(f"{name}: {last[-1]}")
    if problems:
        raise AutomationError("; ".join(problems))


@dataclass(frozen=True)
class InstigatorStatus:
    name: str
    kind: str  # schedule | sensor
    running: bool
    last_tick: dt.datetime | None
    last_outcome: str  # "requested 1 run", "skipped: ...", "failed: ...", "no tick yet"
    next_tick: dt.datetime | None


# the sensors that are on unless someone turns them off in the UI, and their intervals
ALWAYS_ON = {
    RUN_FAILURE_SENSOR: RUN_STATUS_SENSOR_SECONDS,
    RUN_CANCELED_SENSOR: RUN_STATUS_SENSOR_SECONDS,
    FRESHNESS_SENSOR: FRESHNESS_SENSOR_SECONDS,
    DEAD_RUN_SENSOR: DEAD_RUN_SENSOR_SECONDS,
}


def status(instance: DagsterInstance, now: dt.datetime | None = None) -> list[InstigatorStatus]:
    """The automation's schedule and sensor first, then the sensors that are always on."""
    now = now or dt.datetime.now(dt.UTC)
    states = {state.instigator_name: state for state in instance.all_instigator_state()}
    found = []
    for name in [*AUTOMATION, *ALWAYS_ON]:
        kind = AUTOMATION.get(name, "sensor")
        state = states.get(name)
        if name in ALWAYS_ON:  # a sensor on by default has no stored state until it is toggled
            running = state is None or state.status.value in ("RUNNING", "DECLARED_IN_CODE")
        else:
            running = state is not None and state.status.value == "RUNNING"
        ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1) if state else []
        tick = ticks[0] if ticks else None
        last = dt.datetime.fromtimestamp(tick.timestamp, dt.UTC) if tick else None
        if not running:
            upcoming = None
        elif kind == "schedule":
            upcoming = next_schedule_tick(now)
        else:
            interval = ALWAYS_ON.get(name, LANDING_SENSOR_SECONDS)
            upcoming = max(now, last + dt.timedelta(seconds=interval)) if last else now
        found.append(InstigatorStatus(name, kind, running, last, _outcome(tick), upcoming))
    return found


def _outcome(tick) -> str:
    if tick is None:
        return "no tick yet"
    value = tick.status.value
    if value == "SUCCESS":
        return f"requested {len(tick.run_ids)} run(s)" + (
            f": {', '.join(r[:8] for r in tick.run_ids)}" if tick.run_ids else ""
        )
    if value == "SKIPPED":
        return f"skipped: {tick.skip_reason or 'nothing to do'}"
    if value == "FAILURE":
        message = tick.error.message.strip().splitlines()[0] if tick.error else "unknown error"
        return f"failed: {message}"
    return value.lower()


def daemon_alive(instance: DagsterInstance) -> bool:
    """Whether a dagster-daemon fires this instance's schedules and sensors now."""
    return all(daemon_beating(instance, daemon) for daemon in SCHEDULER_DAEMONS)
