"""The Dagster definitions: the partition -> dbt vars mapping, and a snapshot of every key."""

import datetime as dt
from pathlib import Path

import pytest

from assets.report.build import report_range
from orchestration.dbt_vars import dbt_vars_for_days

SNAPSHOT = Path(__file__).parent / "snapshots" / "definition_keys.txt"


def test_partition_range_maps_to_the_first_day_as_start_date():
    assert dbt_vars_for_days(dt.date(2026, 1, 5), dt.date(2026, 1, 9)) == {"start_date": "2026-01-05"}
    assert dbt_vars_for_days(dt.date(2026, 1, 5), dt.date(2026, 1, 5)) == {"start_date": "2026-01-05"}
    with pytest.raises(ValueError):
        dbt_vars_for_days(dt.date(2026, 1, 6), dt.date(2026, 1, 5))


def test_report_covers_the_run_and_at_least_thirty_days():
    day = dt.date(2026, 3, 1)
    assert report_range([day], dt.date(2026, 1, 1)) == (dt.date(2026, 1, 31), day)
    assert report_range([day], dt.date(2026, 2, 20)) == (dt.date(2026, 2, 20), day)
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(60)]
    assert report_range(days, dt.date(2026, 1, 1)) == (days[0], days[-1])


def current_keys() -> list[str]:
    from orchestration.definitions import defs

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
