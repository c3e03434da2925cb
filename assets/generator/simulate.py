"""Day-by-day simulation of a push platform's users, campaigns, sends, activity and consent.

Vectorized over users with numpy: one day of 1M users is a handful of array operations.
Causes planted on purpose (so the marts have something to find):
- opt-out risk grows with the pushes a user received in the last 7 days;
- some broadcast campaigns are "bad" and multiply their recipients' opt-out risk;
- opt-outs go through every detection path: client settings and OS permission (seen at
  once), API, uninstalls and Chrome token loss found by the next send (send_feedback),
  Firefox token loss found at the user's next visit (revisit);
- after an opt-out some users keep using the product (retain), others leave (churn).
Times are whole milliseconds, so every timestamp form written later is exact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl

MS_PER_DAY = 86_400_000
PLATFORMS = np.array(["ios", "android", "web"])
BROWSERS = np.array(["chrome", "firefox", "safari", "edge", "other"])
EVENT_NAMES = np.array(["session_start", "screen_view", "add_to_cart", "purchase"])
AUTOMATED = ["welcome_series", "cart_reminder", "winback", "daily_digest"]

# silent opt-outs waiting to be discovered
NOT_PENDING, PENDING_SEND, PENDING_REVISIT = 0, 1, 2


@dataclass
class DayRecords:
    day: dt.date
    tables: dict[str, pl.DataFrame]


def _epoch_ms(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp() * 1000)


class Simulation:
    def __init__(self, start: dt.date, days: int, users: int, seed: int):
        self.start, self.days, self.n = start, days, users
        self.rng = np.random.default_rng(seed)
        rng, n = self.rng, users
        # 30% of the users exist from day one (imported), the rest join over the period.
        self.join_day = np.where(rng.random(n) < 0.3, 0, rng.integers(0, days, n))
        self.platform = rng.choice(3, n, p=[0.35, 0.35, 0.30])
        self.browser = np.where(self.platform == 2, rng.choice(5, n, p=[0.55, 0.2, 0.15, 0.08, 0.02]), -1)
        self.engagement = rng.beta(2, 4, n)
        self.sensitivity = rng.lognormal(0.0, 0.6, n)
        self.opted_in = np.zeros(n, bool)  # what the platform believes
        self.token_ok = np.zeros(n, bool)  # whether pushes really reach the user
        self.pending = np.zeros(n, np.int8)
        self.active = np.zeros(n, bool)
        self.received = np.zeros((7, n), np.int16)  # deliveries per day, last 7 days
        self.ids = {"sub": 0, "msg": 0, "app": 0, "camp": 0}
        self.campaign_quality: dict[str, float] = {}

    def _new_ids(self, kind: str, count: int, prefix: str) -> np.ndarray:
        first = self.ids[kind]
        self.ids[kind] += count
        return np.char.add(prefix, np.arange(first, first + count).astype(str))

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
        subs: list[dict] = []
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
                "subscriptions": _subscription_frame(subs),
                "campaigns": campaigns,
                "messages": messages,
                "app_events": app,
            },
        )

    def _join(self, offset: int, day_ms: int, subs: list[dict]) -> pl.DataFrame:
        rng = self.rng
        joined = np.flatnonzero(self.join_day == offset)
        created = self._times(day_ms, joined.size, 0.0, 0.9)
        self.active[joined] = True
        # most new users accept push at once (client), shortly after they join
        accepts = joined[rng.random(joined.size) < 0.75]
        accept_at = created[np.isin(joined, accepts)] + rng.integers(1000, 600_000, accepts.size)
        self._record_subs(subs, accepts, "opt_in", accept_at, "user_settings", "client")
        self.opted_in[accepts] = True
        self.token_ok[accepts] = True
        # a few existing users get a new profile version (e.g. a new external id)
        alive = np.flatnonzero(self.join_day < offset)
        updated = alive[rng.random(alive.size) < 0.002]
        ids = np.concatenate([joined, updated])
        created_all = np.concatenate([created, day_ms - rng.integers(1, 30, updated.size) * MS_PER_DAY])
        updated_at = np.concatenate([created, self._times(day_ms, updated.size)])
        suffix = np.where(np.isin(ids, updated), "-v2", "")
        external = np.char.add(np.char.add("cust-", ids.astype(str)), suffix)
        no_external = rng.random(ids.size) < 0.1
        return pl.DataFrame(
            {
                "user_id": np.char.add("u", ids.astype(str)),
                "external_id": _strings(np.where(no_external, None, external)),
                "platform": PLATFORMS[self.platform[ids]],
                "browser": _strings(np.where(self.browser[ids] >= 0, BROWSERS[self.browser[ids]], None)),
                "created_at": _as_time(created_all),
                "updated_at": _as_time(updated_at),
            },
        )

    def _plan_campaigns(self, offset: int, day_ms: int) -> tuple[pl.DataFrame, list[tuple]]:
        rng = self.rng
        rows, sends = [], []
        if offset == 0:
            for name in AUTOMATED:
                for channel in ("push", "web_push"):
                    cid = f"auto-{name}-{channel}"
                    self.campaign_quality[cid] = 1.0
                    rows.append(
                        _campaign_row(
                            cid, f"Automated: {name} ({channel})", channel, "automated", day_ms, day_ms
                        )
                    )
            rows.append(
                _campaign_row(
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
                _campaign_row(
                    "auto-daily_digest-push",
                    "Daily digest 📰, v2",
                    "push",
                    "automated",
                    _epoch_ms(self.start),
                    day_ms + 3_600_000,
                )
            )
        for channel in ("push", "web_push"):
            for _ in range(rng.integers(1, 3)):
                cid = f"bc-{self.ids['camp']:05d}"
                self.ids["camp"] += 1
                bad = rng.random() < 0.12
                self.campaign_quality[cid] = 6.0 if bad else rng.uniform(0.6, 1.4)
                sent_at = day_ms + int(rng.uniform(0.3, 0.8) * MS_PER_DAY)
                title = rng.choice(
                    [
                        "Flash sale, today only!",
                        "We miss you 💔",
                        'New "drops" are in',
                        "Weekly picks\nfor you",
                        "Last chance: 50% off",
                    ]
                )
                rows.append(
                    _campaign_row(
                        cid,
                        f"{title} #{cid}",
                        channel,
                        "broadcast",
                        sent_at,
                        sent_at - rng.integers(3_600_000, 48 * 3_600_000),
                    )
                )
                sends.append((cid, channel, sent_at, rng.uniform(0.2, 0.6)))
        for name in AUTOMATED:
            for channel in ("push", "web_push"):
                sends.append((f"auto-{name}-{channel}", channel, None, 0.05))
        sends.append(("tx-receipts", "push", None, 0.03))
        frame = (
            pl.DataFrame(rows, schema=CAMPAIGN_SCHEMA, orient="row")
            if rows
            else pl.DataFrame(schema=CAMPAIGN_SCHEMA)
        )
        return frame.with_columns(pl.col("sent_at", "updated_at").cast(pl.Int64)).with_columns(
            pl.from_epoch(pl.col("sent_at"), "ms").dt.replace_time_zone("UTC"),
            pl.from_epoch(pl.col("updated_at"), "ms").dt.replace_time_zone("UTC"),
        ), sends

    def _send(self, sends: list[tuple], day_ms: int, subs: list[dict]) -> pl.DataFrame:
        rng = self.rng
        parts = []
        self.today_risk = np.ones(self.n)
        for cid, channel, sent_at, reach in sends:
            on_channel = (self.platform == 2) if channel == "web_push" else (self.platform != 2)
            audience = np.flatnonzero(self.opted_in & on_channel & (rng.random(self.n) < reach))
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
            t_open = t_after + rng.integers(60_000, 6 * 3_600_000, audience.size)
            errors = np.where(
                lost,
                "unregistered",
                rng.choice(["rate_limited", "timeout", "invalid_token", "other"], audience.size),
            )
            parts.append(_message_part(self, audience, cid, "sent", t_sent, None))
            parts.append(_message_part(self, audience[delivered], cid, "delivered", t_after[delivered], None))
            parts.append(
                _message_part(
                    self,
                    audience[opened],
                    cid,
                    "opened",
                    np.minimum(t_open[opened], day_ms + MS_PER_DAY - 1),
                    None,
                )
            )
            failed = lost | glitch
            parts.append(
                _message_part(self, audience[failed], cid, "failed", t_after[failed], errors[failed])
            )
            self.received[0, audience[delivered]] += 1
            self.today_risk[audience[delivered]] *= self.campaign_quality[cid]
            # a failed send to a lost token is how the platform learns of the opt-out
            found = audience[lost & (self.pending[audience] == PENDING_SEND)]
            t_found = t_after[lost & (self.pending[audience] == PENDING_SEND)] + 1
            self._record_subs(subs, found, "opt_out", t_found, "token_invalid", "send_feedback", campaign=cid)
            self.opted_in[found] = False
            self.pending[found] = NOT_PENDING
        return pl.concat(parts) if parts else pl.DataFrame(schema=MESSAGE_SCHEMA)

    def _activity(self, day_ms: int, subs: list[dict]) -> pl.DataFrame:
        rng = self.rng
        visitors = np.flatnonzero(self.active & (rng.random(self.n) < 0.15 + 0.6 * self.engagement))
        if visitors.size == 0:
            return pl.DataFrame(schema=APP_SCHEMA)
        session_at = self._times(day_ms, visitors.size, 0.0, 0.95)
        # Firefox: an old subscription that comes back to the site reveals it was lost
        revisit = visitors[self.pending[visitors] == PENDING_REVISIT]
        t_revisit = session_at[self.pending[visitors] == PENDING_REVISIT] + 500
        self._record_subs(subs, revisit, "opt_out", t_revisit, "token_invalid", "revisit")
        self.opted_in[revisit] = False
        self.pending[revisit] = NOT_PENDING
        views = rng.poisson(1 + 3 * self.engagement[visitors])
        carts = rng.random(visitors.size) < 0.25 * self.engagement[visitors]
        buys = carts & (rng.random(visitors.size) < 0.3)
        counts = 1 + views + carts + buys
        who = np.repeat(visitors, counts)
        base = np.repeat(session_at, counts)
        step = np.concatenate([np.arange(c) for c in counts]) if counts.size else np.array([], int)
        kind = np.zeros(who.size, np.int8)
        kind[step > 0] = 1
        ends = np.cumsum(counts) - 1
        kind[ends[buys]] = 3
        kind[ends[carts & ~buys]] = 2
        kind[(ends - 1)[buys]] = 2
        kind[np.cumsum(counts) - counts] = 0
        times = np.minimum(base + step * rng.integers(5_000, 120_000, who.size), day_ms + MS_PER_DAY - 1)
        value = np.round(rng.gamma(2, 20, who.size), 2)
        props = np.where(
            kind == 3,
            np.char.add('{"value": ', np.char.add(value.astype(str), ', "currency": "EUR"}')),
            np.where(kind == 1, '{"screen": "home"}', None),
        )
        return pl.DataFrame(
            {
                "event_id": self._new_ids("app", who.size, "a"),
                "user_id": np.char.add("u", who.astype(str)),
                "event_name": EVENT_NAMES[kind],
                "occurred_at": _as_time(times),
                "properties": _strings(props),
            },
        )

    def _opt_outs(self, day_ms: int, subs: list[dict]) -> None:
        rng = self.rng
        pressure = self.received.sum(axis=0)
        hazard = 0.0015 * self.sensitivity * (1 + 0.25 * pressure) * self.today_risk
        leaving = np.flatnonzero(self.opted_in & self.token_ok & (rng.random(self.n) < hazard))
        if leaving.size == 0:
            return
        t = self._times(day_ms, leaving.size, 0.3, 0.99)
        path = rng.random(leaving.size)
        mobile = self.platform[leaving] != 2
        browser = self.browser[leaving]
        api = path < 0.05
        silent_send = (~api) & ((mobile & (path > 0.75)) | ((browser == 0) | (browser == 3)) & (path > 0.55))
        silent_revisit = (~api) & (browser == 1) & (path > 0.5)
        client = ~(api | silent_send | silent_revisit)
        permission = client & (rng.random(leaving.size) < 0.35)
        self._record_subs(subs, leaving[api], "opt_out", t[api], "api", "api")
        self._record_subs(
            subs, leaving[client & ~permission], "opt_out", t[client & ~permission], "user_settings", "client"
        )
        self._record_subs(subs, leaving[permission], "opt_out", t[permission], "os_permission", "client")
        # the API sometimes repeats itself: a redundant opt-out
        again = leaving[api][rng.random(api.sum()) < 0.3]
        self._record_subs(subs, again, "opt_out", t[api][: again.size] + 60_000, "api", "api")
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

    def _re_opt_ins(self, day_ms: int, subs: list[dict]) -> None:
        rng = self.rng
        back = np.flatnonzero(~self.opted_in & self.active & (rng.random(self.n) < 0.006))
        back = back[self.pending[back] == NOT_PENDING]
        t = self._times(day_ms, back.size, 0.1, 0.9)
        self._record_subs(subs, back, "opt_in", t, "user_settings", "client")
        # a few already subscribed users confirm again (a redundant opt-in)
        confirm = np.flatnonzero(self.opted_in & (rng.random(self.n) < 0.0005))
        self._record_subs(subs, confirm, "opt_in", self._times(day_ms, confirm.size), "api", "api")
        self.opted_in[back] = True
        self.token_ok[back] = True

    def _record_subs(self, subs, users, event_type, times, source, detected_via, campaign=None):
        if len(users) == 0:
            return
        subs.append(
            {
                "event_id": self._new_ids("sub", len(users), "s"),
                "user_id": np.char.add("u", np.asarray(users).astype(str)),
                "event_type": event_type,
                "occurred_at": np.asarray(times, np.int64),
                "source": source,
                "detected_via": detected_via,
                "campaign_id": campaign,
            }
        )


CAMPAIGN_SCHEMA = {
    "campaign_id": pl.String,
    "name": pl.String,
    "channel": pl.String,
    "campaign_type": pl.String,
    "sent_at": pl.Int64,
    "updated_at": pl.Int64,
}
TIME = pl.Datetime("ms", "UTC")
MESSAGE_SCHEMA = {
    "event_id": pl.String,
    "user_id": pl.String,
    "campaign_id": pl.String,
    "event_type": pl.String,
    "occurred_at": TIME,
    "error_code": pl.String,
}
APP_SCHEMA = {
    "event_id": pl.String,
    "user_id": pl.String,
    "event_name": pl.String,
    "occurred_at": TIME,
    "properties": pl.String,
}
SUBSCRIPTION_SCHEMA = {
    "event_id": pl.String,
    "user_id": pl.String,
    "event_type": pl.String,
    "occurred_at": TIME,
    "source": pl.String,
    "detected_via": pl.String,
    "campaign_id": pl.String,
}


def _strings(values: np.ndarray) -> pl.Series:
    """A numpy array of text and None as a polars String column."""
    return pl.Series(values.tolist(), dtype=pl.String)


def _as_time(ms: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(ms, np.int64)).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")


def _campaign_row(cid, name, channel, kind, sent_at, updated_at) -> tuple:
    return (cid, name, channel, kind, int(sent_at), int(updated_at))


def _message_part(sim: Simulation, users, cid, event_type, times, errors) -> pl.DataFrame:
    count = len(users)
    return pl.DataFrame(
        {
            "event_id": sim._new_ids("msg", count, "m"),
            "user_id": np.char.add("u", np.asarray(users).astype(str)),
            "campaign_id": np.full(count, cid),
            "event_type": np.full(count, event_type),
            "occurred_at": _as_time(times),
            "error_code": _strings(errors if errors is not None else np.full(count, None)),
        },
        schema=MESSAGE_SCHEMA,
    )


def _subscription_frame(parts: list[dict]) -> pl.DataFrame:
    if not parts:
        return pl.DataFrame(schema=SUBSCRIPTION_SCHEMA)
    frames = []
    for part in parts:
        count = len(part["event_id"])
        frames.append(
            pl.DataFrame(
                {
                    key: (value if isinstance(value, np.ndarray) else np.full(count, value))
                    for key, value in part.items()
                }
            ).with_columns(
                pl.col("occurred_at").cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"),
                pl.col("campaign_id").cast(pl.String),
            )
        )
    return pl.concat(frames).select(list(SUBSCRIPTION_SCHEMA)).cast(SUBSCRIPTION_SCHEMA)
