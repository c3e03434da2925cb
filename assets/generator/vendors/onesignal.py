"""The simulated world as OneSignal writes it: message events, and a subscriptions export a day.

- `<out>/message_events/date=<export day>/optout-demo/events-<NNN>.jsonl.gz`: the push
  message events the export day delivers (late ones and repeats included, as the noise
  schedules them), in parts of at most `EVENTS_PER_FILE` records;
- `<out>/subscriptions/date=<export day>/subscriptions.csv.gz`: every push subscription as
  it stands at the end of the simulated day, one row each.

What each record of the contract becomes is the inverse of the mapping in
assets/sources/onesignal.py; docs/sources/onesignal.md lists what OneSignal cannot carry
(app events, a send that fails before a revisit finds it, campaign records).
"""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import polars as pl

from assets.sources import onesignal

INTEGRATION = "optout-demo"
EVENTS_PER_FILE = 500_000

# the contract's message events as OneSignal's event kinds
EVENT_KINDS = {
    "sent": onesignal.SENT,
    "delivered": onesignal.RECEIVED,
    "opened": onesignal.CLICKED,
    "failed": onesignal.FAILED,
}
MESSAGE_TYPES = {"broadcast": "broadcast", "automated": "journey", "transactional": "api"}
# a profile's platform and browser as a subscription's type (the export) and an event's
# device type; browsers OneSignal has no type of their own for are Chromium ones (Chrome's push)
MOBILE_TYPES = {"ios": ("iOSPush", "iOS"), "android": ("AndroidPush", "Android")}
WEB_TYPES = {
    "chrome": "ChromePush",
    "firefox": "FirefoxPush",
    "safari": "SafariPush",
    "edge": "EdgePush",
    "other": "ChromePush",
}
# notification_types of a subscription an opt-out ended, by the opt-out's source
UNSUBSCRIBED_IN_APP, DISABLED_BY_API, NO_PERMISSION, NO_PERMISSION_WEB, TOKEN_GONE = -2, -31, 0, -19, -10
NEVER_SUBSCRIBED = 0
SUBSCRIPTION_COLUMNS = [
    "subscription_id",
    "onesignal_id",
    "external_id",
    "type",
    "enabled",
    "notification_types",
    "created_at",
    "last_active",
    "unsubscribed_at",
]
MS = pl.Datetime("ms", "UTC")
PROFILE_SCHEMA = {
    "user_id": pl.String,
    "external_id": pl.String,
    "platform": pl.String,
    "browser": pl.String,
    "created_ms": pl.Int64,
    "updated_ms": pl.Int64,
}
GZIP_LEVEL = 1  # the files are written once and read a few times: speed over size


