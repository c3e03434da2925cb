"""Who is being erased, and how their ids are recognised in records and in free text.

A typed record belongs to a person when its `user_id` (or, in `users`, its `external_id`)
is one of theirs. A raw record (a quarantined line, a landing line that does not parse)
has no trusted columns, so every value in it counts: the values of a JSON object, else
the fields of a CSV line. In free text (logs, reports, Dagster's event records) an id is
recognised as a whole token: not preceded or followed by a letter, digit, `_` or `-`, so
erasing `u1` leaves `u12` alone.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass

# what stands in for an erased id in free text
REDACTED = "[erased]"
_ID_CHAR = r"\w-"


@dataclass(frozen=True)
class Subjects:
    """The ids of the people a request is about, in clear (only while the request runs)."""

    user_ids: frozenset[str]
    external_ids: frozenset[str]

    @property
    def all_ids(self) -> frozenset[str]:
        return self.user_ids | self.external_ids

    def __bool__(self) -> bool:
        return bool(self.user_ids or self.external_ids)

    def holds(self, column: str, value: object) -> bool:
        if value is None:
            return False
        ids = self.external_ids if column == "external_id" else self.user_ids
        return str(value) in ids

    def mentioned_in_record(self, raw: str | None) -> bool:
        """Does a raw record (JSON object or CSV line) hold one of the ids as a value?"""
        return any(value in self.all_ids for value in record_values(raw))

    def text_pattern(self) -> re.Pattern[str]:
        """Every id as a whole token, in clear and as JSON writes it inside a string."""
        forms = set()
        for value in self.all_ids:
            forms.add(value)
            forms.add(json.dumps(value)[1:-1])  # escaped quotes, backslashes, non-ASCII as \uXXXX
            forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
        alternatives = "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))
        return re.compile(f"(?<![{_ID_CHAR}])(?:{alternatives})(?![{_ID_CHAR}])")


def record_values(raw: str | None) -> list[str]:
    """The values a raw record holds: a JSON object's values, else a CSV line's fields (trimmed)."""
    if not raw:
        return []
    text = raw.strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            # every leaf, nested ones too (a vendor's record: Airship's `device.named_user_id`),
            # and the values of a record kept as a string (a line a vendor reader could not parse)
            leaves = leaf_values(parsed)
            return leaves + [
                value for leaf in leaves if leaf.startswith("{") for value in record_values(leaf)
            ]
        # a broken JSON line: its quoted strings
        return [match.strip() for match in re.findall(r'"((?:[^"\\]|\\.)*)"', text)]
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error:
        return [part.strip() for part in re.split(r"[,\s]+", text) if part]
    return [field.strip() for row in rows for field in row]


def redact(text: str, pattern: re.Pattern[str]) -> tuple[str, int]:
    """`text` with every whole-token id replaced by REDACTED, and how many were replaced."""
    return pattern.subn(REDACTED, text)


def leaf_values(value: object) -> list[str]:
    """Every scalar of a nested JSON value, as trimmed text (booleans and nulls aside)."""
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in leaf_values(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaf_values(item)]
    return (
        [str(value).strip()] if isinstance(value, str | int | float) and not isinstance(value, bool) else []
    )
