"""Every private Dagster / dagster-dbt API the project uses, and why, in one module.

Each use names the public alternative it waits for. They are tied to the pinned releases:
tests/test_private_apis.py fails loudly when Dagster or dagster-dbt is not the release
below, or when one of these hooks is no longer where this module expects it, so an upgrade
is a deliberate change of this file and never a silent loss (batching that quietly stops,
a start-up cost that quietly comes back).
"""

from __future__ import annotations

import importlib.metadata
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cached_property

from dagster import Field, StringSource

# private: Dagster's own SQLite event log, subclassed below
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (  # noqa: PLC2701
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster_dbt import DbtCliResource
from packaging.version import Version
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

# the releases these hooks were written against (pyproject.toml pins the same)
PINNED = {"dagster": "1.13.27", "dagster-dbt": "0.29.27"}

# ---------------------------------------------------------------------------------------
# 1. Batched event writes to SQLite.
#
# A backfill run records an event per asset and day twice (planned, then materialized):
# about 30 assets x 365 days is 22,000 events for a year. The stock SQLite storage builds
# and disposes a SQLAlchemy engine for every event and commits each on its own, two files
# synced to disk each time: 90 s before a 365-day backfill started, as long again after it.
# Here the engine is kept per file, and Dagster's event batches are written by the stock
# code in one transaction per file: same files, same tables, same rows.
#
# Private: `SqliteEventLogStorage` and its `_connect` / `_initdb` / `_initialized_dbs`, and
# the DAGSTER_EVENT_BATCH_SIZE variable that makes Dagster hand events over in batches
# (read by DagsterInstance._get_event_batch_size), and the storage's `_db_lock`. Public alternative it waits for: a batching
# option of the stock storage, or Dagster's PostgreSQL storage (dagster-postgres), which
# batches on its own.
# ---------------------------------------------------------------------------------------

EVENT_BATCH_SIZE_VARIABLE = "DAGSTER_EVENT_BATCH_SIZE"
# set beside the storage that makes batches cheap: it holds in every process that records
# runs (`optout`, the daemon's run workers, the UI's), which all load this module through
# the instance's dagster.yaml; a value the user set wins
os.environ.setdefault(EVENT_BATCH_SIZE_VARIABLE, "10000")


@dataclass
class _Batch:
    thread: int  # only the thread writing the batch uses its connections
    transactions: ExitStack
    connections: dict[str, Connection] = field(default_factory=dict)


class BatchingSqliteEventLogStorage(SqliteEventLogStorage):
    def __init__(self, base_dir: str, inst_data=None):
        self._engines: dict[str, Engine] = {}  # first: the stock set-up already connects
        self._batch: _Batch | None = None
        super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls):
        # the stock storage's place by default: $DAGSTER_HOME/history/runs
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        base_dir = config_value.get("base_dir") or os.path.join(os.environ["DAGSTER_HOME"], "history", "runs")
        return cls(base_dir, inst_data=inst_data)

    def store_event_batch(self, events: Sequence) -> None:
        """The stock store_event for each event, all in one transaction per database file.

        Should the batch fail, nothing of it is kept and Dagster stores the events one by one.
        """
        with self._db_lock, ExitStack() as transactions:
            self._batch = _Batch(threading.get_ident(), transactions)
            try:
                for event in events:
                    super().store_event(event)
            finally:
                self._batch = None

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        batch = self._batch
        if batch is not None and batch.thread == threading.get_ident():
            # inside store_event_batch, which holds the lock: one transaction per file
            if shard not in batch.connections:
                batch.connections[shard] = batch.transactions.enter_context(self._transaction(shard))
            yield batch.connections[shard]
            return
        with self._db_lock, self._transaction(shard) as connection:
            yield connection

    @contextmanager
    def _transaction(self, shard: str) -> Iterator[Connection]:
        """A connection to the shard's file in a transaction, committed when the block ends."""
        engine = self._engines.get(shard)
        if engine is None:
            # NullPool as the stock storage: a connection is opened per use, never shared
            # between threads; the engine (and its statement cache) is what is kept
            engine = create_engine(
                self.conn_string_for_shard(shard),
                poolclass=NullPool,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            self._engines[shard] = engine
        # a wiped or deleted database file is set up again, as the stock storage does
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        with engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        super().dispose()


# ---------------------------------------------------------------------------------------
# 2. dagster-dbt's dbt resource without two start-up costs this project has no use for.
#
# Before each command dagster-dbt runs `dbt --version` in a subprocess (2 s here) and opens
# a dbt adapter in Dagster's own process (1 s); the adapter only serves its optional
# row-count and column-metadata fetches, which warehouse_metadata.py does instead. The
# version is the installed dbt-core's (the project's own dbt, beside this Python).
#
# Private: `DbtCliResource._cli_version` and `_initialize_dbt_core_adapter`. Public
# alternative it waits for: a resource option to give the dbt version and to skip the
# in-process adapter.
# ---------------------------------------------------------------------------------------


class QuickStartDbtCli(DbtCliResource):
    @cached_property
    def _cli_version(self) -> Version:
        return Version(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None


def installed_versions() -> dict[str, str]:
    return {name: importlib.metadata.version(name) for name in PINNED}