class Writer:
    def __init__(self, out: Path):
        self.out = out
        # per user: the latest profile, and when the first version was made
        self.profiles = pl.DataFrame(schema=PROFILE_SCHEMA)
        self.web_users: set[str] = set()
        self.campaigns = pl.DataFrame(
            schema={"campaign_id": pl.String, "message_name": pl.String, "message_type": pl.String}
        )
        # per user, their push subscriptions in order: [id, created_at ms, notification_types,
        # unsubscribed_at ms]. An opt-in after an opt-out is a new subscription (a new token)
        self.subscriptions: dict[str, list[list]] = {}
        self._snapshot: pl.DataFrame | None = None

    # -- what a simulated day tells ---------------------------------------------------------
    def simulated(self, day: dt.date, tables: dict[str, pl.DataFrame]) -> None:
        users = (
            tables["users"]
            .sort("updated_at")
            .select(
                "user_id",
                "external_id",
                pl.col("platform").cast(pl.String),
                pl.col("browser").cast(pl.String),
                pl.col("created_at").dt.epoch("ms").alias("created_ms"),
                pl.col("updated_at").dt.epoch("ms").alias("updated_ms"),
            )
        )
        first_made = self.profiles.select("user_id", pl.col("created_ms").alias("_first"))
        users = users.join(first_made, on="user_id", how="left").select(
            *(pl.col(c) for c in PROFILE_SCHEMA if c != "created_ms"),
            pl.coalesce("_first", "created_ms").alias("created_ms"),
        )
        self.profiles = pl.concat([self.profiles, users.select(list(PROFILE_SCHEMA))]).unique(
            "user_id", keep="last", maintain_order=True
        )
        self.web_users |= set(users.filter(pl.col("platform") == "web")["user_id"].to_list())
        campaigns = (
            tables["campaigns"]
            .sort("updated_at")
            .select(
                "campaign_id",
                pl.col("name").alias("message_name"),
                pl.col("campaign_type").cast(pl.String).replace_strict(MESSAGE_TYPES).alias("message_type"),
            )
        )
        self.campaigns = pl.concat([self.campaigns, campaigns]).unique(
            "campaign_id", keep="last", maintain_order=True
        )
        consent = (
            tables["subscriptions"]
            .sort("occurred_at", "event_id")
            .select(
                "user_id",
                pl.col("event_type").cast(pl.String),
                pl.col("source").cast(pl.String),
                pl.col("occurred_at").dt.epoch("ms"),
            )
        )
        for user, event, source, at in consent.iter_rows():
            self._consent(user, event, source, at)
        self._snapshot = None

    def _consent(self, user: str, event: str, source: str, at: int) -> None:
        """One consent event on the user's subscriptions; a repeated state changes nothing."""
        subscriptions = self.subscriptions.setdefault(user, [])
        subscribed = bool(subscriptions) and subscriptions[-1][2] == 1
        if event == "opt_in" and not subscribed:
            subscriptions.append([f"{user}-push-{len(subscriptions) + 1}", at, 1, None])
        elif event == "opt_out" and subscribed:
            subscriptions[-1][2:] = [self._unsubscribed_code(user, source), at]
        elif event == "opt_out" and not subscriptions:
            # an opt-out before any opt-in: a subscription unsubscribed as it was made
            subscriptions.append([f"{user}-push-1", at, self._unsubscribed_code(user, source), at])

    def _unsubscribed_code(self, user: str, source: str) -> int:
        if source == "user_settings":
            return UNSUBSCRIBED_IN_APP
        if source == "api":
            return DISABLED_BY_API
        if source == "os_permission":
            return NO_PERMISSION_WEB if user in self.web_users else NO_PERMISSION
        # a token the push service no longer knows: OneSignal's own code, which the source
        # does not date (the message event of the send that found it does)
        return TOKEN_GONE

    # -- an export day's files ------------------------------------------------------------------
    def write_day(self, export_day: dt.date, tables: dict[str, pl.DataFrame]) -> dict[str, int]:
        snapshot = self._subscriptions()
        written = {"subscriptions": snapshot.height}
        self._write_snapshot(export_day, snapshot)
        messages = tables.get("messages")
        if messages is not None and messages.height:
            events = self._events(messages, snapshot)
            self._write_events(export_day, events)
            written["message_events"] = events.height
        activity = tables.get("app_events")
        if activity is not None and activity.height:
            # OneSignal exports no app activity: in optout's contract beside its files
            folder = self.out / "app_events" / f"dt={export_day.isoformat()}"
            folder.mkdir(parents=True, exist_ok=True)
            activity.with_columns(pl.col("occurred_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")).write_ndjson(
                folder / "app_events.jsonl"
            )
            written["app_events (optout's contract)"] = activity.height
        return written

    def _devices(self) -> pl.DataFrame:
        """Per user: the subscription type of the export, the device type of the events."""
        platform, browser = pl.col("platform"), pl.col("browser").fill_null("other")
        web = browser.replace_strict(WEB_TYPES, default="ChromePush")
        mobile = {name: types[0] for name, types in MOBILE_TYPES.items()}
        device = {name: types[1] for name, types in MOBILE_TYPES.items()}
        return self.profiles.select(
            pl.col("user_id").alias("onesignal_id"),
            pl.when(platform == "web")
            .then(web)
            .otherwise(platform.replace_strict(mobile, default="iOSPush"))
            .alias("type"),
            pl.when(platform == "web")
            .then(web)
            .otherwise(platform.replace_strict(device, default="iOS"))
            .alias("subscription_device_type"),
            "external_id",
            pl.col("created_ms").alias("_profile_created"),
            pl.col("updated_ms").alias("_profile_updated"),
        )

    def _subscriptions(self) -> pl.DataFrame:
        """Every push subscription at the end of the simulated day; a user who never
        subscribed has one that was never granted permission."""
        if self._snapshot is not None:
            return self._snapshot
        rows = [
            (user, *subscription)
            for user, subscriptions in self.subscriptions.items()
            for subscription in subscriptions
        ]
        periods = pl.DataFrame(
            rows,
            schema={
                "onesignal_id": pl.String,
                "subscription_id": pl.String,
                "_created": pl.Int64,
                "notification_types": pl.Int64,
                "_unsubscribed": pl.Int64,
            },
            orient="row",
        )
        devices = self._devices()
        never = devices.join(periods, on="onesignal_id", how="anti").select(
            "onesignal_id",
            pl.format("{}-push-0", "onesignal_id").alias("subscription_id"),
            pl.col("_profile_created").alias("_created"),
            pl.lit(NEVER_SUBSCRIBED, pl.Int64).alias("notification_types"),
            pl.lit(None, pl.Int64).alias("_unsubscribed"),
        )
        self._snapshot = (
            pl.concat([periods, never])
            .join(devices, on="onesignal_id", how="inner")  # a profile the day delivered
            .sort("onesignal_id", "subscription_id")
            .select(
                "subscription_id",
                "onesignal_id",
                "external_id",
                "type",
                "subscription_device_type",
                (pl.col("notification_types") == 1).alias("enabled"),
                "notification_types",
                _iso(pl.col("_created")).alias("created_at"),
                _iso(pl.max_horizontal("_profile_updated", "_created")).alias("last_active"),
                _iso(pl.col("_unsubscribed")).alias("unsubscribed_at"),
            )
        )
        return self._snapshot

    def _write_snapshot(self, export_day: dt.date, snapshot: pl.DataFrame) -> None:
        folder = self.out / onesignal.SUBSCRIPTIONS / f"date={export_day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        text = snapshot.select(
            *(pl.col(c) for c in SUBSCRIPTION_COLUMNS if c != "enabled"),
            pl.when("enabled").then(pl.lit("true")).otherwise(pl.lit("false")).alias("enabled"),
        ).select(SUBSCRIPTION_COLUMNS)
        (folder / "subscriptions.csv.gz").write_bytes(gzip.compress(text.write_csv().encode(), GZIP_LEVEL))

    def _events(self, messages: pl.DataFrame, snapshot: pl.DataFrame) -> pl.DataFrame:
        """Each message event as OneSignal's push event; a user no profile names (an orphan)
        has no subscription OneSignal knows the type of."""
        current = snapshot.group_by("onesignal_id", maintain_order=True).agg(
            pl.col("subscription_id").last(),
            pl.col("subscription_device_type").last(),
            pl.col("external_id").last().alias("_external"),
        )
        kind = pl.col("event_type").cast(pl.String)
        return (
            messages.join(self.campaigns, on="campaign_id", how="left")
            .join(current, left_on="user_id", right_on="onesignal_id", how="left")
            .sort("occurred_at", "event_id")
            .select(
                "event_id",
                kind.replace_strict(EVENT_KINDS).alias("event_kind"),
                _iso(pl.col("occurred_at").dt.epoch("ms")).alias("event_timestamp"),
                pl.col("campaign_id").alias("message_id"),
                "message_name",
                "message_type",
                pl.col("user_id").alias("onesignal_id"),
                pl.col("_external").alias("external_id"),
                pl.coalesce("subscription_id", pl.format("{}-push-1", "user_id")).alias("subscription_id"),
                "subscription_device_type",
                pl.when(kind == "failed").then(pl.col("error_code").cast(pl.String)).alias("failure_reason"),
            )
        )

    def _write_events(self, export_day: dt.date, events: pl.DataFrame) -> None:
        folder = self.out / onesignal.MESSAGE_EVENTS / f"date={export_day.isoformat()}" / INTEGRATION
        folder.mkdir(parents=True, exist_ok=True)
        for part, start in enumerate(range(0, events.height, EVENTS_PER_FILE)):
            lines = events.slice(start, EVENTS_PER_FILE).write_ndjson()
            (folder / f"events-{part:03d}.jsonl.gz").write_bytes(gzip.compress(lines.encode(), GZIP_LEVEL))


def _iso(epoch_ms: pl.Expr) -> pl.Expr:
    """OneSignal's times: ISO-8601 in UTC with milliseconds (`2024-02-21T23:45:15.228Z`)."""
    return epoch_ms.cast(MS).dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
