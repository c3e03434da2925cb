"""Text from the data, made safe to show where control characters act: a terminal (an ESC
sequence moves the cursor, clears the screen, retitles the window) or an SVG chart (an XML
document may not hold them at all).

Control characters (C0, DEL and C1), the invisible marks that reorder text on screen
(bidirectional controls) and the two Unicode noncharacters XML forbids are shown as
Python writes them in a string literal (`\\x1b`, `\\r`, `\\u202e`); every other character,
accented letters and emoji included, is left as it is.
"""

from __future__ import annotations

import re

_BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_SHOWN_ESCAPED = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI_CONTROLS}\ufffe\uffff]")


def _escaped(match: re.Match) -> str:
    return repr(match.group())[1:-1]


def escape_controls(text: str) -> str:
    """`text` with every control character written as its escape (`\\x1b`), the rest as it is."""
    return _SHOWN_ESCAPED.sub(_escaped, text)


# Every ASCII punctuation character may be escaped with a backslash in Markdown (CommonMark),
# and escaped it is only text: no emphasis, link, image, HTML, table cell border or autolink.
_MARKDOWN_PUNCTUATION = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])""")


def markdown_text(value: object) -> str:
    """A value from the data as Markdown that shows it as text (a Dagster metadata table's cell):
    punctuation escaped, line breaks as spaces, control characters as their escapes."""
    text = escape_controls(str(value).replace("\r\n", " ").replace("\n", " ").replace("\r", " "))
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def markdown_table(columns: list[str], rows: list[list[object]]) -> str:
    """A Markdown table whose cells show the data as text (None as an empty cell)."""
    header = "| " + " | ".join(markdown_text(c) for c in columns) + " |\n|" + "---|" * len(columns) + "\n"
    body = "".join(
        "| " + " | ".join("" if v is None else markdown_text(v) for v in row) + " |\n" for row in rows
    )
    return header + body
