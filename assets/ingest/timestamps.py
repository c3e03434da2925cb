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


def _offset_minutes(zone: pl.Expr) -> pl.Expr:
    """`Z`, `+03`, `+0300` and `+03:00` as signed minutes east of UTC (missing zone = UTC);
    null for an offset no clock has (24 hours or more, 60 minutes or more)."""
    digits = zone.str.replace_all(":", "", literal=True)
    hours = digits.str.slice(1, 2).cast(pl.Int64, strict=False)
    minutes = digits.str.slice(3, 2).cast(pl.Int64, strict=False).fill_null(0)
    sign = pl.when(digits.str.starts_with("-")).then(-1).otherwise(1)
    return (
        pl.when(zone.is_null() | zone.str.to_uppercase().eq("Z"))
        .then(0)
        .when((hours < 24) & (minutes < 60))
        .then(sign * (hours * 60 + minutes))
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
    field = parts.struct.field
    # the wall time as written (a fixed format: fast), then moved to UTC by the offset, which
    # is plain arithmetic (parsing it with the text costs twice as much)
    wall_time = pl.concat_str(
        field("date"),
        pl.lit("T"),
        field("hour"),
        pl.lit(":"),
        field("minute"),
        pl.lit(":"),
        field("second").fill_null("00"),
    ).str.to_datetime("%Y-%m-%dT%H:%M:%S", time_unit="us", strict=False)
    micros = field("fraction").str.slice(0, 6).str.pad_end(6, "0").cast(pl.Int64, strict=False).fill_null(0)
    from_iso = (
        wall_time + pl.duration(microseconds=micros) - pl.duration(minutes=_offset_minutes(field("zone")))
    ).dt.replace_time_zone("UTC")
    epoch_ms = pl.when(value.str.contains(_EPOCH_PATTERN)).then(value.cast(pl.Int64, strict=False))
    from_epoch = (epoch_ms * 1000).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return pl.coalesce(from_epoch, from_iso)
