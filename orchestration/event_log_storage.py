"""Dagster's SQLite event log, with an engine per file and a batch of events in one commit.

A backfill run records an event per asset and day twice (planned, then materialized):
about 30 assets x 365 days is 22,000 events for a year. The stock SQLite storage builds and
disposes a SQLAlchemy engine for every event (its set-up, and its INSERT compiled again:
the statement cache lives in the engine), and commits every event on its own, two files
synced to disk each time: 90 s before a 365-day backfill started, as long again after it.

Here the engine is kept per file, and Dagster's event batches (the planned events of a
run, the materializations of one output over many days) are written by the stock code in
one transaction per file. Same files, same tables, same rows: the UI, the daemon and older
runs read it as before.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from dagster import Field, StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (  # noqa: PLC2701 (Dagster's own class)
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

# Dagster hands events to store_event_batch only when this is set (it reads it per event);
# set here, beside the storage that makes batches cheap, it holds in every process that
# records runs: `optout`, the daemon's run workers, the UI's
os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", "10000")


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
