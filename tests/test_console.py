"""What `optout run` shows in a terminal: each step once, the summary, a log file with the rest."""

import datetime as dt
import re
from pathlib import Path

import duckdb
import pytest

from assets.alerts.read import Alerts
from assets.generator.run import generate
from assets.generator.simulate import default_plants
from orchestration import cli
from orchestration.commands.common import CliError
from orchestration.commands.run import SUMMARY_ALERTS, print_alerts

DAYS = 60


def test_sixty_days_print_under_forty_five_lines_and_log_the_rest(workspace, dbt_manifest):
    # the README's first command: the sample (60 days, its planted bad campaign), then the run
    result = workspace.optout("demo")
    output = (result.stdout + result.stderr).splitlines()
    started = next(n for n, line in enumerate(output) if "materializing 60 export days" in line)
    assert "is empty: generating the sample exports first" in output[0]
    lines = output[started:]  # what `optout run` prints
    # one line per step (about twenty) and the summary; never one per day and table (300)
    assert len(lines) < 45, "\n".join(lines)
    # the demo's point: its planted campaign is flagged, in the summary's early warnings
    assert any(re.match(r"  EARLY WARNINGS 2026-01-01 \.\. 2026-03-01 \(\d+\):", line) for line in lines)
    assert any(
        line.startswith(f"    ! campaign {default_plants(DAYS)[0].campaign_id} (push") for line in lines
    )
    # and still under 45 had the run found many early warnings: the summary shows at most
    # SUMMARY_ALERTS of them, a heading and a line naming the file with the rest
    alert_lines = [
        line for line in lines if line.lower().startswith("  early warnings") or line.startswith("    ")
    ]
    assert len(lines) - len(alert_lines) + SUMMARY_ALERTS + 2 < 45, "\n".join(lines)
    # every step once, with its progress
    for table in ("app_events", "campaigns", "messages", "subscriptions", "users"):
        assert sum(line.startswith(f"  ingest {table} ") for line in lines) == 1
        assert any(re.match(rf"  ingest {table} +{DAYS}/{DAYS} days +done", line) for line in lines)
    assert any(re.match(r"  dbt build +(\d+)/\1 models +done", line) for line in lines), lines
    assert "Summary for export days 2026-01-01 .. 2026-03-01" in result.stdout
    # the full log: named at the start and at the end, with what the terminal leaves out
    named = re.findall(r"full log:\s+(\S+\.log)", result.stdout)
    assert len(named) == 2 and named[0].rstrip(")") == named[1]
    log = Path(named[1]).read_text()
    assert log.count(f"/{DAYS} (") >= 5 * DAYS  # a line per table and day
    assert "START sql incremental model staging.stg_lake__messages" in log  # dbt's own lines
    assert "STEP_SUCCESS" in log or "Finished execution of step" in log or "succeeded" in log
    assert not any("AssetObservation" in line or "Logging an" in line for line in lines)


def test_many_alerts_show_the_first_few_and_name_the_file_with_all(capsys, tmp_path):
    days = [
        {
            "date": dt.date(2026, 1, n),
            "platform": "ios",
            "opt_outs_estimated": 20.0 + n,
            "expected_opt_outs": 2.0,
            "p_shown": "p = 1.0e-06",
        }
        for n in range(1, 10)
    ]
    print_alerts(Alerts(dt.date(2026, 1, 1), dt.date(2026, 1, 31), days, []), tmp_path)
    shown = capsys.readouterr().out.splitlines()
    assert shown[0] == "  EARLY WARNINGS 2026-01-01 .. 2026-01-31 (9):"
    assert shown[1] == "    ! 2026-01-01 ios: 21.0 opt-outs (re-spread) vs 2.0 expected, p = 1.0e-06"
    assert len(shown) == 1 + SUMMARY_ALERTS + 1
    assert (
        shown[-1]
        == f"    ... and {9 - SUMMARY_ALERTS} more in {tmp_path / 'alerts' / '2026-01-01_2026-01-31.json'}"
    )


def test_a_bug_keeps_its_traceback_and_a_known_failure_is_one_line(monkeypatch, capsys):
    def buggy(args):
        raise KeyError("a bug")

    monkeypatch.setattr("orchestration.commands.demo.demo_command", buggy)
    with pytest.raises(KeyError):
        cli.main(["demo"])

    def refused(args):
        raise CliError("nothing to do")

    monkeypatch.setattr("orchestration.commands.demo.demo_command", refused)
    assert cli.main(["demo"]) == 1
    assert capsys.readouterr().err == "optout demo: nothing to do\n"


def test_full_refresh_rebuilds_what_a_daily_run_keeps(workspace, dbt_manifest):
    generate(workspace.landing, dt.date(2026, 1, 1), 40, 100, seed=9)
    workspace.optout("run")
    # a value no build would write, on a day before the horizon of a daily run on day 40
    # (that reaches back 33 days: late records, lookbacks, detection lag)
    changed = "update marts.mart_opt_out_daily set opt_ins = opt_ins + 1000 where date = date '2026-01-01'"
    with duckdb.connect(str(workspace.warehouse)) as connection:
        connection.execute(changed)
    query = "select sum(opt_ins) from marts.mart_opt_out_daily where date = date '2026-01-01'"

    def opt_ins() -> int:
        with duckdb.connect(str(workspace.warehouse), read_only=True) as connection:
            return connection.execute(query).fetchall()[0][0]

    workspace.optout("run", "--start", "2026-02-09", "--end", "2026-02-09")
    assert opt_ins() >= 1000  # incremental: the rows before the horizon are kept as they were
    workspace.optout("run", "--start", "2026-02-09", "--end", "2026-02-09", "--full-refresh")
    assert opt_ins() < 1000  # rebuilt from the whole lake
