"""The simulated world in a vendor's own files (`optout generate --format <vendor>`).

The world is the one optout's contract gets for the same seed: the same simulation and the
same noise draws (late arrivals, repeated deliveries, events of unknown users). A vendor
writer receives each export day's clean records of the five tables and writes them as the
vendor would have recorded them. What a vendor cannot carry is listed in docs/sources/.
"""

from __future__ import annotations

import datetime as dt
import importlib
from pathlib import Path
from typing import Protocol

import polars as pl

FORMATS = ("optout", "braze_currents", "onesignal", "airship")
_MODULES = {"braze_currents": "braze", "onesignal": "onesignal", "airship": "airship"}


class VendorWriter(Protocol):
    def simulated(self, day: dt.date, tables: dict[str, pl.DataFrame]) -> None:
        """The clean records of a simulated day, before any noise: who is who, campaign names."""

    def write_day(self, export_day: dt.date, tables: dict[str, pl.DataFrame]) -> dict[str, int]:
        """Write what the export day delivers; returns the records written per kind of file."""


def vendor_writer(fmt: str, out: Path) -> VendorWriter:
    module = importlib.import_module(f"assets.generator.vendors.{_MODULES[fmt]}")
    return module.Writer(out)


def with_failures_beside_their_sends(
    scheduled: dict[str, list[tuple[int, pl.DataFrame]]],
) -> dict[str, list[tuple[int, pl.DataFrame]]]:
    """The day's parts with each failed send, and the opt-out it revealed, delivered with the send.

    In optout's contract every table arrives late on its own. A vendor writes a send, its
    bounce and the opt-out the bounce reveals from one event stream, within seconds: the
    vendor sources tell a delivered send from a bounced one within an export day, so the
    three arrive together (on the send's earliest delivery day).
    """
    messages = _stacked(scheduled.get("messages", []))
    if messages is None:
        return scheduled
    keys = ["user_id", "campaign_id"]
    send_delay = (
        messages.filter(pl.col("event_type") == "sent")
        .group_by(keys)
        .agg(pl.col("_delay").min().alias("_send"))
    )
    aligned = dict(scheduled)
    aligned["messages"] = _moved(messages, send_delay, keys, pl.col("event_type") == "failed")
    subscriptions = _stacked(scheduled.get("subscriptions", []))
    if subscriptions is not None:
        found = (pl.col("detected_via") == "send_feedback") & pl.col("campaign_id").is_not_null()
        aligned["subscriptions"] = _moved(subscriptions, send_delay, keys, found)
    return aligned


def _stacked(parts: list[tuple[int, pl.DataFrame]]) -> pl.DataFrame | None:
    if not parts:
        return None
    return pl.concat([part.with_columns(pl.lit(delay, pl.Int32).alias("_delay")) for delay, part in parts])


def _moved(frame: pl.DataFrame, send_delay: pl.DataFrame, keys: list[str], which: pl.Expr) -> list:
    moved = frame.join(send_delay, on=keys, how="left", nulls_equal=False).with_columns(
        pl.when(which & pl.col("_send").is_not_null())
        .then(pl.col("_send"))
        .otherwise(pl.col("_delay"))
        .alias("_delay")
    )
    return [
        (int(delay), part.drop("_delay", "_send"))
        for (delay,), part in sorted(moved.partition_by("_delay", as_dict=True, maintain_order=True).items())
    ]
