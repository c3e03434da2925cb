"""Concurrency faults: two runs at once, and a run while another program holds the warehouse.

Two runs go one after the other (Dagster's run queue: orchestration/run_queue.py), and the
results are those of the runs alone. A run that cannot write because another program holds
the warehouse finds out before it changes anything (the lake included) and stops with one
line that says who.
"""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from orchestration.ingest_assets import RETENTION_KEY
from tests.conftest import generated_run, make_workspace
from tests.faults import (
    export_files,
    lake_state,
    leftovers,
    log_lines,
    mart_tables,
    start_optout,
    unfinished_runs,
)

pytestmark = pytest.mark.faults

DAYS, USERS, SEED = 6, 250, 8


@pytest.fixture(scope="module")
def alone(tmp_path_factory, dbt_manifest):
    """The data set run once, by a run that had the warehouse to itself."""
    return generated_run(tmp_path_factory.mktemp("alone"), DAYS, USERS, SEED)


def _copy_landing(alone, root):
    ws = make_workspace(root)
    subprocess.run(["cp", "-r", str(alone.landing), str(ws.landing)], check=True)
    return ws


def _errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("optout run: ")]


def run_windows(ws) -> list[tuple[float, float]]:
    """(first write, end) of every run of the workspace's instance, in the order they wrote:
    its first materialization (a lake day replaced) and the moment it ended."""
    from dagster import DagsterEventType, DagsterInstance

    windows = []
    with DagsterInstance.from_config(str(ws.dagster_home)) as instance:
        for record in instance.get_run_records():
            assert record.dagster_run.is_success, record.dagster_run.status
            # lake/retention with OPTOUT_RETENTION_DAYS unset materializes at once and writes nothing
            writes = [
                event
                for event in instance.get_records_for_run(
                    record.dagster_run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION, limit=20
                ).records
                if event.event_log_entry.dagster_event.asset_key != RETENTION_KEY
            ]
            windows.append((writes[0].timestamp, record.end_time))
    return sorted(windows)


def test_two_runs_started_together_go_one_after_the_other(alone, tmp_path):
    """No daemon: each `optout run` executes in its own process, under the queue's limit."""
    ws = _copy_landing(alone, tmp_path)
    first = start_optout(ws, "run", "--start", "2026-01-01", "--end", "2026-01-06")
    second = start_optout(ws, "run", "--start", "2026-01-03", "--end", "2026-01-06")
    outputs = {
        name: (p.communicate(timeout=900)[0], p.returncode)
        for name, p in (("first", first), ("second", second))
    }
    assert [code for _, code in outputs.values()] == [0, 0], outputs
    text = "".join(output for output, _ in outputs.values())
    assert "waiting for Dagster run" in text  # one of them said what it waited for
    assert "Traceback" not in text and "nanobind" not in text
    (_, first_end), (second_write, _) = run_windows(ws)
    assert second_write >= first_end  # one writer at a time
    assert mart_tables(ws.warehouse) == mart_tables(alone.warehouse)
    written = export_files(ws)  # the shorter range also wrote that range's file
    assert {name: written.get(name) for name in export_files(alone)} == export_files(alone)
    assert unfinished_runs(ws) == [] and leftovers(ws) == []


def start_run_in_progress(ws):
    """`optout run` started, once its Dagster run is in progress (its first step has ended);
    the process and the lines it printed so far."""
    first = start_optout(ws, "run")
    seen = []
    for line in first.stdout:
        seen.append(line)
        if line.startswith("  ingest "):
            return first, seen
    raise AssertionError("".join(seen))


