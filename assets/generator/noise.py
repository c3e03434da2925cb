"""Make clean simulated records look like real exports.

Late arrival (up to 3 days), re-delivered duplicates, and a small share of every kind of
bad record of the contract's "Bad input" table. Bad records are extra copies of real
ones (with their own ids), so the simulated truth is never lost to the noise.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from assets.contract import TABLES

LATE_OFFSETS = np.array([0, 1, 2, 3])
LATE_WEIGHTS = np.array([0.9, 0.06, 0.03, 0.01])
DUPLICATE_SHARE = 0.004
BAD_SHARE = 0.0015  # per kind of bad record


def export_offsets(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.choice(LATE_OFFSETS, count, p=LATE_WEIGHTS)


def duplicates(rng: np.random.Generator, frame: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    """Copies of some events, re-delivered the same day or up to two days later."""
    picked = frame.filter(pl.Series(rng.random(frame.height) < DUPLICATE_SHARE))
    return picked, rng.integers(0, 3, picked.height)


ORPHAN_SHARE = 0.001


def orphans(rng: np.random.Generator, table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Valid events naming a user (or campaign) no dimension record names: loaded, reported."""
    picked = frame.filter(pl.Series(rng.random(frame.height) < ORPHAN_SHARE))
    if picked.height == 0:
        return picked
    picked = picked.with_columns(
        pl.format("orphan-{}", pl.col("event_id")).alias("event_id"),
        pl.format("ghost-{}", pl.col("user_id")).alias("user_id"),
    )
    if table == "messages":
        picked = picked.with_columns(pl.lit("ghost-campaign").alias("campaign_id"))
    return picked


def bad_records(rng: np.random.Generator, table: str, frame: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    """Corrupted copies of real records, as strings, one kind per copy (kind in `_bad_kind`)."""
    if frame.height == 0:
        return pl.DataFrame()
    contract = TABLES[table]
    text = frame.with_columns(
        pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        for c, t in frame.schema.items()
        if isinstance(t, pl.Datetime)
    ).cast(pl.String)
    kinds = ["missing_required", "invalid_enum", "invalid_timestamp", "old_timestamp", "future_timestamp"]
    if table == "messages":
        kinds.append("error_code_mismatch")
    parts = []
    required = [c.name for c in contract.columns if c.required]
    enums = [c.name for c in contract.columns if c.kind == "enum" and c.required]
    own_time = next(c.name for c in contract.columns if c.own_time)
    day_after = (day + dt.timedelta(days=3)).isoformat() + "T12:00:00Z"
    for kind in kinds:
        count = rng.binomial(frame.height, BAD_SHARE)
        if count == 0:
            continue
        rows = text.sample(n=count, with_replacement=True, seed=int(rng.integers(1 << 31)))
        if contract.event_id:
            rows = rows.with_columns(pl.format("bad-{}-{}", pl.lit(kind), pl.col("event_id")))
        if kind == "missing_required":
            column = str(rng.choice(required))
            rows = rows.with_columns(pl.lit(None, pl.String).alias(column))
        elif kind == "invalid_enum" and enums:
            rows = rows.with_columns(pl.lit("bogus_value").alias(str(rng.choice(enums))))
        elif kind == "invalid_timestamp":
            rows = rows.with_columns(pl.lit("not-a-time").alias(own_time))
        elif kind == "old_timestamp":
            rows = rows.with_columns(pl.lit("1999-12-31T23:59:59Z").alias(own_time))
        elif kind == "future_timestamp":
            rows = rows.with_columns(pl.lit(day_after).alias(own_time))
        elif kind == "error_code_mismatch":
            rows = rows.with_columns(
                pl.lit("delivered").alias("event_type"), pl.lit("timeout").alias("error_code")
            )
        parts.append(rows.with_columns(pl.lit(kind).alias("_bad_kind")))
    return pl.concat(parts) if parts else pl.DataFrame()
