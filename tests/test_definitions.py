"""The Dagster definitions: built from the settings when loaded, and a snapshot of every key."""

import datetime as dt
from pathlib import Path

import pytest

from assets.config import FALLBACK_FIRST_DAY, read_settings
from assets.report.build import report_range
from tests.helpers import message, write_jsonl

pytestmark = pytest.mark.quick

SNAPSHOT = Path(__file__).parent / "snapshots" / "definition_keys.txt"


def test_partitions_start_at_the_first_landed_day_unless_set(workspace, monkeypatch):
    from orchestration.definitions import build_definitions

    monkeypatch.delenv("OPTOUT_FIRST_DAY", raising=False)
    assert read_settings().partitions_start == FALLBACK_FIRST_DAY  # nothing landed yet
    write_jsonl(workspace.landing, "messages", "2026-01-05", "a.jsonl", [message("m1")])
    write_jsonl(workspace.landing, "users", "2026-01-03", "u.jsonl", [{"user_id": "u1"}])
    (workspace.landing / "users" / "dt=2026-02-31").mkdir()  # not a date: ingestion reports it
    (workspace.landing / "users" / "dt=2025-06-01.bak").mkdir()  # not an export day folder
    assert read_settings().partitions_start == dt.date(2026, 1, 3)
    job = build_definitions(read_settings()).resolve_job_def("optout_everything")
    assert job.partitions_def.get_first_partition_key() == "2026-01-03"
    # a setting wins, and is read when the definitions are built, not when modules are imported
    monkeypatch.setenv("OPTOUT_FIRST_DAY", "2025-12-01")
    job = build_definitions(read_settings()).resolve_job_def("optout_everything")
    assert job.partitions_def.get_first_partition_key() == "2025-12-01"


def test_report_covers_the_run_and_at_least_thirty_days():
    day = dt.date(2026, 3, 1)
    assert report_range([day], dt.date(2026, 1, 1)) == (dt.date(2026, 1, 31), day)
    assert report_range([day], dt.date(2026, 2, 20)) == (dt.date(2026, 2, 20), day)
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(60)]
    assert report_range(days, dt.date(2026, 1, 1)) == (days[0], days[-1])


def current_keys() -> list[str]:
    from orchestration.definitions import defs as load_definitions

    defs = load_definitions()
    graph = defs.resolve_asset_graph()
    assets = [f"asset {key.to_user_string()}" for key in graph.get_all_asset_keys()]
    checks = [f"check {key.asset_key.to_user_string()}:{key.name}" for key in graph.asset_check_keys]
    jobs = [f"job {job.name}" for job in defs.resolve_all_job_defs() if not job.name.startswith("__")]
    schedules = [f"schedule {s.name}" for s in defs.schedules]
    sensors = [f"sensor {s.name}" for s in defs.sensors]
    return sorted(assets + checks + jobs + schedules + sensors)


def test_asset_keys_match_the_snapshot():
    """A renamed asset, check or job breaks BI tools and schedules: it must show as a diff here."""
    expected = SNAPSHOT.read_text().splitlines()
    assert current_keys() == expected
