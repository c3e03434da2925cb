"""Retention: export days older than OPTOUT_RETENTION_DAYS leave the landing area and the lake.

The rule: export day D is removed when D < today (UTC) - N days. The unit tests pass their
own `today`, so they never depend on the date; the Dagster and end-to-end tests place their
days relative to today's UTC date.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from dagster import DagsterInstance, build_sensor_context, materialize

from assets.config import load_settings, read_settings
from assets.contract import TABLE_NAMES
from assets.ingest import retention as retention_module
from assets.ingest.day import ingest_table_day
from assets.ingest.lake import DATA_FILE, QUARANTINE_FILE, day_dir, ingested_days
from assets.ingest.retention import (
    HIDDEN_PREFIX,
    Removal,
    TableRemoval,
    apply_retention,
    expired_days,
    first_kept_day,
    past_retention,
    today_utc,
)
from orchestration.commands import run as run_module
from orchestration.commands.common import CliError, settings
from orchestration.ingest_assets import build_ingest_assets
from orchestration.jobs import build_everything_job, partition_range_tags
from orchestration.partitions import export_days
from orchestration.resources import OptoutPaths
from orchestration.retention_asset import build_retention_asset, retention_summary, run_days
from orchestration.schedules import build_landing_sensor, daily_run_range
from tests.conftest import make_workspace
from tests.helpers import app_event, ingest, message, run_optout, write_jsonl

TODAY = dt.date(2026, 3, 10)  # the unit tests' `today`
DAY = dt.timedelta(days=1)


def _ago(days: int, today: dt.date = TODAY) -> dt.date:
    return today - days * DAY


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` (relative path -> bytes; a symlink -> where it leads), hidden ones too."""
    found = {}
    for folder, subfolders, files in os.walk(root):
        for name in files + subfolders:
            path = Path(folder) / name
            if path.is_symlink():
                found[str(path.relative_to(root))] = f"-> {os.readlink(path)}".encode()
            elif path.is_file():
                found[str(path.relative_to(root))] = path.read_bytes()
    return found


def _without(tree: dict[str, bytes], *prefixes: str) -> dict[str, bytes]:
    return {path: data for path, data in tree.items() if not path.startswith(prefixes)}


def _deliver(landing: Path, lake: Path, days: list[dt.date]) -> None:
    """Per day: two messages (one of them bad: quarantined) and one app event, landed and ingested."""
    for day in days:
        iso = day.isoformat()
        write_jsonl(
            landing, "messages", iso, "a.jsonl", [message(f"m-{iso}", occurred_at=f"{iso}T10:00:00Z"), "{"]
        )
        write_jsonl(landing, "app_events", iso, "e.jsonl", [app_event(f"e-{iso}", "u1", f"{iso}T09:00:00Z")])
        ingest(landing, lake, "messages", iso)
        ingest(landing, lake, "app_events", iso)


def _day_folders(table_root: Path) -> list[str]:
    return sorted(child.name for child in table_root.iterdir()) if table_root.is_dir() else []


@pytest.fixture
def area(tmp_path) -> Path:
    """landing/ and lake/ with the days TODAY-5 .. TODAY, and things retention must leave alone."""
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    _deliver(landing, lake, [_ago(n) for n in range(5, -1, -1)])
    (landing / "README.txt").write_text("the vendor's notes")
    (landing / "messages" / "notes.txt").write_text("not an export day")
    write_jsonl(landing, "messages", "2020-02-31", "a.jsonl", [message("not-a-date")])  # no real date
    (landing / "messages" / "dt=2020-01-01.bak").mkdir()
    (landing / "messages" / "dt=2020-01-01.bak" / "a.jsonl").write_text("{}\n")
    write_jsonl(landing, "vendor_extra", "2020-01-01", "x.jsonl", [{"a": 1}])  # no table of the contract
    (tmp_path / "warehouse").mkdir()
    (tmp_path / "warehouse" / "optout.duckdb").write_bytes(b"not touched")
    return tmp_path


# --- the rule --------------------------------------------------------------------------------


