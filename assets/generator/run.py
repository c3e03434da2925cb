"""Drive the simulation and stream each export day to disk as soon as it is complete."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from assets.contract import TABLE_NAMES, TABLES
from assets.generator import noise, writers
from assets.generator.simulate import Simulation


@dataclass
class GenerateSummary:
    out: Path
    start: dt.date
    days: int
    users: int
    records: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def generate(
    out: Path,
    start: dt.date,
    days: int,
    users: int,
    seed: int,
    progress: Callable[[str], None] = lambda _: None,
) -> GenerateSummary:
    simulation = Simulation(start, days, users, seed)
    noise_rng = np.random.default_rng([seed, 1])
    last_day = start + dt.timedelta(days=days - 1)
    pending: dict[tuple[str, dt.date], list[pl.DataFrame]] = defaultdict(list)
    summary = GenerateSummary(out, start, days, users)
    for index, records in enumerate(simulation.run(), start=1):
        for table, frame in records.tables.items():
            _schedule(noise_rng, pending, table, frame, records.day, last_day)
        for table in TABLE_NAMES:
            parts = pending.pop((table, records.day), [])
            clean = pl.concat(parts, how="vertical_relaxed") if parts else pl.DataFrame()
            if clean.height == 0:
                continue
            bad = noise.bad_records(noise_rng, table, clean, records.day)
            summary.records[table] += writers.write_day(noise_rng, out, table, records.day, clean, bad)
        progress(f"day {index}/{days} ({records.day}) written")
    return summary


def _schedule(rng, pending, table: str, frame: pl.DataFrame, day: dt.date, last_day: dt.date) -> None:
    """Give each record the export day it arrives in (late by up to 3 days; never after the end)."""
    if frame.height == 0:
        return
    offsets = noise.export_offsets(rng, frame.height)
    if TABLES[table].event_id:
        copies, copy_offsets = noise.duplicates(rng, frame)
        strays = noise.orphans(rng, table, frame)
        frame = pl.concat([frame, copies, strays])
        offsets = np.concatenate([offsets, copy_offsets, noise.export_offsets(rng, strays.height)])
    for offset in np.unique(offsets):
        export_day = min(day + dt.timedelta(days=int(offset)), last_day)
        pending[(table, export_day)].append(frame.filter(pl.Series(offsets == offset)))
