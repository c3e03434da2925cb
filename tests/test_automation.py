"""`optout automation status` read from an instance: what is on, last and next tick."""

from __future__ import annotations

import datetime as dt

import pytest
from dagster._core.test_utils import instance_for_test

from orchestration.automation import daemon_alive, status

NOW = dt.datetime(2026, 1, 22, 2, 30, tzinfo=dt.UTC)


@pytest.mark.quick
def test_a_new_instance_has_automation_off_and_the_alert_sensors_on():
    with instance_for_test() as instance:  # with schedule storage, as a real instance has
        found = {item.name: item for item in status(instance, NOW)}
        assert not daemon_alive(instance)
    assert list(found) == [
        "daily_schedule",
        "landing_sensor",
        "run_failure_alert_sensor",
        "run_canceled_alert_sensor",
        "marts_freshness_sensor",
        "dead_run_sensor",
    ]
    assert not found["daily_schedule"].running and found["daily_schedule"].next_tick is None
    assert not found["landing_sensor"].running
    for name in ("run_failure_alert_sensor", "marts_freshness_sensor", "dead_run_sensor"):
        assert found[name].running and found[name].last_outcome == "no tick yet"
        assert found[name].next_tick == NOW  # never ticked: due now
