"""Who is being erased, and how their ids are recognised in records and in free text.

A typed record belongs to a person when its `user_id` (or, in `users`, its `external_id`)
is one of theirs. A raw record (a quarantined line, a landing line that does not parse)
has no trusted columns, so every value in it counts: the values of a JSON object, else
the fields of a CSV line. In free text (logs, reports, Dagster's event records) an id is
recognised as a whole token: not preceded or followed by a letter, digit, `_` or `-`, so
erasing `u1` leaves `u12` alone.
"""

from __future__ import annotations

import contextlib
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

    def text_forms(self) -> list[str]:
        """Every id as stored text may hold it: in clear, and as JSON writes it inside a string,
        once or twice (Dagster keeps metadata as JSON inside its JSON event records), with and
        without non-ASCII escaped. Longest first, so a search finds the whole form."""
        forms = set()
        for value in self.all_ids:
            once = {value, _json_inner(value, True), _json_inner(value, False)}
            forms |= once | {_json_inner(form, ascii_only) for form in once for ascii_only in (True, False)}
        return sorted(forms, key=lambda form: (-len(form), form))

    def text_pattern(self) -> re.Pattern[str]:
        """Every id as a whole token, in each of its text forms."""
        alternatives = "|".join(re.escape(form) for form in self.text_forms())
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


def _json_inner(value: str, ascii_only: bool) -> str:
    """`value` as JSON writes it between the quotes of a string."""
    return json.dumps(value, ensure_ascii=ascii_only)[1:-1]


# Base64 (a chart's PNG in Dagster's metadata, an embedded image in a report) is a long run of
# letters, digits, `+` and `/`; a short id found inside one is a coincidence, not a mention.
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]")
BASE64_MIN_RUN = 76


def _inside_base64(text: str, start: int, end: int) -> bool:
    """Is text[start:end] part of a longer run of base64 of at least BASE64_MIN_RUN characters?
    (The match's own neighbours can only be `+` or `/`: the pattern's token bounds exclude the rest.)"""
    if not all(_BASE64_RUN.match(char) for char in text[start:end]):
        return False
    left, right = start, end
    while left > max(0, start - BASE64_MIN_RUN) and _BASE64_RUN.match(text, left - 1):
        left -= 1
    while right < min(len(text), end + BASE64_MIN_RUN) and _BASE64_RUN.match(text, right):
        right += 1
    return right - left >= BASE64_MIN_RUN and (left < start or right > end)


def redact(text: str, pattern: re.Pattern[str]) -> tuple[str, int]:
    """`text` with every whole-token id replaced by REDACTED, and how many were replaced
    (never inside a run of base64, where an id's letters are part of an encoded picture)."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if _inside_base64(text, match.start(), match.end()):
            return match.group()
        count += 1
        return REDACTED

    return pattern.sub(replace, text), count


# The fields in which a vendor's export names a person (docs/sources): Braze `user_id` and
# `external_user_id`, OneSignal `onesignal_id` and `external_id`, Airship `device.channel`
# and `device.named_user_id`. A vendor record is a person's when one of these holds one of
# their ids; any other field holding the same text (a count, a campaign id that happens to
# equal a short external id) names nobody.
VENDOR_ID_FIELDS = frozenset(
    {"user_id", "external_user_id", "external_id", "onesignal_id", "channel", "named_user_id"}
)


def id_field_values(value: object) -> list[str]:
    """The values of a vendor record's id fields, at any depth (and inside a field that holds a
    JSON object as text), as trimmed text."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in VENDOR_ID_FIELDS and isinstance(item, str | int) and not isinstance(item, bool):
                found.append(str(item).strip())
            else:
                found += id_field_values(item)
    elif isinstance(value, list):
        for item in value:
            found += id_field_values(item)
    elif isinstance(value, str) and value.lstrip().startswith("{"):
        with contextlib.suppress(ValueError):  # text that only looks like JSON: no id field
            found += id_field_values(json.loads(value))
    return found


def leaf_values(value: object) -> list[str]:
    """Every scalar of a nested JSON value, as trimmed text (booleans and nulls aside)."""
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in leaf_values(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaf_values(item)]
    return (
        [str(value).strip()] if isinstance(value, str | int | float) and not isinstance(value, bool) else []
    )
