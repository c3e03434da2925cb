"""Airship Real-Time Data Streaming (JSON lines, every event type in the same files) mapped
to the contract's tables.

Layout: `<anything>/date=<YYYY-MM-DD>/<any depth>/*.jsonl|*.jsonl.gz|*.json|*.json.gz`, one
RTDS event per line, as a stream consumer or Airship's storage integration writes them; the
export day of an event is its `date=` folder's. Every file holds events of every type, so a
file is one kind (`events`), owned by `messages`, and each record is mapped by its `type`.
The mapping, field by field, and what Airship cannot tell: docs/sources/airship.md.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
from pathlib import Path

import polars as pl

from assets.contract import BROWSERS, ERROR_CODES, TABLES, Table
from assets.ingest.csv_reader import RAW, RECORD_NUMBER, visible
from assets.ingest.readers import FileRecords, decode_text, is_ignored, load_bytes
from assets.ingest.timestamps import EARLIEST_VALID, parse_timestamp
from assets.ingest.validate import CLOCK_SKEW
from assets.sources.layouts import DayDelivery, LandedFolder, register
from assets.sources.vendor import DayContext, KindMapping, VendorSource, keep

EVENTS = "events"  # the one kind of file: RTDS writes every event type to the same stream
OWNER = "messages"  # the table that counts each file's records (audit.source_files)
EXTENSIONS = (".jsonl", ".jsonl.gz", ".json", ".json.gz")

SEND = "SEND"
SEND_REJECTED = "SEND_REJECTED"
OPEN = "OPEN"
FIRST_OPEN = "FIRST_OPEN"
WEB_SESSION = "WEB_SESSION"
WEB_CLICK = "WEB_CLICK"
CUSTOM = "CUSTOM"
SCREEN_VIEWED = "SCREEN_VIEWED"
UNINSTALL = "UNINSTALL"
# a session starts with each app open (a push open too) and each web session; the first
# launch's FIRST_OPEN comes beside its OPEN, so it dates the install but is no session
SESSION_TYPES = (OPEN, WEB_SESSION)

# the custom events an app streams its push consent changes through (docs/sources/airship.md)
CONSENT_EVENTS = {"push_opt_out": "opt_out", "push_opt_in": "opt_in"}
# how the app learnt of the change it streams (its `source` property): at once in the app,
# from the backend, or on a visit that found the browser's push subscription gone
DETECTED_VIA = {
    "user_settings": "client",
    "os_permission": "client",
    "api": "api",
    "token_invalid": "revisit",
}

# Airship's device types that are push (app or web); SMS, email and open channels are not
PLATFORMS = {"IOS": "ios", "ANDROID": "android", "AMAZON": "android", "WEB": "web"}
NOT_PUSH = ("SMS", "EMAIL", "OPEN")

# the read fields of an event (every other field of the line is left out, kept in `_raw`)
_PUSH = pl.Struct({"push_id": pl.String, "group_id": pl.String})
SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String,
    "type": pl.String,
    "occurred": pl.String,
    "processed": pl.String,
    "offset": pl.String,
    "device": pl.Struct(
        {
            "channel": pl.String,
            "device_type": pl.String,
            "named_user_id": pl.String,
            "attributes": pl.Struct({"web_browser_name": pl.String, "push_opt_in": pl.String}),
        }
    ),
    "body": pl.Struct(
        {
            "push_id": pl.String,
            "group_id": pl.String,
            "variant_id": pl.String,
            "reason": pl.String,
            "decay": pl.String,
            "name": pl.String,
            "properties": pl.String,  # an object: its JSON text
            "session_id": pl.String,
            "viewed_screen": pl.String,
            "previous_screen": pl.String,
            "duration": pl.String,
            "triggering_push": _PUSH,
            "last_delivered": _PUSH,
        }
    ),
}
# the reader's own columns: the line's number in the file, its text, and whether it is no event
LINE_NUMBER = "_line_number"
LINE = "_line"
MALFORMED = "_malformed"

_DAY_FOLDER = re.compile(r"date=(\d{4}-\d{2}-\d{2})")


# -- reading ------------------------------------------------------------------------------------


def read_rtds(path: Path, max_bytes: int) -> pl.DataFrame:
    """Every line of a file that is not blank, in file order: the event's read fields (SCHEMA),
    its line number and text; a line that is no JSON object (or holds invalid UTF-8) is a row
    of null fields flagged `_malformed`, quarantined downstream as malformed_record."""
    text, clean = decode_text(load_bytes(path, max_bytes))
    split = text.split("\n")
    shown = split if clean else [visible(line) for line in split]  # invalid bytes shown as U+FFFD
    lines = (
        pl.DataFrame(
            {
                LINE: shown,
                "_bad_bytes": pl.repeat(False, len(split), eager=True)
                if clean
                else [a != b for a, b in zip(shown, split, strict=True)],
            },
            schema={LINE: pl.String, "_bad_bytes": pl.Boolean},
        )
        .with_row_index(LINE_NUMBER, offset=1)
        .with_columns(pl.col(LINE_NUMBER).cast(pl.Int64), pl.col(LINE).str.strip_suffix("\r"))
    )
    stripped = pl.col(LINE).str.strip_chars()
    lines = lines.filter(stripped != "")
    candidate = stripped.str.starts_with("{") & stripped.str.ends_with("}") & ~pl.col("_bad_bytes")
    parsed, refused = _parse(lines.filter(candidate).select(LINE_NUMBER, LINE))
    malformed = pl.concat([lines.filter(~candidate).select(LINE_NUMBER, LINE), refused])
    events = pl.concat(
        [
            parsed.with_columns(pl.lit(False).alias(MALFORMED)),
            malformed.select(
                *(pl.lit(None, dtype).alias(name) for name, dtype in SCHEMA.items()),
                LINE_NUMBER,
                LINE,
                pl.lit(True).alias(MALFORMED),
            ),
        ]
    )
    return events.sort(LINE_NUMBER)


def _parse(lines: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the read fields of the lines that parse, with their number and text; the refused lines).

    polars parses the lines in one call; when it refuses them (one bad line is enough), they
    are halved until each refused line stands alone, and Python's `json` decides on it.
    """
    if not lines.height:
        return _with_lines(pl.DataFrame(schema=SCHEMA), lines), lines
    parsed = _polars_parse(lines)
    if parsed is not None:
        return _with_lines(parsed, lines), lines.clear()
    if lines.height == 1:
        return _python_parse(lines)
    half = lines.height // 2
    first, first_refused = _parse(lines.slice(0, half))
    rest, rest_refused = _parse(lines.slice(half))
    return pl.concat([first, rest]), pl.concat([first_refused, rest_refused])