def test_wait_0_stops_at_once_with_one_line_naming_the_run(alone, tmp_path):
    ws = _copy_landing(alone, tmp_path)
    first, seen = start_run_in_progress(ws)
    second = ws.optout("run", "--wait", "0", check=False)
    first.communicate(timeout=600)
    assert first.returncode == 0
    assert second.returncode == 1
    assert _errors(second.stderr) == [second.stderr.strip().splitlines()[-1]]
    assert "Dagster run " in second.stderr and "(optout_everything, st" in second.stderr
    assert "Traceback" not in second.stderr
    assert len(run_windows(ws)) == 1  # the refused run never started one: it changed nothing


def test_a_waiting_run_goes_ahead_when_the_first_has_finished(alone, tmp_path):
    ws = _copy_landing(alone, tmp_path)
    first, seen = start_run_in_progress(ws)
    second = start_optout(ws, "run", "--wait", "600")
    first_output = "".join(seen) + first.communicate(timeout=600)[0]
    second_output = second.communicate(timeout=900)[0]
    assert first.returncode == 0 and second.returncode == 0, (first_output, second_output)
    assert "waiting for Dagster run" in second_output
    (_, first_end), (second_write, _) = run_windows(ws)
    assert second_write >= first_end
    assert mart_tables(ws.warehouse) == mart_tables(alone.warehouse)
    assert export_files(ws) == export_files(alone)


HOLD = """
import sys, time, duckdb
connection = duckdb.connect(sys.argv[1], read_only=True)
print("holding", flush=True)
time.sleep(120)
"""


def test_a_run_while_another_program_holds_the_warehouse_changes_nothing(alone, tmp_path):
    ws = _copy_landing(alone, tmp_path)
    ws.optout("run")
    before = lake_state(ws)
    marts_before = mart_tables(ws.warehouse)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(ws.warehouse)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        blocked = ws.optout("run", check=False)
        export = ws.optout("export", "--preset", "last_week", check=False)
    finally:
        holder.kill()
        holder.wait()
    assert blocked.returncode == 1
    lines = blocked.stderr.strip().splitlines()
    assert len(lines) == 1, blocked.stderr
    assert f"held open by PID {holder.pid}" in lines[0] and "changed nothing" in lines[0]
    assert "nanobind" not in blocked.stderr and "Traceback" not in blocked.stderr
    assert lake_state(ws) == before  # not a single lake file touched
    assert mart_tables(ws.warehouse) == marts_before
    assert export.returncode == 0  # a reader beside another reader is fine
    with duckdb.connect(str(ws.warehouse), read_only=True) as connection:
        statuses = connection.sql("select status from audit.marts_builds").fetchall()
    assert all(status == "passed" for (status,) in statuses)


def test_a_program_opening_the_warehouse_mid_run_never_yields_a_wrong_export(alone, tmp_path):
    """The window a run cannot close: a reader opens the warehouse after the run checked it.

    dbt then fails on DuckDB's lock after the lake was rewritten; the run says who holds the
    file in one line, and the exports refuse until a run passes its checks again.
    """
    ws = _copy_landing(alone, tmp_path)
    ws.optout("run")
    run = start_optout(ws, "run")
    holder = None
    output: list[str] = []
    for line in log_lines(run, output):
        if holder is None and "dbt build for export days" in line:
            holder = subprocess.Popen(
                [sys.executable, "-c", HOLD, str(ws.warehouse)], stdout=subprocess.PIPE, text=True
            )
            assert holder.stdout.readline().strip() == "holding"
    run.wait(timeout=600)
    try:
        refused = ws.optout("export", "--preset", "last_week", check=False)
    finally:
        holder.kill()
        holder.wait()
    text = "".join(output)
    assert run.returncode == 1
    errors = _errors(text)
    assert len(errors) == 1 and errors[0].startswith("optout run: step optout_dbt_models failed: ")
    assert f"the warehouse is held open by PID {holder.pid}" in errors[0]
    assert "nanobind" not in text
    assert refused.returncode == 1 and "not passed its checks" in refused.stderr
    ws.optout("run")
    assert mart_tables(ws.warehouse) == mart_tables(alone.warehouse)
    assert export_files(ws) == export_files(alone)
