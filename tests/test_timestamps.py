import datetime as dt

import polars as pl
import pytest

from assets.ingest.timestamps import parse_timestamp

pytestmark = pytest.mark.quick

INSTANT = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-05T10:00:00Z",
        "2026-01-05T13:00:00+03:00",
        "2026-01-05T05:00:00-05:00",
        "2026-01-05T15:30:00+0530",
        "2026-01-05T10:00:00",
        "2026-01-05T10:00:00.000Z",
        "2026-01-05 10:00:00",
        " 2026-01-05T10:00:00Z ",
        "1767607200000",
    ],
)
def test_every_accepted_form_is_the_same_utc_instant(text):
    parsed = pl.select(parse_timestamp(pl.lit(text))).item()
    assert parsed == INSTANT


def test_fractional_seconds_keep_microseconds_and_drop_finer_digits():
    parsed = pl.select(parse_timestamp(pl.lit("2026-01-05T10:00:00.123456789+01:00"))).item()
    assert parsed == dt.datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "text",
    ["garbage", "2026-02-30T10:00:00Z", "2026-01-05T25:00:00Z", "", "12:00", "2026-01-05", "2026-01-05T"],
)
def test_unparsable_text_is_null(text):
    assert pl.select(parse_timestamp(pl.lit(text))).item() is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-05T10:00:00+23:59", dt.datetime(2026, 1, 4, 10, 1, tzinfo=dt.UTC)),
        ("2026-01-05T10:00:00-00:00", dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)),
        ("2026-01-05T10:00:00+24:00", None),  # no clock is 24 hours ahead
        ("2026-01-05T10:00:00+12:60", None),
        ("2026-01-05T10:00:00+05:3", None),
    ],
)
def test_offsets_move_the_wall_time_and_impossible_ones_are_null(text, expected):
    assert pl.select(parse_timestamp(pl.lit(text))).item() == expected
