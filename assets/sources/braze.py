"""Braze Currents (Avro files per event type and hour) mapped to the contract's tables.

Layout: `<anything>/event_type=<type>/date=<YYYY-MM-DD-HH>/<any depth>/*.avro`, as a
Currents storage integration writes it; the export day of an event is its hour folder's
date. The mapping, field by field, and what Braze cannot tell: docs/sources/braze_currents.md.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import polars as pl

from assets.contract import BROWSERS, ERROR_CODES
from assets.ingest.csv_reader import RAW, RECORD_NUMBER
from assets.ingest.readers import is_ignored
from assets.sources.avro_files import read_avro
from assets.sources.layouts import LandedFolder, register
from assets.sources.vendor import DayContext, KindMapping, VendorSource, epoch_ms_text, keep, with_fields

SEND = "users.messages.pushnotification.Send"
BOUNCE = "users.messages.pushnotification.Bounce"
ABORT = "users.messages.pushnotification.Abort"
OPEN = "users.messages.pushnotification.Open"
GLOBAL_STATE = "users.behaviors.subscription.GlobalStateChange"
TOKEN_STATE = "users.behaviors.pushnotification.TokenStateChange"
UNINSTALL = "users.behaviors.Uninstall"
FIRST_SESSION = "users.behaviors.app.FirstSession"
SESSION_START = "users.behaviors.app.SessionStart"
CUSTOM_EVENT = "users.behaviors.CustomEvent"
PURCHASE = "users.behaviors.Purchase"
PROFILE_UPDATE = "users.profile.Update"  # no platform: a profile version cannot be made of it

_EVENT_TYPE_FOLDER = re.compile(r"event_type=(.+)")
_HOUR_FOLDER = re.compile(r"date=(\d{4}-\d{2}-\d{2})-(\d{2})")

# every field a mapping reads, with its type: a file whose schema lacks one reads it as null
FIELDS = {
    "id": pl.String,
    "user_id": pl.String,
    "external_user_id": pl.String,
    "time": pl.Int64,
    "time_ms": pl.Int64,
    "platform": pl.String,
    "device_model": pl.String,
    "campaign_id": pl.String,
    "campaign_name": pl.String,
    "canvas_id": pl.String,
    "canvas_name": pl.String,
    "dispatch_id": pl.String,
    "send_id": pl.String,
    "abort_type": pl.String,
    "channel": pl.String,
    "subscription_status": pl.String,
    "state_change_source": pl.String,
    "push_token_state_change_type": pl.String,
    "push_token_foreground_push_disabled": pl.Boolean,
    "name": pl.String,
    "properties": pl.String,
    "product_id": pl.String,
    "price": pl.Float64,
    "currency": pl.String,
}

# Braze's platforms beyond the contract's three: Apple TV is iOS, Kindle Fire is Android
PLATFORM_ALIASES = {
    "tvos": "ios",
    "ipados": "ios",
    "visionos": "ios",
    "kindle": "android",
    "fireos": "android",
}
# who changed a push subscription: the user in the app (SDK, a preference centre) or an API
USER_SOURCES = ("sdk", "preference center", "subscription center", "in-app message")


def _when() -> pl.Expr:
    return epoch_ms_text(pl.col("time"), pl.col("time_ms"))


def _campaign() -> pl.Expr:
    """A campaign's id, else its Canvas's: a Canvas is one automated campaign to the marts."""
    return pl.coalesce(pl.col("campaign_id"), pl.col("canvas_id"))


def _platform() -> pl.Expr:
    return pl.col("platform").str.strip_chars().str.to_lowercase().replace(PLATFORM_ALIASES)


def _browser() -> pl.Expr:
    """Web only: Braze's Web SDK reports the browser as the device model."""
    model = pl.col("device_model").str.strip_chars().str.to_lowercase()
    known = pl.when(model.is_in(list(BROWSERS))).then(model).otherwise(pl.lit("other"))
    return pl.when(_platform() == "web").then(pl.when(model.is_not_null()).then(known)).alias("browser")


def _delivery_key() -> pl.Expr:
    """One user's message of one dispatch: how a bounce or abort is matched to its send."""
    return pl.concat_str(
        pl.col("user_id"),
        pl.coalesce(pl.col("dispatch_id"), pl.col("send_id"), _campaign()),
        separator="\x1f",
    )


