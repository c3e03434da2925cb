"""The run queue's rules on a real (temporary) Dagster instance: who waits for whom, and when
`optout run` gives up. The whole thing, with a UI and a daemon, is tests/test_run_queue.py."""

import os
import socket
import subprocess
import time

import pytest
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.test_utils import create_run_for_test

from orchestration.run_health import HOST_TAG, PID_TAG
from orchestration.run_queue import (
    QueueTimeoutError,
    daemon_serves,
    max_concurrent_runs,
    wait_for_earlier_runs,
    wait_for_turn,
)

pytestmark = pytest.mark.quick


def _mine() -> dict[str, str]:
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _gone() -> dict[str, str]:
    process = subprocess.Popen(["true"])
    process.wait()
    return {PID_TAG: str(process.pid), HOST_TAG: socket.gethostname()}


def _never_waits(line: str) -> None:
    raise AssertionError(f"waited: {line}")  # a wait without an end would hang the test instead


@pytest.fixture
def instance(tmp_path):
    with DagsterInstance.ephemeral(tempdir=str(tmp_path)) as instance:
        yield instance


def test_no_daemon_and_a_limit_of_one_here(instance):
    assert not daemon_serves(instance)
    assert max_concurrent_runs(instance) == 1


def test_wait_for_turn_returns_at_once_on_an_empty_queue_and_stops_at_the_deadline(instance):
    said: list[str] = []
    wait_for_turn(instance, time.monotonic(), said.append)
    run = create_run_for_test(instance, status=DagsterRunStatus.STARTED, tags=_mine())
    with pytest.raises(QueueTimeoutError, match=f"Dagster run {run.run_id[:8]} .* is writing the warehouse"):
        wait_for_turn(instance, time.monotonic(), said.append)
    assert said == []  # stopped at once, before saying it waits


def test_a_run_in_progress_whose_process_is_gone_does_not_hold_the_queue(instance):
    dead = create_run_for_test(instance, status=DagsterRunStatus.STARTED, tags=_gone())
    wait_for_turn(instance, time.monotonic())
    assert instance.get_run_by_id(dead.run_id).status == DagsterRunStatus.FAILURE


def test_inside_a_run_only_earlier_unfinished_runs_count(instance):
    earlier_failed = create_run_for_test(instance, status=DagsterRunStatus.FAILURE, tags=_mine())
    earlier_done = create_run_for_test(instance, status=DagsterRunStatus.SUCCESS, tags=_mine())
    # not yet started by no process of this machine: a run a submission left behind
    earlier_orphan = create_run_for_test(instance, status=DagsterRunStatus.NOT_STARTED)
    mine = create_run_for_test(instance, status=DagsterRunStatus.STARTED, tags=_mine())
    later = create_run_for_test(instance, status=DagsterRunStatus.STARTED, tags=_mine())
    assert len({r.run_id for r in (earlier_failed, earlier_done, earlier_orphan, later)}) == 4
    wait_for_earlier_runs(instance, mine.run_id, _never_waits)  # none of them holds `mine`


def test_inside_a_run_an_earlier_one_not_yet_started_by_a_live_process_counts(instance):
    earlier = create_run_for_test(instance, status=DagsterRunStatus.NOT_STARTED, tags=_mine())
    mine = create_run_for_test(instance, status=DagsterRunStatus.STARTED, tags=_mine())
    said: list[str] = []

    def finish_earlier(line: str) -> None:
        said.append(line)
        instance.report_run_failed(instance.get_run_by_id(earlier.run_id))

    wait_for_earlier_runs(instance, mine.run_id, finish_earlier)
    assert len(said) == 1 and f"waiting for Dagster run {earlier.run_id[:8]}" in said[0]


def test_inside_a_run_an_earlier_one_of_a_dead_process_is_marked_failed_not_waited_for(instance):
    earlier = create_run_for_test(instance, status=DagsterRunStatus.NOT_STARTED, tags=_gone())
    mine = create_run_for_test(instance, status=DagsterRunStatus.STARTED, tags=_mine())
    wait_for_earlier_runs(instance, mine.run_id, _never_waits)
    assert instance.get_run_by_id(earlier.run_id).status == DagsterRunStatus.FAILURE
