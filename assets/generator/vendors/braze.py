"""The simulated world as Braze Currents writes it: Avro files per event type and hour.

`<out>/currents/event_type=<type>/date=<export day>-<HH>/optout-demo/<type>-<HH>.avro`, one
file per event type, export day and hour of the events' own time, with Braze's schemas
(assets/sources/braze_schemas.py). What each record of the contract becomes is the inverse
of the mapping in assets/sources/braze.py; docs/sources/braze_currents.md lists what Braze
cannot carry (a delivery receipt, milliseconds, campaign records).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import fastavro
import polars as pl

from assets.sources import braze
from assets.sources.braze_schemas import FIELDS, schema

APP_ID = "optout-demo-app"
INTEGRATION = "optout-demo"
UNKNOWN_USER_PLATFORM = "ios"  # Braze's sends always name a platform; an unknown user has none


class Writer:
    def __init__(self, out: Path):
        self.out = out
        self.profiles = pl.DataFrame(
            schema={
                "user_id": pl.String,
                "external_id": pl.String,
                "platform": pl.String,
                "browser": pl.String,
            }
        )
        self.campaigns = pl.DataFrame(
            schema={"campaign_id": pl.String, "name": pl.String, "campaign_type": pl.String}
        )
        # failed sends whose bounce is written from the opt-out it revealed (one Braze event)
        self.revealing_failures: set[str] = set()
        self.schemas = {kind: fastavro.parse_schema(schema(kind)) for kind in FIELDS}

    # -- what a simulated day tells ---------------------------------------------------------
    def simulated(self, day: dt.date, tables: dict[str, pl.DataFrame]) -> None:
        users = tables["users"].select(
            "user_id", "external_id", pl.col("platform").cast(pl.String), pl.col("browser").cast(pl.String)
        )
        self.profiles = pl.concat([self.profiles, users]).unique("user_id", keep="last", maintain_order=True)
        campaigns = (
            tables["campaigns"]
            .sort("updated_at")
            .select("campaign_id", "name", pl.col("campaign_type").cast(pl.String))
        )
        self.campaigns = pl.concat([self.campaigns, campaigns]).unique(
            "campaign_id", keep="last", maintain_order=True
        )
        found = tables["subscriptions"].filter(pl.col("detected_via") == "send_feedback")
        failures = tables["messages"].filter(
            (pl.col("event_type") == "failed") & (pl.col("error_code") == "unregistered")
        )
        paired = failures.join(
            found.select("user_id", "campaign_id"), on=["user_id", "campaign_id"], how="semi"
        )
        self.revealing_failures |= set(paired["event_id"].to_list())

    # -- an export day's files ------------------------------------------------------------------
    def write_day(self, export_day: dt.date, tables: dict[str, pl.DataFrame]) -> dict[str, int]:
        events: dict[str, list[pl.DataFrame]] = {}
        for table, frame in tables.items():
            for kind, records in self._events(table, frame).items():
                if records.height:
                    events.setdefault(kind, []).append(records)
        written: Counter[str] = Counter()
        for kind, parts in events.items():
            records = pl.concat(parts, how="diagonal_relaxed")
            for (hour,), part in records.partition_by("_hour", as_dict=True, maintain_order=True).items():
                self._write(kind, export_day, int(hour), part.drop("_hour"))
                written[kind] += part.height
        return dict(written)

    def _write(self, kind: str, day: dt.date, hour: int, records: pl.DataFrame) -> None:
        folder = (
            self.out / "currents" / f"event_type={kind}" / f"date={day.isoformat()}-{hour:02d}" / INTEGRATION
        )
        folder.mkdir(parents=True, exist_ok=True)
        names = [name for name, _ in FIELDS[kind]]
        rows = records.select([pl.col(n) if n in records.columns else pl.lit(None).alias(n) for n in names])
        with (folder / f"{kind.rsplit('.', 1)[-1].lower()}-{hour:02d}.avro").open("wb") as handle:
            fastavro.writer(handle, self.schemas[kind], rows.to_dicts(), codec="deflate")

    def _events(self, table: str, frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
        if table == "campaigns":
            return {}  # Currents carry no campaign records (the sends name them)
        frame = frame.join(self.profiles, on="user_id", how="left", suffix="_profile")
        if table == "users":
            return self._profiles(frame)
        if table == "messages":
            return self._messages(frame.join(self.campaigns, on="campaign_id", how="left"))
        if table == "subscriptions":
            return self._consent(frame.join(self.campaigns, on="campaign_id", how="left"))
        return self._activity(frame)

    def _profiles(self, users: pl.DataFrame) -> dict[str, pl.DataFrame]:
        joined = pl.col("created_at") == pl.col("updated_at")
        first = users.filter(joined).select(
            pl.format("first-{}", "user_id").alias("id"),
            *_user(),
            _seconds("created_at"),
            pl.format("session-first-{}", "user_id").alias("session_id"),
            pl.col("platform").cast(pl.String),
            _device_model(pl.col("browser").cast(pl.String)),
            _hour("created_at"),
        )
        update = users.filter(~joined).select(
            pl.format("profile-{}-{}", "user_id", pl.col("updated_at").dt.epoch("ms")).alias("id"),
            *_user(),
            _seconds("updated_at"),
            pl.col("updated_at").dt.epoch("ms").alias("time_ms"),
            pl.lit("SDK").alias("update_source"),
            _hour("updated_at"),
        )
        return {braze.FIRST_SESSION: first, braze.PROFILE_UPDATE: update}

    def _messages(self, messages: pl.DataFrame) -> dict[str, pl.DataFrame]:
        kind = pl.col("event_type")
        common = [
            pl.col("event_id").alias("id"),
            *_user(),
            _seconds("occurred_at"),
            *_campaign(),
            _hour("occurred_at"),
        ]
        sends = messages.filter(kind == "sent").select(*common, _platform(), _dispatch())
        opens = messages.filter(kind == "opened").select(*common, _platform(), _dispatch())
        failed = messages.filter(
            (kind == "failed") & ~pl.col("event_id").is_in(list(self.revealing_failures))
        )
        aborts = failed.select(
            *common, _platform(), _dispatch(), pl.col("error_code").cast(pl.String).alias("abort_type")
        )
        return {braze.SEND: sends, braze.OPEN: opens, braze.ABORT: aborts}

    def _consent(self, subscriptions: pl.DataFrame) -> dict[str, pl.DataFrame]:
        event, source, via = (pl.col(c).cast(pl.String) for c in ("event_type", "source", "detected_via"))
        common = [pl.col("event_id").alias("id"), *_user(), _seconds("occurred_at"), _hour("occurred_at")]
        stated = subscriptions.filter(source.is_in(["user_settings", "api"])).select(
            *common,
            pl.lit("push").alias("channel"),
            pl.when(event == "opt_in")
            .then(pl.lit("Opted In"))
            .otherwise(pl.lit("Unsubscribed"))
            .alias("subscription_status"),
            pl.when(source == "api")
            .then(pl.lit("REST API"))
            .otherwise(pl.lit("SDK"))
            .alias("state_change_source"),
        )
        permission = (source == "os_permission") | (via == "revisit")
        tokens = subscriptions.filter(permission).select(
            *common,
            pl.col("occurred_at").dt.epoch("ms").alias("time_ms"),
            _platform(),
            pl.when(via == "revisit")
            .then(pl.lit("remove"))
            .when(event == "opt_in")
            .then(pl.lit("add"))
            .otherwise(pl.lit("update"))
            .alias("push_token_state_change_type"),
            pl.when((via != "revisit") & (event == "opt_out"))
            .then(pl.lit(True))
            .alias("push_token_foreground_push_disabled"),
        )
        revealed = (via == "send_feedback") & pl.col("campaign_id").is_not_null()
        bounces = subscriptions.filter(revealed).select(*common, *_campaign(), _platform(), _dispatch())
        uninstalls = subscriptions.filter((via == "send_feedback") & pl.col("campaign_id").is_null()).select(
            *common
        )
        return {
            braze.GLOBAL_STATE: stated,
            braze.TOKEN_STATE: tokens,
            braze.BOUNCE: bounces,
            braze.UNINSTALL: uninstalls,
        }

    def _activity(self, events: pl.DataFrame) -> dict[str, pl.DataFrame]:
        name = pl.col("event_name")
        common = [
            pl.col("event_id").alias("id"),
            *_user(),
            _seconds("occurred_at"),
            _platform(),
            _hour("occurred_at"),
        ]
        model = _device_model(pl.col("browser").cast(pl.String))
        sessions = events.filter(name == "session_start").select(
            *common, pl.col("event_id").alias("session_id"), model
        )
        purchases = events.filter(name == "purchase").select(
            *common,
            model,
            pl.lit("order").alias("product_id"),
            pl.col("properties")
            .str.json_path_match("$.value")
            .cast(pl.Float64)
            .fill_null(0.0)
            .alias("price"),
            pl.col("properties").str.json_path_match("$.currency").fill_null("EUR").alias("currency"),
            pl.lit("{}").alias("properties"),
        )
        custom = events.filter(~name.is_in(["session_start", "purchase"])).select(
            *common, model, name.alias("name"), pl.col("properties").fill_null("{}")
        )
        return {braze.SESSION_START: sessions, braze.PURCHASE: purchases, braze.CUSTOM_EVENT: custom}


def _user() -> list[pl.Expr]:
    return [
        pl.col("user_id"),
        pl.col("external_id").alias("external_user_id"),
        pl.lit(APP_ID).alias("app_id"),
    ]


def _seconds(column: str) -> pl.Expr:
    """Braze's `time`: whole seconds (the milliseconds are lost)."""
    return pl.col(column).dt.epoch("s").cast(pl.Int32).alias("time")


