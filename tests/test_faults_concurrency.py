"""Concurrency faults: two runs at once, and a run while another program holds the warehouse.

The run that cannot write must find out before it changes anything (the lake included)
and stop with one line that says who holds the warehouse; the other run's results must be
those of a run alone.
"""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import pytest

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


def test_two_runs_started_together_one_stops_at_once_with_one_line(alone, tmp_path):
    ws = _copy_landing(alone, tmp_path)
    first = start_optout(ws, "run", "--start", "2026-01-01", "--end", "2026-01-06")
    second = start_optout(ws, "run", "--start", "2026-01-03", "--end", "2026-01-06")
    outputs = {}
    for name, process in (("first", first), ("second", second)):
        outputs[name] = (process.communicate(timeout=600)[0], process.returncode)
    codes = sorted(code for _, code in outputs.values())
    assert codes == [0, 1], outputs
    loser_output = next(output for output, code in outputs.values() if code == 1)
    # one line, naming the run that holds the warehouse; nothing ingested, no traceback
    assert _errors(loser_output) == [loser_output.strip().splitlines()[-1]]
    assert "another optout run" in loser_output and "PID " in loser_output
    assert "lake__" not in loser_output and "Traceback" not in loser_output
    assert "nanobind" not in loser_output
    # the winner's results are those of a run alone (the loser changed nothing)
    if outputs["second"][1] == 0:  # the shorter range won: run the rest as a user would
        subprocess.run(
            [sys.executable, "-m", "orchestration.cli", "run"],
            env={**os.environ, **ws.env()},
            check=True,
            capture_output=True,
        )
    assert mart_tables(ws.warehouse) == mart_tables(alone.warehouse)
    written = export_files(ws)  # a winner over the shorter range also wrote that range's file
    assert {name: written.get(name) for name in export_files(alone)} == export_files(alone)
    assert unfinished_runs(ws) == [] and leftovers(ws) == []


def test_a_waiting_run_goes_ahead_when_the_first_has_finished(alone, tmp_path):
    ws = _copy_landing(alone, tmp_path)
    first = start_optout(ws, "run")
    seen = []
    for line in first.stdout:  # the first holds the run lock once it says it is materializing
        seen.append(line)
        if "materializing" in line:
            break
    second = start_optout(ws, "run", "--wait", "600")
    first_output = "".join(seen) + first.communicate(timeout=600)[0]
    second_output = second.communicate(timeout=900)[0]
    assert first.returncode == 0 and second.returncode == 0, (first_output, second_output)
    assert "waiting for another optout run" in second_output
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
