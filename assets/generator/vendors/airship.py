"""The simulated world as Airship's Real-Time Data Streaming writes it: JSON lines, every event
type in the same files.

`<out>/rtds/<app key>/date=<export day>/hour=<HH>/events-<HH>.jsonl.gz`: the events an export
day delivers (late ones and repeats included, as the noise schedules them), one file per
hour of the events' own time, one RTDS event per line, in time order. What each record of
the contract becomes is the inverse of the mapping in assets/sources/airship.py:

- a profile is the `device` every event of the user carries (channel, device type, named
  user, browser); a new user's first version is a `FIRST_OPEN`, a later version (a new
  external id) an `ATTRIBUTE_OPERATION` at its time;
- a send is a `SEND`, a failure a `SEND_REJECTED` (its error code as the reason), an open a
  push `OPEN` (mobile) or a `WEB_CLICK` (web); a delivery is not written (RTDS has no
  receipt, the source infers it);
- an opt-out found by a send is an `UNINSTALL` naming that push; every other consent change
  is a `push_opt_out` / `push_opt_in` custom event with its `source`;
- a session start is an `OPEN` (a `WEB_SESSION` on the web), a screen view a
  `SCREEN_VIEWED`, any other app event a `CUSTOM` event of its name and properties;
- campaigns are not written (RTDS has no campaign records): a broadcast or transactional
  campaign is one push (its id the campaign's), an automated one a push group (its id the
  campaign's) with a push a day.

docs/sources/airship.md lists what Airship cannot carry (a delivery receipt, campaign names
and types, a push open apart from the session it starts).
"""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import polars as pl

from assets.sources import airship

APP_KEY = "optout-demo-app-key"
GZIP_LEVEL = 1  # the files are written once and read a few times: speed over size
DEVICE_TYPES = {"ios": "IOS", "android": "ANDROID", "web": "WEB"}
PROFILE_SCHEMA = {"user_id": pl.String, "external_id": pl.String, "platform": pl.String, "browser": pl.String}
ISO_MS = "%Y-%m-%dT%H:%M:%S%.3fZ"  # RTDS's times: UTC with milliseconds


