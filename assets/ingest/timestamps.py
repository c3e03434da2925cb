"""Vectorized parsing of every timestamp form the contract accepts, normalized to UTC (µs)."""

from __future__ import annotations

import polars as pl

# date and time (a bare date is not a timestamp), optional seconds and fraction, optional
# Z / offset (±HH, ±HHMM, ±HH:MM)
_ISO_PATTERN = (
    r"^(?<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"[Tt ](?<hour>[0-9]{2}):(?<minute>[0-9]{2})(?::(?<second>[0-9]{2})(?:[.,](?<fraction>[0-9]+))?)?"
    r"(?<zone>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?$"
)
_EPOCH_PATTERN = r"^-?[0-9]{1,15}$"

EARLIEST_VALID = pl.datetime(2000, 1, 1, time_unit="us", time_zone="UTC")


def _normalized_offset(zone: pl.Expr) -> pl.Expr:
    """`Z`, `+03`, `+0300` and `+03:00` all become `+03:00` (missing zone = UTC)."""
    digits = zone.str.replace_all(":", "", literal=True)
    return (
        pl.when(zone.is_null() | zone.str.to_uppercase().eq("Z"))
        .then(pl.lit("+00:00"))
        .otherwise(digits.str.slice(0, 3) + pl.lit(":") + digits.str.slice(3, 2).str.pad_end(2, "0"))
    )


def timestamp_parts(text: pl.Expr) -> pl.Expr:
    """The ISO-8601 pieces of a timestamp (a struct), for `parse_timestamp`.

    Kept apart so a caller can materialize them once: every field of the struct would
    otherwise run the regex again, the dearest step of validating a record.
    """
    return text.str.strip_chars().str.extract_groups(_ISO_PATTERN)


def parse_timestamp(text: pl.Expr, parts: pl.Expr | None = None) -> pl.Expr:
    """Parse ISO-8601 (with or without offset) or epoch milliseconds; null when unparsable.

    `parts` is `timestamp_parts(text)`, already computed as a column (faster), or None.
    """
    value = text.str.strip_chars()
    if parts is None:
        parts = timestamp_parts(text)
    fraction = parts.struct.field("fraction").fill_null("").str.pad_end(6, "0").str.slice(0, 6)
    normalized = pl.concat_str(
        parts.struct.field("date"),
        pl.lit("T"),
        parts.struct.field("hour").fill_null("00"),
        pl.lit(":"),
        parts.struct.field("minute").fill_null("00"),
        pl.lit(":"),
        parts.struct.field("second").fill_null("00"),
        pl.lit("."),
        fraction,
        _normalized_offset(parts.struct.field("zone")),
    )
    from_iso = normalized.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%:z", time_unit="us", time_zone="UTC", strict=False
    )
    epoch_ms = pl.when(value.str.contains(_EPOCH_PATTERN)).then(value.cast(pl.Int64, strict=False))
    from_epoch = (epoch_ms * 1000).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return pl.coalesce(from_epoch, from_iso)