@pytest.mark.quick
def test_a_day_is_removed_when_older_than_today_minus_n_days():
    days = [_ago(n) for n in range(6)]
    assert first_kept_day(3, TODAY) == dt.date(2026, 3, 7)
    assert expired_days(days, 3, TODAY) == [dt.date(2026, 3, 5), dt.date(2026, 3, 6)]
    # N = 1 keeps yesterday and today
    assert first_kept_day(1, TODAY) == dt.date(2026, 3, 9)
    assert expired_days(days, 1, TODAY) == [_ago(n) for n in range(5, 1, -1)]
    assert expired_days(days, 6, TODAY) == []
    assert expired_days(days, None, TODAY) == []  # unset: everything is kept
    assert first_kept_day(400, TODAY) == dt.date(2025, 2, 3)
    with pytest.raises(ValueError):
        first_kept_day(0, TODAY)


@pytest.mark.quick
def test_today_is_the_date_in_utc_whatever_the_time_zone():
    # 05:00 on 2 January in Kiribati (UTC+14) is still 1 January in UTC; 20:00 on 1 January in
    # Hawaii (UTC-10) is already 2 January
    assert today_utc(dt.datetime(2026, 1, 2, 5, tzinfo=ZoneInfo("Pacific/Kiritimati"))) == dt.date(2026, 1, 1)
    assert today_utc(dt.datetime(2026, 1, 1, 20, tzinfo=ZoneInfo("Pacific/Honolulu"))) == dt.date(2026, 1, 2)
    with pytest.raises(ValueError, match="time zone aware"):
        today_utc(dt.datetime(2026, 1, 1, 20))


@pytest.mark.quick
def test_a_run_over_removed_days_is_told_why_in_one_line():
    assert past_retention([_ago(2), _ago(1)], 3, TODAY) is None
    assert past_retention([_ago(9)], None, TODAY) is None
    assert past_retention([_ago(n) for n in range(6, 0, -1)], 3, TODAY) == (
        "export days 2026-03-04 .. 2026-03-06 older than the retention period: OPTOUT_RETENTION_DAYS=3 "
        "removes every export day before 2026-03-07 from landing and lake (docs/privacy.md#retention); "
        "start at 2026-03-07 or later"
    )
    assert past_retention([_ago(4)], 3, TODAY).startswith("export day 2026-03-06 older than")


# --- the removal -----------------------------------------------------------------------------


@pytest.mark.quick
def test_removes_exactly_the_days_before_the_first_kept_day_and_nothing_else(area):
    landing, lake = area / "landing", area / "lake"
    before = _tree(area)
    removed = [_ago(5), _ago(4)]  # 2026-03-05, 2026-03-06; 2026-03-07 is the first day kept
    loaded = {day: pl.read_parquet(day_dir(lake, "messages", day) / DATA_FILE).height for day in removed}
    quarantined = {
        day: pl.read_parquet(day_dir(lake, "messages", day) / QUARANTINE_FILE).height for day in removed
    }
    assert loaded == quarantined == dict.fromkeys(removed, 1)

    removal = apply_retention(landing, lake, TABLE_NAMES, 3, TODAY)

    gone = tuple(
        f"{where}/{table}/dt={day}"
        for where in ("landing", "lake")
        for table in TABLE_NAMES
        for day in removed
    )
    # every other file is the same, byte for byte; nothing hidden is left behind
    assert _tree(area) == _without(before, *gone)
    assert len(before) - len(_tree(area)) == 2 * 2 * (1 + 4)  # 2 tables x 2 days x (1 landing + 4 lake files)
    for table in ("messages", "app_events"):
        kept = [f"dt={_ago(n)}" for n in range(3, -1, -1)]
        assert [name for name in _day_folders(landing / table) if name.startswith("dt=20")][-4:] == kept
        assert _day_folders(lake / table) == kept
        assert ingested_days(lake, table) == [_ago(n) for n in range(3, -1, -1)]

    assert removal.days == removed
    assert removal.first_kept == dt.date(2026, 3, 7)
    assert sorted(removal.tables) == ["app_events", "messages"]
    messages = removal.tables["messages"]
    assert (messages.landing_days, messages.lake_days) == (removed, removed)
    # a lake day: data, quarantine, ingestion log and vendor file counts (empty for the contract)
    assert (messages.landing_files, messages.lake_files, messages.records, messages.quarantined) == (
        2,
        8,
        2,
        2,
    )
    events = removal.tables["app_events"]
    assert (events.landing_files, events.lake_files, events.records, events.quarantined) == (2, 8, 2, 0)
    assert (removal.files, removal.records) == (20, 6)
    assert removal.summary() == (
        "retention 3 days: removed export days 2026-03-05 .. 2026-03-06 (2 tables, 20 files, 6 records) "
        "from landing and lake"
    )
    assert messages.line() == (
        "messages: removed export days 2026-03-05 .. 2026-03-06: 2 landing day folders (2 files), "
        "2 lake day folders (2 records, 2 quarantined)"
    )
    metadata = removal.as_metadata()
    assert metadata["removed_days"] == "2026-03-05 .. 2026-03-06"
    assert metadata["tables"]["app_events"] == {
        "days": "2026-03-05 .. 2026-03-06",
        "landing_days": 2,
        "landing_files": 2,
        "lake_days": 2,
        "lake_files": 8,
        "records": 2,
        "quarantined": 0,
    }

    # a second pass has nothing left to do, and says so
    again = apply_retention(landing, lake, TABLE_NAMES, 3, TODAY)
    assert again.tables == {} and again.days == []
    assert again.summary() == "retention 3 days: no export day before 2026-03-07 left to remove"
    assert _tree(area) == _without(before, *gone)


