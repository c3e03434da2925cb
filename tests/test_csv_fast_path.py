"""The fast CSV reader gives exactly what Python's `csv` reader over the whole file gives.

`read_csv_exact` is the definition (records, their numbers, the malformed ones and their
text); `read_csv` hands canonical lines to polars and the rest to Python's reader. Texts
are built from the characters that change how CSV parses (quotes, separators, CR, LF, NUL,
invalid UTF-8), so runs of slow lines start and stop everywhere.
"""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from assets.ingest.csv_reader import read_csv, read_csv_exact

pytestmark = pytest.mark.quick

PIECES = ["a", "b", "é", " ", ",", '"', '""', "\n", "\r\n", "\r", "\x00", "\udcff", "x,y", '"q,"', "🎉"]
HEADERS = ["a,b,c", "a", '"a","b"', "A, b ,a", "a,b\r", "", '"a\nb",c', "a,\udcffb"]


def _same(text: str) -> None:
    clean = "\udcff" not in text
    fast_records, fast_malformed = read_csv(text, clean)
    exact_records, exact_malformed = read_csv_exact(text, clean)
    assert_frame_equal(fast_records, exact_records, check_dtypes=True)
    assert_frame_equal(fast_malformed, exact_malformed, check_dtypes=True)


@settings(max_examples=600, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    header=st.sampled_from(HEADERS),
    lines=st.lists(st.lists(st.sampled_from(PIECES), max_size=8).map("".join), max_size=12),
    final_newline=st.booleans(),
)
def test_fast_reader_equals_pythons_reader_on_hostile_text(header, lines, final_newline):
    text = "\n".join([header, *lines]) + ("\n" if final_newline else "")
    _same(text)


@pytest.mark.parametrize(
    "text",
    [
        "a,b\n1,2\n3,4\n",
        "a,b\n1,2\n\n3,4\n",  # a blank line keeps its number
        'a,b\n1,"two\nlines"\n3,4\n',  # a record over two lines shifts the numbers after it
        'a,b\n1,"open\n3,4\n5,6\n',  # an unclosed quote takes the rest of the file
        "a,b\n1,2\noops,oops,oops\n3,4",  # wrong field count, no final newline
        "a,b\r\n1,2\r\n3\r\n",  # CRLF
        "a,b\n1,2\r3,4\n5,6\n",  # a bare CR ends a record for Python's reader
        'a,b\nx"y,2\n"p"q,3\n4,5\n',  # stray quotes: Python's non-strict reading
        "a,b\n1,\udcff\n3,4\n",  # invalid UTF-8 makes the record malformed
    ],
)
def test_fast_reader_equals_pythons_reader_on_known_cases(text):
    _same(text)


def test_canonical_lines_take_the_fast_path_and_numbers_follow_the_records():
    text = 'name,value\n"a, quoted",1\n"multi\nline",2\nplain,3\n'
    records, malformed = read_csv(text, True)
    assert records.rows() == [("a, quoted", "1", 1), ("multi\nline", "2", 2), ("plain", "3", 3)]
    assert malformed.is_empty()
    assert records.schema == pl.Schema({"name": pl.String, "value": pl.String, "_record_number": pl.Int64})
