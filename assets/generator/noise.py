"""Make clean simulated records look like real exports.

Late arrival (up to 3 days), re-delivered duplicates, and a small share of every kind of
bad record of the contract's "Bad input" table. Bad records are extra copies of real
ones (with their own ids), so the simulated truth is never lost to the noise.
Every choice is drawn for all rows at once: a day's noise is a few array operations.
"""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import polars as pl

from assets.contract import TABLES

LATE_WEIGHTS = [0.9, 0.06, 0.03, 0.01]  # share of records exported 0, 1, 2, 3 days late
DUPLICATE_SHARE = 0.004
DUPLICATE_DELAYS = [1 / 3] * 3  # a copy is re-delivered the same day or up to two days later
ORPHAN_SHARE = 0.001
BAD_SHARE = 0.0015  # per kind of bad record


def deliveries(rng: np.random.Generator, table: str, frame: pl.DataFrame) -> list[tuple[int, pl.DataFrame]]:
    """The records of one simulated day as (days late, records) parts, with copies and orphans.

    The records are shuffled once; after that a random subset is just a slice, so late
    arrivals, duplicates and orphans cost no filtering.
    """
    if frame.height == 0:
        return []
    frame = frame[rng.permutation(frame.height)]
    parts = _split(rng, frame, LATE_WEIGHTS)
    if TABLES[table].event_id:
        parts += _split(rng, _random_slice(rng, frame, DUPLICATE_SHARE), DUPLICATE_DELAYS)
        parts += _split(rng, _as_orphans(table, _random_slice(rng, frame, ORPHAN_SHARE)), LATE_WEIGHTS)
    return [(delay, part) for delay, part in parts if part.height]


def _split(
    rng: np.random.Generator, frame: pl.DataFrame, weights: list[float]
) -> list[tuple[int, pl.DataFrame]]:
    """Consecutive slices of a shuffled frame, one per delay, sized at random by the weights."""
    sizes = rng.multinomial(frame.height, weights)
    starts = np.cumsum(sizes) - sizes
    return [
        (delay, frame.slice(int(start), int(size)))
        for delay, (start, size) in enumerate(zip(starts, sizes, strict=True))
    ]


def _random_slice(rng: np.random.Generator, frame: pl.DataFrame, share: float) -> pl.DataFrame:
    count = rng.binomial(frame.height, share)
    return frame.slice(int(rng.integers(0, frame.height - count + 1)), count)


def _as_orphans(table: str, picked: pl.DataFrame) -> pl.DataFrame:
    """Valid events naming a user (or campaign) no dimension record names: loaded, reported."""
    if picked.height == 0:
        return picked
    unknown = [
        pl.format("orphan-{}", pl.col("event_id")).alias("event_id"),
        pl.format("ghost-{}", pl.col("user_id")).alias("user_id"),
    ]
    if table == "messages":
        unknown.append(pl.lit("ghost-campaign").alias("campaign_id"))
    return picked.with_columns(unknown)


def bad_records(rng: np.random.Generator, table: str, frame: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    """Corrupted copies of real records, as text: about BAD_SHARE of the rows per kind of fault."""
    counts = rng.binomial(frame.height, BAD_SHARE, len(_bad_kinds(table)))
    total = int(counts.sum())
    if total == 0:
        return pl.DataFrame(schema=dict.fromkeys(TABLES[table].column_names, pl.String))
    copies = frame[rng.integers(0, frame.height, total)].hstack(
        [
            pl.Series("_kind", np.repeat(np.arange(counts.size, dtype=np.uint8), counts)),
            # each copy loses (or gets a bogus value in) one column drawn at random
            pl.Series("_emptied", rng.integers(0, len(_required(table)), total, dtype=np.uint8)),
            pl.Series("_bogus", rng.integers(0, max(len(_required_enums(table)), 1), total, dtype=np.uint8)),
            pl.Series("_later", [(day + dt.timedelta(days=3)).isoformat() + "T12:00:00Z"]).new_from_index(
                0, total
            ),
        ]
    )
    return copies.select(_faulty_columns(table))


@functools.cache
def _bad_kinds(table: str) -> tuple[str, ...]:
    kinds = ["missing_required", "invalid_timestamp", "old_timestamp", "future_timestamp"]
    if _required_enums(table):
        kinds.append("invalid_enum")
    if table == "messages":
        kinds.append("error_code_mismatch")
    return tuple(kinds)


def _required(table: str) -> list[str]:
    return [c.name for c in TABLES[table].columns if c.required]


def _required_enums(table: str) -> list[str]:
    return [c.name for c in TABLES[table].columns if c.kind == "enum" and c.required]


@functools.cache
def _faulty_columns(table: str) -> list[pl.Expr]:
    """The table's columns as text, each spoiled in the copies whose fault hits it."""
    columns = []
    for column in TABLES[table].columns:
        value = _as_text(column.name, column.kind)
        if column.name == "event_id":  # a copy is an event of its own
            value = pl.format(
                "bad-{}-{}", pl.lit(pl.Series(_bad_kinds(table))).gather(pl.col("_kind")), value
            )
        for hit, spoiled in _faults(table, column.name):  # a later fault wins
            value = pl.when(hit).then(spoiled).otherwise(value)
        columns.append(value.alias(column.name))
    return columns


def _as_text(column: str, kind: str) -> pl.Expr:
    value = pl.col(column).dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ") if kind == "timestamp" else pl.col(column)
    return value.cast(pl.String)


def _faults(table: str, column: str) -> list[tuple[pl.Expr, pl.Expr]]:
    """(which copies, what they hold instead) for each fault that can hit the column."""
    faults = []
    if TABLES[table].column(column).own_time:
        faults += [
            (_hit(table, "invalid_timestamp"), pl.lit("not-a-time")),
            (_hit(table, "old_timestamp"), pl.lit("1999-12-31T23:59:59Z")),
            (_hit(table, "future_timestamp"), pl.col("_later")),
        ]
    mismatch = {"event_type": "delivered", "error_code": "timeout"}.get(column)
    if table == "messages" and mismatch:  # an error code on a message that did not fail
        faults.append((_hit(table, "error_code_mismatch"), pl.lit(mismatch)))
    if column in _required(table):
        emptied = pl.col("_emptied") == _required(table).index(column)
        faults.append((_hit(table, "missing_required") & emptied, pl.lit(None, pl.String)))
    if column in _required_enums(table):
        bogus = pl.col("_bogus") == _required_enums(table).index(column)
        faults.append((_hit(table, "invalid_enum") & bogus, pl.lit("bogus_value")))
    return faults


def _hit(table: str, kind: str) -> pl.Expr:
    """The copies with this kind of fault."""
    return pl.col("_kind") == _bad_kinds(table).index(kind)
