"""One writer at a time through Dagster's own run queue, shared by the UI and `optout run`.

A run launched from the UI (its GraphQL API, as the Launch button does) goes to the
instance's queue, which the daemon of `dagster dev` serves. `optout run` started meanwhile
sees the daemon, submits its run to the same queue and follows it: it waits for the UI's
run, then both succeed, one after the other.
"""

import subprocess
import time

import pytest
from dagster import DagsterInstance, DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient

from orchestration.instance import instance_yaml
from orchestration.jobs import EVERYTHING_JOB, partition_range_tags
from tests.conftest import generated_run, make_workspace
from tests.dagster_ui import dagster_webserver
from tests.faults import start_optout
from tests.test_faults_concurrency import run_windows

DAYS, USERS, SEED = 6, 250, 8


@pytest.fixture(scope="module")
def alone(tmp_path_factory, dbt_manifest):
    return generated_run(tmp_path_factory.mktemp("alone"), DAYS, USERS, SEED)


def _wait_for_status(home, run_id: str, statuses: set, timeout: float = 300) -> DagsterRunStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with DagsterInstance.from_config(str(home)) as instance:
            run = instance.get_run_by_id(run_id)
        if run is not None and run.status in statuses:
            return run.status
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} never reached {statuses}")


@pytest.mark.ui
def test_optout_run_queues_behind_a_run_launched_from_the_ui(alone, tmp_path):
    ws = make_workspace(tmp_path)
    subprocess.run(["cp", "-r", str(alone.landing), str(ws.landing)], check=True)
    ws.dagster_home.mkdir(parents=True)
    (ws.dagster_home / "dagster.yaml").write_text(instance_yaml(ws.dagster_home))
    with dagster_webserver(ws.dagster_home, env=ws.env()) as port:
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        ui_run = client.submit_job_execution(
            EVERYTHING_JOB, tags=partition_range_tags("2026-01-01", "2026-01-06")
        )
        _wait_for_status(ws.dagster_home, ui_run, {DagsterRunStatus.STARTED})
        cli = start_optout(ws, "run", "--start", "2026-01-03", "--end", "2026-01-06")
        output = cli.communicate(timeout=900)[0]
        assert _wait_for_status(
            ws.dagster_home, ui_run, {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE}
        ) == (DagsterRunStatus.SUCCESS)
    assert cli.returncode == 0, output
    assert "submitting 4 export days 2026-01-03 .. 2026-01-06 to the Dagster run queue" in output
    assert f"queued behind Dagster run {ui_run[:8]}" in output
    assert "dbt build" in output and "Summary for export days 2026-01-03 .. 2026-01-06" in output
    # both succeeded (run_windows checks), the CLI's wrote only once the UI's had ended
    (_, ui_end), (cli_write, _) = run_windows(ws)
    assert cli_write >= ui_end