def _prepared(frame: pl.DataFrame) -> pl.DataFrame:
    return with_fields(frame, FIELDS)


def _message(frame: pl.DataFrame, event_type: str, event_id: pl.Expr, error: pl.Expr | None = None):
    return keep(
        frame,
        event_id.alias("event_id"),
        pl.col("user_id"),
        _campaign().alias("campaign_id"),
        pl.lit(event_type).alias("event_type"),
        _when().alias("occurred_at"),
        (error if error is not None else pl.lit(None, pl.String)).alias("error_code"),
    )


def _consent(
    frame, event_type, source, via, event_id: pl.Expr | None = None, campaign: pl.Expr | None = None
):
    return keep(
        frame,
        (event_id if event_id is not None else pl.col("id")).alias("event_id"),
        pl.col("user_id"),
        (event_type if isinstance(event_type, pl.Expr) else pl.lit(event_type)).alias("event_type"),
        _when().alias("occurred_at"),
        (source if isinstance(source, pl.Expr) else pl.lit(source)).alias("source"),
        (via if isinstance(via, pl.Expr) else pl.lit(via)).alias("detected_via"),
        (campaign if campaign is not None else pl.lit(None, pl.String)).alias("campaign_id"),
    )


def _user_versions(frame: pl.DataFrame) -> pl.DataFrame:
    """One profile version per user of a file: the latest external id, platform and browser seen."""
    seen = frame.filter(pl.col("user_id").is_not_null() & pl.col("platform").is_not_null())
    when = pl.col("time_ms").fill_null(pl.col("time") * 1000)
    return (
        seen.with_columns(_platform().alias("_platform"), _browser().alias("_browser"), when.alias("_ms"))
        .sort("_ms", RECORD_NUMBER)
        .group_by("user_id", maintain_order=True)
        .agg(
            pl.col("external_user_id").drop_nulls().last().alias("external_id"),
            pl.col("_platform").last().alias("platform"),
            pl.col("_browser").last().alias("browser"),
            pl.col("_ms").min().cast(pl.String).alias("created_at"),
            pl.col("_ms").max().cast(pl.String).alias("updated_at"),
            pl.col(RECORD_NUMBER).last(),
            pl.col(RAW).last(),
        )
    )


def _campaign_versions(frame: pl.DataFrame) -> pl.DataFrame:
    """One version per campaign (or Canvas) a file of sends names: Currents carry no campaign
    records, so its name is the one the sends carry and its start the first send seen."""
    named = frame.filter(_campaign().is_not_null())
    when = pl.col("time_ms").fill_null(pl.col("time") * 1000)
    canvas = pl.col("campaign_id").is_null() & pl.col("canvas_id").is_not_null()
    channel = pl.when(_platform() == "web").then(pl.lit("web_push")).otherwise(pl.lit("push"))
    return (
        named.with_columns(
            pl.when(canvas).then(pl.lit("automated")).otherwise(pl.lit("broadcast")).alias("_type"),
            channel.alias("_channel"),
            _campaign().alias("campaign_id"),  # after the type: it needs the Braze fields as they are
            when.alias("_ms"),
        )
        .sort("_ms", RECORD_NUMBER)
        .group_by("campaign_id", maintain_order=True)
        .agg(
            pl.coalesce("campaign_name", "canvas_name").drop_nulls().last().alias("name"),
            # web push only when every send of the file went to a browser
            pl.when((pl.col("_channel") == "web_push").all())
            .then(pl.lit("web_push"))
            .otherwise(pl.lit("push"))
            .alias("channel"),
            pl.col("_type").first().alias("campaign_type"),
            pl.col("_ms").min().cast(pl.String).alias("sent_at"),
            pl.col("_ms").max().cast(pl.String).alias("updated_at"),
            pl.col(RECORD_NUMBER).first(),
            pl.col(RAW).first(),
        )
    )


def _undelivered_keys(context: DayContext) -> pl.Series:
    """The sends of the day a bounce or an abort says never reached the device."""
    keys = [
        _prepared(file.frame).select(_delivery_key()).to_series()
        for file in context.of_kinds((BOUNCE, ABORT))
    ]
    return pl.concat(keys).drop_nulls().unique() if keys else pl.Series([], dtype=pl.String)


