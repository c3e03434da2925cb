"""The private Dagster / dagster-dbt hooks of orchestration/private_apis.py, held to their release.

An upgrade of Dagster or dagster-dbt fails here first and loudly: the pinned release is
checked, and each hook is checked to be where the module expects it and to still do what
it is there for (events stored in one batch, no dbt subprocess or adapter at start-up).
"""

import inspect
import re
import tomllib

import pytest
from dagster import DagsterEvent, DagsterEventType, DagsterInstance, EventLogEntry
from dagster._core.events import EngineEventData
from dagster_dbt import DbtCliResource

from assets.config import REPO_ROOT
from orchestration import private_apis
from orchestration.dbt_project import dbt_executable
from orchestration.private_apis import (
    EVENT_BATCH_SIZE_VARIABLE,
    PINNED,
    BatchingSqliteEventLogStorage,
    QuickStartDbtCli,
    installed_versions,
)

pytestmark = pytest.mark.quick


def test_the_installed_releases_are_the_ones_the_hooks_were_written_for():
    assert installed_versions() == PINNED, (
        "Dagster or dagster-dbt changed: review every hook of orchestration/private_apis.py "
        "against the new release, then update PINNED"
    )


def test_pyproject_pins_the_same_releases():
    dependencies = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = dict(re.fullmatch(r"([\w-]+)==(.+)", d).groups() for d in dependencies if "==" in d)
    assert {name: pins[name] for name in PINNED} == PINNED


def test_dagster_still_reads_the_batch_size_variable(tmp_path):
    # the variable is set on import of the storage's module (a user's own value wins); the
    # instance reads it per event to decide whether events are handed over in batches
    assert int(private_apis.os.environ[EVENT_BATCH_SIZE_VARIABLE]) > 0
    assert EVENT_BATCH_SIZE_VARIABLE in inspect.getsource(DagsterInstance._get_event_batch_size)
    with DagsterInstance.ephemeral(tempdir=str(tmp_path)) as instance:
        assert instance._is_batch_writing_enabled()


def test_the_batching_storage_overrides_methods_the_stock_storage_still_has():
    stock = BatchingSqliteEventLogStorage.__mro__[1]
    for name in ("_connect", "_initdb", "conn_string_for_shard", "store_event", "store_event_batch"):
        assert callable(getattr(stock, name)), name
    source = inspect.getsource(stock)
    assert "_initialized_dbs" in source and "self._db_lock" in source
    # the stock store_event writes through run_connection / index_connection, both _connect
    assert "self._connect(" in inspect.getsource(stock.run_connection)
    assert "self._connect(" in inspect.getsource(stock.index_connection)


def _event(run_id: str, n: int) -> EventLogEntry:
    return EventLogEntry(
        error_info=None,
        level=20,
        user_message=f"event {n}",
        run_id=run_id,
        timestamp=1_700_000_000.0 + n,
        dagster_event=DagsterEvent(
            DagsterEventType.ENGINE_EVENT.value,
            "optout_everything",
            event_specific_data=EngineEventData(),
            message=f"{n}",
        ),
    )


def test_a_batch_is_stored_whole_and_read_back_by_the_stock_code(tmp_path, monkeypatch):
    storage = BatchingSqliteEventLogStorage(str(tmp_path / "runs"))
    opened = []
    transaction = storage._transaction
    monkeypatch.setattr(storage, "_transaction", lambda shard: opened.append(shard) or transaction(shard))
    try:
        storage.store_event_batch([_event("run-1", n) for n in range(50)])
        assert opened == ["run-1"]  # 50 events, one transaction of their run's file
        records = storage.get_records_for_run("run-1").records
        assert [r.event_log_entry.user_message for r in records] == [f"event {n}" for n in range(50)]
    finally:
        storage.dispose()


def test_an_instance_of_a_dagster_home_uses_the_batching_storage(tmp_path, monkeypatch):
    from orchestration.instance import instance_yaml

    (tmp_path / "dagster.yaml").write_text(instance_yaml(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, BatchingSqliteEventLogStorage)
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1


def test_dagster_dbt_still_asks_for_the_version_and_the_adapter_in_cli():
    source = inspect.getsource(DbtCliResource.cli)
    assert "self._cli_version" in source and "self._initialize_dbt_core_adapter(" in source
    assert isinstance(
        inspect.getattr_static(DbtCliResource, "_cli_version"), type(QuickStartDbtCli._cli_version)
    )


def test_the_quick_start_resource_runs_no_subprocess_and_opens_no_adapter(monkeypatch):
    import subprocess

    def refuse(*args, **kwargs):
        raise AssertionError(f"a subprocess at start-up: {args}")

    monkeypatch.setattr(subprocess, "check_output", refuse)
    resource = QuickStartDbtCli(project_dir=str(REPO_ROOT / "dbt_project"), dbt_executable=dbt_executable())
    assert str(resource._cli_version).startswith("1.11.")
    assert resource._initialize_dbt_core_adapter(["build"]) is None