@pytest.mark.quick
def test_n_equal_one_keeps_yesterday_and_today(area):
    before = _tree(area)
    removal = apply_retention(area / "landing", area / "lake", TABLE_NAMES, 1, TODAY)
    assert removal.days == [_ago(n) for n in range(5, 1, -1)]
    assert _day_folders(area / "lake" / "messages") == [f"dt={_ago(1)}", f"dt={_ago(0)}"]
    assert (
        _tree(area)["landing/messages/dt=2026-03-09/a.jsonl"]
        == before["landing/messages/dt=2026-03-09/a.jsonl"]
    )


@pytest.mark.quick
def test_days_only_in_one_area_and_scattered_days_are_named(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    _deliver(landing, lake, [dt.date(2026, 1, d) for d in (1, 3, 5, 7, 9)])
    shutil.rmtree(landing / "messages")  # the vendor's folders are gone; the lake still holds the days
    shutil.rmtree(landing / "app_events")
    removal = apply_retention(landing, lake, TABLE_NAMES, 3, TODAY)
    assert removal.summary() == (
        "retention 3 days: removed export days 2026-01-01 .. 2026-01-09 (5 days) (2 tables, 40 files, "
        "15 records) from the lake"
    )
    assert sorted(removal.tables["messages"].lake_days) == [dt.date(2026, 1, d) for d in (1, 3, 5, 7, 9)]
    assert removal.tables["messages"].landing_days == []


@pytest.mark.quick
def test_summary_words_for_one_table_one_file_one_day():
    removal = Removal(1, dt.date(2026, 3, 9))
    removal.tables["users"] = TableRemoval("users", landing_days=[dt.date(2026, 1, 2)], landing_files=1)
    assert removal.summary() == (
        "retention 1 day: removed export day 2026-01-02 (1 table, 1 file, 0 records) from landing"
    )
    assert (
        removal.tables["users"].line()
        == "users: removed export day 2026-01-02: 1 landing day folder (1 file)"
    )
    removal.tables["users"].landing_files = 1234
    removal.tables["users"].lake_days = [dt.date(2026, 1, 2), dt.date(2026, 1, 3)]
    removal.tables["users"].records = 56789
    assert removal.summary() == (
        "retention 1 day: removed export days 2026-01-02 .. 2026-01-03 (1 table, 1,234 files, 56,789 records) "
        "from landing and lake"
    )


@pytest.mark.quick
def test_symlinks_are_removed_never_followed(area):
    landing, lake = area / "landing", area / "lake"
    outside = area / "outside"
    (outside / "day").mkdir(parents=True)
    (outside / "day" / "a.jsonl").write_text("kept\n")
    (outside / "users" / "dt=2026-01-01").mkdir(parents=True)
    (outside / "users" / "dt=2026-01-01" / "u.jsonl").write_text("kept too\n")
    (landing / "campaigns").mkdir()
    (landing / "campaigns" / "dt=2026-01-01").symlink_to(outside / "day", target_is_directory=True)
    (landing / "users").symlink_to(outside / "users", target_is_directory=True)
    outside_before = _tree(outside)

    removal = apply_retention(landing, lake, TABLE_NAMES, 3, TODAY)

    assert not os.path.lexists(landing / "campaigns" / "dt=2026-01-01")  # the link went
    assert _tree(outside) == outside_before  # what it led to did not
    assert removal.tables["campaigns"].landing_days == [dt.date(2026, 1, 1)]
    assert removal.tables["campaigns"].landing_files == 1
    assert "users" not in removal.tables
    assert removal.skipped == [
        f"{landing / 'users'}: the table folder leads out of the landing area (a symlink): not followed, "
        "nothing in it removed"
    ]


@pytest.mark.quick
def test_an_interrupted_removal_leaves_no_half_day_and_the_next_pass_finishes_it(area, monkeypatch):
    landing, lake = area / "landing", area / "lake"
    before = _tree(area)
    removed = [_ago(5), _ago(4)]
    gone = tuple(
        f"{where}/{table}/dt={day}"
        for where in ("landing", "lake")
        for table in TABLE_NAMES
        for day in removed
    )
    # a lake day whose replacement was cut short mid-swap: its previous version waits under .old-
    shutil.copytree(lake / "messages" / f"dt={_ago(4)}", lake / "messages" / f".old-dt={_ago(5)}-0badf00d")
    shutil.rmtree(lake / "messages" / f"dt={_ago(5)}")

    real_rmtree = shutil.rmtree
    calls = []

    def killed_midway(path, *args, **kwargs):
        calls.append(Path(path))
        next(p for p in Path(path).iterdir() if p.is_file()).unlink()  # one file of the folder goes...
        raise KeyboardInterrupt  # ...then the process is stopped

    monkeypatch.setattr(retention_module.shutil, "rmtree", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        apply_retention(landing, lake, TABLE_NAMES, 3, TODAY)
    assert calls and calls[0].name.startswith(HIDDEN_PREFIX)
    # the oldest day's folders were all hidden before any was deleted: no reader sees part of a day
    visible = {path: data for path, data in _tree(area).items() if HIDDEN_PREFIX not in path}
    assert visible == _without(
        before, *(f"{w}/{t}/dt={_ago(5)}" for w in ("landing", "lake") for t in TABLE_NAMES)
    )
    assert any(HIDDEN_PREFIX in path for path in _tree(area))

    monkeypatch.setattr(retention_module.shutil, "rmtree", real_rmtree)
    finished = apply_retention(landing, lake, TABLE_NAMES, 3, TODAY)
    assert _tree(area) == _without(before, *gone)  # no leftover, the swapped-out day not brought back
    # 2026-03-05 was counted by the pass that hid its folders; this one deletes what is left of them
    assert finished.days == [_ago(4)]
    assert finished.leftovers == 4  # landing and lake folders of both tables


# --- `optout run`, the schedule, the sensor ----------------------------------------------------


@pytest.mark.quick
def test_optout_run_leaves_out_the_days_older_than_the_retention(workspace, monkeypatch, capsys):
    today = today_utc()
    monkeypatch.setenv("OPTOUT_RETENTION_DAYS", "5")
    for n in range(8, 0, -1):
        write_jsonl(workspace.landing, "messages", _ago(n, today).isoformat(), "a.jsonl", [message(f"m{n}")])
    config = settings()

    assert run_module.resolve_range(config, None, None) == (_ago(5, today), _ago(1, today))
    assert (
        f"export days {_ago(8, today)} .. {_ago(6, today)} are older than the retention period "
        f"(OPTOUT_RETENTION_DAYS=5 keeps export days from {_ago(5, today)} on): left out; the run removes "
        "what landing and lake still hold of them"
    ) in capsys.readouterr().out
    assert run_module.resolve_range(config, _ago(6, today), _ago(2, today)) == (
        _ago(5, today),
        _ago(2, today),
    )
    assert f"export day {_ago(6, today)} is older than the retention period" in capsys.readouterr().out
    assert run_module.resolve_range(config, _ago(5, today), _ago(2, today)) == (
        _ago(5, today),
        _ago(2, today),
    )
    assert capsys.readouterr().out == ""
    with pytest.raises(CliError) as refused:
        run_module.resolve_range(config, _ago(8, today), _ago(6, today))
    assert str(refused.value) == (
        f"export days {_ago(8, today)} .. {_ago(6, today)} are older than the retention period "
        f"(OPTOUT_RETENTION_DAYS=5 keeps export days from {_ago(5, today)} on): nothing to run"
    )


@pytest.mark.quick
def test_the_daily_run_never_covers_a_removed_day():
    at = dt.datetime(2026, 1, 22, 4, tzinfo=dt.UTC)
    first_day = dt.date(2025, 1, 1)
    assert daily_run_range(at, first_day) == (dt.date(2026, 1, 18), dt.date(2026, 1, 21))
    assert daily_run_range(at, first_day, 30) == (dt.date(2026, 1, 18), dt.date(2026, 1, 21))
    assert daily_run_range(at, first_day, 2) == (dt.date(2026, 1, 20), dt.date(2026, 1, 21))
    assert daily_run_range(at, first_day, 1) == (dt.date(2026, 1, 21), dt.date(2026, 1, 21))


@pytest.mark.quick
def test_the_landing_sensor_does_not_run_a_redelivered_old_day(workspace, monkeypatch):
    today = today_utc()
    monkeypatch.setenv("OPTOUT_RETENTION_DAYS", "5")
    for n in (9, 6, 5, 2):
        write_jsonl(workspace.landing, "messages", _ago(n, today).isoformat(), "a.jsonl", [message(f"m{n}")])
    sensor = build_landing_sensor(build_everything_job(), read_settings(), dt.date(2025, 1, 1))
    with DagsterInstance.ephemeral() as instance:
        requests = sensor(build_sensor_context(instance=instance))
    assert sorted(r.partition_key for r in requests) == [
        _ago(5, today).isoformat(),
        _ago(2, today).isoformat(),
    ]


# --- the Dagster asset ---------------------------------------------------------------------


@pytest.mark.quick
def test_run_days_come_from_the_partition_tags():
    assert run_days(partition_range_tags("2026-01-30", "2026-02-02")) == [
        dt.date(2026, 1, 30),
        dt.date(2026, 1, 31),
        dt.date(2026, 2, 1),
        dt.date(2026, 2, 2),
    ]
    assert run_days({"dagster/partition": "2026-01-05"}) == [dt.date(2026, 1, 5)]
    assert run_days({}) == []


def _materialize(assets, instance, **kwargs):
    return materialize(
        assets, instance=instance, resources={"paths": OptoutPaths()}, raise_on_error=False, **kwargs
    )


def _failure(instance, result) -> str:
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    return failure.step_failure_data.user_failure_data.description


@pytest.mark.quick
def test_the_asset_removes_reports_and_refuses_old_days(workspace, monkeypatch):
    today = today_utc()
    days = [_ago(n, today) for n in range(7, 0, -1)]
    _deliver(workspace.landing, workspace.lake, days)
    instance = DagsterInstance.ephemeral()

    # unset: nothing is removed
    result = _materialize([build_retention_asset()], instance)
    assert result.success
    assert result.asset_materializations_for_node("lake__retention")[0].metadata["retention_days"].value == (
        "unset (every export day is kept)"
    )
    assert ingested_days(workspace.lake, "messages") == days
    assert retention_summary(instance, result.run_id) is None

    monkeypatch.setenv("OPTOUT_RETENTION_DAYS", "5")
    load_settings.cache_clear()  # the settings of this process, read again
    # a run over days the retention removes is refused before anything changes
    refused = _materialize(
        [build_retention_asset()], instance, tags=partition_range_tags(str(days[0]), str(days[-1]))
    )
    assert not refused.success
    assert _failure(instance, refused) == (
        f"lake/retention: nothing removed, run refused: export days {days[0]} .. {days[1]} older than the "
        f"retention period: OPTOUT_RETENTION_DAYS=5 removes every export day before {days[2]} from landing "
        f"and lake (docs/privacy.md#retention); start at {days[2]} or later"
    )
    assert ingested_days(workspace.lake, "messages") == days

    result = _materialize(
        [build_retention_asset()], instance, tags=partition_range_tags(str(days[2]), str(days[-1]))
    )
    assert result.success
    metadata = result.asset_materializations_for_node("lake__retention")[0].metadata
    line = (
        f"retention 5 days: removed export days {days[0]} .. {days[1]} (2 tables, 20 files, 6 records) "
        "from landing and lake"
    )
    assert metadata["summary"].value == line
    assert metadata["first_kept_day"].value == days[2].isoformat()
    assert metadata["tables"].value["messages"]["records"] == 2
    assert retention_summary(instance, result.run_id) == line
    logged = [entry.user_message for entry in instance.all_logs(result.run_id) if entry.level == logging.INFO]
    assert any(
        message.startswith(f"messages: removed export days {days[0]} .. {days[1]}: ") for message in logged
    )
    for table in ("messages", "app_events"):
        assert ingested_days(workspace.lake, table) == days[2:]
        assert sorted(p.name for p in (workspace.landing / table).iterdir()) == [f"dt={d}" for d in days[2:]]

    # an ingest step asked for a removed day (a re-delivered folder, a selection without
    # lake/retention) does not bring it back
    write_jsonl(workspace.landing, "messages", days[0].isoformat(), "a.jsonl", [message("again")])
    messages = [a for a in build_ingest_assets(export_days(days[0])) if a.key.path == ["lake", "messages"]]
    again = _materialize(messages, instance, partition_key=days[0].isoformat())
    assert not again.success
    assert _failure(instance, again).startswith(
        f"messages: nothing ingested: export day {days[0]} older than"
    )
    assert ingested_days(workspace.lake, "messages") == days[2:]


# --- end to end ------------------------------------------------------------------------------


def test_optout_run_removes_the_old_days_and_says_so(tmp_path):
    from assets.generator.run import generate

    today = today_utc()
    ws = make_workspace(tmp_path)
    days = [_ago(n, today) for n in range(8, 0, -1)]  # 8 export days up to yesterday
    generate(ws.landing, days[0], len(days), 200, seed=5)
    old, kept = days[:3], days[3:]  # OPTOUT_RETENTION_DAYS=5 keeps today - 5 days on
    # earlier runs ingested the old days: the lake holds them, with their quarantine
    for table in TABLE_NAMES:
        for day in old:
            ingest_table_day(ws.landing, ws.lake, table, day)
    old_folders = [
        root / table / f"dt={day}" for root in (ws.landing, ws.lake) for table in TABLE_NAMES for day in old
    ]
    files = sum(len(list(folder.iterdir())) for folder in old_folders if folder.is_dir())
    records = sum(
        pl.read_parquet(folder / name).height
        for folder in old_folders
        if folder.is_relative_to(ws.lake)
        for name in (DATA_FILE, QUARANTINE_FILE)
    )
    assert files > 3 * 5 * 3 and records > 0
    landing_before = _tree(ws.landing)

    # a machine whose local date is not the UTC date (UTC-12 in the morning UTC, UTC+14 after
    # noon): the days are still counted in UTC
    zone = "Etc/GMT+12" if dt.datetime.now(dt.UTC).hour < 12 else "Etc/GMT-14"
    result = run_optout({**ws.env(), "OPTOUT_RETENTION_DAYS": "5", "TZ": zone}, "run")
    if today_utc() != today:
        pytest.skip("the run crossed midnight UTC: its days moved on")

    out = result.stdout
    assert (
        f"export days {old[0]} .. {old[-1]} are older than the retention period (OPTOUT_RETENTION_DAYS=5 keeps "
        f"export days from {kept[0]} on): left out; the run removes what landing and lake still hold of them"
    ) in out
    assert f"materializing 5 export days {kept[0]} .. {kept[-1]}" in out
    assert "run finished in" in out
    assert f"Summary for export days {kept[0]} .. {kept[-1]}" in out
    line = (
        f"  retention 5 days: removed export days {old[0]} .. {old[-1]} (5 tables, {files:,} files, "
        f"{records:,} records) from landing and lake"
    )
    assert line in out.splitlines(), out
    assert re.search(r"^  retention +done ", result.stderr, re.MULTILINE), result.stderr

    for table in TABLE_NAMES:
        assert ingested_days(ws.lake, table) == kept, table
        left = [p.name for p in (ws.landing / table).iterdir()] + [
            p.name for p in (ws.lake / table).iterdir()
        ]
        assert not any(name.startswith(".") for name in left), left  # nothing hidden left behind
    # the kept days' exports are those that landed, byte for byte
    assert _tree(ws.landing) == _without(landing_before, *(f"{t}/dt={d}" for t in TABLE_NAMES for d in old))
    manifest = json.loads(next((ws.exports / "opted_out_users").glob("*.manifest.json")).read_text())
    assert manifest["export_days_ingested"] == {"first": kept[0].isoformat(), "last": kept[-1].isoformat()}