def _polars_parse(lines: pl.DataFrame) -> pl.DataFrame | None:
    data = lines[LINE].str.join("\n").item().encode()
    try:
        parsed = pl.read_ndjson(io.BytesIO(data), schema=SCHEMA)
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException):
        return None
    return parsed if parsed.height == lines.height else None


def _with_lines(parsed: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    return parsed.with_columns(lines[LINE_NUMBER], lines[LINE])


def _python_parse(line: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One line polars refused: an object of another shape (a `device` that is text, say)
    keeps the fields that fit; a line that is no JSON object is refused."""
    try:
        value = json.loads(line[LINE].item())
        if not isinstance(value, dict):
            raise ValueError("not an object")
        row = _conformed(value, pl.Struct(SCHEMA))
        parsed = pl.DataFrame([row], schema=SCHEMA)
    except (ValueError, RecursionError, pl.exceptions.PolarsError):
        return _with_lines(pl.DataFrame(schema=SCHEMA), line.clear()), line
    return _with_lines(parsed, line), line.clear()


def _conformed(value: object, dtype: pl.DataType) -> object:
    """A JSON value in the shape of `dtype`: a struct from an object (else null), text from a
    scalar (an object or list as its JSON text)."""
    if isinstance(dtype, pl.Struct):
        if not isinstance(value, dict):
            return None
        return {field.name: _conformed(value.get(field.name), field.dtype) for field in dtype.fields}
    if value is None:
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    if re.search("[\ud800-\udfff]", text):  # an escaped lone surrogate: no text a column holds
        raise ValueError("lone surrogate")
    return text


# -- mapping ------------------------------------------------------------------------------------


def _prepared(frame: pl.DataFrame) -> pl.DataFrame:
    """The event's fields flat, its line number as the record number and its line as the raw record."""
    device = pl.col("device").struct.field
    body = pl.col("body").struct.field
    text = {
        "event": pl.col("type").str.strip_chars().str.to_uppercase(),
        "channel": device("channel"),
        "device_type": device("device_type").str.strip_chars().str.to_uppercase(),
        "named_user_id": device("named_user_id"),
        "browser_name": device("attributes").struct.field("web_browser_name"),
        "push_id": body("push_id"),
        "group_id": body("group_id"),
        "reason": body("reason"),
        "decay": body("decay").str.strip_chars().str.to_lowercase(),
        "name": body("name").str.strip_chars(),
        "properties": body("properties"),
        "viewed_screen": body("viewed_screen"),
        "previous_screen": body("previous_screen"),
        "duration": body("duration"),
        "triggering_push_id": body("triggering_push").struct.field("push_id"),
        "triggering_group_id": body("triggering_push").struct.field("group_id"),
    }
    return frame.with_columns(
        pl.col(LINE_NUMBER).alias(RECORD_NUMBER),
        pl.col(LINE).alias(RAW),
        *(value.alias(name) for name, value in text.items()),
    )


def _is_push() -> pl.Expr:
    """A record of an app or web channel (or one that does not say): SMS, email and open
    channels are not push, their events are ignored."""
    return ~pl.col("device_type").is_in(NOT_PUSH).fill_null(False) & ~pl.col(MALFORMED)


def _campaign() -> pl.Expr:
    """The campaign of a send: its push group (an automation, a local-time push) when it has
    one, else the push itself."""
    return pl.coalesce(pl.col("group_id"), pl.col("push_id"))


def _triggering_campaign() -> pl.Expr:
    return pl.coalesce(pl.col("triggering_group_id"), pl.col("triggering_push_id"))


def _platform() -> pl.Expr:
    """ios / android / web; an unknown device type is kept as written (quarantined, invalid_value)."""
    kind = pl.col("device_type")
    return kind.replace_strict(PLATFORMS, default=kind.str.to_lowercase())


def _browser() -> pl.Expr:
    """Web only: the browser Airship's Web SDK names (`web_browser_name`)."""
    name = pl.col("browser_name").str.strip_chars().str.to_lowercase()
    known = pl.when(name.is_in(list(BROWSERS))).then(name)
    for browser in ("edge", "firefox", "safari", "chrome"):  # Edge before Chrome: "Microsoft Edge"
        known = known.when(name.str.contains(browser, literal=True)).then(pl.lit(browser))
    known = known.otherwise(pl.lit("other"))
    return pl.when((pl.col("device_type") == "WEB") & name.is_not_null()).then(known)


def _error_code(reason: pl.Expr) -> pl.Expr:
    """A rejection's reason as the contract's error code; unknown text (or none) is `other`."""
    text = reason.str.strip_chars().str.to_lowercase()
    return (
        pl.when(text.is_in(list(ERROR_CODES)))
        .then(text)
        .when(text.str.contains(r"unregistered|not ?registered|uninstall"))
        .then(pl.lit("unregistered"))
        .when(text.str.contains("invalid") & text.str.contains("token|registration"))
        .then(pl.lit("invalid_token"))
        .when(text.str.contains(r"rate.?limit|too many|throttl"))
        .then(pl.lit("rate_limited"))
        .when(text.str.contains(r"time.?out|timed out"))
        .then(pl.lit("timeout"))
        .otherwise(pl.lit("other"))
    )


def _in_day(day: dt.date) -> pl.Expr:
    """The record's time parses and the validation would take it (not after the export day
    plus the clock skew, not before 2000): only such times date a profile or a campaign."""
    latest = dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(days=1) + CLOCK_SKEW
    when = parse_timestamp(pl.col("occurred"))
    return (when >= EARLIEST_VALID) & (when <= pl.lit(latest, pl.Datetime("us", "UTC")))


def _message(frame: pl.DataFrame, event_type: str, event_id: pl.Expr, campaign: pl.Expr, error=None):
    return keep(
        frame,
        event_id.alias("event_id"),
        pl.col("channel").alias("user_id"),
        campaign.alias("campaign_id"),
        pl.lit(event_type).alias("event_type"),
        pl.col("occurred").alias("occurred_at"),
        (error if error is not None else pl.lit(None, pl.String)).alias("error_code"),
    )


def _consent(frame: pl.DataFrame, event_type, source, via, campaign: pl.Expr) -> pl.DataFrame:
    return keep(
        frame,
        pl.col("id").alias("event_id"),
        pl.col("channel").alias("user_id"),
        event_type.alias("event_type"),
        pl.col("occurred").alias("occurred_at"),
        source.alias("source"),
        via.alias("detected_via"),
        campaign.alias("campaign_id"),
    )


def _activity(frame: pl.DataFrame, name: pl.Expr, properties: pl.Expr) -> pl.DataFrame:
    return keep(
        frame,
        pl.col("id").alias("event_id"),
        pl.col("channel").alias("user_id"),
        name.alias("event_name"),
        pl.col("occurred").alias("occurred_at"),
        properties.alias("properties"),
    )


def _nothing(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Rows of null fields (every line that is no event), for the owner's count and quarantine."""
    return keep(frame, *(pl.lit(None, pl.String).alias(c) for c in TABLES[table].column_names))


def _delivery_keys(channel: pl.Expr, *pushes: pl.Expr) -> list[pl.Expr]:
    return [pl.concat_str(channel, push, separator="\x1f") for push in pushes]


def _undelivered(context: DayContext) -> pl.Series:
    """The day's (channel, push) pairs a rejection or an uninstall says never reached the device.

    Worked out once per export day and table (every file of the day maps with it).
    """
    cached = vars(context).get("_airship_undelivered")
    if cached is not None:
        return cached
    keys = []
    for file in context.of_kinds([EVENTS]):
        events = _prepared(file.frame).filter(_is_push())
        kind = pl.col("event")
        push = pl.coalesce("push_id", "triggering_push_id", "group_id", "triggering_group_id")
        rejected = (kind == SEND_REJECTED) | (
            (kind == UNINSTALL) & (pl.col("decay") != "true").fill_null(True)
        )
        keys.append(events.filter(rejected).select(_delivery_keys(pl.col("channel"), push)[0]).to_series())
    found = pl.concat(keys).drop_nulls().unique() if keys else pl.Series([], dtype=pl.String)
    vars(context)["_airship_undelivered"] = found
    return found


def _user_versions(frame: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    """One profile version per channel a file's events name: the latest named user, platform and
    browser seen; created at its FIRST_OPEN when the file has it, else when first seen."""
    seen = frame.filter(pl.col("channel").is_not_null() & pl.col("device_type").is_not_null() & _in_day(day))
    versions = (
        seen.with_columns(parse_timestamp(pl.col("occurred")).alias("_when"))
        .sort("_when", RECORD_NUMBER)
        .group_by("channel", maintain_order=True)
        .agg(
            pl.col("named_user_id").drop_nulls().last().alias("external_id"),
            _platform().last().alias("platform"),
            _browser().drop_nulls().last().alias("browser"),
            pl.coalesce(
                pl.col("occurred").filter(pl.col("event") == FIRST_OPEN).first(), pl.col("occurred").first()
            ).alias("created_at"),
            pl.col("occurred").last().alias("updated_at"),
            pl.col(RECORD_NUMBER).last(),
            pl.col(RAW).last(),
        )
    )
    return keep(
        versions,
        pl.col("channel").alias("user_id"),
        pl.col("external_id"),
        pl.col("platform"),
        pl.col("browser"),
        pl.col("created_at"),
        pl.col("updated_at"),
    )


def _campaign_versions(sends: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    """One version per campaign a file's sends name: RTDS carries no campaign records and no
    message name, so its name is its id, its start the first send seen."""
    named = sends.filter(_campaign().is_not_null() & _in_day(day))
    versions = (
        named.with_columns(
            _campaign().alias("campaign_id"), parse_timestamp(pl.col("occurred")).alias("_when")
        )
        .sort("_when", RECORD_NUMBER)
        .group_by("campaign_id", maintain_order=True)
        .agg(
            # web push when every send that names a device type went to a browser
            (pl.col("device_type") == "WEB").any().alias("_to_web"),
            (pl.col("device_type") != "WEB").any().alias("_to_apps"),
            pl.col("group_id").is_not_null().any().alias("_grouped"),
            pl.col("occurred").first().alias("sent_at"),
            pl.col("occurred").last().alias("updated_at"),
            pl.col(RECORD_NUMBER).first(),
            pl.col(RAW).first(),
        )
    )
    return keep(
        versions,
        pl.col("campaign_id"),
        pl.col("campaign_id").alias("name"),
        pl.when(pl.col("_to_web") & ~pl.col("_to_apps"))
        .then(pl.lit("web_push"))
        .otherwise(pl.lit("push"))
        .alias("channel"),
        pl.when(pl.col("_grouped"))
        .then(pl.lit("automated"))
        .otherwise(pl.lit("broadcast"))
        .alias("campaign_type"),
        pl.col("sent_at"),
        pl.col("updated_at"),
    )


def map_events(frame: pl.DataFrame, context: DayContext) -> dict[str, list[pl.DataFrame]]:
    """Each event by its type (docs/sources/airship.md). The first `messages` frame holds one
    row per record the file's count calls mapped: sends, rejections, opens and clicks of a
    push, and the lines that are no event; every other record is counted as ignored by the file."""
    events = _prepared(frame)
    push = events.filter(_is_push())
    kind = pl.col("event")
    sends = push.filter(kind == SEND)
    rejected = push.filter(kind == SEND_REJECTED)
    push_opens = push.filter((kind == OPEN) & _triggering_campaign().is_not_null())
    web_clicks = push.filter(kind == WEB_CLICK)
    send_keys = _delivery_keys(pl.col("channel"), pl.col("push_id"), pl.col("group_id"))
    undelivered = _undelivered(context)
    reached = sends.filter(
        ~pl.any_horizontal(key.is_in(undelivered.implode()).fill_null(False) for key in send_keys)
    )
    messages = pl.concat(
        [
            _nothing("messages", events.filter(pl.col(MALFORMED))),
            _message(sends, "sent", pl.col("id"), _campaign()),
            _message(rejected, "failed", pl.col("id"), _campaign(), _error_code(pl.col("reason"))),
            _message(push_opens, "opened", pl.col("id"), _triggering_campaign()),
            _message(web_clicks, "opened", pl.col("id"), pl.coalesce(_campaign(), _triggering_campaign())),
        ]
    ).sort(RECORD_NUMBER)

    uninstalls = push.filter((kind == UNINSTALL) & (pl.col("decay") != "true").fill_null(True))
    consent_name = pl.col("name").str.to_lowercase()
    stated = push.filter((kind == CUSTOM) & consent_name.is_in(list(CONSENT_EVENTS)))
    source = pl.col("properties").str.json_path_match("$.source").str.strip_chars().str.to_lowercase()
    subscriptions = pl.concat(
        [
            _consent(
                uninstalls,
                pl.lit("opt_out"),
                pl.lit("token_invalid"),
                pl.lit("send_feedback"),
                pl.coalesce(_campaign(), _triggering_campaign()),
            ),
            _consent(
                stated,
                consent_name.replace_strict(CONSENT_EVENTS, default=None),
                source,
                # an unknown source keeps a path, so the record is quarantined for its source
                pl.when(source.is_in(list(DETECTED_VIA)))
                .then(source.replace_strict(DETECTED_VIA, default=None))
                .when(source.is_not_null())
                .then(pl.lit("client")),
                pl.lit(None, pl.String),
            ),
        ]
    ).sort(RECORD_NUMBER)

    properties = pl.col("properties")
    empty = properties.str.strip_chars().is_in(["", "{}", "null"]).fill_null(True)
    screen = pl.struct("viewed_screen", "previous_screen", "duration").struct.json_encode()
    app_events = pl.concat(
        [
            _activity(
                push.filter(kind.is_in(SESSION_TYPES)), pl.lit("session_start"), pl.lit(None, pl.String)
            ),
            _activity(
                push.filter((kind == CUSTOM) & ~consent_name.is_in(list(CONSENT_EVENTS)).fill_null(False)),
                pl.col("name"),
                pl.when(~empty).then(properties),
            ),
            _activity(push.filter(kind == SCREEN_VIEWED), pl.lit("screen_view"), screen),
        ]
    ).sort(RECORD_NUMBER)
    return {
        "messages": [
            messages,
            _message(reached, "delivered", pl.col("id") + "/delivered", _campaign()),
        ],
        "subscriptions": [subscriptions],
        "app_events": [app_events],
        "users": [_user_versions(push, context.day)],
        "campaigns": [_campaign_versions(sends, context.day)],
    }


KINDS = {
    EVENTS: KindMapping(OWNER, map_events, feeds=("subscriptions", "app_events", "users", "campaigns")),
}


# -- the layout ---------------------------------------------------------------------------------


def airship_folders(landing_dir: Path) -> list[LandedFolder]:
    """Every `date=<YYYY-MM-DD>` folder below the landing folder, at any depth.

    The walk stops at each day folder (files lie at any depth below it, read later) and
    never enters hidden folders.
    """
    found = []
    for root, folders, _ in os.walk(landing_dir):
        walk_on = []
        for name in sorted(folders):
            if is_ignored(name):
                continue
            match = _DAY_FOLDER.fullmatch(name)
            day = _date(match.group(1)) if match else None
            if day is not None:
                found.append(LandedFolder(EVENTS, day, Path(root, name), nested=True))
            else:
                walk_on.append(name)
        folders[:] = walk_on
    return sorted(found, key=lambda f: (f.day, f.folder))


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


class AirshipSource(VendorSource):
    """The vendor framework, with the lines that are no event kept apart as malformed records."""

    def read_day(self, table: Table, landing_dir: Path, day: dt.date, max_bytes: int) -> DayDelivery:
        delivered = super().read_day(table, landing_dir, day, max_bytes)
        if table.name == OWNER:
            delivered.reads = [_malformed_apart(read) for read in delivered.reads]
        return delivered


def _malformed_apart(read: FileRecords) -> FileRecords:
    """The owner's rows of lines that are no event (every field null, even the event type,
    which each mapped record has) as the file's malformed records: quarantined as
    malformed_record with their line, counted where the mapping counted them."""
    bad = pl.col("event_type").is_null()
    if not read.records.select(bad.any()).item():
        return read
    malformed = read.records.filter(bad).select(RECORD_NUMBER, RAW)
    return FileRecords(
        read.file_name, read.format, read.records.filter(~bad), pl.concat([read.malformed, malformed])
    )


def airship() -> VendorSource:
    return AirshipSource(
        name="airship", kinds=KINDS, folders=airship_folders, read=read_rtds, extensions=EXTENSIONS
    )


register("airship", airship)