class Writer:
    def __init__(self, out: Path):
        self.out = out
        self.profiles = pl.DataFrame(schema=PROFILE_SCHEMA)
        self.automated: set[str] = set()  # the campaigns sent as push groups
        self.offset = 0  # the stream position of the next event written
        self._current = self.profiles.rename(
            {name: f"{name}_now" for name in PROFILE_SCHEMA if name != "user_id"}
        )

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
            )
        )
        self.profiles = pl.concat([self.profiles, users]).unique("user_id", keep="last", maintain_order=True)
        self._current = self.profiles.rename(
            {name: f"{name}_now" for name in PROFILE_SCHEMA if name != "user_id"}
        )
        campaigns = tables["campaigns"].select("campaign_id", pl.col("campaign_type").cast(pl.String))
        self.automated |= set(
            campaigns.filter(pl.col("campaign_type") == "automated")["campaign_id"].to_list()
        )

    # -- an export day's files ------------------------------------------------------------------
    def write_day(self, export_day: dt.date, tables: dict[str, pl.DataFrame]) -> dict[str, int]:
        parts = []
        for table, frame in tables.items():
            if table != "campaigns" and frame.height:
                parts += self._events(table, frame.join(self._current, on="user_id", how="left"))
        parts = [part for part in parts if part.height]
        if not parts:
            return {}
        events = pl.concat(parts).sort("occurred_at", "id")
        offset = (pl.int_range(pl.len(), dtype=pl.Int64) + self.offset).cast(pl.String)
        events = events.with_columns(
            pl.concat_str("_head", pl.lit(',"offset":"'), offset, pl.lit('"'), "_tail").alias("_line")
        )
        self.offset += events.height
        for (hour,), part in events.partition_by("_hour", as_dict=True, maintain_order=True).items():
            self._write(export_day, int(hour), part["_line"])
        return dict(events.group_by("type").len().iter_rows())

    def _write(self, day: dt.date, hour: int, lines: pl.Series) -> None:
        folder = self.out / "rtds" / APP_KEY / f"date={day.isoformat()}" / f"hour={hour:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        text = lines.str.join("\n").item() + "\n"
        (folder / f"events-{hour:02d}.jsonl.gz").write_bytes(
            gzip.compress(text.encode(), GZIP_LEVEL, mtime=0)
        )

    def _events(self, table: str, frame: pl.DataFrame) -> list[pl.DataFrame]:
        if table == "users":
            return self._profiles(frame)
        if table == "messages":
            return self._messages(frame)
        if table == "subscriptions":
            return self._consent(frame)
        return self._activity(frame)

    def _profiles(self, users: pl.DataFrame) -> list[pl.DataFrame]:
        """A new user's first open, and a later version's change of named user. The version's
        own fields, not the latest profile's: a late version says what it said then."""
        users = users.with_columns(
            pl.col("external_id").alias("external_id_now"),
            pl.col("platform").cast(pl.String).alias("platform_now"),
            pl.col("browser").cast(pl.String).alias("browser_now"),
        )
        first = users.filter(pl.col("created_at") == pl.col("updated_at"))
        changed = users.filter(pl.col("created_at") != pl.col("updated_at"))
        named = pl.struct(pl.lit("named_user_id").alias("key"), pl.col("external_id").alias("value"))
        return [
            _lines(first, airship.FIRST_OPEN, pl.format("{}/first-open", "user_id"), "created_at"),
            _lines(
                changed,
                "ATTRIBUTE_OPERATION",
                pl.format("{}/profile/{}", "user_id", pl.col("updated_at").dt.epoch("ms")),
                "updated_at",
                pl.struct(pl.concat_list(named).alias("set")),
            ),
        ]

    def _messages(self, messages: pl.DataFrame) -> list[pl.DataFrame]:
        kind = pl.col("event_type").cast(pl.String)
        web = pl.col("platform_now") == "web"
        opened = messages.filter(kind == "opened")
        push = self._push()
        return [
            _lines(messages.filter(kind == "sent"), airship.SEND, pl.col("event_id"), body=push),
            _lines(
                messages.filter(kind == "failed"),
                airship.SEND_REJECTED,
                pl.col("event_id"),
                body=pl.struct(
                    push.struct.field("push_id"),
                    push.struct.field("group_id"),
                    pl.col("error_code").cast(pl.String).alias("reason"),
                ),
            ),
            _lines(opened.filter(web.fill_null(False)), airship.WEB_CLICK, pl.col("event_id"), body=push),
            _lines(
                opened.filter(~web.fill_null(False)),
                airship.OPEN,
                pl.col("event_id"),
                body=pl.struct(push.alias("triggering_push"), push.alias("last_delivered")),
            ),
        ]

    def _push(self) -> pl.Expr:
        """A message's push: a campaign's own id for a broadcast or transactional campaign; for
        an automated one, a push of the day in the group of the campaign's id."""
        automated = pl.col("campaign_id").is_in(sorted(self.automated))
        day = pl.col("occurred_at").dt.strftime("%Y%m%d")
        return pl.struct(
            pl.when(automated)
            .then(pl.format("{}-{}", "campaign_id", day))
            .otherwise("campaign_id")
            .alias("push_id"),
            pl.when(automated).then(pl.col("campaign_id")).alias("group_id"),
        )

    def _consent(self, subscriptions: pl.DataFrame) -> list[pl.DataFrame]:
        via = pl.col("detected_via").cast(pl.String)
        found = subscriptions.filter(via == "send_feedback")
        stated = subscriptions.filter(via != "send_feedback")
        name = pl.when(pl.col("event_type").cast(pl.String) == "opt_in").then(pl.lit("push_opt_in"))
        return [
            _lines(
                found,
                airship.UNINSTALL,
                pl.col("event_id"),
                body=pl.struct(
                    pl.lit(False).alias("decay"),
                    pl.when(pl.col("campaign_id").is_not_null()).then(self._push()).alias("triggering_push"),
                ),
            ),
            _lines(
                stated,
                airship.CUSTOM,
                pl.col("event_id"),
                body=pl.struct(
                    name.otherwise(pl.lit("push_opt_out")).alias("name"),
                    pl.struct(pl.col("source").cast(pl.String)).alias("properties"),
                ),
            ),
        ]

    def _activity(self, events: pl.DataFrame) -> list[pl.DataFrame]:
        name = pl.col("event_name")
        web = (pl.col("platform_now") == "web").fill_null(False)
        sessions = events.filter(name == "session_start")
        session = pl.struct(pl.col("event_id").alias("session_id"))
        screen = pl.struct(pl.col("properties").str.json_path_match("$.screen").alias("viewed_screen"))
        custom = events.filter(~name.is_in(["session_start", "screen_view"]))
        return [
            _lines(sessions.filter(~web), airship.OPEN, pl.col("event_id"), body=session),
            _lines(sessions.filter(web), airship.WEB_SESSION, pl.col("event_id"), body=session),
            _lines(
                events.filter(name == "screen_view"), airship.SCREEN_VIEWED, pl.col("event_id"), body=screen
            ),
            _custom_lines(custom),
        ]


