"""Drive the simulation and stream each export day to disk as soon as it is complete.

The simulation and every random choice run in the calling thread, in a fixed order, so a
seed always gives the same files. Writing a planned day folder (text forms, encoding,
compression) draws nothing and runs in worker threads meanwhile: polars releases the GIL,
so the simulation of the next day overlaps the writing of the last ones.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from assets.contract import TABLE_NAMES
from assets.generator import noise, writers
from assets.generator.simulate import RANDOM_BAD_SHARE, PlantedCampaign, Simulation
from assets.generator.vendors import vendor_writer, with_failures_beside_their_sends
from assets.throughput import Throughput

WRITER_THREADS = 2
# Day folders planned but not yet written; bounds memory to a few days of records.
MAX_PENDING_WRITES = 2 * len(TABLE_NAMES)
PROGRESS_EVERY_DAYS = 10


@dataclass
class GenerateSummary(Throughput):
    out: Path
    start: dt.date
    days: int
    users: int
    records: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: float = 0.0


class _BackgroundWriter:
    """Runs write jobs in threads; waits for the oldest when too many are pending."""

    def __init__(self, threads: int, max_pending: int):
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="generate-writer")
        self._pending: deque[Future] = deque()
        self._max_pending = max_pending

    def submit(self, job: Callable[..., None], *args) -> None:
        self._pending.append(self._pool.submit(job, *args))
        while len(self._pending) > self._max_pending:
            self._pending.popleft().result()  # re-raises a failed write

    def __enter__(self) -> _BackgroundWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._pool.shutdown(cancel_futures=True)


def generate(
    out: Path,
    start: dt.date,
    days: int,
    users: int,
    seed: int,
    progress: Callable[[str], None] = lambda _: None,
    planted: tuple[PlantedCampaign, ...] = (),
    random_bad_share: float = RANDOM_BAD_SHARE,
    fmt: str = "optout",
) -> GenerateSummary:
    """Simulate and write the exports; `fmt` a vendor's layout (docs/sources/) or optout's contract.

    A vendor format gets the same world: the same simulation and the same noise draws (late
    arrivals, repeats, unknown users), written in the vendor's files (assets/generator/vendors/).
    """
    started = time.perf_counter()
    simulation = Simulation(start, days, users, seed, planted, random_bad_share)
    noise_rng = np.random.default_rng([seed, 1])
    last_day = start + dt.timedelta(days=days - 1)
    pending: dict[tuple[str, dt.date], list[pl.DataFrame]] = defaultdict(list)
    summary = GenerateSummary(out, start, days, users)
    vendor = vendor_writer(fmt, out) if fmt != "optout" else None
    vendor_pending: dict[dt.date, dict[str, list[pl.DataFrame]]] = defaultdict(lambda: defaultdict(list))
    with _BackgroundWriter(WRITER_THREADS, MAX_PENDING_WRITES) as writer:
        for index, records in enumerate(simulation.run(), start=1):
            scheduled = {
                table: _schedule(noise_rng, pending, table, frame, records.day, last_day)
                for table, frame in records.tables.items()
            }
            if vendor is not None:
                vendor.simulated(records.day, records.tables)
                for table, parts in with_failures_beside_their_sends(scheduled).items():
                    for delay, part in parts:
                        export_day = min(records.day + dt.timedelta(days=delay), last_day)
                        vendor_pending[export_day][table].append(part)
            for table in TABLE_NAMES:
                if parts := pending.pop((table, records.day), []):
                    # the noise's draws happen whatever the format: a vendor's files hold the same world
                    written = _export(noise_rng, writer, out, table, records.day, parts, write=vendor is None)
                    if vendor is None:
                        summary.records[table] += written
            if vendor is not None:
                delivered = {t: pl.concat(p) for t, p in vendor_pending.pop(records.day, {}).items() if p}
                for kind, count in vendor.write_day(records.day, delivered).items():
                    summary.records[kind] += count
            if index % PROGRESS_EVERY_DAYS == 0 or index == days:  # a line per day floods a terminal
                progress(f"day {index}/{days} ({records.day}) simulated")
    summary.seconds = time.perf_counter() - started
    return summary


def _export(
    rng, writer: _BackgroundWriter, out: Path, table: str, day: dt.date, parts, write: bool = True
) -> int:
    """Plan one table's export day (every random choice, here) and leave the writing to a worker.

    Returns the number of records the day folder will hold.
    """
    clean = pl.concat(parts)
    bad = noise.bad_records(rng, table, clean, day)
    plan = writers.plan_day(rng, out, table, day, [part.height for part in parts], bad.height)
    if write:
        writer.submit(writers.write_planned_day, plan, clean, bad)
    return plan.records


def _schedule(
    rng, pending, table: str, frame: pl.DataFrame, day: dt.date, last_day: dt.date
) -> list[tuple[int, pl.DataFrame]]:
    """Give each record the export day it arrives in (late by up to 3 days; never after the end)."""
    parts = noise.deliveries(rng, table, frame)
    for delay, part in parts:
        export_day = min(day + dt.timedelta(days=delay), last_day)
        pending[(table, export_day)].append(part)
    return parts
