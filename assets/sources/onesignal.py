"""OneSignal (message events and the daily subscriptions export) mapped to the contract's tables.

Layout, below the landing folder:
- `message_events/date=<YYYY-MM-DD>/<any depth>/*.csv|*.csv.gz|*.jsonl|*.jsonl.gz`: the
  message events of a data export or an Event Streams destination, one record per event,
  every event kind in the same files (mapped record by record, by `event_kind`);
- `subscriptions/date=<YYYY-MM-DD>/*.csv|*.csv.gz`: the subscriptions CSV export taken
  that day, one row per subscription.

The export day is the `date=` folder's. The mapping, field by field, and what OneSignal
cannot tell: docs/sources/onesignal.md.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl

from assets.contract import ERROR_CODES
from assets.ingest.csv_reader import RAW, RECORD_NUMBER
from assets.ingest.readers import is_ignored, read_file
from assets.ingest.timestamps import parse_timestamp
from assets.ingest.validate import CLOCK_SKEW
from assets.sources.layouts import LandedFolder, register
from assets.sources.vendor import DayContext, KindMapping, VendorSource, keep, with_fields

MESSAGE_EVENTS = "message_events"
SUBSCRIPTIONS = "subscriptions"

SENT = "message.push.sent"
RECEIVED = "message.push.received"
CLICKED = "message.push.clicked"
FAILED = "message.push.failed"
UNSUBSCRIBED = "message.push.unsubscribed"

# the push event kinds that are a message event, and the contract's name for each
MESSAGE_KINDS = {SENT: "sent", RECEIVED: "delivered", CLICKED: "opened", FAILED: "failed"}
PUSH_KINDS = (*MESSAGE_KINDS, UNSUBSCRIBED)

EVENT_FIELDS = {
    name: pl.String
    for name in (
        "event_id",
        "event_kind",
        "event_timestamp",
        "message_id",
        "message_name",
        "message_type",
        "onesignal_id",
        "external_id",
        "subscription_id",
        "subscription_device_type",
        "failure_reason",
    )
}
SUBSCRIPTION_FIELDS = {
    name: pl.String
    for name in (
        "subscription_id",
        "onesignal_id",
        "external_id",
        "type",
        "enabled",
        "notification_types",
        "created_at",
        "last_active",
        "unsubscribed_at",
    )
}
# a line the reader could not parse: kept as a record of null fields holding the line here,
# so it is quarantined (missing_required) and counted like any other record
MALFORMED_LINE = "malformed_line"

# a device or subscription type without its `Push` ending, lower case: the contract's platform
MOBILE_PLATFORMS = {"ios": "ios", "android": "android", "fireos": "android", "huawei": "android"}
# web push types and their browser
WEB_BROWSERS = {
    "chrome": "chrome",
    "chromeextension": "chrome",
    "firefox": "firefox",
    "safari": "safari",
    "safarilegacy": "safari",
    "edge": "edge",
    "web": "other",
}
NOT_PUSH = ("email", "sms")

CAMPAIGN_TYPES = {"broadcast": "broadcast", "journey": "automated", "api": "transactional"}

# notification_types of an unsubscribed push subscription: the opt-out's source and detection
OPT_OUT_STATES = {
    -2: ("user_settings", "client"),  # unsubscribed in the app, through the SDK
    -31: ("api", "api"),  # disabled through the REST API or the dashboard
    0: ("os_permission", "client"),  # OS or browser permission not granted / revoked
    -18: ("os_permission", "client"),
    -19: ("os_permission", "client"),
}
SUBSCRIBED = 1

_DAY_FOLDER = re.compile(r"date=(\d{4}-\d{2}-\d{2})")
_EPOCH_SECONDS = r"^[0-9]{1,10}(\.[0-9]+)?$"
EARLIEST_MS = int(dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)  # the contract's earliest time


def _prepared(frame: pl.DataFrame, fields: dict[str, pl.DataType]) -> pl.DataFrame:
    """Every field present as text, trimmed, an empty one null (a JSONL file may write "")."""
    frame = with_fields(frame, fields)
    text = {name: pl.col(name).cast(pl.String).str.strip_chars() for name in fields}
    return frame.with_columns(pl.when(value != "").then(value).alias(name) for name, value in text.items())


def _time(value: pl.Expr) -> pl.Expr:
    """A OneSignal time as text the contract reads: ISO-8601 as written (a trailing ` UTC`
    becomes `Z`), and epoch seconds (OneSignal's `event.timestamp`) as epoch milliseconds."""
    seconds = value.str.contains(_EPOCH_SECONDS)
    milliseconds = (value.cast(pl.Float64, strict=False) * 1000).round().cast(pl.Int64).cast(pl.String)
    iso = value.str.replace(r"(?i)\s*UTC$", "Z")
    return pl.when(seconds).then(milliseconds).otherwise(iso)


def _epoch_ms(value: pl.Expr) -> pl.Expr:
    """The time as epoch milliseconds (null when it does not parse), to order records by."""
    return parse_timestamp(_time(value)).dt.epoch("ms")


def _device(value: pl.Expr) -> pl.Expr:
    """A subscription's type (`iOSPush`, `ChromePush`...) or an event's device type (`iOS`,
    `Chrome`...) as one key: lower case, without the `Push` ending."""
    return value.str.to_lowercase().str.replace(r"\s*push$", "")


def _platform(device: pl.Expr) -> pl.Expr:
    """ios / android / web; an unknown push type is kept as written, so the record is
    quarantined (invalid_value:platform) rather than given a platform it does not have."""
    known = device.replace_strict(MOBILE_PLATFORMS, default=None)
    return pl.when(device.is_in(list(WEB_BROWSERS))).then(pl.lit("web")).otherwise(pl.coalesce(known, device))


def _browser(device: pl.Expr) -> pl.Expr:
    return device.replace_strict(WEB_BROWSERS, default=None)


def _error_code(reason: pl.Expr) -> pl.Expr:
    """OneSignal's failure reason as the contract's error code; unknown text (or none) is `other`."""
    text = reason.str.to_lowercase()
    return (
        pl.when(text.is_in(list(ERROR_CODES)))
        .then(text)
        .when(text.str.contains(r"unregistered|not ?registered|unsubscribed|no longer subscribed"))
        .then(pl.lit("unregistered"))
        .when(text.str.contains(r"invalid") & text.str.contains(r"token|registration|subscription"))
        .then(pl.lit("invalid_token"))
        .when(text.str.contains(r"rate.?limit|too many|throttl"))
        .then(pl.lit("rate_limited"))
        .when(text.str.contains(r"time.?out|timed out"))
        .then(pl.lit("timeout"))
        .otherwise(pl.lit("other"))
    )


def _consent(frame, event_id, event_type, occurred_at, source, via, campaign=None) -> pl.DataFrame:
    return keep(
        frame,
        event_id.alias("event_id"),
        pl.col("onesignal_id").alias("user_id"),
        (event_type if isinstance(event_type, pl.Expr) else pl.lit(event_type)).alias("event_type"),
        occurred_at.alias("occurred_at"),
        (source if isinstance(source, pl.Expr) else pl.lit(source)).alias("source"),
        (via if isinstance(via, pl.Expr) else pl.lit(via)).alias("detected_via"),
        (campaign if campaign is not None else pl.lit(None, pl.String)).alias("campaign_id"),
    )


def _campaign_versions(frame: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    """One version per message a file's push events name, from the events that carry the
    message's properties (OneSignal blanks them on interactions with a message past its
    retention: such an event alone makes no version, so it cannot replace a named one).
    Its times are those of the events the validation would take: one dated after the export
    day or before 2000 (quarantined as a message) does not date the campaign."""
    latest = int(
        (dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(days=1) + CLOCK_SKEW).timestamp() * 1000
    )
    described = frame.filter(
        pl.col("message_id").is_not_null()
        & (pl.col("message_name").is_not_null() | pl.col("message_type").is_not_null())
        & _epoch_ms(pl.col("event_timestamp")).is_between(EARLIEST_MS, latest).fill_null(False)
    )
    message_type = pl.col("message_type").str.to_lowercase()
    device = _device(pl.col("subscription_device_type"))
    versions = (
        described.with_columns(
            _epoch_ms(pl.col("event_timestamp")).alias("_ms"),
            pl.coalesce(message_type.replace_strict(CAMPAIGN_TYPES, default=None), message_type).alias(
                "_type"
            ),
            device.is_in(list(WEB_BROWSERS)).fill_null(False).alias("_web"),
        )
        .sort("_ms", RECORD_NUMBER, nulls_last=True)
        .group_by("message_id", maintain_order=True)
        .agg(
            pl.col("message_name").drop_nulls().last().alias("_name"),
            pl.col("_type").drop_nulls().last().alias("campaign_type"),
            pl.col("_web").all().alias("_all_web"),
            pl.col("_ms").min().cast(pl.String).alias("sent_at"),
            pl.col("_ms").max().cast(pl.String).alias("updated_at"),
            pl.col(RECORD_NUMBER).first(),
            pl.col(RAW).first(),
        )
    )
    return keep(
        versions,
        pl.col("message_id").alias("campaign_id"),
        pl.coalesce("_name", "message_id").alias("name"),
        pl.when(pl.col("_all_web")).then(pl.lit("web_push")).otherwise(pl.lit("push")).alias("channel"),
        pl.col("campaign_type"),
        pl.col("sent_at"),
        pl.col("updated_at"),
    )


def map_message_events(frame: pl.DataFrame, context: DayContext) -> dict[str, list[pl.DataFrame]]:
    """Each push event by its kind: sent / received (delivered) / clicked (opened) / failed
    are message events; a failed send to a gone token and an `unsubscribed` event are also
    the opt-out that send revealed. Other channels' events (email, SMS, in-app) are ignored;
    a record without an event kind stays, to be quarantined."""
    frame = _prepared(frame, EVENT_FIELDS).with_columns(
        pl.col("event_kind").str.to_lowercase().alias("_kind")
    )
    kind = pl.col("_kind")
    messages = frame.filter(kind.is_in(list(MESSAGE_KINDS)) | kind.is_null())
    event_type = kind.replace_strict(MESSAGE_KINDS, default=None)
    error = pl.when(kind == FAILED).then(_error_code(pl.col("failure_reason")))
    # the push service no longer knows the token: the subscription is gone. An invalid token
    # (malformed, another environment's) is a failure of the send, no opt-out
    gone = (kind == FAILED) & (error == "unregistered")
    when = _time(pl.col("event_timestamp"))
    opt_outs = _consent(
        frame.filter(gone.fill_null(False) | (kind == UNSUBSCRIBED)),
        pl.when(kind == FAILED).then(pl.col("event_id") + "/opt_out").otherwise(pl.col("event_id")),
        "opt_out",
        when,
        "token_invalid",
        "send_feedback",
        pl.col("message_id"),
    )
    return {
        "messages": [
            keep(
                messages,
                pl.col("event_id"),
                pl.col("onesignal_id").alias("user_id"),
                pl.col("message_id").alias("campaign_id"),
                event_type.alias("event_type"),
                when.alias("occurred_at"),
                error.alias("error_code"),
            )
        ],
        "subscriptions": [opt_outs],
        "campaigns": [_campaign_versions(frame.filter(kind.is_in(list(PUSH_KINDS))), context.day)],
    }


def map_subscriptions_export(frame: pl.DataFrame, context: DayContext) -> dict[str, list[pl.DataFrame]]:
    """A push subscription's row: a version of its user's profile, and the consent state it
    shows as a dated opt-in and opt-out, whose ids repeat in every export that shows the same
    state (the next day's are duplicates). Email and SMS subscriptions are ignored."""
    frame = _prepared(frame, SUBSCRIPTION_FIELDS).with_columns(
        _device(pl.col("type")).alias("_device"),
        pl.col("notification_types").cast(pl.Int64, strict=False).alias("_nt"),
    )
    push = frame.filter(~pl.col("_device").is_in(NOT_PUSH).fill_null(False))
    state = pl.col("_nt")
    unsubscribed_at = pl.col("unsubscribed_at")
    opted_out = push.filter(state.is_in(list(OPT_OUT_STATES)) & unsubscribed_at.is_not_null())
    source = state.replace_strict({code: s for code, (s, _) in OPT_OUT_STATES.items()}, default=None)
    via = state.replace_strict({code: v for code, (_, v) in OPT_OUT_STATES.items()}, default=None)
    # subscribed since created_at: a subscription subscribed now, and one unsubscribed since
    # (it was subscribed before it was unsubscribed, maybe between two exports)
    created_at = pl.col("created_at")
    in_order = (_epoch_ms(created_at) < _epoch_ms(unsubscribed_at)).fill_null(True)
    was_subscribed = (state == SUBSCRIBED).fill_null(False) | (unsubscribed_at.is_not_null() & in_order)
    opted_in = push.filter(was_subscribed & created_at.is_not_null())
    sid = pl.col("subscription_id")
    return {
        "users": [
            keep(
                push,
                pl.col("onesignal_id").alias("user_id"),
                pl.col("external_id"),
                _platform(pl.col("_device")).alias("platform"),
                _browser(pl.col("_device")).alias("browser"),
                _time(pl.col("created_at")).alias("created_at"),
                _time(pl.coalesce("last_active", "created_at")).alias("updated_at"),
            )
        ],
        "subscriptions": [
            _consent(
                opted_out,
                pl.concat_str(sid, state.cast(pl.String), unsubscribed_at, separator="/"),
                "opt_out",
                _time(unsubscribed_at),
                source,
                via,
            ),
            _consent(
                opted_in,
                pl.concat_str(sid, pl.lit("opt_in"), pl.col("created_at"), separator="/"),
                "opt_in",
                _time(pl.col("created_at")),
                "user_settings",
                "client",
            ),
        ],
    }


KINDS = {
    MESSAGE_EVENTS: KindMapping("messages", map_message_events, feeds=("subscriptions", "campaigns")),
    SUBSCRIPTIONS: KindMapping("users", map_subscriptions_export, feeds=("subscriptions",)),
}


def read_onesignal(path: Path, max_bytes: int) -> pl.DataFrame:
    """A CSV or JSONL file's records as text fields, in file order; a line that does not
    parse is a record of null fields (its text in `malformed_line`), quarantined downstream."""
    read = read_file(path, list(_fields_of(path)), max_bytes)
    records = read.records.drop(RAW, strict=False)
    if read.malformed.height:
        malformed = read.malformed.select(RECORD_NUMBER, pl.col(RAW).alias(MALFORMED_LINE))
        records = pl.concat([records, malformed], how="diagonal_relaxed").sort(RECORD_NUMBER)
    return records.drop(RECORD_NUMBER)


def _fields_of(path: Path) -> dict[str, pl.DataType]:
    """The fields a JSONL file's objects are read for: those of its folder's kind (a CSV file
    names its own in its header)."""
    for folder in path.parents:
        if _DAY_FOLDER.fullmatch(folder.name) and folder.parent.name == SUBSCRIPTIONS:
            return SUBSCRIPTION_FIELDS
        if _DAY_FOLDER.fullmatch(folder.name) and folder.parent.name == MESSAGE_EVENTS:
            return EVENT_FIELDS
    return EVENT_FIELDS | SUBSCRIPTION_FIELDS


def onesignal_folders(landing_dir: Path) -> list[LandedFolder]:
    """Every `message_events/date=<day>` and `subscriptions/date=<day>` folder of the landing
    folder (files at any depth below them; hidden folders are never entered)."""
    found = []
    for kind in (MESSAGE_EVENTS, SUBSCRIPTIONS):
        base = landing_dir / kind
        if not base.is_dir():
            continue
        for entry in sorted(base.iterdir()):
            match = _DAY_FOLDER.fullmatch(entry.name)
            if match and not is_ignored(entry.name) and entry.is_dir():
                day = _date(match.group(1))
                if day is not None:
                    found.append(LandedFolder(kind, day, entry, nested=True))
    return sorted(found, key=lambda f: (f.day, f.label, f.folder))


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def onesignal() -> VendorSource:
    return VendorSource(
        name="onesignal",
        kinds=KINDS,
        folders=onesignal_folders,
        read=read_onesignal,
        extensions=(".csv", ".csv.gz", ".jsonl", ".jsonl.gz"),
        # OneSignal exports no app activity: it comes in optout's contract beside its files
        contract_tables=("app_events",),
    )


register("onesignal", onesignal)