def _hour(column: str) -> pl.Expr:
    return pl.col(column).dt.hour().alias("_hour")


def _platform() -> pl.Expr:
    """The user's platform (their profile's); an unknown user's events say `ios`."""
    return pl.col("platform").cast(pl.String).fill_null(UNKNOWN_USER_PLATFORM).alias("platform")


def _device_model(browser: pl.Expr) -> pl.Expr:
    """Braze's Web SDK reports the browser as the device model (Chrome, Firefox, ...)."""
    return browser.str.to_titlecase().alias("device_model")


def _campaign() -> list[pl.Expr]:
    """A broadcast or transactional campaign is a Braze campaign; an automated one, a Canvas."""
    canvas = (pl.col("campaign_type") == "automated").fill_null(False)  # an unknown campaign: a campaign
    return [
        pl.when(~canvas).then(pl.col("campaign_id")).alias("campaign_id"),
        pl.when(~canvas).then(pl.col("name")).alias("campaign_name"),
        pl.when(canvas).then(pl.col("campaign_id")).alias("canvas_id"),
        pl.when(canvas).then(pl.col("name")).alias("canvas_name"),
    ]


def _dispatch() -> pl.Expr:
    """One dispatch per campaign and day (each user gets a campaign at most once a day)."""
    return pl.format("{}-{}", pl.col("campaign_id"), pl.col("occurred_at").dt.date()).alias("dispatch_id")