def map_send(frame: pl.DataFrame, context: DayContext) -> dict[str, list[pl.DataFrame]]:
    """A send is `sent`; Braze has no delivery receipt, so a send no bounce or abort of the
    same day matches is also `delivered`, at the send's time."""
    frame = _prepared(frame)
    undelivered = _undelivered_keys(context).to_frame("_key")
    reached = frame.with_columns(_delivery_key().alias("_key")).join(undelivered, on="_key", how="anti")
    return {
        "messages": [
            _message(frame, "sent", pl.col("id")),
            _message(reached, "delivered", pl.col("id") + "/delivered"),
        ],
        "campaigns": [_campaign_versions(frame)],
    }


def map_bounce(frame: pl.DataFrame, context: DayContext) -> dict[str, list[pl.DataFrame]]:
    """The push service refused the token: the send `failed` (unregistered), and that is how
    the opt-out behind it is found, revealed by the bounced campaign."""
    frame = _prepared(frame)
    return {
        "messages": [_message(frame, "failed", pl.col("id") + "/failed", pl.lit("unregistered"))],
        "subscriptions": [_consent(frame, "opt_out", "token_invalid", "send_feedback", campaign=_campaign())],
    }


def map_abort(frame: pl.DataFrame, context: DayContext) -> dict[str, list[pl.DataFrame]]:
    """Braze gave up on the message: `failed`, its abort type as the error code where it is one."""
    frame = _prepared(frame)
    kind = pl.col("abort_type").str.strip_chars().str.to_lowercase()
    error = (
        pl.when(kind.is_in(list(ERROR_CODES)))
        .then(kind)
        .when(kind.str.contains("rate"))
        .then(pl.lit("rate_limited"))
        .when(kind.str.contains("timeout"))
        .then(pl.lit("timeout"))
        .otherwise(pl.lit("other"))
    )
    return {"messages": [_message(frame, "failed", pl.col("id"), error)]}


def map_open(frame: pl.DataFrame, context: DayContext) -> dict[str, list[pl.DataFrame]]:
    return {"messages": [_message(_prepared(frame), "opened", pl.col("id"))]}


def map_global_state(frame: pl.DataFrame, context: DayContext) -> dict[str, list[pl.DataFrame]]:
    """A push subscription state set in the app or by an API; other channels are not push."""
    frame = _prepared(frame)
    status = pl.col("subscription_status").str.strip_chars().str.to_lowercase()
    event = pl.when(status.is_in(["opted in", "subscribed"])).then(pl.lit("opt_in"))
    event = event.when(status == "unsubscribed").then(pl.lit("opt_out"))
    push = frame.filter(
        (pl.col("channel").str.strip_chars().str.to_lowercase() == "push") & event.is_not_null()
    )
    by_user = pl.col("state_change_source").str.strip_chars().str.to_lowercase().is_in(list(USER_SOURCES))
    source = pl.when(by_user).then(pl.lit("user_settings")).otherwise(pl.lit("api"))
    via = pl.when(by_user).then(pl.lit("client")).otherwise(pl.lit("api"))
    return {"subscriptions": [_consent(push, event, source, via)]}


def map_token_state(frame: pl.DataFrame, context: DayContext) -> dict[str, list[pl.DataFrame]]:
    """A device's push token: added (permission granted), removed, or updated with foreground
    push disabled (permission withdrawn in the OS settings). A web token removed is found when
    the user comes back to the site; a token refresh is no consent change (ignored)."""
    frame = _prepared(frame)
    change = pl.col("push_token_state_change_type").str.strip_chars().str.to_lowercase()
    disabled = pl.col("push_token_foreground_push_disabled").fill_null(False)
    event = (
        pl.when(change == "add")
        .then(pl.lit("opt_in"))
        .when((change == "remove") | ((change == "update") & disabled))
        .then(pl.lit("opt_out"))
    )
    web_removal = (change == "remove") & (_platform() == "web")
    source = pl.when(web_removal).then(pl.lit("token_invalid")).otherwise(pl.lit("os_permission"))
    via = pl.when(web_removal).then(pl.lit("revisit")).otherwise(pl.lit("client"))
    return {"subscriptions": [_consent(frame.filter(event.is_not_null()), event, source, via)]}


