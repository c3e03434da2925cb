"""A day no table delivered is not a day of zero opt-outs: runs leave it out unless told otherwise."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import re
import shutil

import duckdb
import polars as pl
import pytest
from dagster import DagsterInstance, materialize

from assets.contract import TABLE_NAMES
from assets.ingest.delivered import day_spans, delivered_days, undelivered_days
from assets.ingest.lake import DATA_FILE, LOG_FILE, day_dir, ingested_days
from assets.marts_builds import read_checked_export_days
from orchestration.commands import run as run_module
from orchestration.commands.common import CliError, settings
from orchestration.ingest_assets import build_ingest_assets, undelivered_tags
from orchestration.jobs import partition_range_tags
from orchestration.partitions import export_days
from orchestration.resources import OptoutPaths
from orchestration.run_queue import QueueSubmitError
from tests.conftest import generated_run
from tests.faults import export_files, mart_tables, serving_tables
from tests.helpers import day_folder, ingest, loaded, write_good_messages

D = dt.date.fromisoformat


# --- which days were delivered --------------------------------------------------------------


@pytest.mark.quick
def test_day_spans_join_consecutive_days():
    days = [D("2026-03-02"), D("2026-03-01"), D("2026-03-05"), D("2026-03-03"), D("2026-03-01")]
    assert day_spans(days) == "2026-03-01 .. 2026-03-03, 2026-03-05"
    assert day_spans([D("2026-12-31"), D("2027-01-01")]) == "2026-12-31 .. 2027-01-01"
    assert day_spans([]) == ""


@pytest.mark.quick
def test_a_day_is_delivered_when_any_table_has_its_folder(tmp_path):
    landing = tmp_path / "landing"
    write_good_messages(landing, ["2026-01-01"])
    day_folder(landing, "users", "2026-01-03")  # an empty folder: delivered, with no records
    day_folder(landing, "campaigns", "2026-01-05")
    (landing / "app_events" / "dt=yesterday").mkdir(parents=True)  # not an export day folder
    (landing / "subscriptions").mkdir()
    assert delivered_days(landing) == [D("2026-01-01"), D("2026-01-03"), D("2026-01-05")]
    week = [D("2026-01-01") + dt.timedelta(days=i) for i in range(7)]
    assert undelivered_days(landing, week) == [
        D("2026-01-02"),
        D("2026-01-04"),
        D("2026-01-06"),
        D("2026-01-07"),
    ]
    assert undelivered_days(tmp_path / "nothing landed", week[:2]) == week[:2]


# --- `optout run`: the range, the tag ------------------------------------------------------


@pytest.mark.quick
def test_the_range_is_trimmed_to_its_delivered_days(workspace, monkeypatch, capsys):
    monkeypatch.setenv("OPTOUT_FIRST_DAY", "2026-01-01")
    write_good_messages(workspace.landing, ["2026-01-02", "2026-01-03", "2026-01-06"])
    config = settings()

    assert run_module.resolve_range(config, D("2026-01-01"), D("2026-01-09")) == (
        D("2026-01-02"),
        D("2026-01-06"),
    )
    said = capsys.readouterr().out
    assert (
        "export days 2026-01-01, 2026-01-04 .. 2026-01-05, 2026-01-07 .. 2026-01-09 not delivered "
        "(no table has their folder): left out; pass --undelivered-as-zero to record them as days with zero records"
    ) in said

    assert run_module.resolve_range(config, D("2026-01-02"), D("2026-01-03")) == (
        D("2026-01-02"),
        D("2026-01-03"),
    )
    assert capsys.readouterr().out == ""  # nothing left out, nothing said

    # a typo in --end: nothing of the range was delivered, so there is nothing to run
    assert run_module.resolve_range(config, D("2026-01-07"), D("2026-06-30")) is None
    assert "no export day of 2026-01-07 .. 2026-06-30 was delivered" in capsys.readouterr().out

    # asked for explicitly, the undelivered days are the run's days (as zero days)
    assert run_module.resolve_range(config, D("2026-01-07"), D("2026-06-30"), undelivered_as_zero=True) == (
        D("2026-01-07"),
        D("2026-06-30"),
    )
    assert capsys.readouterr().out == ""
    # the checks of the range still come first
    with pytest.raises(CliError, match="after --end"):
        run_module.resolve_range(config, D("2026-01-09"), D("2026-01-02"))


@pytest.mark.quick
@pytest.mark.parametrize("daemon", [True, False], ids=["queued", "in-process"])
@pytest.mark.parametrize("as_zero", [True, False], ids=["as-zero", "default"])
def test_the_option_reaches_the_run_as_a_tag(workspace, monkeypatch, tmp_path, daemon, as_zero):
    monkeypatch.setenv("OPTOUT_FIRST_DAY", "2026-01-01")
    write_good_messages(workspace.landing, ["2026-01-02"])
    launched: list[dict[str, str]] = []

    def launch(*args):
        launched.append(
            next(arg for arg in args if isinstance(arg, dict) and "dagster/asset_partition_range_end" in arg)
        )
        raise QueueSubmitError("stopped by the test before any run")

    # no Dagster instance: what matters is the tags the run would be started with
    monkeypatch.setattr(run_module, "get_instance", lambda: None)
    monkeypatch.setattr(run_module, "reap_dead_runs", lambda instance: [])
    monkeypatch.setattr(run_module, "new_log_path", lambda: tmp_path / "run.log")
    monkeypatch.setattr(run_module, "daemon_serves", lambda instance: daemon)
    monkeypatch.setattr(run_module, "wait_for_turn", lambda *args: None)
    monkeypatch.setattr(run_module, "check_warehouse_writable", lambda *args: None)
    monkeypatch.setattr(run_module, "submit_to_queue", launch)
    monkeypatch.setattr(run_module, "run_in_process", launch)
    args = argparse.Namespace(
        start=D("2026-01-02"), end=D("2026-01-04"), wait=None, full_refresh=False, undelivered_as_zero=as_zero
    )
    with pytest.raises(CliError, match="stopped by the test"):
        run_module.run_command(args)

    (tags,) = launched
    assert tags["dagster/asset_partition_range_start"] == "2026-01-02"
    # trimmed to the delivered day unless the undelivered ones are to be recorded as zero days
    assert tags["dagster/asset_partition_range_end"] == ("2026-01-04" if as_zero else "2026-01-02")
    assert tags.get("optout/undelivered") == ("zero" if as_zero else None)


# --- the ingest assets ------------------------------------------------------------------------


def _ingest_everything(start: str, end: str, as_zero: bool):
    instance = DagsterInstance.ephemeral()
    result = materialize(
        build_ingest_assets(export_days(D("2025-01-01"))),
        instance=instance,
        resources={"paths": OptoutPaths()},
        tags={**partition_range_tags(start, end), **undelivered_tags(as_zero)},
    )
    warnings = [
        entry.user_message for entry in instance.all_logs(result.run_id) if entry.level == logging.WARNING
    ]
    return result, warnings


def _lake_days(lake, table: str) -> list[str]:
    return [day.isoformat() for day in ingested_days(lake, table)]


@pytest.mark.quick
def test_the_ingest_assets_leave_out_the_days_nobody_delivered(workspace):
    landing, lake = workspace.landing, workspace.lake
    write_good_messages(landing, ["2026-01-01", "2026-01-02", "2026-01-04"])
    day_folder(landing, "users", "2026-01-05")
    # 2026-01-02 was delivered and ingested once; its folder has since gone from the landing area
    ingest(landing, lake, "messages", "2026-01-02")
    shutil.rmtree(landing / "messages" / "dt=2026-01-02")

    result, warnings = _ingest_everything("2026-01-01", "2026-01-06", as_zero=False)
    assert result.success
    for table in TABLE_NAMES:
        # a day one table delivered is a day of every table (empty where a table sent nothing)
        expected = ["2026-01-01", "2026-01-04", "2026-01-05"]
        if table == "messages":
            expected = ["2026-01-01", "2026-01-02", "2026-01-04", "2026-01-05"]
        assert _lake_days(lake, table) == expected, table
        assert any(
            w.startswith(f"{table}: not delivered, left out: 2026-01-02 .. 2026-01-03, 2026-01-06 (")
            for w in warnings
        ), (table, warnings)
        metadata = result.asset_materializations_for_node(f"lake__{table}")[0].metadata
        assert metadata["export_days"].value == 3
        assert metadata["not_delivered"].value == ["2026-01-02", "2026-01-03", "2026-01-06"]
    assert loaded(lake, "messages", "2026-01-02")["event_id"].to_list() == ["m-2026-01-02"]  # kept
    assert loaded(lake, "users", "2026-01-05").height == 0

    # recorded as zero days when the run says so: every day of the range, the old one replaced
    result, warnings = _ingest_everything("2026-01-01", "2026-01-06", as_zero=True)
    assert result.success
    assert not [w for w in warnings if "not delivered" in w]
    for table in TABLE_NAMES:
        assert _lake_days(lake, table) == [f"2026-01-0{i}" for i in range(1, 7)], table
    assert loaded(lake, "messages", "2026-01-02").height == 0
    log = pl.read_parquet(day_dir(lake, "campaigns", D("2026-01-06")) / LOG_FILE)
    assert log.select("files_read", "records_read", "records_loaded").row(0) == (0, 0, 0)


# --- end to end: a run over days nobody delivered changes nothing ---------------------------


LAST_DAY = D("2026-01-10")  # the last of the 10 generated export days


@pytest.fixture(scope="module")
def delivered_run(tmp_path_factory, dbt_manifest):
    """300 users x 10 export days (2026-01-01 .. 2026-01-10) run through `optout run` once."""
    return generated_run(tmp_path_factory.mktemp("not-delivered"), days=10, users=300, seed=17)


def _files(folder) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _lake_folders(ws) -> dict[str, list[str]]:
    return {table: _lake_days(ws.lake, table) for table in TABLE_NAMES}


def _run_logs(ws) -> list[str]:
    return sorted(path.name for path in (ws.dagster_home / "optout-logs").glob("optout-run-*.log"))


def _days_named(names) -> list[dt.date]:
    return sorted(D(found) for name in names for found in re.findall(r"\d{4}-\d{2}-\d{2}", name))


def _last_week(ws) -> str:
    return ws.optout("export", "--preset", "last_week").stdout


def test_a_run_over_days_nobody_delivered_changes_nothing(delivered_run):
    ws = delivered_run
    marts, exports, lake = mart_tables(ws.warehouse), _files(ws.exports), _files(ws.lake)
    served, logs, rolling = serving_tables(ws), _run_logs(ws), export_files(ws)
    assert read_checked_export_days(ws.warehouse)[:2] == (D("2026-01-01"), LAST_DAY)
    assert marts["mart_opt_out_daily"] and max(row[0] for row in marts["mart_opt_out_daily"]) == LAST_DAY

    # a range of which nothing was delivered: no Dagster run at all, nothing touched
    nothing = ws.optout("run", "--start", "2026-01-11", "--end", "2026-03-31")
    assert (
        "no export day of 2026-01-11 .. 2026-03-31 was delivered (no table has their folder): nothing to run, "
        "nothing changed; pass --undelivered-as-zero to record them as days with zero records"
    ) in nothing.stdout
    assert "Summary" not in nothing.stdout and "materializing" not in nothing.stdout
    assert _run_logs(ws) == logs
    assert _files(ws.lake) == lake and _files(ws.exports) == exports
    assert mart_tables(ws.warehouse) == marts and serving_tables(ws) == served

    # a typo in --end: the run covers the delivered days of the range only
    typo = ws.optout("run", "--start", "2026-01-09", "--end", "2026-06-30")
    assert (
        "export days 2026-01-11 .. 2026-06-30 not delivered (no table has their folder): left out; "
        "pass --undelivered-as-zero to record them as days with zero records"
    ) in typo.stdout
    assert "materializing 2 export days 2026-01-09 .. 2026-01-10" in typo.stdout
    assert "Summary for export days 2026-01-09 .. 2026-01-10" in typo.stdout
    assert "2026-01-01 .. 2026-01-10 (the report's range)" in typo.stdout
    assert len(_run_logs(ws)) == len(logs) + 1
    assert mart_tables(ws.warehouse) == marts and serving_tables(ws) == served
    assert _lake_folders(ws) == {table: [f"2026-01-{i:02d}" for i in range(1, 11)] for table in TABLE_NAMES}
    assert read_checked_export_days(ws.warehouse)[:2] == (D("2026-01-01"), LAST_DAY)
    # the rolling files are the same files, with the same bytes; no file is named after a later day
    assert export_files(ws) == rolling
    assert sorted(name for name in rolling if name.endswith(".csv")) == [
        "2025-01-11_2026-01-10.csv",
        "2025-12-12_2026-01-10.csv",
        "2026-01-01_2026-01-10.csv",  # the report's range
        "2026-01-04_2026-01-10.csv",
    ]
    # each CSV with its Parquet file of the exact values
    assert sorted(name for name in rolling if name.endswith(".parquet")) == [
        name.replace(".csv", ".parquet") for name in sorted(rolling) if name.endswith(".csv")
    ]
    assert _days_named(_files(ws.exports))[-1] == LAST_DAY

    # the presets stay relative to the last delivered day
    assert "2026-01-04 .. 2026-01-10" in _last_week(ws)


def test_undelivered_as_zero_records_days_with_zero_records(delivered_run):
    # after the test above, which needs the marts to end on the last delivered day
    ws = delivered_run
    days = [D("2026-01-11"), D("2026-01-12"), D("2026-01-13")]
    result = ws.optout("run", "--start", "2026-01-11", "--end", "2026-01-13", "--undelivered-as-zero")
    assert "not delivered" not in result.stdout
    assert "materializing 3 export days 2026-01-11 .. 2026-01-13" in result.stdout

    for table in TABLE_NAMES:
        assert ingested_days(ws.lake, table)[-3:] == days, table
        for day in days:
            assert pl.read_parquet(day_dir(ws.lake, table, day) / DATA_FILE).height == 0
            log = pl.read_parquet(day_dir(ws.lake, table, day) / LOG_FILE)
            assert log.select("files_read", "records_read", "records_loaded").row(0) == (0, 0, 0)
    assert read_checked_export_days(ws.warehouse)[:2] == (D("2026-01-01"), D("2026-01-13"))
    with duckdb.connect(str(ws.warehouse), read_only=True) as connection:
        zero_days = connection.sql(
            "select date, count(*), sum(opt_outs_detected), sum(opt_ins) from marts.mart_opt_out_daily "
            "where date > date '2026-01-10' group by date order by date"
        ).fetchall()
    assert zero_days == [(day, 4, 0, 0) for day in days]  # one row per platform, all zero
    # and everything counted from the last ingested day moves with them
    assert "2026-01-07 .. 2026-01-13" in _last_week(ws)
    assert (ws.exports / "opted_out_users" / "2026-01-07_2026-01-13.csv").exists()
