"""Crash faults: `kill -9` of the whole `optout run` process group at each stage, then a
normal re-run. Marts, exports and the serving copy must equal an uninterrupted run; no run
may stay STARTED; nothing a killed writer left may survive the re-run; between the kill and
the re-run an export never covers days the checked marts do not hold, and the serving copy
BI tools read is always a whole snapshot of checked marts."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import generated_run, make_workspace
from tests.faults import (
    export_files,
    kill_when,
    leftovers,
    mart_tables,
    serving_tables,
    start_optout,
    unfinished_runs,
)

pytestmark = pytest.mark.faults

DAYS, USERS, SEED = 8, 300, 21

# (moment, line of the run's output at which it is killed, seconds after that line)
INGEST_KILLS = [
    ("ingesting app_events", r"lake__app_events: app_events: day 2/", 0.0),
    ("ingesting campaigns", r"lake__campaigns: campaigns: day 3/", 0.0),
    ("ingesting messages", r"lake__messages: messages: day 4/", 0.0),
    ("ingesting subscriptions", r"lake__subscriptions: subscriptions: day 5/", 0.0),
    ("ingesting users", r"lake__users: users: day 6/", 0.0),
]
LATER_KILLS = [
    ("inside dbt, rebuilding the marts", r"START sql (table|incremental) model marts\.", 0.3),
    ("during the exports", r"exports__opted_out_users_rolling: last_week", 0.0),
    # the report of unchanged numbers is kept, not drawn: its record of them is removed
    # first (_forget_drawn_reports), so that this run draws it and is killed while it does
    ("during the report", r"reports__opt_out_report: Started execution of step", 0.3),
    ("while publishing the serving copy", r"serving__snapshot: Started execution of step", 0.05),
]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, dbt_manifest):
    return generated_run(tmp_path_factory.mktemp("uninterrupted"), DAYS, USERS, SEED)


def _assert_like_uninterrupted(ws, reference) -> None:
    assert mart_tables(ws.warehouse) == mart_tables(reference.warehouse)
    assert serving_tables(ws) == mart_tables(reference.warehouse)
    assert export_files(ws) == export_files(reference)
    assert unfinished_runs(ws) == []
    assert leftovers(ws) == []


def _forget_drawn_reports(ws) -> None:
    """Remove what the reports in place were drawn from (assets/report/build.py): the next run
    draws them again instead of keeping them."""
    for record in (ws.exports / "reports").glob(".*.inputs"):
        record.unlink()


def test_kill_at_every_stage_then_rerun_equals_an_uninterrupted_run(uninterrupted, tmp_path):
    ws = make_workspace(tmp_path)
    shutil.copytree(uninterrupted.landing, ws.landing)
    kills = 0

    # every ingest step, on a first run (nothing built yet): exports refuse until a run passes
    for moment, pattern, delay in INGEST_KILLS:
        kill_when(start_optout(ws, "run"), pattern, delay)
        kills += 1
        refused = ws.optout("export", "--preset", "last_week", check=False)
        assert refused.returncode == 1, moment
        assert "run `optout run`" in refused.stderr and "Traceback" not in refused.stderr, moment
    assert len(unfinished_runs(ws)) == 1  # a killed run stays STARTED (each new run reaps the last) ...
    ws.optout("run")  # ... until the next run marks them failed and goes ahead
    _assert_like_uninterrupted(ws, uninterrupted)

    # later stages, each after a complete run
    last_week = "opted_out_users/2026-01-02_2026-01-08.csv"
    for moment, pattern, delay in LATER_KILLS:
        if "report" in moment:
            _forget_drawn_reports(ws)
        kill_when(start_optout(ws, "run"), pattern, delay)
        kills += 1
        after_kill = ws.optout("export", "--preset", "last_week", check=False)
        if "dbt" in moment:
            # the marts were being rewritten: nothing may be exported from them
            assert after_kill.returncode == 1 and "not passed its checks" in after_kill.stderr, moment
        else:
            # the marts had passed their checks: the export is the uninterrupted one
            assert after_kill.returncode == 0, moment
            assert (ws.exports / last_week).read_bytes() == (uninterrupted.exports / last_week).read_bytes()
        # whichever snapshot BI tools see now, it is a whole one of checked marts
        assert serving_tables(ws) == mart_tables(uninterrupted.warehouse), moment
        rerun = ws.optout("run")
        assert "marked failed" in rerun.stdout, moment
        _assert_like_uninterrupted(ws, uninterrupted)
    assert kills == len(INGEST_KILLS) + len(LATER_KILLS)
