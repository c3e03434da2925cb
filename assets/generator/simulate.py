"""Day-by-day simulation of a push platform's users, campaigns, sends, activity and consent.

Vectorized over users with numpy: one day of 1M users is a handful of array operations.
Causes planted on purpose (so the marts have something to find):
- opt-out risk grows with the pushes a user received in the last 7 days;
- some broadcast campaigns are "bad" and multiply their recipients' opt-out risk (12% of
  them at random, and any campaign planted on a chosen day and channel: PlantedCampaign);
- opt-outs go through every detection path: client settings and OS permission (seen at
  once), API, uninstalls and Chrome token loss found by the next send (send_feedback),
  Firefox token loss found at the user's next visit (revisit);
- after an opt-out some users keep using the product (retain), others leave (churn).
Times are whole milliseconds, so every timestamp form written later is exact.

Records are kept as numbers (user numbers, enum codes, epoch milliseconds) while a day is
simulated and become one typed polars frame per table at the end of the day: building
frames from a few large arrays is much cheaper than from many small ones.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl

from assets.contract import (
    BROWSERS,
    DETECTION_PATHS,
    ERROR_CODES,
    MESSAGE_EVENTS,
    PLATFORMS,
    SUBSCRIPTION_EVENTS,
    SUBSCRIPTION_SOURCES,
    TABLE_NAMES,
    TABLES,
)

MS_PER_DAY = 86_400_000
EVENT_NAMES = ("session_start", "screen_view", "add_to_cart", "purchase")
SESSION_START, SCREEN_VIEW, ADD_TO_CART, PURCHASE = range(len(EVENT_NAMES))
AUTOMATED = ["welcome_series", "cart_reminder", "winback", "daily_digest"]
CAMPAIGN_TITLES = [
    "Flash sale, today only!",
    "We miss you 💔",
    'New "drops" are in',
    "Weekly picks\nfor you",
    "Last chance: 50% off",
]

# Enum values are codes: positions in the contract's list of values (platform 0 = ios).
SENT, DELIVERED, OPENED, FAILED = (MESSAGE_EVENTS.index(e) for e in ("sent", "delivered", "opened", "failed"))
UNREGISTERED = ERROR_CODES.index("unregistered")
GLITCH_ERRORS = np.array(
    [ERROR_CODES.index(e) for e in ("rate_limited", "timeout", "invalid_token", "other")]
)
OPT_IN, OPT_OUT = (SUBSCRIPTION_EVENTS.index(e) for e in ("opt_in", "opt_out"))
SOURCE = {name: SUBSCRIPTION_SOURCES.index(name) for name in SUBSCRIPTION_SOURCES}
VIA = {name: DETECTION_PATHS.index(name) for name in DETECTION_PATHS}
WEB = PLATFORMS.index("web")
CHROME, FIREFOX, EDGE = (BROWSERS.index(b) for b in ("chrome", "firefox", "edge"))
NO_VALUE = -1  # the code of a null enum value

# silent opt-outs waiting to be discovered
NOT_PENDING, PENDING_SEND, PENDING_REVISIT = 0, 1, 2

TIME = pl.Datetime("ms", "UTC")


def _typed_schema(table: str) -> dict[str, pl.DataType]:
    kinds = {"string": pl.String, "json": pl.String, "timestamp": TIME}
    return {
        column.name: pl.Enum(column.values) if column.kind == "enum" else kinds[column.kind]
        for column in TABLES[table].columns
    }


SCHEMAS = {table: _typed_schema(table) for table in TABLE_NAMES}


@dataclass
class DayRecords:
    day: dt.date
    tables: dict[str, pl.DataFrame]


@dataclass
class _Batch:
    """Records of one kind that share everything but who and when (one campaign's deliveries)."""

    users: np.ndarray
    times: np.ndarray
    event: int
    campaign: int = NO_VALUE  # index into the day's campaign ids
    errors: np.ndarray | None = None
    source: int = NO_VALUE
    via: int = NO_VALUE


def _epoch_ms(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp() * 1000)


DEFAULT_PLANT_MIN_DAYS = 21  # a baseline of at least two weeks before the planted day
RANDOM_BAD_SHARE = 0.12  # of broadcast campaigns, each multiplying its recipients' risk by 6


@dataclass(frozen=True)
class PlantedCampaign:
    """A bad broadcast campaign sent early on export day `day` (0-based) to 60% of a channel."""

    channel: str  # "push" or "web_push"
    day: int
    risk_factor: float = 12.0

    @property
    def campaign_id(self) -> str:
        return f"bc-planted-{self.channel}-d{self.day:03d}"


def default_plants(days: int) -> tuple[PlantedCampaign, ...]:
    """The bad push campaign `optout generate` sends unless told otherwise: six days before the
    end, so a month-long baseline precedes it and the last week's exports and report show it.
    None when the range is too short for a baseline (the alert marts need 7 days before it)."""
    return (PlantedCampaign("push", days - 6),) if days >= DEFAULT_PLANT_MIN_DAYS else ()


class Simulation:
    def __init__(
        self,
        start: dt.date,
        days: int,
        users: int,
        seed: int,
        planted: tuple[PlantedCampaign, ...] = (),
        random_bad_share: float = RANDOM_BAD_SHARE,
    ):
        self.start, self.days, self.n = start, days, users
        self.planted, self.random_bad_share = planted, random_bad_share
        self.rng = np.random.default_rng(seed)
        rng, n = self.rng, users
        # 30% of the users exist from day one (imported), the rest join over the period.
        self.join_day = np.where(rng.random(n) < 0.3, 0, rng.integers(0, days, n))
        self.platform = rng.choice(3, n, p=[0.35, 0.35, 0.30])
        self.browser = np.where(self.platform == WEB, rng.choice(5, n, p=[0.55, 0.2, 0.15, 0.08, 0.02]), -1)
        self.on_channel = {"web_push": self.platform == WEB, "push": self.platform != WEB}
        self.engagement = rng.beta(2, 4, n)
        self.sensitivity = rng.lognormal(0.0, 0.6, n)
        self.opted_in = np.zeros(n, bool)  # what the platform believes
        self.token_ok = np.zeros(n, bool)  # whether pushes really reach the user
        self.pending = np.zeros(n, np.int8)
        self.active = np.zeros(n, bool)
        self.received = np.zeros((7, n), np.int16)  # deliveries per day, last 7 days
        self.ids = {"sub": 0, "msg": 0, "app": 0, "camp": 0}
        self.user_ids = pl.select(_numbered("u", pl.int_range(n))).to_series()
        self.campaign_quality: dict[str, float] = {}

    def _new_ids(self, kind: str, count: int) -> np.ndarray:
        first = self.ids[kind]
        self.ids[kind] += count
        return np.arange(first, first + count)

    def _times(self, day_ms: int, count: int, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
        return day_ms + (self.rng.uniform(lo, hi, count) * MS_PER_DAY).astype(np.int64)

    def run(self) -> Iterator[DayRecords]:
        for offset in range(self.days):
            yield self._simulate_day(offset)

    # -- one day ---------------------------------------------------------------------------
    def _simulate_day(self, offset: int) -> DayRecords:
        rng = self.rng
        day = self.start + dt.timedelta(days=offset)
        day_ms = _epoch_ms(day)
        subs: list[_Batch] = []
        users = self._join(offset, day_ms, subs)
        campaigns, sends = self._plan_campaigns(offset, day_ms)
        messages = self._send(sends, day_ms, subs)
        app = self._activity(day_ms, subs)
        self._opt_outs(day_ms, subs)
        self._re_opt_ins(day_ms, subs)
        # natural churn: some users just stop coming back
        self.active &= rng.random(self.n) > 0.004
        self.received = np.roll(self.received, 1, axis=0)
        self.received[0] = 0
        return DayRecords(
            day,
            {
                "users": users,
                "subscriptions": self._subscription_frame(subs, [cid for cid, *_ in sends]),
                "campaigns": campaigns,
                "messages": messages,
                "app_events": app,
            },
        )

    def _join(self, offset: int, day_ms: int, subs: list[_Batch]) -> pl.DataFrame:
        rng = self.rng
        joined = np.flatnonzero(self.join_day == offset)
        created = self._times(day_ms, joined.size, 0.0, 0.9)
        self.active[joined] = True
        # most new users accept push at once (client), shortly after they join
        accepting = rng.random(joined.size) < 0.75
        accepts = joined[accepting]
        accept_at = created[accepting] + rng.integers(1000, 600_000, accepts.size)
        self._record_subs(subs, accepts, OPT_IN, accept_at, "user_settings", "client")
        self.opted_in[accepts] = True
        self.token_ok[accepts] = True
        # a few existing users get a new profile version (e.g. a new external id)
        alive = np.flatnonzero(self.join_day < offset)
        updated = alive[rng.random(alive.size) < 0.002]
        ids = np.concatenate([joined, updated])
        created_all = np.concatenate([created, day_ms - rng.integers(1, 30, updated.size) * MS_PER_DAY])
        updated_at = np.concatenate([created, self._times(day_ms, updated.size)])
        is_update = np.arange(ids.size) >= joined.size
        has_external = rng.random(ids.size) >= 0.1
        external = pl.concat_str(
            pl.lit("cust-"),
            pl.col("id").cast(pl.String),
            pl.when("is_update").then(pl.lit("-v2")).otherwise(pl.lit("")),
        )
        raw = {
            "id": ids,
            "is_update": is_update,
            "has_external": has_external,
            "platform": self.platform[ids],
            "browser": np.ma.masked_less(self.browser[ids], 0),
            "created_at": created_all,
            "updated_at": updated_at,
        }
        return pl.DataFrame(raw).select(
            self._user_id("id"),
            pl.when("has_external").then(external).alias("external_id"),
            _enum_of("users", "platform"),
            _enum_of("users", "browser"),
            _time_of("created_at"),
            _time_of("updated_at"),
        )

    def _plan_campaigns(self, offset: int, day_ms: int) -> tuple[pl.DataFrame, list[tuple]]:
        rng = self.rng
        rows, sends = [], []
        if offset == 0:
            for name in AUTOMATED:
                for channel in ("push", "web_push"):
                    cid = f"auto-{name}-{channel}"
                    self.campaign_quality[cid] = 1.0
                    rows.append((cid, f"Automated: {name} ({channel})", channel, "automated", day_ms, day_ms))
            rows.append(
                (
                    "tx-receipts",
                    'Order receipts, shipping & "delivery" updates',
                    "push",
                    "transactional",
                    day_ms,
                    day_ms,
                )
            )
            self.campaign_quality["tx-receipts"] = 0.5
        if offset == self.days // 2:  # a renamed version of a recurring campaign
            rows.append(
                (
                    "auto-daily_digest-push",
                    "Daily digest 📰, v2",
                    "push",
                    "automated",
                    _epoch_ms(self.start),
                    day_ms + 3_600_000,
                )
            )
        planted_today = {plant.channel for plant in self.planted if plant.day == offset}
        for channel in ("push", "web_push"):
            for _ in range(rng.integers(1, 3)):
                cid = f"bc-{self.ids['camp']:05d}"
                self.ids["camp"] += 1
                bad = rng.random() < self.random_bad_share
                self.campaign_quality[cid] = 6.0 if bad else rng.uniform(0.6, 1.4)
                sent_at = day_ms + int(rng.uniform(0.3, 0.8) * MS_PER_DAY)
                title = rng.choice(CAMPAIGN_TITLES)
                updated_at = sent_at - int(rng.integers(3_600_000, 48 * 3_600_000))
                reach = rng.uniform(0.2, 0.6)
                if channel in planted_today:
                    continue  # the planted campaign is the channel's broadcast of the day (same draws)
                rows.append((cid, f"{title} #{cid}", channel, "broadcast", sent_at, updated_at))
                sends.append((cid, channel, sent_at, reach))
        for plant in self.planted:
            if plant.day == offset:
                # early in the day, so most of the day's opt-outs come after it (no random draw:
                # the rest of the data set stays what it is without the plant)
                cid, sent_at = plant.campaign_id, day_ms + int(0.3 * MS_PER_DAY)
                self.campaign_quality[cid] = plant.risk_factor
                rows.append(
                    (
                        cid,
                        f"Planted: bad {plant.channel} campaign",
                        plant.channel,
                        "broadcast",
                        sent_at,
                        sent_at - 3_600_000,
                    )
                )
                sends.append((cid, plant.channel, sent_at, 0.6))
        for name in AUTOMATED:
            for channel in ("push", "web_push"):
                sends.append((f"auto-{name}-{channel}", channel, None, 0.05))
        sends.append(("tx-receipts", "push", None, 0.03))
        return _campaign_frame(rows), sends

    def _send(self, sends: list[tuple], day_ms: int, subs: list[_Batch]) -> pl.DataFrame:
        rng = self.rng
        batches: list[_Batch] = []
        self.today_risk = np.ones(self.n)
        self.planted_delivery = np.full(self.n, -1, np.int64)  # today's delivery of a planted campaign
        planted_ids = {plant.campaign_id for plant in self.planted}
        for campaign, (cid, channel, sent_at, reach) in enumerate(sends):
            subscribed = np.flatnonzero(self.opted_in & self.on_channel[channel])
            audience = subscribed[rng.random(subscribed.size) < reach]
            if audience.size == 0:
                continue
            start = sent_at if sent_at is not None else day_ms + int(rng.uniform(0.05, 0.7) * MS_PER_DAY)
            t_sent = start + rng.integers(0, 1_800_000, audience.size)
            t_after = t_sent + rng.integers(200, 60_000, audience.size)
            lost = ~self.token_ok[audience]
            glitch = (~lost) & (rng.random(audience.size) < 0.02)
            delivered = ~lost & ~glitch
            opened = delivered & (
                rng.random(audience.size)
                < self.engagement[audience] * 0.35 / self.campaign_quality[cid] ** 0.5
            )
            t_opened = t_after[opened] + rng.integers(60_000, 6 * 3_600_000, opened.sum())
            failed = lost | glitch
            errors = np.where(lost[failed], UNREGISTERED, rng.choice(GLITCH_ERRORS, failed.sum()))
            reached = audience[delivered]
            batches += [
                _Batch(audience, t_sent, SENT, campaign),
                _Batch(reached, t_after[delivered], DELIVERED, campaign),
                _Batch(audience[opened], np.minimum(t_opened, day_ms + MS_PER_DAY - 1), OPENED, campaign),
                _Batch(audience[failed], t_after[failed], FAILED, campaign, errors),
            ]
            self.received[0][reached] += 1
            self.today_risk[reached] *= self.campaign_quality[cid]
            if cid in planted_ids:
                self.planted_delivery[reached] = t_after[delivered]
            # a failed send to a lost token is how the platform learns of the opt-out
            revealed = lost & (self.pending[audience] == PENDING_SEND)
            found = audience[revealed]
            self._record_subs(
                subs, found, OPT_OUT, t_after[revealed] + 1, "token_invalid", "send_feedback", campaign
            )
            self.opted_in[found] = False
            self.pending[found] = NOT_PENDING
        return self._message_frame(batches, [cid for cid, *_ in sends])

    def _activity(self, day_ms: int, subs: list[_Batch]) -> pl.DataFrame:
        rng = self.rng
        visitors = np.flatnonzero(self.active & (rng.random(self.n) < 0.15 + 0.6 * self.engagement))
        if visitors.size == 0:
            return pl.DataFrame(schema=SCHEMAS["app_events"])
        session_at = self._times(day_ms, visitors.size, 0.0, 0.95)
        # Firefox: an old subscription that comes back to the site reveals it was lost
        returning = self.pending[visitors] == PENDING_REVISIT
        revisit = visitors[returning]
        self._record_subs(subs, revisit, OPT_OUT, session_at[returning] + 500, "token_invalid", "revisit")
        self.opted_in[revisit] = False
        self.pending[revisit] = NOT_PENDING
        views = rng.poisson(1 + 3 * self.engagement[visitors])
        carts = rng.random(visitors.size) < 0.25 * self.engagement[visitors]
        buys = carts & (rng.random(visitors.size) < 0.3)
        counts = 1 + views + carts + buys
        who = np.repeat(visitors, counts)
        base = np.repeat(session_at, counts)
        firsts = np.cumsum(counts) - counts
        step = np.arange(who.size) - np.repeat(firsts, counts)  # position within the session
        kind = np.full(who.size, SCREEN_VIEW, np.int8)
        ends = firsts + counts - 1
        kind[ends[buys]] = PURCHASE
        kind[ends[carts & ~buys]] = ADD_TO_CART
        kind[(ends - 1)[buys]] = ADD_TO_CART
        kind[firsts] = SESSION_START
        times = np.minimum(base + step * rng.integers(5_000, 120_000, who.size), day_ms + MS_PER_DAY - 1)
        raw = {"id": self._new_ids("app", who.size), "who": who, "kind": kind, "occurred_at": times}
        return pl.DataFrame(raw).select(
            _numbered("a", "id").alias("event_id"),
            self._user_id("who"),
            _looked_up(pl.Series(EVENT_NAMES), "kind").alias("event_name"),
            _time_of("occurred_at"),
            self._properties(kind).alias("properties"),
        )

    def _properties(self, kind: np.ndarray) -> pl.Expr:
        """JSON text by kind of event; a purchase has its value (drawn only for purchases)."""
        purchases = kind == PURCHASE
        value = np.ma.masked_all(kind.size)
        value[purchases] = np.round(self.rng.gamma(2, 20, purchases.sum()), 2)
        return (
            pl.when(pl.col("kind") == PURCHASE)
            .then(pl.format('{{"value": {}, "currency": "EUR"}}', pl.lit(pl.Series(value))))
            .when(pl.col("kind") == SCREEN_VIEW)
            .then(pl.lit('{"screen": "home"}'))
        )

    def _opt_outs(self, day_ms: int, subs: list[_Batch]) -> None:
        rng = self.rng
        pressure = self.received.sum(axis=0)
        hazard = 0.0015 * self.sensitivity * (1 + 0.25 * pressure) * self.today_risk
        leaving = np.flatnonzero(self.opted_in & self.token_ok & (rng.random(self.n) < hazard))
        if leaving.size == 0:
            return
        t = self._times(day_ms, leaving.size, 0.3, 0.99)
        pushed_over = self.planted_delivery[leaving] >= 0
        if pushed_over.any():
            # a planted campaign's recipients leave within two hours of it, not at random in the day
            after = self.planted_delivery[leaving[pushed_over]] + rng.integers(
                60_000, 7_200_000, pushed_over.sum()
            )
            t[pushed_over] = np.minimum(after, day_ms + MS_PER_DAY - 1)
        path = rng.random(leaving.size)
        mobile = self.platform[leaving] != WEB
        browser = self.browser[leaving]
        api = path < 0.05
        chrome_like = (browser == CHROME) | (browser == EDGE)
        silent_send = (~api) & ((mobile & (path > 0.75)) | chrome_like & (path > 0.55))
        silent_revisit = (~api) & (browser == FIREFOX) & (path > 0.5)
        client = ~(api | silent_send | silent_revisit)
        permission = client & (rng.random(leaving.size) < 0.35)
        settings = client & ~permission
        self._record_subs(subs, leaving[api], OPT_OUT, t[api], "api", "api")
        self._record_subs(subs, leaving[settings], OPT_OUT, t[settings], "user_settings", "client")
        self._record_subs(subs, leaving[permission], OPT_OUT, t[permission], "os_permission", "client")
        # the API sometimes repeats itself: a redundant opt-out
        again = leaving[api][rng.random(api.sum()) < 0.3]
        self._record_subs(subs, again, OPT_OUT, t[api][: again.size] + 60_000, "api", "api")
        seen = leaving[api | client]
        self.opted_in[seen] = False
        self.token_ok[leaving] = False
        self.pending[leaving[silent_send]] = PENDING_SEND
        self.pending[leaving[silent_revisit]] = PENDING_REVISIT
        # uninstalling (silent mobile opt-outs) ends activity; others churn by engagement
        uninstall = leaving[silent_send & mobile]
        self.active[uninstall] = False
        # Firefox users who lost their token unknowingly keep visiting (that is how it is found)
        stays = (rng.random(leaving.size) < 0.35 + 0.6 * self.engagement[leaving]) | silent_revisit
        self.active[leaving[~stays]] = False

    def _re_opt_ins(self, day_ms: int, subs: list[_Batch]) -> None:
        rng = self.rng
        back = np.flatnonzero(~self.opted_in & self.active & (rng.random(self.n) < 0.006))
        back = back[self.pending[back] == NOT_PENDING]
        t = self._times(day_ms, back.size, 0.1, 0.9)
        self._record_subs(subs, back, OPT_IN, t, "user_settings", "client")
        # a few already subscribed users confirm again (a redundant opt-in)
        confirm = np.flatnonzero(self.opted_in & (rng.random(self.n) < 0.0005))
        self._record_subs(subs, confirm, OPT_IN, self._times(day_ms, confirm.size), "api", "api")
        self.opted_in[back] = True
        self.token_ok[back] = True

    @staticmethod
    def _record_subs(subs, users, event, times, source, detected_via, campaign=NO_VALUE) -> None:
        if len(users):
            subs.append(_Batch(users, times, event, campaign, source=SOURCE[source], via=VIA[detected_via]))

    # -- a day's batches as typed frames ----------------------------------------------------
    def _message_frame(self, batches: list[_Batch], campaign_ids: list[str]) -> pl.DataFrame:
        if not batches:
            return pl.DataFrame(schema=SCHEMAS["messages"])
        sizes = [batch.users.size for batch in batches]
        users = _joined(batches, "users")
        errors = [b.errors if b.errors is not None else np.full(b.users.size, NO_VALUE) for b in batches]
        raw = {
            "id": self._new_ids("msg", users.size),
            "who": users,
            "campaign": _per_batch(batches, sizes, "campaign"),
            "event_type": _per_batch(batches, sizes, "event"),
            "occurred_at": _joined(batches, "times"),
            "error_code": np.ma.masked_less(np.concatenate(errors), 0),
        }
        return pl.DataFrame(raw).select(
            _numbered("m", "id").alias("event_id"),
            self._user_id("who"),
            _looked_up(pl.Series(campaign_ids), "campaign").alias("campaign_id"),
            _enum_of("messages", "event_type"),
            _time_of("occurred_at"),
            _enum_of("messages", "error_code"),
        )

    def _subscription_frame(self, batches: list[_Batch], campaign_ids: list[str]) -> pl.DataFrame:
        if not batches:
            return pl.DataFrame(schema=SCHEMAS["subscriptions"])
        sizes = [batch.users.size for batch in batches]
        users = _joined(batches, "users")
        raw = {
            "id": self._new_ids("sub", users.size),
            "who": users,
            "event_type": _per_batch(batches, sizes, "event"),
            "occurred_at": _joined(batches, "times"),
            "source": _per_batch(batches, sizes, "source"),
            "detected_via": _per_batch(batches, sizes, "via"),
            "campaign": np.ma.masked_less(_per_batch(batches, sizes, "campaign"), 0),
        }
        return pl.DataFrame(raw).select(
            _numbered("s", "id").alias("event_id"),
            self._user_id("who"),
            _enum_of("subscriptions", "event_type"),
            _time_of("occurred_at"),
            _enum_of("subscriptions", "source"),
            _enum_of("subscriptions", "detected_via"),
            _looked_up(pl.Series(campaign_ids, dtype=pl.String), "campaign").alias("campaign_id"),
        )

    def _user_id(self, numbers: str) -> pl.Expr:
        # looked up rather than formatted: a user has many records a day
        return _looked_up(self.user_ids, numbers).alias("user_id")


def _joined(batches: list[_Batch], field: str) -> np.ndarray:
    return np.concatenate([getattr(batch, field) for batch in batches]).astype(np.int64, copy=False)


def _per_batch(batches: list[_Batch], sizes: list[int], field: str) -> np.ndarray:
    """A batch-wide value (campaign, event type, ...) repeated for each record of the batch."""
    return np.repeat([getattr(batch, field) for batch in batches], sizes)


def _numbered(prefix: str, numbers: str | pl.Expr) -> pl.Expr:
    """Ids as the platform writes them: a letter and a number (u17, m4096)."""
    return pl.format(prefix + "{}", numbers)


def _looked_up(labels: pl.Series, codes: str) -> pl.Expr:
    """Values by position in `labels` (a null code gives null): one cheap gather."""
    return pl.lit(labels).gather(pl.col(codes))


@functools.cache
def _enum_labels(table: str, column: str) -> pl.Series:
    dtype = SCHEMAS[table][column]
    return pl.Series(dtype.categories, dtype=dtype)


def _enum_of(table: str, column: str) -> pl.Expr:
    """The enum column from its codes (a column of the same name)."""
    return _looked_up(_enum_labels(table, column), column).alias(column)


def _time_of(column: str) -> pl.Expr:
    """The timestamp column from its epoch milliseconds (a column of the same name)."""
    return pl.col(column).cast(TIME)


def _campaign_frame(rows: list[tuple]) -> pl.DataFrame:
    raw = {"sent_at": pl.Int64, "updated_at": pl.Int64}
    frame = pl.DataFrame(rows, schema={**SCHEMAS["campaigns"], **raw}, orient="row")
    return frame.with_columns(pl.col(*raw).cast(TIME))