def map_uninstall(frame: pl.DataFrame, context: DayContext) -> dict[str, list[pl.DataFrame]]:
    """Found by Braze's uninstall tracking (a silent push that bounced): no campaign revealed it."""
    return {"subscriptions": [_consent(_prepared(frame), "opt_out", "token_invalid", "send_feedback")]}


def _activity(frame: pl.DataFrame, name: pl.Expr, properties: pl.Expr) -> pl.DataFrame:
    return keep(
        frame,
        pl.col("id").alias("event_id"),
        pl.col("user_id"),
        name.alias("event_name"),
        _when().alias("occurred_at"),
        properties.alias("properties"),
    )


def map_session_start(frame: pl.DataFrame, context: DayContext) -> dict[str, list[pl.DataFrame]]:
    frame = _prepared(frame)
    return {
        "app_events": [_activity(frame, pl.lit("session_start"), pl.lit(None, pl.String))],
        "users": [_user_versions(frame)],
    }


def map_first_session(frame: pl.DataFrame, context: DayContext) -> dict[str, list[pl.DataFrame]]:
    """A user's first session: their profile as of then (one version per record)."""
    frame = _prepared(frame)
    return {
        "users": [
            keep(
                frame,
                pl.col("user_id"),
                pl.col("external_user_id").alias("external_id"),
                _platform().alias("platform"),
                _browser(),
                _when().alias("created_at"),
                _when().alias("updated_at"),
            )
        ]
    }


def map_custom_event(frame: pl.DataFrame, context: DayContext) -> dict[str, list[pl.DataFrame]]:
    frame = _prepared(frame)
    properties = pl.col("properties")
    empty = properties.str.strip_chars().is_in(["", "{}"]).fill_null(True)
    return {"app_events": [_activity(frame, pl.col("name"), pl.when(~empty).then(properties))]}


def map_purchase(frame: pl.DataFrame, context: DayContext) -> dict[str, list[pl.DataFrame]]:
    frame = _prepared(frame)
    properties = pl.struct(pl.col("product_id"), pl.col("price"), pl.col("currency")).struct.json_encode()
    return {"app_events": [_activity(frame, pl.lit("purchase"), properties)]}


KINDS = {
    SEND: KindMapping("messages", map_send, feeds=("campaigns",), needs=(BOUNCE, ABORT)),
    BOUNCE: KindMapping("messages", map_bounce, feeds=("subscriptions",)),
    ABORT: KindMapping("messages", map_abort),
    OPEN: KindMapping("messages", map_open),
    GLOBAL_STATE: KindMapping("subscriptions", map_global_state),
    TOKEN_STATE: KindMapping("subscriptions", map_token_state),
    UNINSTALL: KindMapping("subscriptions", map_uninstall),
    FIRST_SESSION: KindMapping("users", map_first_session),
    SESSION_START: KindMapping("app_events", map_session_start, feeds=("users",)),
    CUSTOM_EVENT: KindMapping("app_events", map_custom_event),
    PURCHASE: KindMapping("app_events", map_purchase),
}


def braze_folders(landing_dir: Path) -> list[LandedFolder]:
    """Every `event_type=<type>/date=<YYYY-MM-DD-HH>` folder below the landing folder.

    The walk stops at each hour folder (files lie at any depth below it, read later) and
    never enters hidden folders.
    """
    found = []
    for root, folders, _ in os.walk(landing_dir):
        match = _EVENT_TYPE_FOLDER.fullmatch(os.path.basename(root))
        if match:
            for name in sorted(folders):
                hour = _HOUR_FOLDER.fullmatch(name)
                if hour and (day := _date(hour.group(1))) is not None and int(hour.group(2)) < 24:
                    found.append(LandedFolder(match.group(1), day, Path(root, name), nested=True))
            folders[:] = []
        else:
            folders[:] = sorted(name for name in folders if not is_ignored(name))
    return sorted(found, key=lambda f: (f.day, f.label, f.folder))


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def braze_currents() -> VendorSource:
    return VendorSource(
        name="braze_currents", kinds=KINDS, folders=braze_folders, read=read_avro, extensions=(".avro",)
    )


register("braze_currents", braze_currents)
