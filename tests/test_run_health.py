"""Runs whose process is gone are marked failed (by the next run, the schedule or a sensor)."""

import os
import subprocess
import time

import pytest
from dagster import DagsterInstance, DagsterRunStatus, build_sensor_context
from dagster._core.test_utils import create_run_for_test

from orchestration.run_health import HOST_TAG, PID_TAG, reap_dead_runs
from orchestration.schedules import dead_run_sensor

pytestmark = pytest.mark.quick


def _ended_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_only_runs_whose_process_is_gone_are_marked_failed():
    import socket

    host = socket.gethostname()
    with DagsterInstance.ephemeral() as instance:
        dead = create_run_for_test(
            instance, status=DagsterRunStatus.STARTED, tags={PID_TAG: str(_ended_pid()), HOST_TAG: host}
        )
        alive = create_run_for_test(
            instance, status=DagsterRunStatus.STARTED, tags={PID_TAG: str(os.getpid()), HOST_TAG: host}
        )
        elsewhere = create_run_for_test(
            instance, status=DagsterRunStatus.STARTED, tags={PID_TAG: "1", HOST_TAG: "another-host"}
        )
        unknown = create_run_for_test(instance, status=DagsterRunStatus.STARTED)

        result = dead_run_sensor(build_sensor_context(instance=instance))
        assert dead.run_id in result.skip_message
        status = {
            run.run_id: instance.get_run_by_id(run.run_id).status for run in (dead, alive, elsewhere, unknown)
        }
        assert status == {
            dead.run_id: DagsterRunStatus.FAILURE,
            alive.run_id: DagsterRunStatus.STARTED,
            elsewhere.run_id: DagsterRunStatus.STARTED,
            unknown.run_id: DagsterRunStatus.STARTED,
        }
        assert reap_dead_runs(instance) == []  # once is enough


def test_a_reused_pid_does_not_keep_a_dead_run_alive():
    """The pid now belongs to a process started after the run began: the run's process is gone."""
    child = subprocess.Popen(["sleep", "30"])
    try:
        with DagsterInstance.ephemeral() as instance:
            run = create_run_for_test(
                instance, status=DagsterRunStatus.STARTED, tags={PID_TAG: str(child.pid)}
            )
            record = instance.get_run_record_by_id(run.run_id)
            # the run is recorded as created an hour before the (younger) process holding its pid
            from orchestration import run_health

            assert (
                run_health.process_alive(child.pid, started_by=record.create_timestamp.timestamp() - 3600)
                is False
            )
            assert run_health.process_alive(child.pid, started_by=None) is True
    finally:
        child.kill()
        child.wait()


def test_a_starting_run_launched_by_the_daemon_is_judged_by_its_own_process():
    """Queued long before its worker started: the worker's "Started process" event counts."""
    from dagster._core.events import EngineEventData

    with DagsterInstance.ephemeral() as instance:
        starting = create_run_for_test(instance, status=DagsterRunStatus.STARTING)
        gone = create_run_for_test(instance, status=DagsterRunStatus.STARTING)
        time.sleep(1.5)  # queued well before its worker process starts
        worker = subprocess.Popen(["sleep", "30"])
        try:
            time.sleep(0.2)
            for run, pid in ((starting, worker.pid), (gone, _ended_pid())):
                instance.report_engine_event(
                    f"Started process for run (pid: {pid}).", run, EngineEventData.in_process(pid)
                )
            assert reap_dead_runs(instance) == [gone.run_id]
            assert instance.get_run_by_id(starting.run_id).status == DagsterRunStatus.STARTING
        finally:
            worker.kill()
            worker.wait()
