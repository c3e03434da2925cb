"""Dagster's SQLite event log, with one database engine per file instead of one per event.

A backfill run records an event per asset and day twice (planned, then materialized):
about 30 assets x 365 days is 22,000 events for a year. The stock SQLite storage builds and
disposes a SQLAlchemy engine for every event, so each pays the engine's set-up and compiles
its INSERT again (the compiled-statement cache lives in the engine); that was half the
time of a 20-day backfill of a small data set. Kept per file, an engine makes an event cost
a connection and a commit. Same files, same tables, same locking: the UI, the daemon and
older runs read it as before.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from dagster import Field, StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (  # noqa: PLC2701 (Dagster's own class)
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool


class CachedEngineSqliteEventLogStorage(SqliteEventLogStorage):
    def __init__(self, base_dir: str, inst_data=None):
        self._engines: dict[str, Engine] = {}  # first: the stock set-up already connects
        super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls):
        # the stock storage's place by default: $DAGSTER_HOME/history/runs
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        base_dir = config_value.get("base_dir") or os.path.join(os.environ["DAGSTER_HOME"], "history", "runs")
        return cls(base_dir, inst_data=inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
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