def _device() -> pl.Expr:
    """The user's device as RTDS writes it on every event; an unknown user's has only its channel."""
    web = pl.col("platform_now") == "web"
    return pl.struct(
        pl.col("user_id").alias("channel"),
        pl.col("platform_now").replace_strict(DEVICE_TYPES, default=None).alias("device_type"),
        pl.col("external_id_now").alias("named_user_id"),
        pl.struct(
            pl.when(web).then(pl.col("browser_now").str.to_titlecase()).alias("web_browser_name")
        ).alias("attributes"),
    )


def _head(kind: str, event_id: pl.Expr, time_column: str) -> tuple[pl.Expr, pl.Expr]:
    """The line's start (`{"id":..., "type":..., "occurred":..., "processed":...`, no closing
    brace) and its time."""
    when = pl.col(time_column).dt.strftime(ISO_MS)
    fields = pl.struct(
        event_id.alias("id"), pl.lit(kind).alias("type"), when.alias("occurred"), when.alias("processed")
    )
    return fields.struct.json_encode().str.strip_suffix("}"), pl.col(time_column)


def _lines(
    frame: pl.DataFrame,
    kind: str,
    event_id: pl.Expr,
    time_column: str = "occurred_at",
    body: pl.Expr | None = None,
) -> pl.DataFrame:
    """One RTDS event per record: its line, in two pieces the stream offset goes between
    (known once the day's events are in order)."""
    head, when = _head(kind, event_id, time_column)
    body_json = body.struct.json_encode() if body is not None else pl.lit("{}")
    return _framed(frame, kind, event_id, head, when, body_json)


def _custom_lines(events: pl.DataFrame) -> pl.DataFrame:
    """App events other than sessions and screens as custom events: their properties are the
    contract's JSON object, written as it is (none: an empty object)."""
    head, when = _head(airship.CUSTOM, pl.col("event_id"), "occurred_at")
    name = pl.struct(pl.col("event_name").alias("name")).struct.json_encode().str.strip_suffix("}")
    body = pl.concat_str(name, pl.lit(',"properties":'), pl.col("properties").fill_null("{}"), pl.lit("}"))
    return _framed(events, airship.CUSTOM, pl.col("event_id"), head, when, body)


def _framed(frame, kind: str, event_id: pl.Expr, head: pl.Expr, when: pl.Expr, body: pl.Expr) -> pl.DataFrame:
    return frame.select(
        event_id.alias("id"),
        pl.lit(kind).alias("type"),
        when.alias("occurred_at"),
        when.dt.hour().alias("_hour"),
        head.alias("_head"),
        _device().struct.json_encode().alias("_device"),
        body.alias("_body"),
    ).select(
        "id",
        "type",
        "occurred_at",
        "_hour",
        "_head",
        pl.concat_str(pl.lit(',"device":'), "_device", pl.lit(',"body":'), "_body", pl.lit("}")).alias(
            "_tail"
        ),
    )
